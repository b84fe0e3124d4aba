package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
)

// RequestCount is the outcome of counting one request against its workspace's limits.
type RequestCount struct {
	// Allowed is false when a window was already full; the request was then not counted in
	// the day window nor in the key's usage.
	Allowed bool
	// Refused names the full window ("minute" or "day") when not Allowed.
	Refused string
	// Minute and Day are the workspace's counts in the current windows, this request included
	// when it was allowed.
	Minute, Day int
}

// CountRequest counts one request of a key against its workspace's per-minute and per-day
// limits, in one round trip, so that every replica shares one budget: the workspace's minute
// and day rows are incremented only if both are below their limits, and then the key's own
// minute, day and month rows (usage reporting) too. A refused request counts nowhere. It is
// a lease of one slot (LeaseRequests).
func (db *DB) CountRequest(ctx context.Context, workspaceID, keyID int64, at time.Time, perMinute, perDay int) (*RequestCount, error) {
	l, err := db.LeaseRequests(ctx, workspaceID, keyID, at, 1, perMinute, perDay, nil)
	if err != nil {
		return nil, err
	}
	c := &RequestCount{Allowed: l.Granted > 0, Refused: l.Refused, Minute: l.Minute, Day: l.Day}
	switch l.Refused {
	case "minute":
		c.Minute = perMinute
	case "day":
		c.Day = perDay
	}
	return c, nil
}

// UsageRetention says how long counter rows of each window kind are kept.
type UsageRetention struct {
	Minute, Day, Month time.Duration
}

// DefaultUsageRetention keeps minute rows a day, day rows 35 days and month rows 400 days:
// limits need only the current windows, usage reports the last month of days and a year of
// months.
var DefaultUsageRetention = UsageRetention{Minute: 24 * time.Hour, Day: 35 * 24 * time.Hour, Month: 400 * 24 * time.Hour}

