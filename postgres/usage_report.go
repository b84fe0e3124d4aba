package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
)

// Usage reads the workspace's plan and its request counters for the windows containing now.
//
// The usage_counters rows it relies on, as the rate limiter writes them:
//
//   - one row per (workspace_id, key_id, window_kind, window_start), count = requests in it;
//   - window_kind is 'minute', 'day' or 'month' and window_start is the window's start in UTC
//     (nubiq.CurrentUsageWindows: the minute, 00:00 UTC of the day, 00:00 UTC of the 1st);
//   - key_id > 0 rows count one API key's requests, for all three window kinds;
//   - key_id = 0 rows are the workspace total that plan limits apply to, kept for 'minute' and
//     'day' only, since plans have no monthly limit.
//
// So the workspace's minute and day figures are its key_id 0 rows, and its month figure is
// the sum of its per-key month rows (including keys deleted since).
func (db *DB) Usage(ctx context.Context, workspaceID int64, now time.Time) (*nubiq.Usage, error) {
	w := nubiq.CurrentUsageWindows(now)
	u := &nubiq.Usage{Windows: w, Keys: []nubiq.KeyUsage{}}
	// One snapshot, so that the workspace total and the per-key figures agree.
	err := pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			SELECT p.name, p.per_minute, p.per_day
			FROM workspaces ws JOIN plans p ON p.name = ws.plan
			WHERE ws.id = $1`, workspaceID).Scan(&u.Plan.Name, &u.Plan.PerMinute, &u.Plan.PerDay)
		if errors.Is(err, pgx.ErrNoRows) {
			return nubiq.NotFoundf("no workspace %d", workspaceID)
		} else if err != nil {
			return err
		}
		ws := &u.Workspace
		err = tx.QueryRow(ctx, `
			SELECT coalesce(sum(count) FILTER (WHERE key_id = 0 AND window_kind = 'minute' AND window_start = $2), 0),
			       coalesce(sum(count) FILTER (WHERE key_id = 0 AND window_kind = 'day' AND window_start = $3), 0),
			       coalesce(sum(count) FILTER (WHERE key_id <> 0 AND window_kind = 'month' AND window_start = $4), 0)
			FROM usage_counters
			WHERE workspace_id = $1 AND (
			      (window_kind = 'minute' AND window_start = $2)
			   OR (window_kind = 'day' AND window_start = $3)
			   OR (window_kind = 'month' AND window_start = $4))`,
			workspaceID, w.Minute, w.Day, w.Month).Scan(&ws.Minute, &ws.Day, &ws.Month)
		if err != nil {
			return err
		}
		ws.RemainingMinute = max(u.Plan.PerMinute-ws.Minute, 0)
		ws.RemainingDay = max(u.Plan.PerDay-ws.Day, 0)

		rows, err := tx.Query(ctx, `
			SELECT k.id, k.name, k.prefix,
			       CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked' WHEN k.expires_at <= $5 THEN 'expired' ELSE 'active' END,
			       coalesce(c.minute, 0), coalesce(c.day, 0), coalesce(c.month, 0)
			FROM api_keys k
			LEFT JOIN (
				SELECT key_id,
				       sum(count) FILTER (WHERE window_kind = 'minute' AND window_start = $2) AS minute,
				       sum(count) FILTER (WHERE window_kind = 'day' AND window_start = $3) AS day,
				       sum(count) FILTER (WHERE window_kind = 'month' AND window_start = $4) AS month
				FROM usage_counters
				WHERE workspace_id = $1 AND key_id <> 0 AND (
				      (window_kind = 'minute' AND window_start = $2)
				   OR (window_kind = 'day' AND window_start = $3)
				   OR (window_kind = 'month' AND window_start = $4))
				GROUP BY key_id
			) c ON c.key_id = k.id
			WHERE k.workspace_id = $1
			ORDER BY k.id`, workspaceID, w.Minute, w.Day, w.Month, now.UTC())
		if err != nil {
			return err
		}
		keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (nubiq.KeyUsage, error) {
			var k nubiq.KeyUsage
			err := r.Scan(&k.ID, &k.Name, &k.Prefix, &k.Status, &k.Minute, &k.Day, &k.Month)
			return k, err
		})
		if err != nil {
			return err
		}
		u.Keys = append(u.Keys, keys...)
		return nil
	})
	if err != nil {
		if nubiq.ErrorCode(err) == nubiq.ECodeNotFound {
			return nil, err
		}
		return nil, fmt.Errorf("read usage of workspace %d: %w", workspaceID, unavailable(err))
	}
	return u, nil
}
