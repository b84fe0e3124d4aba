-- Keep a chunk row in one piece. A chunk of about 300 tokens with a 256-dimensional vector is
-- some 3 kB; past the default 2 kB target PostgreSQL moved the vector (stored externally,
-- uncompressed) into the TOAST table, so every chunk written cost a second heap row and a
-- TOAST index entry, and every vector read an extra lookup. Rows up to a page now stay inline.
-- Applies to rows written from now on; nothing is rewritten.
ALTER TABLE document_chunks SET (toast_tuple_target = 8160);
