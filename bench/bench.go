// Package bench measures Nubiq Hub against the raw engines it is built on, side by side in one
// run: tool calls over the MCP HTTP endpoint against a bare pgx loop running the same
// statements, search end to end against bleve and pgvector queried directly, ingest against a
// bare COPY of the same rows, freshness of a second node's index, and server memory.
//
// Absolute times drift on a shared machine; ratios measured in the same run hold, so every
// section reports ours ÷ the engine's floor beside the figures. Benchmarks are never timed
// assertions in tests: the package's test only runs each section at tiny scale so the code
// cannot rot.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// Section names, in the order they run.
const (
	SectionTools     = "tools"
	SectionSearch    = "search"
	SectionIngest    = "ingest"
	SectionFreshness = "freshness"
	SectionMemory    = "memory"
)

// Sections lists every section in run order. Search comes late: it leaves its largest
// corpus loaded for the memory section, and sections that start search nodes of their own
// must not have to index it first.
var Sections = []string{SectionTools, SectionIngest, SectionFreshness, SectionSearch, SectionMemory}

// Config configures a run. Zero values get the defaults of the full benchmark.
type Config struct {
	// DatabaseURL is a scratch database the run owns: it is migrated, filled with synthetic
	// data and emptied again. It must hold no workspaces when the run starts, so that a
	// mistyped URL never touches real data.
	DatabaseURL string
	// Only selects sections by name; empty runs all.
	Only []string
	// Chunks are the corpus sizes of the search section; default 10,000 and 100,000.
	Chunks []int
	// Concurrency levels of the latency sections; default 1 and 8.
	Concurrency []int
	// Duration of each timed measurement, after Warmup; default 2s and 500ms.
	Duration time.Duration
	Warmup   time.Duration
	// Rounds splits each timed measurement into interleaved rounds of its variants (ours and
	// the engine's), so that drifting load on the machine hits them alike; default 5.
	Rounds int
	// Scale shrinks generated support data and ingest corpora (1 = full); the smoke test
	// uses a small fraction.
	Scale float64
	// CPUProfile, when set, is where a CPU profile of the timed server-side work is written.
	// Goroutines serving requests carry the pprof label side=server, load generators
	// side=client and engine baselines side=baseline, so that
	// `go tool pprof -tagfocus=side=server` shows where the server spends its time.
	CPUProfile string
	// ServerCommand starts a real server process (argv; the run appends its own flags) for
	// the memory section. Empty leaves that section unavailable.
	ServerCommand []string
	// Out receives the table as rows are measured; nil discards it.
	Out    io.Writer
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if len(c.Chunks) == 0 {
		c.Chunks = []int{10000, 100000}
	}
	if len(c.Concurrency) == 0 {
		c.Concurrency = []int{1, 8}
	}
	if c.Duration <= 0 {
		c.Duration = 2 * time.Second
	}
	if c.Warmup <= 0 {
		c.Warmup = 500 * time.Millisecond
	}
	if c.Rounds <= 0 {
		c.Rounds = 5
	}
	if c.Scale <= 0 {
		c.Scale = 1
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) selected(section string) bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, section)
}

// Report is the result of a run, as written to JSON.
type Report struct {
	Machine  Machine          `json:"machine"`
	Started  time.Time        `json:"started"`
	Seconds  float64          `json:"seconds"`
	Settings Settings         `json:"settings"`
	Sections []*SectionResult `json:"sections"`
}

// Settings records what the run was asked to do.
type Settings struct {
	Only            []string `json:"only,omitempty"`
	Chunks          []int    `json:"chunks"`
	Concurrency     []int    `json:"concurrency"`
	DurationSeconds float64  `json:"duration_seconds"`
	WarmupSeconds   float64  `json:"warmup_seconds"`
	Scale           float64  `json:"scale"`
}

// SectionResult is one section's rows, or why it could not run.
type SectionResult struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	// Note says why an unavailable section did not run, or anything a reader of the figures
	// must know (what the baseline is, what the server did per request).
	Note    string  `json:"note,omitempty"`
	Rows    []Row   `json:"rows"`
	Seconds float64 `json:"seconds"`
}

