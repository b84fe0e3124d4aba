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
// limits, in one statement, so that every replica shares one budget:
//
//   - the workspace's minute row (key_id 0) is incremented only while below perMinute;
//   - the workspace's day row only if the minute row was, and only while below perDay;
//   - the key's own minute, day and month rows (usage reporting) only if both were.
//
// ON CONFLICT DO UPDATE locks each row and evaluates its condition on the latest version, so
// concurrent requests cannot overshoot a limit. A refused request therefore costs nothing,
// except that one refused for the day still takes a slot of its minute, which no longer
// matters once the day's budget is spent.
func (db *DB) CountRequest(ctx context.Context, workspaceID, keyID int64, at time.Time, perMinute, perDay int) (*RequestCount, error) {
	w := nubiq.CurrentUsageWindows(at)
	var minute, day, dayBefore *int32
	// Every request of a workspace updates the same rows, so each waits for the previous one's
	// commit; with a synchronous commit that is a WAL flush per request, one after the other,
	// which capped a workspace at a few hundred requests a second whatever its plan. The count
	// commits asynchronously instead: it is still exact between the requests of every replica
	// (row locks decide, not durability), and a crash of the database can only forget the
	// last fraction of a second of counts. BEGIN … COMMIT go in one batch: one round trip.
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SET LOCAL synchronous_commit = off`)
	row := b.Queue(`
		WITH minute AS (
			INSERT INTO usage_counters AS u (workspace_id, key_id, window_kind, window_start, count)
			VALUES ($1, 0, 'minute', $3, 1)
			ON CONFLICT (workspace_id, window_kind, window_start, key_id)
			DO UPDATE SET count = u.count + 1 WHERE u.count < $6
			RETURNING u.count
		), day AS (
			INSERT INTO usage_counters AS u (workspace_id, key_id, window_kind, window_start, count)
			SELECT $1, 0, 'day', $4, 1 FROM minute
			ON CONFLICT (workspace_id, window_kind, window_start, key_id)
			DO UPDATE SET count = u.count + 1 WHERE u.count < $7
			RETURNING u.count
		), per_key AS (
			INSERT INTO usage_counters AS u (workspace_id, key_id, window_kind, window_start, count)
			SELECT $1, $2, w.kind, w.start, 1
			FROM day, (VALUES ('minute', $3::timestamptz), ('day', $4::timestamptz), ('month', $5::timestamptz)) AS w (kind, start)
			ON CONFLICT (workspace_id, window_kind, window_start, key_id)
			DO UPDATE SET count = u.count + 1
			RETURNING 1
		)
		SELECT (SELECT count FROM minute), (SELECT count FROM day),
		       (SELECT count FROM usage_counters
		        WHERE workspace_id = $1 AND key_id = 0 AND window_kind = 'day' AND window_start = $4),
		       (SELECT count(*) FROM per_key)`,
		workspaceID, keyID, w.Minute, w.Day, w.Month, perMinute, perDay)
	row.QueryRow(func(r pgx.Row) error { return r.Scan(&minute, &day, &dayBefore, new(int64)) })
	b.Queue(`COMMIT`)
	err := db.Pool.SendBatch(ctx, b).Close()
	if err != nil {
		return nil, fmt.Errorf("count request of workspace %d: %w", workspaceID, unavailable(err))
	}
	c := &RequestCount{Allowed: day != nil}
	switch {
	case minute == nil:
		// The minute row was full and left as it was; it holds perMinute.
		c.Refused, c.Minute = "minute", perMinute
		if dayBefore != nil {
			c.Day = int(*dayBefore)
		}
	case day == nil:
		c.Refused, c.Minute, c.Day = "day", int(*minute), perDay
	default:
		c.Minute, c.Day = int(*minute), int(*day)
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
