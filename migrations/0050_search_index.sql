-- Search index upkeep. Each server node keeps its own bleve indexes on local disk; these two
-- tables let an admin ask every node at once to rebuild an index, and let every node report
-- how far it has caught up, so that `nubiq index status` shows the whole cluster. Neither
-- holds workspace data.

-- A rebuild request: bumping generation makes every node rebuild that index from Postgres
-- in the background (a node rebuilds when its index was built for an older generation).
CREATE TABLE search_index_generations (
    index_name    text PRIMARY KEY CHECK (index_name IN ('documents', 'conversations', 'contacts')),
    generation    bigint NOT NULL DEFAULT 0,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    requested_by  text NOT NULL DEFAULT ''
);
INSERT INTO search_index_generations (index_name) VALUES ('documents'), ('conversations'), ('contacts');

-- What each node's index has applied, refreshed every few seconds by the node.
CREATE TABLE search_index_nodes (
    node          text NOT NULL,
    index_name    text NOT NULL,
    generation    bigint NOT NULL,
    txid          xid8 NOT NULL,
    seq           bigint NOT NULL,
    docs          bigint NOT NULL,
    rebuilding    boolean NOT NULL,
    started_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node, index_name)
);
