// Package jobs holds Nubiq Hub's River workers: document ingest and reindex, outbound
// delivery, cleanup. Each worker file registers itself (see addWorkers), so that adding a job
// kind touches only its own file.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/postgres"
)

// Deps are what workers need. Fields are added with the workers that use them.
type Deps struct {
	DB     *postgres.DB
	Logger *slog.Logger
	// Delivery tunes outbound message delivery (deliver.go); zero values get defaults.
	Delivery DeliveryConfig
	// Mail is the service's own SMTP server (NUBIQ_SMTP_*), for invitation emails; when it is
	// not configured no invitation email is sent.
	Mail MailConfig
	// Embedder makes chunk vectors for document ingest.
	Embedder indexer.Embedder
	// Ingest tunes chunking and embedding batches.
	Ingest IngestConfig
	// Maintenance tunes the periodic cleanup (maintenance.go).
	Maintenance MaintenanceConfig
}

// Config configures the runner. Zero values get defaults.
type Config struct {
	// MaxWorkers is the number of jobs of the default queue this node works at once. Default 20.
	MaxWorkers int
	// IngestWorkers is the number of document ingest jobs (queue nubiq.IngestQueue) this node
	// works at once; they have their own queue so that a large import or reindex never delays
	// other jobs. Default 8.
	IngestWorkers int
	// IngestOnly works the ingest queue alone (admin commands that reindex).
	IngestOnly bool
	// FetchCooldown bounds how often workers poll for new jobs; River drains at most about
	// MaxWorkers / FetchCooldown jobs a second. Default 20ms.
	FetchCooldown time.Duration
	// JobTimeout bounds one job's run; a job past it is cancelled and retried. Default 5m.
	JobTimeout time.Duration
	// RescueStuckJobsAfter is how long a running job may go unfinished (its node crashed)
	// before another node takes it back for retry. It is at least JobTimeout, since a live
	// node's job can run that long; default JobTimeout + 1m.
	RescueStuckJobsAfter time.Duration
}

// registrations are filled by each worker file's init.
var registrations []func(w *river.Workers, d *Deps)

func addWorkers(f func(w *river.Workers, d *Deps)) { registrations = append(registrations, f) }

// Runner is this node's working River client.
type Runner struct {
	Client *river.Client[pgx.Tx]
	deps   *Deps
}

// NewRunner builds a working River client with every registered worker.
func NewRunner(deps *Deps, cfg Config) (*Runner, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxWorkers == 0 {
		cfg.MaxWorkers = 20
	}
	if cfg.IngestWorkers == 0 {
		cfg.IngestWorkers = 8
	}
	if cfg.FetchCooldown == 0 {
		cfg.FetchCooldown = 20 * time.Millisecond
	}
	if cfg.JobTimeout == 0 {
		cfg.JobTimeout = 5 * time.Minute
	}
	if cfg.RescueStuckJobsAfter == 0 {
		cfg.RescueStuckJobsAfter = cfg.JobTimeout + time.Minute
	}
	cfg.RescueStuckJobsAfter = max(cfg.RescueStuckJobsAfter, cfg.JobTimeout)
	workers := river.NewWorkers()
	for _, add := range registrations {
		add(workers, deps)
	}
	queues := map[string]river.QueueConfig{nubiq.IngestQueue: {MaxWorkers: cfg.IngestWorkers}}
	var periodic []*river.PeriodicJob
	if !cfg.IngestOnly {
		queues[river.QueueDefault] = river.QueueConfig{MaxWorkers: cfg.MaxWorkers}
		periodic = append(periodic, maintenancePeriodicJob(deps.Maintenance.withDefaults()))
	}
	client, err := river.NewClient(riverpgxv5.New(deps.DB.Pool), &river.Config{
		Logger:               deps.Logger,
		Queues:               queues,
		Workers:              workers,
		PeriodicJobs:         periodic,
		FetchCooldown:        cfg.FetchCooldown,
		FetchPollInterval:    max(cfg.FetchCooldown, 200*time.Millisecond),
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return &Runner{Client: client, deps: deps}, nil
}

// Start starts working jobs in the background.
func (r *Runner) Start(ctx context.Context) error { return r.Client.Start(ctx) }

// Stop stops fetching new jobs and waits for running ones to finish until ctx ends; jobs still
// running then are cancelled and, as River records them, retried later by any node.
func (r *Runner) Stop(ctx context.Context) error {
	err := r.Client.Stop(ctx)
	if err != nil {
		return r.Client.StopAndCancel(context.Background())
	}
	return nil
}

// permanentError marks a failure that retrying cannot fix: a document that cannot be read, a
// refused recipient, bad credentials, a 4xx from a webhook, missing configuration.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}
