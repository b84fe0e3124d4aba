package searchindex

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/blevesearch/bleve/v2"

	"github.com/nubiq/hub/postgres"
)

// rebuild builds a fresh index from Postgres into a new directory while the node keeps
// answering, then switches to it. It starts at the log horizon, scans every workspace's rows,
// then replays the log from that horizon: a change committed during the scan is either seen
// by the scan or replayed (or both, which is harmless), because every transaction that could
// have been missed commits after the horizon was taken.
//
// When the old index is still sound (a requested rebuild), it keeps answering, unchanged,
// until the new one is ready; otherwise the new index answers as it fills.
func (ix *Index) rebuild(ctx context.Context) error {
	began := time.Now()
	ix.rebuilding.Store(true)
	ix.notify()
	ix.log.Info("rebuilding index from Postgres", "reason", ix.reason)

	gen, err := ix.cfg.DB.SearchIndexGeneration(ctx, ix.spec.name)
	if err != nil {
		return err
	}
	from, err := ix.cfg.DB.IndexLogHorizon(ctx)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("bleve-%d", time.Now().UnixNano())
	path := filepath.Join(ix.dir, name)
	nidx, err := newBleve(path, ix.spec.mapping, true)
	if err != nil {
		return fmt.Errorf("create %s index: %w", ix.spec.name, err)
	}

	keepOld := ix.keepServing && ix.live != nil
	if !keepOld {
		ix.mu.Lock()
		old, oldDir := ix.live, ix.liveDir
		ix.live, ix.liveDir = nidx, path
		ix.mu.Unlock()
		ix.stats.Store((*Stats)(nil).clone())
		if old != nil {
			old.Close()
			os.RemoveAll(oldDir) //nolint:errcheck
		}
	}
	fail := func(err error) error {
		ix.mu.Lock()
		if ix.live == nidx {
			ix.live, ix.liveDir = nil, ""
		}
		ix.mu.Unlock()
		nidx.Close()
		os.RemoveAll(path) //nolint:errcheck
		return err
	}

	w := newWriter(ix, nidx)
	w.stats = (*Stats)(nil).clone()
	w.lookupOld = false
	if !keepOld {
		w.onFlush = func(st *Stats) { ix.stats.Store(st.clone()) }
	}
	workspaces := []int64{ix.cfg.Workspace}
	if ix.cfg.Workspace <= 0 {
		if workspaces, err = ix.cfg.DB.WorkspaceIDs(ctx); err != nil {
			return fail(err)
		}
	}
	for _, ws := range workspaces {
		if err := ix.spec.scan(ctx, w, ws); err != nil {
			return fail(fmt.Errorf("scan workspace %d: %w", ws, err))
		}
	}
	if err := w.flush(); err != nil {
		return fail(err)
	}

	w.lookupOld = true
	pos := from
	ix.posMu.Lock()
	clear(ix.ahead) // a fresh index has applied nothing
	ix.posMu.Unlock()
	for {
		b, err := ix.cfg.DB.ReadIndexLog(ctx, ix.spec.kinds, pos, ix.cfg.BatchSize, ix.cfg.Workspace)
		if err != nil {
			return fail(err)
		}
		n, err := ix.applyBatch(ctx, w, b)
		if err != nil {
			return fail(err)
		}
		pos = b.Through
		if n == 0 || len(b.Entries) < ix.cfg.BatchSize {
			break
		}
	}

	// Bulk batches were not waited on to reach disk, and closing does not wait for them
	// either: wait for a last batch to be persisted (with everything before it). The reopened
	// index then waits for every batch before its checkpoint moves.
	if err := persistAll(ctx, nidx); err != nil {
		return fail(err)
	}
	ix.mu.Lock()
	err = nidx.Close()
	var reopened bleve.Index
	if err == nil {
		reopened, err = openBleve(path)
	}
	if err != nil {
		if ix.live == nidx {
			ix.live, ix.liveDir = nil, ""
		}
		ix.mu.Unlock()
		os.RemoveAll(path) //nolint:errcheck
		return fmt.Errorf("reopen rebuilt %s index: %w", ix.spec.name, err)
	}
	old, oldDir := ix.live, ix.liveDir
	ix.live, ix.liveDir = reopened, path
	ix.mu.Unlock()
	if old != nil && old != nidx {
		old.Close()
	}
	if oldDir != "" && oldDir != path {
		os.RemoveAll(oldDir) //nolint:errcheck
	}

	docs, _ := reopened.DocCount()
	now := time.Now().UTC()
	cp := checkpoint{MappingVersion: ix.spec.version, Generation: gen, Index: name, Pos: pos, Docs: docs, Stats: w.stats, BuiltAt: now, UpdatedAt: now}
	if err := writeCheckpoint(ix.dir, &cp); err != nil {
		// The index is sound and serving; without a checkpoint the next start rebuilds again.
		ix.log.Error("write checkpoint after rebuild", "err", err)
	}
	ix.cp = cp
	ix.stats.Store(w.stats)
	ix.reason, ix.keepServing = "", false
	ix.rebuilding.Store(false)
	ix.setApplied(pos)
	ix.log.Info("index rebuilt", "docs", docs, "workspaces", len(workspaces), "took", time.Since(began).Round(time.Millisecond), "pos", pos.String())
	return nil
}

// scanPages feeds a rebuild scan: it calls page with the last id seen until page returns
// fewer than size rows.
func scanPages(ctx context.Context, size int, page func(after int64) (last int64, n int, err error)) error {
	var after int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		last, n, err := page(after)
		if err != nil {
			return err
		}
		if n < size {
			return nil
		}
		after = last
	}
}

// groupByWorkspace splits log entries per workspace, keeping for each entity only its last
// operation: applying an entry reloads current state, so earlier ones add nothing.
func groupByWorkspace(entries []postgres.IndexLogEntry) map[int64][]postgres.IndexLogEntry {
	type key struct {
		ws   int64
		kind string
		id   int64
	}
	last := map[key]int{}
	for i, e := range entries {
		last[key{e.WorkspaceID, e.Kind, e.EntityID}] = i
	}
	out := map[int64][]postgres.IndexLogEntry{}
	for i, e := range entries {
		if last[key{e.WorkspaceID, e.Kind, e.EntityID}] == i {
			out[e.WorkspaceID] = append(out[e.WorkspaceID], e)
		}
	}
	return out
}

// persistAll returns once everything batched into idx so far is on disk.
func persistAll(ctx context.Context, idx bleve.Index) error {
	b := idx.NewBatch()
	b.SetInternal([]byte("nubiq_built_at"), []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	done := make(chan error, 1)
	b.SetPersistedCallback(func(err error) { done <- err })
	if err := idx.Batch(b); err != nil {
		return fmt.Errorf("persist index: %w", err)
	}
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("persist index: %w", err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
