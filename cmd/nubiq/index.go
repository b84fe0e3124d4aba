package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/search"
	"github.com/nubiq/hub/searchindex"
)

func init() {
	register(&command{name: "index", summary: "search indexes: rebuild them on every node, or show their status", run: runIndex})
}

// indexFlags configure a node's search indexes.
type indexFlags struct {
	poll time.Duration
}

func (f *indexFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.poll, "index-poll", envDuration("NUBIQ_INDEX_POLL", 100*time.Millisecond),
		"how often the search indexes poll the database for changes when idle (env NUBIQ_INDEX_POLL)")
}

func indexDir(dataDir string) string { return filepath.Join(dataDir, "index") }

// startSearch opens the node's search indexes under the data dir, starts keeping them up to
// date, and returns the search service (queries embedded by emb, the embedder the node's
// workers index with) and a function that stops it all.
func startSearch(ctx context.Context, db *postgres.DB, dataDir string, emb indexer.Embedder, idx *indexFlags, logger *slog.Logger) (*search.Service, func(), error) {
	indexes, err := searchindex.Open(searchindex.Config{Dir: indexDir(dataDir), DB: db, Logger: logger, PollInterval: idx.poll})
	if err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		indexes.Run(rctx)
	}()
	svc := search.New(search.Config{DB: db, Indexes: indexes, Embedder: emb, Logger: logger})
	stop := func() {
		cancel()
		wg.Wait()
		if err := indexes.Close(); err != nil {
			logger.Warn("close search indexes", "err", err)
		}
	}
	return svc, stop, nil
}

func runIndex(ctx context.Context, args []string) error {
	var db dbFlags
	var which string
	fs := newFlags("index", "rebuild|status [flags]", `
Every server node keeps its own search indexes under <data-dir>/index, rebuilt from the
database whenever they are missing, damaged or built by an older version.

  rebuild  asks every node (running now or started later) to rebuild its indexes from the
           database in the background; nodes keep answering meanwhile, with
           "index_rebuilding": true in search results until the new index has caught up.
  status   shows each node's indexes as they last reported (position in the index log,
           entries still to apply, documents, rebuilding), and this machine's index
           checkpoints under the data directory.`)
	db.register(fs)
	fs.StringVar(&which, "index", "all", "documents, conversations, contacts, or all")
	if err := parse(fs, args); err != nil {
		return err
	}
	sub := fs.Arg(0)
	if rest := fs.Args(); len(rest) > 1 { // flags after the subcommand
		if err := parse(fs, rest[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			fmt.Fprintf(os.Stderr, "nubiq index: unexpected argument %q\n", fs.Arg(0))
			return errUsage
		}
	}
	if sub != "rebuild" && sub != "status" {
		fmt.Fprintf(os.Stderr, "nubiq index: expected \"rebuild\" or \"status\", got %q\n\n", sub)
		fs.Usage()
		return errUsage
	}
	names := searchindex.Names
	if which != "all" {
		if !slices.Contains(searchindex.Names, which) {
			fmt.Fprintf(os.Stderr, "nubiq index: --index must be %s or all, got %q\n", strings.Join(searchindex.Names, ", "), which)
			return errUsage
		}
		names = []string{which}
	}
	logger := newLogger(db.LogLevel)
	d, err := openMigrated(ctx, &db, logger)
	if err != nil {
		return err
	}
	defer d.Close()

	if sub == "rebuild" {
		by := "cli"
		if u, err := user.Current(); err == nil {
			by = "cli:" + u.Username
		}
		gens, err := d.RequestSearchIndexRebuild(ctx, names, by)
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Printf("%s: rebuild requested (generation %d)\n", n, gens[n])
		}
		fmt.Println("running nodes start rebuilding within a few seconds; follow with: nubiq index status")
		return nil
	}

	kinds := searchindex.Kinds()
	nodes, err := d.SearchIndexNodes(ctx, kinds)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tINDEX\tGENERATION\tREQUESTED\tPOSITION\tPENDING\tDOCS\tREBUILDING\tREPORTED")
	for _, n := range nodes {
		if !slices.Contains(names, n.Index) {
			continue
		}
		req, err := d.SearchIndexGeneration(ctx, n.Index)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%d\t%v\t%s ago\n", n.Node, n.Index, n.Generation, req, n.Pos, n.Pending, n.Docs,
			n.Rebuilding, time.Since(n.UpdatedAt).Round(time.Second))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(nodes) == 0 {
		fmt.Println("(no node has reported yet)")
	}
	fmt.Printf("\nthis machine (%s):\n", indexDir(db.DataDir))
	for _, n := range names {
		st, err := searchindex.ReadStatus(indexDir(db.DataDir), n)
		if err != nil {
			if errors.Is(err, searchindex.ErrNoCheckpoint) {
				fmt.Printf("  %s: no index yet\n", n)
				continue
			}
			fmt.Printf("  %s: %v\n", n, err)
			continue
		}
		fmt.Printf("  %s: mapping v%d, generation %d, position %s, %d docs, built %s, updated %s\n", n, st.MappingVersion,
			st.Generation, st.Pos, st.Docs, st.BuiltAt.Format(time.RFC3339), st.UpdatedAt.Format(time.RFC3339))
	}
	return nil
}