// DeleteOldUsage deletes counter rows whose window started before their kind's retention, in
// batches so that no statement holds many locks for long. It returns how many rows went. This
// maintenance spans every workspace by design.
func (db *DB) DeleteOldUsage(ctx context.Context, now time.Time, keep UsageRetention) (int64, error) {
	var total int64
	for _, k := range []struct {
		kind string
		keep time.Duration
	}{{"minute", keep.Minute}, {"day", keep.Day}, {"month", keep.Month}} {
		if k.keep <= 0 {
			continue
		}
		before := now.UTC().Add(-k.keep)
		for {
			tag, err := db.Pool.Exec(ctx, `
				DELETE FROM usage_counters WHERE ctid = ANY (ARRAY(
					SELECT ctid FROM usage_counters WHERE window_kind = $1 AND window_start < $2 LIMIT 5000))`,
				k.kind, before)
			if err != nil {
				return total, fmt.Errorf("delete %s usage counters before %s: %w", k.kind, before.Format(time.RFC3339), unavailable(err))
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < 5000 {
				break
			}
		}
	}
	return total, nil
}

// KeyUse is the latest use of a key seen by this process.
type KeyUse struct {
	KeyID, WorkspaceID int64
	At                 time.Time
}

// TouchKeys records when keys were last used, in one statement for a batch of keys; a use
// older than the stored one changes nothing, so replicas flushing out of order agree.
func (db *DB) TouchKeys(ctx context.Context, uses []KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	ids := make([]int64, len(uses))
	ws := make([]int64, len(uses))
	at := make([]time.Time, len(uses))
	for i, u := range uses {
		ids[i], ws[i], at[i] = u.KeyID, u.WorkspaceID, u.At.UTC()
	}
	_, err := db.Pool.Exec(ctx, `
		UPDATE api_keys k SET last_used_at = u.at
		FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) AS u (id, workspace_id, at)
		WHERE k.id = u.id AND k.workspace_id = u.workspace_id
		  AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`, ids, ws, at)
	if err != nil {
		return fmt.Errorf("record last use of %d keys: %w", len(uses), unavailable(err))
	}
	return nil
}

// UsageCounter returns the key's (or, for key 0, the workspace's) count in the window of kind
// starting at start; 0 when there is none.
func (db *DB) UsageCounter(ctx context.Context, workspaceID, keyID int64, kind string, start time.Time) (int, error) {
	var n int
	err := db.Pool.QueryRow(ctx, `
		SELECT coalesce((SELECT count FROM usage_counters
		WHERE workspace_id = $1 AND key_id = $2 AND window_kind = $3 AND window_start = $4), 0)`,
		workspaceID, keyID, kind, start.UTC()).Scan(&n)
	if err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}

// LeaseMinRemainingPerSlot bounds a lease: a grant never exceeds 1/LeaseMinRemainingPerSlot
// of what is left of the workspace's tighter window. Slots leased to one node and not yet
// served are missing to the others until they are served or given back, so leases are kept
// to a small share of the budget (a Pro workspace's 60 a minute never leases more than one).
const LeaseMinRemainingPerSlot = 64

// RequestLease is the outcome of LeaseRequests.
type RequestLease struct {
	// Granted slots were counted in the workspace's minute and day rows; 0 when a window was
	// full (Refused names it).
	Granted int
	Refused string
	// Minute and Day are the workspace's counts after the grant, every granted slot included.
	Minute, Day int
}

// KeyCount is a number of served requests of a key, in the windows they were served in, not
// yet written to the key's usage rows.
type KeyCount struct {
	KeyID   int64
	Windows nubiq.UsageWindows
	Count   int
}

// LeaseRequests takes up to want request slots of the workspace's current minute and day
// windows at once, for a node to serve them without a statement each. The grant is capped by
// what is left of either window and by LeaseMinRemainingPerSlot, and is at least 1 while
// anything is left, so that near a limit every request is counted one by one, as CountRequest
// does. The first granted slot is the asking request's: it is counted in keyID's rows at once.
// pending, served from earlier leases, is written to the keys' rows in the same transaction.
//
// Like CountRequest the transaction locks the workspace's minute row, then its day row, then
// key rows in key order, and commits asynchronously; concurrent leases and counts on any node
// cannot overshoot a limit.
func (db *DB) LeaseRequests(ctx context.Context, workspaceID, keyID int64, at time.Time, want, perMinute, perDay int, pending []KeyCount) (*RequestLease, error) {
	w := nubiq.CurrentUsageWindows(at)
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SET LOCAL synchronous_commit = off`)
	// Rows inserted by a statement are invisible to the rest of it: create them first, then
	// lock them in the order every counting transaction uses.
	b.Queue(`INSERT INTO usage_counters (workspace_id, key_id, window_kind, window_start, count)
		VALUES ($1, 0, 'minute', $2, 0), ($1, 0, 'day', $3, 0)
		ON CONFLICT (workspace_id, window_kind, window_start, key_id) DO NOTHING`, workspaceID, w.Minute, w.Day)
	b.Queue(`SELECT 1 FROM usage_counters
		WHERE workspace_id = $1 AND key_id = 0
		  AND ((window_kind = 'minute' AND window_start = $2) OR (window_kind = 'day' AND window_start = $3))
		ORDER BY window_kind DESC FOR UPDATE`, workspaceID, w.Minute, w.Day)
	l := &RequestLease{}
	// The asking request's own count goes with the pending ones, only if slots were granted;
	// key rows are written in key order so that flushes on different nodes never deadlock.
	b.Queue(`
		WITH cur AS (
			SELECT (SELECT count FROM usage_counters
			        WHERE workspace_id = $1 AND key_id = 0 AND window_kind = 'minute' AND window_start = $2) AS m,
			       (SELECT count FROM usage_counters
			        WHERE workspace_id = $1 AND key_id = 0 AND window_kind = 'day' AND window_start = $3) AS d
		), g AS (
			SELECT m, d, CASE WHEN least($5 - m, $6 - d) <= 0 THEN 0
			                  ELSE greatest(1, least($4, least($5 - m, $6 - d) / $7)) END AS n
			FROM cur
		), um AS (
			UPDATE usage_counters u SET count = u.count + g.n FROM g
			WHERE g.n > 0 AND u.workspace_id = $1 AND u.key_id = 0 AND u.window_kind = 'minute' AND u.window_start = $2
			RETURNING 1
		), ud AS (
			UPDATE usage_counters u SET count = u.count + g.n FROM g
			WHERE g.n > 0 AND u.workspace_id = $1 AND u.key_id = 0 AND u.window_kind = 'day' AND u.window_start = $3
			RETURNING 1
		), pk AS (
			INSERT INTO usage_counters AS u (workspace_id, key_id, window_kind, window_start, count)
			SELECT $1, p.key_id, w.kind, w.start, sum(p.n)
			FROM (SELECT * FROM unnest($9::bigint[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::int[])
			      UNION ALL
			      SELECT $8::bigint, $2::timestamptz, $3::timestamptz, $14::timestamptz, 1 FROM g WHERE g.n > 0
			     ) AS p (key_id, minute, day, month, n),
			     LATERAL (VALUES (1, 'minute', p.minute), (2, 'day', p.day), (3, 'month', p.month)) AS w (ord, kind, start)
			GROUP BY p.key_id, w.ord, w.kind, w.start
			ORDER BY p.key_id, w.ord, w.start
			ON CONFLICT (workspace_id, window_kind, window_start, key_id) DO UPDATE SET count = u.count + EXCLUDED.count
			RETURNING 1
		)
		SELECT g.n, g.m + g.n, g.d + g.n,
		       (SELECT count(*) FROM um) + (SELECT count(*) FROM ud) + (SELECT count(*) FROM pk)
		FROM g`,
		append([]any{workspaceID, w.Minute, w.Day, want, perMinute, perDay, LeaseMinRemainingPerSlot, keyID},
			append(keyCountArrays(pending), w.Month)...)...,
	).QueryRow(func(r pgx.Row) error { return r.Scan(&l.Granted, &l.Minute, &l.Day, new(int64)) })
	b.Queue(`COMMIT`)
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("lease requests of workspace %d: %w", workspaceID, unavailable(err))
	}
	if l.Granted == 0 {
		l.Refused = "day"
		if l.Minute >= perMinute {
			l.Refused = "minute"
		}
	}
	return l, nil
}

// SettleRequests gives back unused slots of a lease taken in windows w (they are taken off
// the workspace's minute and day rows, so that other nodes may use them) and writes pending
// key counts.
func (db *DB) SettleRequests(ctx context.Context, workspaceID int64, w nubiq.UsageWindows, unused int, pending []KeyCount) error {
	if unused <= 0 && len(pending) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SET LOCAL synchronous_commit = off`)
	if unused > 0 {
		// Minute row first, then the day row: the order every counting transaction locks them in.
		for _, r := range []struct {
			kind  string
			start time.Time
		}{{"minute", w.Minute}, {"day", w.Day}} {
			b.Queue(`UPDATE usage_counters SET count = greatest(0, count - $4)
				WHERE workspace_id = $1 AND key_id = 0 AND window_kind = $2 AND window_start = $3`,
				workspaceID, r.kind, r.start, unused)
		}
	}
	if len(pending) > 0 {
		b.Queue(`
			INSERT INTO usage_counters AS u (workspace_id, key_id, window_kind, window_start, count)
			SELECT $1, p.key_id, w.kind, w.start, sum(p.n)
			FROM unnest($2::bigint[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::int[]) AS p (key_id, minute, day, month, n),
			     LATERAL (VALUES (1, 'minute', p.minute), (2, 'day', p.day), (3, 'month', p.month)) AS w (ord, kind, start)
			GROUP BY p.key_id, w.ord, w.kind, w.start
			ORDER BY p.key_id, w.ord, w.start
			ON CONFLICT (workspace_id, window_kind, window_start, key_id) DO UPDATE SET count = u.count + EXCLUDED.count`,
			append([]any{workspaceID}, keyCountArrays(pending)...)...)
	}
	b.Queue(`COMMIT`)
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("settle requests of workspace %d: %w", workspaceID, unavailable(err))
	}
	return nil
}

// keyCountArrays spreads key counts into the five arrays the flush statements unnest.
func keyCountArrays(pending []KeyCount) []any {
	ids := make([]int64, len(pending))
	minutes := make([]time.Time, len(pending))
	days := make([]time.Time, len(pending))
	months := make([]time.Time, len(pending))
	ns := make([]int32, len(pending))
	for i, p := range pending {
		ids[i], minutes[i], days[i], months[i], ns[i] = p.KeyID, p.Windows.Minute, p.Windows.Day, p.Windows.Month, int32(p.Count)
	}
	return []any{ids, minutes, days, months, ns}
}