// Row is one measurement.
type Row struct {
	// Name says what was measured, e.g. "tickets.get".
	Name string `json:"name"`
	// Path is how: "mcp" end to end, or the engine floor ("pgx", "bleve", "pgvector", "copy").
	Path        string  `json:"path"`
	Concurrency int     `json:"concurrency,omitempty"`
	Chunks      int     `json:"chunks,omitempty"`
	Ops         int     `json:"ops"`
	Errors      int     `json:"errors"`
	Seconds     float64 `json:"seconds"`
	// PerSecond is ops per second (calls, queries, chunks).
	PerSecond float64 `json:"per_second"`
	Unit      string  `json:"unit"`
	P50ms     float64 `json:"p50_ms,omitempty"`
	P95ms     float64 `json:"p95_ms,omitempty"`
	P99ms     float64 `json:"p99_ms,omitempty"`
	// Value is a single figure for rows that are not rates (memory in MiB).
	Value float64 `json:"value,omitempty"`
	// Ratio compares this row with its baseline: throughput ÷ the baseline's for rates,
	// p50 ÷ the floor's p50 for latencies (RatioOf says which).
	Ratio   float64 `json:"ratio,omitempty"`
	RatioOf string  `json:"ratio_of,omitempty"`
	// Target states the goal this row is held to and Met whether it was reached.
	Target string `json:"target,omitempty"`
	Met    *bool  `json:"met,omitempty"`
}

// Run runs the selected sections and returns the report. A section whose dependencies are
// missing from this build is reported unavailable with the reason; a section that fails
// stops the run with its error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	for _, s := range cfg.Only {
		if !slices.Contains(Sections, s) {
			return nil, fmt.Errorf("unknown section %q; sections: %s", s, strings.Join(Sections, ", "))
		}
	}
	start := time.Now()
	be, err := openEnv(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer be.close()

	rep := &Report{
		Started: start.UTC(),
		Settings: Settings{Only: cfg.Only, Chunks: cfg.Chunks, Concurrency: cfg.Concurrency,
			DurationSeconds: cfg.Duration.Seconds(), WarmupSeconds: cfg.Warmup.Seconds(), Scale: cfg.Scale},
	}
	rep.Machine = describeMachine(ctx, be.db.Pool)

	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	tw := newTable(cfg.Out)
	runners := map[string]func(context.Context, *env) (*SectionResult, error){
		SectionTools:     runTools,
		SectionSearch:    runSearch,
		SectionIngest:    runIngest,
		SectionFreshness: runFreshness,
		SectionMemory:    runMemory,
	}
	for _, name := range Sections {
		if !cfg.selected(name) {
			continue
		}
		t0 := time.Now()
		be.table = tw
		res, err := runners[name](ctx, be)
		if err != nil {
			return rep, fmt.Errorf("section %s: %w", name, err)
		}
		res.Name = name
		res.Seconds = time.Since(t0).Seconds()
		if !res.Available {
			tw.note(name, "not run: "+res.Note)
		}
		rep.Sections = append(rep.Sections, res)
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.Machine.LoadAverageEnd = loadAverage()
	return rep, nil
}

// WriteJSON writes the report, indented.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// table prints rows as they are measured.
type table struct {
	w       io.Writer
	started bool
}

func newTable(w io.Writer) *table { return &table{w: w} }

const rowFormat = "%-9s %-24s %-16s %7s %4s %14s %8s %8s %8s %12s  %s\n"

func (t *table) row(section string, r Row) {
	if !t.started {
		fmt.Fprintf(t.w, rowFormat, "SECTION", "NAME", "PATH", "CHUNKS", "CONC", "RATE", "P50 ms", "P95 ms", "P99 ms", "RATIO", "TARGET")
		t.started = true
	}
	chunks, conc, ratio, target := "", "", "", r.Target
	if r.Chunks > 0 {
		chunks = fmt.Sprint(r.Chunks)
	}
	if r.Concurrency > 0 {
		conc = fmt.Sprint(r.Concurrency)
	}
	if r.Ratio > 0 {
		ratio = fmt.Sprintf("%.2f", r.Ratio)
		if r.RatioOf != "" {
			ratio += " " + r.RatioOf
		}
	}
	if r.Met != nil {
		if *r.Met {
			target = "met: " + target
		} else {
			target = "MISSED: " + target
		}
	}
	rate := fmt.Sprintf("%.0f %s", r.PerSecond, r.Unit)
	switch r.Unit {
	case "":
		rate = ""
	case "MiB":
		rate = fmt.Sprintf("%.1f MiB", r.Value)
	}
	fmt.Fprintf(t.w, rowFormat, section, r.Name, r.Path, chunks, conc, rate, ms(r.P50ms), ms(r.P95ms), ms(r.P99ms), ratio, target)
}

func (t *table) note(section, text string) {
	fmt.Fprintf(t.w, "%s: %s\n", section, text)
}

func ms(v float64) string {
	if v == 0 {
		return ""
	}
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func boolPtr(b bool) *bool { return &b }
