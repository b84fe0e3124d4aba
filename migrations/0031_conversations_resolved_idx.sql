-- Analytics count and time conversations by when they were resolved (resolved in a period,
-- resolution times, CSAT response rate); without this index those reads scan every
-- conversation of the workspace.
CREATE INDEX conversations_resolved_idx ON conversations (workspace_id, resolved_at) WHERE resolved_at IS NOT NULL;
