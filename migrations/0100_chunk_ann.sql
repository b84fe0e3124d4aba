-- Chunks of a workspace small enough for its vectors to be ranked exactly stay out of the
-- HNSW indexes: maintaining an HNSW graph per inserted row is what bounds ingest. The HNSW
-- indexes (created at startup, postgres.EnsureVectorIndex) are partial on ann.
--
-- ann defaults to true so that existing rows, and any writer that does not set it, are in the
-- index: a chunk in the index is found by every plan, one outside it only by the exact one.
-- Adding a column with a constant default rewrites nothing, however large the table.
ALTER TABLE document_chunks ADD COLUMN ann boolean NOT NULL DEFAULT true;

-- Where the workspace's vectors are: 'exact' — new chunks are written outside the HNSW index
-- and search ranks exactly; 'filling' — crossing the size threshold, its chunks are being
-- moved into the index and new ones are written into it, search still ranks exactly; 'hnsw' —
-- every chunk of the workspace is in the index, and search may walk it. Existing workspaces
-- start 'exact' (all their chunks are in the index already; the first pass of the vector-index
-- job finds nothing to move and marks the large ones 'hnsw').
ALTER TABLE workspaces ADD COLUMN vector_index text NOT NULL DEFAULT 'exact'
    CHECK (vector_index IN ('exact', 'filling', 'hnsw'));
