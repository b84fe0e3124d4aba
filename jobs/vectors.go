package jobs

import (
	"context"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// VectorIndexArgs asks for a workspace's chunks to be moved into the HNSW index
// (postgres.IndexWorkspaceVectors): it has outgrown exact vector ranking.
//
// Why a job of its own: moving costs an HNSW insert per chunk, a minute or two of work for a
// workspace at the threshold, which must neither hold up the ingest commit that noticed the
// crossing nor wait for the next maintenance pass; as a job it runs once across nodes (unique
// per workspace) and, interrupted, is retried and goes on where it stopped.
type VectorIndexArgs struct {
	WorkspaceID int64 `json:"workspace_id" river:"unique"`
}

// Kind names the job for River.
func (VectorIndexArgs) Kind() string { return "vector_index" }

var vectorIndexInsertOpts = &river.InsertOpts{
	MaxAttempts: 10,
	UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}},
}

func init() {
	addWorkers(func(w *river.Workers, d *Deps) {
		river.AddWorker(w, &vectorIndexWorker{deps: d})
	})
}

type vectorIndexWorker struct {
	river.WorkerDefaults[VectorIndexArgs]
	deps *Deps
}

// Timeout: a large workspace takes minutes on a busy machine; each batch commits, so a
// timed-out run loses nothing but is better not cut short.
func (w *vectorIndexWorker) Timeout(*river.Job[VectorIndexArgs]) time.Duration { return time.Hour }

func (w *vectorIndexWorker) Work(ctx context.Context, job *river.Job[VectorIndexArgs]) error {
	start := time.Now()
	moved, err := w.deps.DB.IndexWorkspaceVectors(ctx, job.Args.WorkspaceID, 0)
	if nubiq.ErrorCode(err) == nubiq.ECodeNotFound {
		return nil // the workspace was deleted meanwhile
	} else if err != nil {
		return err
	}
	w.deps.Logger.Info("workspace vectors indexed", "workspace", job.Args.WorkspaceID, "chunks_moved", moved,
		"took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// queueVectorIndex inserts the vector-index job for a workspace (a no-op while one waits or
// runs).
func queueVectorIndex(ctx context.Context, db *postgres.DB, workspaceID int64) error {
	_, err := db.River.Insert(ctx, VectorIndexArgs{WorkspaceID: workspaceID}, vectorIndexInsertOpts)
	return err
}

// vectorWatch notices, after ingest commits, workspaces that outgrew exact ranking. Counting
// a workspace's chunks costs up to threshold index entries, so each workspace is counted at
// most once per interval on this node; the maintenance pass catches what slips through
// (commits on nodes that stopped, chunks written by other paths).
type vectorWatch struct {
	threshold int64
	every     time.Duration

	mu      sync.Mutex
	checked map[int64]time.Time
}

func newVectorWatch(cfg IngestConfig) *vectorWatch {
	return &vectorWatch{threshold: cfg.VectorExactMax, every: cfg.VectorCheckEvery, checked: map[int64]time.Time{}}
}

// committed is told the vector-index state under which an ingest committed chunks.
func (v *vectorWatch) committed(ctx context.Context, d *Deps, workspaceID int64, state string) {
	if state != postgres.VectorIndexExact {
		return // in the index already, or being moved there by a job
	}
	now := time.Now()
	v.mu.Lock()
	if last, ok := v.checked[workspaceID]; ok && now.Sub(last) < v.every {
		v.mu.Unlock()
		return
	}
	if len(v.checked) > 10000 {
		clear(v.checked)
	}
	v.checked[workspaceID] = now
	v.mu.Unlock()
	due, err := d.DB.VectorIndexDue(ctx, workspaceID, v.threshold)
	if err == nil && due {
		err = queueVectorIndex(ctx, d.DB, workspaceID)
	}
	if err != nil {
		// The document is committed; the maintenance pass will notice the workspace.
		d.Logger.Warn("check workspace vector index", "workspace", workspaceID, "err", err)
	}
}
