package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// MaintenanceConfig tunes the periodic maintenance job. Zero values get defaults.
type MaintenanceConfig struct {
	// Interval is how often maintenance runs (on the leader node only). Default 5m.
	Interval time.Duration
	// NotificationRetention is how long notification events are kept. Pollers that fall
	// further behind than this miss events. Default 30 days.
	NotificationRetention time.Duration
	// AbandonedGrace is how long after its job ended a document still queued or processing is
	// left alone before it is marked failed. Default 1m.
	AbandonedGrace time.Duration
}

func (c MaintenanceConfig) withDefaults() MaintenanceConfig {
	if c.Interval <= 0 {
		c.Interval = 5 * time.Minute
	}
	if c.NotificationRetention <= 0 {
		c.NotificationRetention = 30 * 24 * time.Hour
	}
	if c.AbandonedGrace <= 0 {
		c.AbandonedGrace = time.Minute
	}
	return c
}

// MaintenanceArgs asks for one maintenance pass.
type MaintenanceArgs struct{}

// Kind names the job for River.
func (MaintenanceArgs) Kind() string { return "maintenance" }

func init() {
	addWorkers(func(w *river.Workers, d *Deps) {
		river.AddWorker(w, &maintenanceWorker{deps: d, cfg: d.Maintenance.withDefaults()})
	})
}

// maintenanceWorker cleans up what no request-driven path does:
//   - documents whose indexing job will never run again stay queued or processing forever:
//     River's rescuer discards a job whose node died during its last attempt without running
//     it, so the worker never gets to record the failure. They are marked failed.
//   - notification events older than the retention period are deleted.
//   - workspaces that outgrew exact vector ranking without an ingest noticing (chunks written
//     by other paths, a node stopped before it checked, an upgrade from a version that indexed
//     every chunk) get their vector-index job.
type maintenanceWorker struct {
	river.WorkerDefaults[MaintenanceArgs]
	deps *Deps
	cfg  MaintenanceConfig
}

func (w *maintenanceWorker) Work(ctx context.Context, job *river.Job[MaintenanceArgs]) error {
	failed, err := w.deps.DB.FailAbandonedIngests(ctx, w.cfg.AbandonedGrace)
	if err != nil {
		return fmt.Errorf("maintenance: %w", err)
	}
	deleted, err := w.deps.DB.DeleteNotificationsBefore(ctx, time.Now().Add(-w.cfg.NotificationRetention))
	if err != nil {
		return fmt.Errorf("maintenance: %w", err)
	}
	due, err := w.deps.DB.WorkspacesDueForVectorIndex(ctx, w.deps.Ingest.withDefaults().VectorExactMax)
	if err != nil {
		return fmt.Errorf("maintenance: %w", err)
	}
	for _, ws := range due {
		if err := queueVectorIndex(ctx, w.deps.DB, ws); err != nil {
			return fmt.Errorf("maintenance: queue vector index of workspace %d: %w", ws, err)
		}
	}
	if failed > 0 || deleted > 0 || len(due) > 0 {
		w.deps.Logger.Info("maintenance", "abandoned_documents_failed", failed, "notification_events_deleted", deleted,
			"workspaces_to_index", len(due))
	}
	return nil
}

func maintenancePeriodicJob(cfg MaintenanceConfig) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(cfg.Interval), func() (river.JobArgs, *river.InsertOpts) {
		// Only the leader enqueues periodic jobs, so passes do not pile up across nodes.
		return MaintenanceArgs{}, &river.InsertOpts{MaxAttempts: 3}
	}, &river.PeriodicJobOpts{RunOnStart: true})
}
