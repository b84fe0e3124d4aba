-- Nubiq Hub schema. Every table holding workspace data carries workspace_id, and every
-- query filters on it; composite indexes lead with it.

CREATE EXTENSION IF NOT EXISTS vector;

-- Plans and their rate limits. Workspaces reference a plan by name; limits live here so that
-- every replica enforces the same numbers.
CREATE TABLE plans (
    name           text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,39}$'),
    per_minute     integer NOT NULL CHECK (per_minute > 0),
    per_day        integer NOT NULL CHECK (per_day > 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO plans (name, per_minute, per_day) VALUES ('pro', 60, 10000), ('enterprise', 300, 100000);

CREATE TABLE workspaces (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    plan        text NOT NULL REFERENCES plans (name),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX workspaces_name_key ON workspaces (lower(name));

-- API keys: only a SHA-256 of the secret is stored; prefix is a short non-secret part of the
-- key for display. Lookups go by hash, so comparison is not exposed to timing.
CREATE TABLE api_keys (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix        text NOT NULL,
    hash          bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    scopes        text[] NOT NULL,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    created_by    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, created_at DESC);

-- Members: agents, admins and owners. Invited members have an invitation token (hashed) until
-- they accept. password_hash is set for members who sign in to the dashboard.
CREATE TABLE members (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id           bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email                  text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    name                   text NOT NULL DEFAULT '',
    role                   text NOT NULL CHECK (role IN ('owner', 'admin', 'agent')),
    status                 text NOT NULL CHECK (status IN ('active', 'invited', 'disabled')),
    password_hash          text,
    invitation_token_hash  bytea,
    invitation_expires_at  timestamptz,
    invited_by             bigint REFERENCES members (id) ON DELETE SET NULL,
    invited_at             timestamptz,
    joined_at              timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX members_email_key ON members (workspace_id, lower(email));
CREATE UNIQUE INDEX members_invitation_key ON members (invitation_token_hash) WHERE invitation_token_hash IS NOT NULL;
CREATE INDEX members_workspace_idx ON members (workspace_id, id);

CREATE TABLE teams (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX teams_name_key ON teams (workspace_id, lower(name));

CREATE TABLE team_members (
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    team_id       bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    member_id     bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, member_id)
);
CREATE INDEX team_members_member_idx ON team_members (member_id);

CREATE TABLE contacts (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id       bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    external_id        text,
    name               text NOT NULL DEFAULT '',
    email              text,
    phone              text, -- E.164 when known
    company            text NOT NULL DEFAULT '',
    custom_attributes  jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_seen_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contacts_external_id_key ON contacts (workspace_id, external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX contacts_email_key ON contacts (workspace_id, lower(email)) WHERE email IS NOT NULL;
CREATE INDEX contacts_phone_idx ON contacts (workspace_id, phone) WHERE phone IS NOT NULL;
CREATE INDEX contacts_company_idx ON contacts (workspace_id, lower(company));
CREATE INDEX contacts_created_idx ON contacts (workspace_id, created_at DESC, id DESC);

-- Channels: public configuration in config; credentials (SMTP passwords, webhook signing
-- secrets, provider tokens) in channel_secrets, which no read tool ever selects.
CREATE TABLE channels (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('email', 'web_widget', 'whatsapp', 'sms', 'api')),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    config        jsonb NOT NULL DEFAULT '{}'::jsonb,
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channels_workspace_idx ON channels (workspace_id, id);

CREATE TABLE channel_secrets (
    channel_id    bigint PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    secrets       jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE conversations (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id        bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    external_id         text,
    contact_id          bigint REFERENCES contacts (id) ON DELETE SET NULL,
    channel_id          bigint REFERENCES channels (id) ON DELETE SET NULL,
    subject             text NOT NULL DEFAULT '',
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'snoozed', 'resolved', 'closed')),
    priority            text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    assignee_member_id  bigint REFERENCES members (id) ON DELETE SET NULL,
    assignee_team_id    bigint REFERENCES teams (id) ON DELETE SET NULL,
    tags                text[] NOT NULL DEFAULT '{}',
    metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
    snoozed_until       timestamptz,
    first_response_at   timestamptz,
    resolved_at         timestamptz,
    closed_at           timestamptz,
    last_message_at     timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX conversations_external_id_key ON conversations (workspace_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX conversations_updated_idx ON conversations (workspace_id, updated_at DESC, id DESC);
CREATE INDEX conversations_status_idx ON conversations (workspace_id, status, updated_at DESC, id DESC);
CREATE INDEX conversations_created_idx ON conversations (workspace_id, created_at);
CREATE INDEX conversations_contact_idx ON conversations (contact_id);
CREATE INDEX conversations_assignee_idx ON conversations (workspace_id, assignee_member_id);
CREATE INDEX conversations_tags_idx ON conversations USING gin (tags);

CREATE TABLE messages (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id       bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    conversation_id    bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    external_id        text,
    author_type        text NOT NULL CHECK (author_type IN ('contact', 'agent', 'bot', 'system')),
    author_member_id   bigint REFERENCES members (id) ON DELETE SET NULL,
    author_contact_id  bigint REFERENCES contacts (id) ON DELETE SET NULL,
    body               text NOT NULL,
    private            boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, created_at, id);
CREATE INDEX messages_workspace_idx ON messages (workspace_id, id);
CREATE UNIQUE INDEX messages_external_id_key ON messages (conversation_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE tickets (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id        bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    external_id         text,
    subject             text NOT NULL CHECK (length(subject) BETWEEN 1 AND 500),
    description         text NOT NULL DEFAULT '',
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'on_hold', 'solved', 'closed')),
    priority            text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    assignee_member_id  bigint REFERENCES members (id) ON DELETE SET NULL,
    assignee_team_id    bigint REFERENCES teams (id) ON DELETE SET NULL,
    contact_id          bigint REFERENCES contacts (id) ON DELETE SET NULL,
    conversation_id     bigint REFERENCES conversations (id) ON DELETE SET NULL,
    tags                text[] NOT NULL DEFAULT '{}',
    custom_fields       jsonb NOT NULL DEFAULT '{}'::jsonb,
    resolution          text NOT NULL DEFAULT '',
    closed_at           timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tickets_external_id_key ON tickets (workspace_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX tickets_created_idx ON tickets (workspace_id, created_at DESC, id DESC);
CREATE INDEX tickets_status_idx ON tickets (workspace_id, status, created_at DESC, id DESC);
CREATE INDEX tickets_contact_idx ON tickets (contact_id);
CREATE INDEX tickets_tags_idx ON tickets USING gin (tags);

CREATE TABLE satisfaction_ratings (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id     bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    conversation_id  bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    contact_id       bigint REFERENCES contacts (id) ON DELETE SET NULL,
    score            smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment          text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX satisfaction_conversation_key ON satisfaction_ratings (conversation_id);
CREATE INDEX satisfaction_created_idx ON satisfaction_ratings (workspace_id, created_at DESC);

CREATE TABLE widget_configs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    channel_id    bigint REFERENCES channels (id) ON DELETE SET NULL,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    settings      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX widget_configs_workspace_idx ON widget_configs (workspace_id, id);

-- Knowledge-base documents. raw holds the uploaded bytes so that a reindex never needs the
-- client again; version grows with each new content for the same document.
CREATE TABLE documents (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id    bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    external_id     text,
    title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    source_url      text NOT NULL DEFAULT '',
    mime_type       text NOT NULL,
    language        text NOT NULL DEFAULT '',
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    raw             bytea NOT NULL,
    size_bytes      bigint NOT NULL,
    content_hash    bytea NOT NULL,
    extracted_text  text,
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
    error           text NOT NULL DEFAULT '',
    version         integer NOT NULL DEFAULT 1,
    indexed_version integer NOT NULL DEFAULT 0,
    embedder        text NOT NULL DEFAULT '',
    chunk_count     integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    indexed_at      timestamptz
);
CREATE UNIQUE INDEX documents_external_id_key ON documents (workspace_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX documents_updated_idx ON documents (workspace_id, updated_at DESC, id DESC);
CREATE INDEX documents_status_idx ON documents (workspace_id, status);
CREATE INDEX documents_metadata_idx ON documents USING gin (metadata jsonb_path_ops);

-- Chunks carry an untyped vector so that embedders of any dimension fit; the HNSW index is a
-- partial expression index per dimension (created by the application for the configured
-- embedder), and queries cast to that dimension and filter on dims.
CREATE TABLE document_chunks (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id      bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    document_id       bigint NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    document_version  integer NOT NULL,
    chunk_index       integer NOT NULL,
    text              text NOT NULL,
    heading_path      text[] NOT NULL DEFAULT '{}',
    start_offset      integer NOT NULL,
    end_offset        integer NOT NULL,
    tokens            integer NOT NULL,
    embedder          text NOT NULL,
    dims              integer NOT NULL,
    embedding         vector NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (document_id, chunk_index)
);
CREATE INDEX document_chunks_workspace_idx ON document_chunks (workspace_id, dims, document_id);

-- Index log: every change that a node's local bleve index must apply, in commit order.
-- Readers consume only rows whose transaction id is below the xmin of their snapshot (all
-- such transactions have finished, so no earlier row can still appear) and checkpoint on
-- (txid, seq): a plain sequence checkpoint would skip rows of transactions that commit late.
CREATE TABLE index_log (
    seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    workspace_id  bigint NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('chunk', 'document', 'message', 'conversation', 'contact')),
    entity_id     bigint NOT NULL,
    op            text NOT NULL CHECK (op IN ('upsert', 'delete')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX index_log_txid_idx ON index_log (txid, seq);

-- Request counters for plan rate limits and usage reporting, one row per workspace, key,
-- window kind and window start. key_id 0 is the workspace total the limiter enforces.
CREATE TABLE usage_counters (
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key_id        bigint NOT NULL,
    window_kind   text NOT NULL CHECK (window_kind IN ('minute', 'day', 'month')),
    window_start  timestamptz NOT NULL,
    count         integer NOT NULL,
    PRIMARY KEY (workspace_id, window_kind, window_start, key_id)
);
CREATE INDEX usage_counters_window_idx ON usage_counters (window_kind, window_start);

CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key_id        bigint,
    actor         text NOT NULL DEFAULT '',
    action        text NOT NULL,
    target        text NOT NULL DEFAULT '',
    outcome       text NOT NULL,
    detail        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_workspace_idx ON audit_log (workspace_id, created_at DESC);

CREATE TABLE outbound_messages (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id     bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    channel_id       bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    conversation_id  bigint REFERENCES conversations (id) ON DELETE SET NULL,
    message_id       bigint REFERENCES messages (id) ON DELETE SET NULL,
    recipient        text NOT NULL,
    subject          text NOT NULL DEFAULT '',
    body             text NOT NULL,
    status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    error            text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbound_messages_workspace_idx ON outbound_messages (workspace_id, created_at DESC);

CREATE TABLE notification_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind          text NOT NULL,
    subject_type  text NOT NULL,
    subject_id    bigint NOT NULL,
    data          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_events_workspace_idx ON notification_events (workspace_id, id);

-- Reindex runs: one row per documents.reindex request, for progress reporting.
CREATE TABLE reindex_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    scope         text NOT NULL,
    total         integer NOT NULL DEFAULT 0,
    done          integer NOT NULL DEFAULT 0,
    failed        integer NOT NULL DEFAULT 0,
    status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX reindex_runs_workspace_idx ON reindex_runs (workspace_id, id DESC);

-- Dashboard sign-in sessions (token stored hashed).
CREATE TABLE admin_sessions (
    token_hash    bytea PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_id     bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX admin_sessions_expires_idx ON admin_sessions (expires_at);
