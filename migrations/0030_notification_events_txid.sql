-- Notification pollers need an order in which nothing can appear behind them. Ids are taken
-- when a row is inserted but become visible when its transaction commits, so a reader going
-- by id alone can pass an id whose transaction commits later and never see that row. Like
-- index_log, events carry their transaction id: readers take only rows whose transaction is
-- below their snapshot's xmin (all finished) and move forward on (txid, id).
ALTER TABLE notification_events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX notification_events_txid_idx ON notification_events (workspace_id, txid, id);
