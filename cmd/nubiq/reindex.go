package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/jobs"
)

func init() {
	register(&command{name: "reindex", summary: "re-extract, re-chunk and re-embed a workspace's documents", run: runReindex})
}

type reindexFlags struct {
	db        dbFlags
	embedder  embedderFlags
	ingest    ingestFlags
	workspace string
	all       bool
	documents string
	detach    bool
	work      bool
}

func runReindex(ctx context.Context, args []string) error {
	var f reindexFlags
	fs := newFlags("reindex", "--workspace ID|NAME (--all | --document ID[,ID…]) [flags]", `
Queues a reindex of one workspace's documents (all of them, or the listed ids) and follows
its progress until every document is done or failed. Documents whose indexing job is still
waiting are not queued twice.

By default this command also works the indexing jobs itself, with the embedder chosen by the
same flags and NUBIQ_EMBEDDER* variables as serve: use the same settings as your servers, or
pass --work=false to leave the work to running servers and only follow progress.
--detach queues and returns at once.`)
	f.db.register(fs)
	f.embedder.register(fs)
	f.ingest.register(fs)
	fs.StringVar(&f.workspace, "workspace", "", "workspace id or name (required)")
	fs.BoolVar(&f.all, "all", false, "reindex every document of the workspace")
	fs.StringVar(&f.documents, "document", "", "comma-separated document ids to reindex")
	fs.BoolVar(&f.detach, "detach", false, "queue the reindex and exit without waiting")
	fs.BoolVar(&f.work, "work", true, "work the indexing jobs in this process while waiting")
	if err := parse(fs, args); err != nil {
		return err
	}
	req := nubiq.ReindexRequest{All: f.all}
	for _, s := range strings.Split(f.documents, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			fmt.Fprintf(os.Stderr, "nubiq reindex: --document: %q is not a document id\n", s)
			return errUsage
		}
		req.DocumentIDs = append(req.DocumentIDs, id)
	}
	if f.workspace == "" || f.all == (len(req.DocumentIDs) > 0) {
		fmt.Fprintln(os.Stderr, "nubiq reindex: give --workspace and exactly one of --all or --document")
		fs.Usage()
		return errUsage
	}
	logger := newLogger(f.db.LogLevel)
	db, err := openMigrated(ctx, &f.db, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	ws, err := db.FindWorkspace(ctx, f.workspace)
	if err != nil {
		return err
	}
	req.WorkspaceID = ws.ID
	res, err := db.Reindex(ctx, req)
	if err != nil {
		return err
	}
	fmt.Printf("reindex run %d in workspace %q: %d document(s), %d job(s) queued, %d already waiting\n",
		res.Run.ID, ws.Name, res.Run.Total, res.Queued, res.Deduplicated)
	if f.detach || res.Run.Status != nubiq.ReindexRunning {
		return nil
	}
	if f.work {
		emb, err := f.embedder.build(ctx, f.db.DataDir, logger)
		if err != nil {
			return err
		}
		runner, err := jobs.NewRunner(&jobs.Deps{DB: db.DB, Logger: logger, Embedder: emb, Ingest: f.ingest.config()},
			jobs.Config{IngestWorkers: f.ingest.workers, IngestOnly: true})
		if err != nil {
			return err
		}
		if err := runner.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start workers: %w", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			runner.Stop(sctx) //nolint:errcheck
		}()
	}
	return followRun(ctx, db.DB, ws.ID, res.Run.ID, os.Stdout)
}

// runGetter reads a reindex run.
type runGetter interface {
	GetReindexRun(ctx context.Context, workspaceID, id int64) (*nubiq.ReindexRun, error)
}

// followRun prints progress until the run finishes: a line rewritten in place on a terminal,
// a line per change (at most every few seconds) otherwise.
func followRun(ctx context.Context, db runGetter, workspaceID, runID int64, out io.Writer) error {
	tty := false
	if f, ok := out.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	start := time.Now()
	var last string
	var lastAt time.Time
	for {
		run, err := db.GetReindexRun(ctx, workspaceID, runID)
		if err != nil {
			return err
		}
		elapsed := time.Since(start)
		rate := float64(run.Done+run.Failed) / max(elapsed.Seconds(), 0.001)
		line := fmt.Sprintf("reindex run %d: %d/%d done, %d failed, %.1f docs/s", run.ID, run.Done+run.Failed, run.Total, run.Failed, rate)
		finished := run.Status != nubiq.ReindexRunning
		switch {
		case tty:
			fmt.Fprintf(out, "\r%-78s", line)
		case line != last && (finished || time.Since(lastAt) >= 2*time.Second):
			fmt.Fprintln(out, line)
			last, lastAt = line, time.Now()
		}
		if finished {
			if tty {
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "reindex run %d %s in %s: %d done, %d failed\n", run.ID, run.Status, elapsed.Round(time.Millisecond), run.Done, run.Failed)
			if run.Failed > 0 {
				return errors.New("some documents failed; documents.list with status failed shows why")
			}
			return nil
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(out)
			}
			return fmt.Errorf("stopped following run %d (it goes on): %w", runID, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
