package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// AbandonedIngest is a document still queued or processing whose latest indexing job will
// never run again: River discarded it (a node died during its last attempt, and the rescuer
// gave up without running it), cancelled it, or already deleted the job row.
type AbandonedIngest struct {
	WorkspaceID, DocumentID int64
	Version, Generation     int
	JobID                   int64
	JobState                string // "" when the job row is gone
	Attempt                 int
	LastError               string
}

// AbandonedIngests lists up to limit documents whose indexing job ended at least grace ago
// without marking them ready or failed. This is a maintenance scan over every workspace; each
// row is then failed under its own workspace id.
func (db *DB) AbandonedIngests(ctx context.Context, grace time.Duration, limit int) ([]AbandonedIngest, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT d.workspace_id, d.id, d.version, d.index_generation, d.job_id,
		       COALESCE(j.state::text, ''), COALESCE(j.attempt, 0),
		       COALESCE(j.errors[array_length(j.errors, 1)]->>'error', '')
		FROM documents d LEFT JOIN river_job j ON j.id = d.job_id
		WHERE d.status IN ('queued', 'processing') AND d.job_id IS NOT NULL
		  AND (j.id IS NULL OR (j.state IN ('discarded', 'cancelled') AND j.finalized_at < now() - $1::interval))
		ORDER BY d.workspace_id, d.id
		LIMIT $2`, grace, limit)
	if err != nil {
		return nil, fmt.Errorf("list abandoned ingests: %w", unavailable(err))
	}
	defer rows.Close()
	var out []AbandonedIngest
	for rows.Next() {
		var a AbandonedIngest
		if err := rows.Scan(&a.WorkspaceID, &a.DocumentID, &a.Version, &a.Generation, &a.JobID, &a.JobState, &a.Attempt, &a.LastError); err != nil {
			return nil, fmt.Errorf("list abandoned ingests: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list abandoned ingests: %w", unavailable(err))
	}
	return out, nil
}

// FailAbandonedIngests marks the documents of AbandonedIngests failed, with a message saying
// what became of the job, and returns how many it marked. A document that moved on meanwhile
// (new version, new reindex job) is left alone.
func (db *DB) FailAbandonedIngests(ctx context.Context, grace time.Duration) (int, error) {
	n := 0
	for {
		list, err := db.AbandonedIngests(ctx, grace, 500)
		if err != nil {
			return n, err
		}
		marked := 0
		for _, a := range list {
			msg := fmt.Sprintf("indexing failed: its job was given up after %d attempt(s)", a.Attempt)
			switch {
			case a.JobState == "":
				msg = "indexing failed: its job is gone without a result"
			case a.LastError != "":
				msg += ": " + a.LastError
			}
			err := db.FailIngest(ctx, a.WorkspaceID, a.DocumentID, a.Version, a.Generation, msg)
			if errors.Is(err, ErrStaleIngest) {
				continue
			} else if err != nil {
				return n, err
			}
			// The next scan must not find the same row again: the failed status excludes it.
			marked++
		}
		n += marked
		if len(list) < 500 || marked == 0 {
			return n, nil
		}
	}
}

// DeleteNotificationsBefore deletes notification events created before cutoff, in batches so
// that a large backlog never holds long locks, and returns how many it deleted.
func (db *DB) DeleteNotificationsBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		tag, err := db.Pool.Exec(ctx, `
			DELETE FROM notification_events WHERE id IN (
				SELECT id FROM notification_events WHERE created_at < $1 ORDER BY id LIMIT 5000)`, cutoff)
		if err != nil {
			return total, fmt.Errorf("delete old notification events: %w", unavailable(err))
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 {
			return total, nil
		}
	}
}
