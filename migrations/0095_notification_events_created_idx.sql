-- Notification events are kept for a retention period (jobs: maintenance); the cleanup deletes
-- by age.
CREATE INDEX notification_events_created_idx ON notification_events (created_at);
