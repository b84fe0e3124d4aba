-- Document indexing bookkeeping.
--
-- job_id is the latest indexing job of the document (River's river_job.id), so that lists can
-- show its state and a reindex request can tell whether a job is still waiting to run.
-- index_generation grows with each reindex request that could not join a waiting job; jobs
-- carry the generation they were queued for, and one older than the document's skips.
-- embedding_dims is the vector size of the document's chunks, recorded with embedder.
ALTER TABLE documents
    ADD COLUMN job_id           bigint,
    ADD COLUMN index_generation integer NOT NULL DEFAULT 0,
    ADD COLUMN embedding_dims   integer NOT NULL DEFAULT 0;

CREATE INDEX documents_embedder_idx ON documents (workspace_id, embedder, embedding_dims) WHERE status = 'ready';

-- The documents a reindex run still waits for. A document may be waited for by several runs;
-- the ingest that finishes it (with success or for good with failure) counts it in each and
-- removes its rows. Deleting a document takes it out of its runs' totals.
CREATE TABLE reindex_run_documents (
    run_id        bigint NOT NULL REFERENCES reindex_runs (id) ON DELETE CASCADE,
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    document_id   bigint NOT NULL,
    PRIMARY KEY (run_id, document_id)
);
CREATE INDEX reindex_run_documents_document_idx ON reindex_run_documents (workspace_id, document_id);
