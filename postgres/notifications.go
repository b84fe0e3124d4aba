package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
)

// ListNotifications returns the workspace's events after f.After in poll order, the position
// after the last event returned (f.After again when none are), and whether more events are
// ready beyond the page.
//
// Poll order is (txid, id), and only events whose transaction is below the reader's snapshot
// xmin are returned: those transactions have all finished, so no event can later appear
// before the returned position and a poller that resumes from it misses nothing. An event
// becomes visible once every transaction older than its own has ended, normally at once.
// The position is a cursor whose Str is the txid and ID the event id.
func (db *DB) ListNotifications(ctx context.Context, workspaceID int64, f nubiq.NotificationFilter) ([]nubiq.Notification, *nubiq.Cursor, bool, error) {
	args := []any{workspaceID}
	q := `SELECT id, kind, subject_type, subject_id, data, created_at, txid::text
		FROM notification_events
		WHERE workspace_id = $1 AND txid < pg_snapshot_xmin(pg_current_snapshot())`
	if f.After != nil {
		if _, err := strconv.ParseUint(f.After.Str, 10, 64); err != nil {
			return nil, nil, false, nubiq.Invalidf("since", "not a valid position; pass next_since back unchanged, or omit it to start from the oldest event")
		}
		args = append(args, f.After.Str, f.After.ID)
		q += ` AND (txid, id) > ($2::text::xid8, $3::bigint)`
	}
	if len(f.Kinds) > 0 {
		args = append(args, f.Kinds)
		q += fmt.Sprintf(` AND kind = ANY($%d::text[])`, len(args))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = nubiq.DefaultPageSize
	}
	args = append(args, limit+1)
	q += fmt.Sprintf(` ORDER BY txid, id LIMIT $%d`, len(args))

	rows, err := db.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, false, fmt.Errorf("list notifications: %w", unavailable(err))
	}
	var txids []string
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (nubiq.Notification, error) {
		var n nubiq.Notification
		var txid string
		err := r.Scan(&n.ID, &n.Kind, &n.SubjectType, &n.SubjectID, &n.Data, &n.CreatedAt, &txid)
		n.CreatedAt = n.CreatedAt.UTC()
		if n.Data == nil {
			n.Data = map[string]any{}
		}
		txids = append(txids, txid)
		return n, err
	})
	if err != nil {
		return nil, nil, false, fmt.Errorf("list notifications: %w", unavailable(err))
	}
	more := len(events) > limit
	if more {
		events = events[:limit]
	}
	next := f.After
	if len(events) > 0 {
		next = &nubiq.Cursor{Kind: nubiq.NotificationCursorKind, Str: txids[len(events)-1], ID: events[len(events)-1].ID}
	}
	if events == nil {
		events = []nubiq.Notification{}
	}
	return events, next, more, nil
}
