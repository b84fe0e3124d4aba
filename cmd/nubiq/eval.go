package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/search"
)

func init() {
	register(&command{name: "eval", summary: "measure search relevance on a BEIR dataset (nDCG@10, Recall@100, MRR@10)", run: runEval})
}

type evalFlags struct {
	db      dbFlags
	embed   embedderFlags
	corpus  string
	queries string
	qrels   string
	mode    string
	keep    bool
	jsonOut string
	rrfK    float64
	kwW     float64
	semW    float64
	titleB  float64
	tune    bool
}

func runEval(ctx context.Context, args []string) error {
	var f evalFlags
	fs := newFlags("eval", "--corpus corpus.jsonl --queries queries.jsonl --qrels qrels.tsv [flags]", `
Loads a BEIR-format corpus into a scratch workspace of the configured database (chunked and
embedded in-process, written as the ingest pipeline writes documents), builds this command's
own search indexes for it, runs every judged query through the documents.search code in each
mode, and prints nDCG@10, Recall@100 and MRR@10 per mode with the time taken. The scratch
workspace is deleted afterwards unless --keep is given.

  nubiq eval --corpus ../shared/datasets/scifact-train/corpus.jsonl \
    --queries ../shared/datasets/scifact-train/queries.jsonl \
    --qrels ../shared/datasets/scifact-train/qrels/train.tsv --embedder hash`)
	f.db.register(fs)
	f.embed.register(fs)
	fs.StringVar(&f.corpus, "corpus", "", "BEIR corpus.jsonl (required)")
	fs.StringVar(&f.queries, "queries", "", "BEIR queries.jsonl (required)")
	fs.StringVar(&f.qrels, "qrels", "", "BEIR qrels TSV: query-id, corpus-id, score (required)")
	fs.StringVar(&f.mode, "mode", "all", "keyword, semantic, hybrid, or all")
	fs.BoolVar(&f.keep, "keep", false, "keep the scratch workspace")
	fs.StringVar(&f.jsonOut, "json", "", "also write the report as JSON to this file")
	fs.Float64Var(&f.rrfK, "rrf-k", 0, "reciprocal rank fusion constant k (0: the embedder's default)")
	fs.Float64Var(&f.kwW, "keyword-weight", 0, "weight of the keyword ranking in fusion (0: the default, 1)")
	fs.Float64Var(&f.semW, "semantic-weight", 0, "weight of the semantic ranking in fusion (0: the embedder's default)")
	fs.Float64Var(&f.titleB, "title-boost", search.DefaultTitleBoost, "weight of title matches in keyword scoring")
	fs.BoolVar(&f.tune, "tune", false, "also search a grid of fusion settings (RRF k, semantic weight) and print the best")
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.corpus == "" || f.queries == "" || f.qrels == "" {
		fmt.Fprintln(os.Stderr, "nubiq eval: --corpus, --queries and --qrels are required")
		fs.Usage()
		return errUsage
	}
	modes := []string{f.mode}
	if f.mode == "all" {
		modes = []string{nubiq.SearchKeyword, nubiq.SearchSemantic, nubiq.SearchHybrid}
	} else if !strings.Contains(strings.Join(nubiq.SearchModes, ","), f.mode) {
		fmt.Fprintf(os.Stderr, "nubiq eval: --mode must be keyword, semantic, hybrid or all, got %q\n", f.mode)
		return errUsage
	}

	set, err := search.LoadBEIR(f.corpus, f.queries, f.qrels)
	if err != nil {
		return err
	}
	logger := newLogger(f.db.LogLevel)
	emb, err := f.embed.build(ctx, f.db.DataDir, logger)
	if err != nil {
		return err
	}
	db, err := openMigrated(ctx, &f.db, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	dir, err := os.MkdirTemp("", "nubiq-eval-index-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	began := time.Now()
	rep, err := search.RunEval(ctx, set, search.EvalConfig{
		DB: db.DB, Embedder: emb, IndexDir: filepath.Join(dir, "index"), Modes: modes, KeepWorkspace: f.keep, Tune: f.tune,
		Logger: logger, Progress: os.Stderr,
		Search: search.Config{RRFK: f.rrfK, KeywordWeight: f.kwW, SemanticWeight: f.semW, TitleBoost: f.titleB},
	})
	if err != nil {
		return err
	}
	fmt.Printf("corpus %s: %d documents, %d chunks, %d judged queries; embedder %s\n",
		filepath.Dir(f.corpus), rep.Documents, rep.Chunks, rep.Queries, rep.Embedder)
	fmt.Printf("hybrid fusion: RRF k=%g, keyword weight %g, semantic weight %g; title boost %g\n",
		rep.RRFK, rep.KeywordWeight, rep.SemanticWeight, rep.TitleBoost)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODE\tnDCG@10\tRecall@100\tMRR@10\tQUERIES\tTIME\tp50\tp95")
	for _, m := range rep.Modes {
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t%d\t%s\t%s\t%s\n", m.Mode, m.Metrics.NDCG10, m.Metrics.Recall100, m.Metrics.MRR10,
			m.Metrics.Queries, m.Took.Round(time.Millisecond), m.P50.Round(10*time.Microsecond), m.P95.Round(10*time.Microsecond))
	}
	tw.Flush()
	fmt.Printf("load %s, index %s, total %s\n", rep.LoadTook.Round(time.Millisecond), rep.IndexTook.Round(time.Millisecond),
		time.Since(began).Round(time.Millisecond))
	if len(rep.Tuning) > 0 {
		fmt.Println("\nfusion settings by nDCG@10 (keyword weight 1):")
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RRF k\tSEMANTIC WEIGHT\tnDCG@10\tRecall@100\tMRR@10")
		for i, r := range rep.Tuning {
			if i == 15 {
				break
			}
			fmt.Fprintf(tw, "%g\t%g\t%.4f\t%.4f\t%.4f\n", r.K, r.SemanticWeight, r.Metrics.NDCG10, r.Metrics.Recall100, r.Metrics.MRR10)
		}
		tw.Flush()
	}
	if f.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(f.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}
