package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/postgres/pgtest"
)

// A node killed during a document's last indexing attempt leaves a running job that River's
// rescuer later discards without running it again, so the worker never records the failure.
// The maintenance job marks such documents failed, with the job's last error, and deletes
// notification events past their retention.
func TestMaintenanceFailsAbandonedIngestsAndExpiresNotifications(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w, err := db.CreateWorkspace(ctx, "maint", "pro")
	require.NoError(t, err)

	abandoned := upload(t, db, w.ID, "abandoned", "Some text to index.")
	recent := upload(t, db, w.ID, "recent", "Other text to index.")
	// What the rescuer leaves after a crash on the last attempt: the job discarded, its last
	// error recorded, the document still processing.
	for _, j := range []struct {
		id  int64
		ago string
	}{{abandoned.JobID, "5 minutes"}, {recent.JobID, "0 seconds"}} {
		_, err = db.Pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', attempt = max_attempts,
			finalized_at = now() - $2::interval,
			errors = ARRAY[jsonb_build_object('at', now(), 'attempt', max_attempts, 'error', 'Stuck job rescued by Rescuer', 'trace', '')]
			WHERE id = $1`, j.id, j.ago)
		require.NoError(t, err)
	}
	_, err = db.Pool.Exec(ctx, `UPDATE documents SET status = 'processing' WHERE workspace_id = $1`, w.ID)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `INSERT INTO notification_events (workspace_id, kind, subject_type, subject_id, created_at)
		VALUES ($1, 'old.event', 'document', 1, now() - interval '31 days'), ($1, 'new.event', 'document', 2, now() - interval '29 days')`, w.ID)
	require.NoError(t, err)

	startRunnerWith(t, &jobs.Deps{DB: db, Embedder: indexer.NewHashEmbedder(16),
		Maintenance: jobs.MaintenanceConfig{Interval: 200 * time.Millisecond, AbandonedGrace: time.Minute}}, jobs.Config{})

	d := waitDoc(t, db, w.ID, abandoned.DocumentID, 20*time.Second, func(d *nubiq.Document) bool { return d.Status == nubiq.DocumentFailed })
	require.Equal(t, "indexing failed: its job was given up after 5 attempt(s): Stuck job rescued by Rescuer", d.Error)
	var kinds []string
	require.Eventually(t, func() bool {
		kinds = nil
		rows, err := db.Pool.Query(ctx, `SELECT kind FROM notification_events WHERE workspace_id = $1 ORDER BY id`, w.ID)
		require.NoError(t, err)
		for rows.Next() {
			var k string
			require.NoError(t, rows.Scan(&k))
			kinds = append(kinds, k)
		}
		return len(kinds) == 2
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, []string{"new.event", "document.failed"}, kinds)

	// The document whose job ended within the grace period is left alone: a job's outcome
	// and the document's status are written by separate transactions.
	d, err = db.GetDocument(ctx, w.ID, recent.DocumentID)
	require.NoError(t, err)
	require.Equal(t, nubiq.DocumentProcessing, d.Status)
}
