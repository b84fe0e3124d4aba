package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
)

// runMemory starts a real server process on the search section's largest corpus, with that
// corpus's search indexes, and reads its resident memory idle and after a burst of searches.
func runMemory(ctx context.Context, e *env) (*SectionResult, error) {
	cfg := e.cfg
	if len(cfg.ServerCommand) == 0 {
		return &SectionResult{Note: "no server command to start a server process with (nubiq bench gives its own binary)"}, nil
	}
	if e.corpus == nil || e.indexDir == "" {
		return &SectionResult{Note: "memory is measured on the search section's largest corpus, and the search section did not run"}, nil
	}
	sc := e.corpus
	p, err := startServerProcess(ctx, cfg.ServerCommand, cfg.DatabaseURL, e.indexDir,
		"NUBIQ_EMBEDDER=hash", fmt.Sprintf("NUBIQ_EMBEDDER_DIMS=%d", indexer.DefaultHashDims))
	if err != nil {
		return nil, err
	}
	defer p.stop()

	// The first search waits for the server's indexes to be open and current.
	client, err := newRPCClient(p.URL, sc.key, protocol2025, 8)
	if err != nil {
		return nil, err
	}
	defer client.close()
	args := make([]json.RawMessage, len(sc.queries))
	for i, q := range sc.queries {
		args[i], _ = json.Marshal(map[string]any{"query": q, "mode": nubiq.SearchHybrid})
	}
	if _, err := client.call(ctx, 0, 0, "documents.search", args[0]); err != nil {
		return nil, err
	}
	// A server on a database it has not seen rebuilds the indexes it was not handed
	// (conversations, contacts) at start; idle means that work is done.
	if err := p.waitIdle(ctx, 5*time.Minute); err != nil {
		return nil, err
	}
	idle, _, err := p.memory()
	if err != nil {
		return nil, err
	}
	r, err := load(ctx, 8, 0, cfg.Duration, "client", func(ctx context.Context, worker, i int) error {
		_, err := client.call(ctx, worker, i, "documents.search", args[pick(worker, i, len(args))])
		return err
	})
	if err != nil {
		return nil, err
	}
	busy, peak, err := p.memory()
	if err != nil {
		return nil, err
	}
	rows := []Row{
		{Name: "server rss, idle", Path: "serve", Chunks: sc.chunks, Unit: "MiB", Value: idle},
		{Name: "server rss, searched", Path: "serve", Chunks: sc.chunks, Unit: "MiB", Value: busy, Ops: r.ops, Seconds: r.seconds},
		{Name: "server peak rss", Path: "serve", Chunks: sc.chunks, Unit: "MiB", Value: peak},
	}
	for _, row := range rows {
		e.table.row(SectionMemory, row)
	}
	return &SectionResult{Available: true, Rows: rows, Note: fmt.Sprintf("a nubiq serve process (hash embedder) on the search section's "+
		"corpus of %d chunks, with that corpus's bleve indexes in its data directory: resident set once its first search answered and it was idle, "+
		"after %d hybrid documents.search calls at concurrency 8 over MCP HTTP, and its peak (VmHWM). PostgreSQL's memory is not counted.",
		sc.chunks, r.ops)}, nil
}
