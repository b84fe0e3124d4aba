-- Dashboard passwords handed out by `nubiq admin create` are one-time: the member must choose
-- a new one at the first sign-in. Changing a password ends the member's other sessions.
ALTER TABLE members ADD COLUMN password_change_required boolean NOT NULL DEFAULT false;
ALTER TABLE members ADD COLUMN password_changed_at timestamptz;

-- Sessions are looked up by token hash; this index serves "end this member's sessions".
CREATE INDEX admin_sessions_member_idx ON admin_sessions (workspace_id, member_id);
