package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub/bench"
	"github.com/nubiq/hub/postgres"
)

func init() {
	register(&command{name: "bench", summary: "benchmark against the raw engines (pgx, bleve, pgvector, COPY) in one run", run: runBench})
}

func runBench(ctx context.Context, args []string) error {
	var (
		only, chunks, conc, out, cpuprofile, adminURL, pgUser, logLevel string
		duration, warmup                                                time.Duration
		scale                                                           float64
		quick                                                           bool
	)
	fs := newFlags("bench", "[flags]", `
Measures Nubiq Hub end to end against the engines it is built on, side by side in one run,
prints a table and writes the results as JSON. Sections: tools (tool calls over MCP HTTP vs
a bare pgx loop running the same statements), search (documents.search vs bleve and
pgvector queried directly), ingest (upload → searchable vs a bare COPY), freshness (commit →
searchable on a second node) and memory (server RSS at 100k chunks). A section whose parts
are missing from this build says so instead of printing figures.

The run uses a scratch database: by default a private PostgreSQL cluster under a temporary
directory (configured like the one nubiq serve runs), removed at the end; with
--database-url, a database created on that server (the role needs CREATEDB) and dropped.`)
	fs.StringVar(&only, "only", "", "comma-separated sections to run: "+strings.Join(bench.Sections, ","))
	fs.StringVar(&chunks, "chunks", "10000,100000", "comma-separated corpus sizes of the search section")
	fs.StringVar(&conc, "concurrency", "1,8", "comma-separated concurrency levels")
	fs.StringVar(&out, "out", "bench-results.json", "where to write the JSON results; empty writes none")
	fs.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the run here; server goroutines carry the label side=server (go tool pprof -tagfocus=side=server)")
	fs.StringVar(&adminURL, "database-url", "", "PostgreSQL server to create the scratch database on; empty runs a private temporary cluster")
	fs.StringVar(&pgUser, "pg-user", envOr("NUBIQ_PG_USER", "postgres"), "OS user the private cluster runs as when nubiq runs as root")
	fs.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	fs.DurationVar(&duration, "duration", 2*time.Second, "length of each timed measurement")
	fs.DurationVar(&warmup, "warmup", 500*time.Millisecond, "warm-up before each timed measurement")
	fs.Float64Var(&scale, "scale", 1, "scale of generated support data and ingest corpora (1 = full)")
	fs.BoolVar(&quick, "quick", false, "a smaller run of a few minutes: "+quickSummary+"; flags given explicitly still win")
	if err := parse(fs, args); err != nil {
		return err
	}
	if quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range quickDefaults {
			if !set[name] {
				fs.Set(name, v) //nolint:errcheck // the values are valid
			}
		}
	}
	cfg := bench.Config{Duration: duration, Warmup: warmup, Scale: scale, CPUProfile: cpuprofile, Out: os.Stdout, Logger: newLogger(logLevel)}
	cfg.Only = splitList(only)
	var err error
	if cfg.Chunks, err = intList("--chunks", chunks); err != nil {
		return err
	}
	if cfg.Concurrency, err = intList("--concurrency", conc); err != nil {
		return err
	}
	if exe, err := os.Executable(); err == nil {
		cfg.ServerCommand = []string{exe, "serve"}
	}

	dbURL, cleanup, err := scratchDatabase(ctx, adminURL, pgUser, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	cfg.DatabaseURL = dbURL

	rep, runErr := bench.Run(ctx, cfg)
	if rep != nil && out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		if err := rep.WriteJSON(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Printf("\nwrote %s (%.0fs; %d CPUs, %s, Go %s, PostgreSQL %s)\n", out, rep.Seconds, rep.Machine.CPUs, rep.Machine.CPUModel, rep.Machine.Go, rep.Machine.PostgreSQL)
	}
	return runErr
}

// quickDefaults are the settings of --quick: the search corpus at its smaller size only,
// shorter measurements, half the generated data.
var quickDefaults = map[string]string{"chunks": "10000", "duration": "1s", "warmup": "300ms", "scale": "0.5"}

const quickSummary = "--chunks 10000 --duration 1s --warmup 300ms --scale 0.5"

// scratchDatabase returns the URL of a database the run owns and a function that removes it.
func scratchDatabase(ctx context.Context, adminURL, pgUser string, cfg bench.Config) (string, func(), error) {
	b := make([]byte, 4)
	rand.Read(b)
	name := "nubiq_bench_" + hex.EncodeToString(b)
	if adminURL != "" {
		if err := postgres.EnsureDatabase(ctx, adminURL, name, ""); err != nil {
			return "", nil, err
		}
		drop := func() {
			conn, err := pgx.Connect(context.Background(), adminURL)
			if err != nil {
				cfg.Logger.Warn("drop scratch database", "database", name, "err", err)
				return
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
				cfg.Logger.Warn("drop scratch database", "database", name, "err", err)
			}
		}
		return withDatabase(adminURL, name), drop, nil
	}
	dir, err := os.MkdirTemp("", "nubiq-bench-")
	if err != nil {
		return "", nil, err
	}
	os.Chmod(dir, 0o755) //nolint:errcheck // the server's OS user must enter it when we are root
	fmt.Fprintf(os.Stderr, "starting a private PostgreSQL cluster in %s\n", dir)
	cluster, err := postgres.StartCluster(ctx, postgres.ClusterConfig{Dir: filepath.Join(dir, "cluster"), RunAs: pgUser, Logger: cfg.Logger})
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cluster.Stop(sctx); err != nil {
			cfg.Logger.Warn("stop the private cluster", "err", err)
		}
		os.RemoveAll(dir)
	}
	if err := cluster.EnsureDatabase(ctx, name); err != nil {
		stop()
		return "", nil, err
	}
	return cluster.URL(name), stop, nil
}

// withDatabase points a connection URL or keyword/value string at database name.
func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return raw + " dbname=" + name // keyword/value form: the last setting wins
	}
	u.Path = "/" + name
	return u.String()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func intList(flag, s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		n, err := strconv.Atoi(strings.ReplaceAll(p, "_", ""))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive whole number", flag, p)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: give at least one number", flag)
	}
	return out, nil
}
