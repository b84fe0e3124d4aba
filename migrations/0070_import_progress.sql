-- Progress of batch imports, one row per workspace, record kind and source file. A row is
-- written in the same transaction as each batch it counts, so after an interruption the
-- recorded offset is exactly where committed work ends. fingerprint identifies the file's
-- content (size, modification time, hash of its head); a different fingerprint starts over.
CREATE TABLE import_progress (
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('contacts', 'conversations', 'tickets', 'documents')),
    source        text NOT NULL,
    fingerprint   text NOT NULL,
    byte_offset   bigint NOT NULL DEFAULT 0,
    line          bigint NOT NULL DEFAULT 0,
    created       bigint NOT NULL DEFAULT 0,
    updated       bigint NOT NULL DEFAULT 0,
    unchanged     bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0,
    done          boolean NOT NULL DEFAULT false,
    started_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, kind, source)
);
