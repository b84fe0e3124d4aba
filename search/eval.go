package search

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/searchindex"
)

// BEIRDoc is a document of a BEIR corpus.
type BEIRDoc struct {
	ID    string `json:"_id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// BEIR is an evaluation set in BEIR's format: corpus.jsonl, queries.jsonl and a qrels TSV.
type BEIR struct {
	Corpus  []BEIRDoc
	Queries map[string]string
	Qrels   Qrels
}

// LoadBEIR reads a corpus, its queries and relevance judgments. Queries without judgments are
// kept but not evaluated.
func LoadBEIR(corpusPath, queriesPath, qrelsPath string) (*BEIR, error) {
	b := &BEIR{Queries: map[string]string{}, Qrels: Qrels{}}
	err := readJSONL(corpusPath, func(line []byte) error {
		var d BEIRDoc
		if err := json.Unmarshal(line, &d); err != nil {
			return err
		}
		if d.ID == "" {
			return fmt.Errorf("document without _id")
		}
		b.Corpus = append(b.Corpus, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read corpus %s: %w", corpusPath, err)
	}
	err = readJSONL(queriesPath, func(line []byte) error {
		var q struct {
			ID   string `json:"_id"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(line, &q); err != nil {
			return err
		}
		b.Queries[q.ID] = q.Text
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read queries %s: %w", queriesPath, err)
	}
	f, err := os.Open(qrelsPath)
	if err != nil {
		return nil, fmt.Errorf("read qrels: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		parts := strings.Split(strings.TrimSpace(sc.Text()), "\t")
		if len(parts) < 3 {
			continue
		}
		grade, err := strconv.Atoi(parts[len(parts)-1])
		if err != nil {
			if line == 1 {
				continue // the header
			}
			return nil, fmt.Errorf("read qrels %s line %d: bad score %q", qrelsPath, line, parts[len(parts)-1])
		}
		qid, did := parts[0], parts[len(parts)-2]
		if b.Qrels[qid] == nil {
			b.Qrels[qid] = map[string]int{}
		}
		b.Qrels[qid][did] = grade
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read qrels %s: %w", qrelsPath, err)
	}
	for qid := range b.Qrels {
		if _, ok := b.Queries[qid]; !ok {
			delete(b.Qrels, qid)
		}
	}
	return b, nil
}

func readJSONL(path string, fn func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(strings.TrimSpace(string(b))) > 0 {
			if ferr := fn(b); ferr != nil {
				return fmt.Errorf("line %d: %w", line, ferr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// LoadCorpus writes a BEIR corpus into a workspace as ready documents (external id = BEIR id,
// metadata beir_id), and returns the BEIR id of each document id. It calls progress after
// each batch.
//
// Each document goes the ingest pipeline's way — indexer.Extract as text/plain, then
// indexer.ChunkText with the default options, then the embedder over each chunk's text — and
// is written by postgres.InsertIndexedDocuments with the rows and index-log entries the
// pipeline writes, in batches, without going through River: an evaluation needs no workers.
func LoadCorpus(ctx context.Context, db *postgres.DB, emb indexer.Embedder, workspaceID int64, docs []BEIRDoc, progress func(done int)) (map[int64]string, error) {
	const batch = 250
	byID := make(map[int64]string, len(docs))
	for start := 0; start < len(docs); start += batch {
		part := docs[start:min(len(docs), start+batch)]
		in := make([]postgres.IndexedDocument, 0, len(part))
		var kept []BEIRDoc
		var texts []string
		for _, d := range part {
			title := strings.TrimSpace(d.Title)
			if title == "" {
				title = "Document " + d.ID
			}
			if len(title) > 500 {
				title = title[:500]
			}
			text, err := indexer.Extract(indexer.MIMEPlain, []byte(d.Text))
			if err != nil {
				continue // empty documents cannot be indexed (nor found)
			}
			doc := postgres.IndexedDocument{ExternalID: d.ID, Title: title, MimeType: indexer.MIMEPlain, Text: text,
				Embedder: emb.Name(), Metadata: map[string]any{"beir_id": d.ID}}
			for _, c := range indexer.ChunkText(text, indexer.ChunkOptions{}) {
				doc.Chunks = append(doc.Chunks, postgres.IndexedChunk{Text: c.Text, HeadingPath: c.HeadingPath,
					Start: c.Start, End: c.End, Tokens: c.Tokens})
				texts = append(texts, c.Text)
			}
			in = append(in, doc)
			kept = append(kept, d)
		}
		vecs, err := emb.Embed(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("embed corpus: %w", err)
		}
		k := 0
		for i := range in {
			for j := range in[i].Chunks {
				in[i].Chunks[j].Vector = vecs[k]
				k++
			}
		}
		ids, err := db.InsertIndexedDocuments(ctx, workspaceID, in)
		if err != nil {
			return nil, err
		}
		for i, id := range ids {
			byID[id] = kept[i].ID
		}
		if progress != nil {
			progress(start + len(part))
		}
	}
	return byID, nil
}

// EvalConfig configures an evaluation run.
type EvalConfig struct {
	DB       *postgres.DB
	Embedder indexer.Embedder
	// IndexDir holds the run's own bleve indexes (restricted to the scratch workspace).
	IndexDir string
	Modes    []string
	// Search overrides the search defaults (fusion and boosts) for tuning.
	Search Config
	// KeepWorkspace leaves the scratch workspace in the database.
	KeepWorkspace bool
	// Tune also searches a grid of fusion parameters (see TuneFusion).
	Tune   bool
	Logger *slog.Logger
	// Progress, when set, receives progress lines.
	Progress io.Writer
}

// ModeReport is one mode's figures.
type ModeReport struct {
	Mode    string        `json:"mode"`
	Metrics Metrics       `json:"metrics"`
	Took    time.Duration `json:"took_ns"`
	P50     time.Duration `json:"p50_ns"`
	P95     time.Duration `json:"p95_ns"`
	// Runs are the ranked BEIR ids per query.
	Runs map[string][]string `json:"-"`
}

// EvalReport is a whole evaluation run.
type EvalReport struct {
	Documents int           `json:"documents"`
	Chunks    int64         `json:"chunks"`
	Queries   int           `json:"queries"`
	Embedder  string        `json:"embedder"`
	LoadTook  time.Duration `json:"load_ns"`
	IndexTook time.Duration `json:"index_ns"`
	Modes     []ModeReport  `json:"modes"`
	// Fusion settings of the hybrid mode.
	RRFK           float64 `json:"rrf_k"`
	KeywordWeight  float64 `json:"keyword_weight"`
	SemanticWeight float64 `json:"semantic_weight"`
	TitleBoost     float64 `json:"title_boost"`
	// Tuning holds the fusion grid, best first, when EvalConfig.Tune was set.
	Tuning []TuneResult `json:"tuning,omitempty"`
}

// RunEval loads set into a scratch workspace, builds the search indexes for it, runs every
// judged query through Service.Documents in each mode (100 results, one per document) and
// scores the rankings.
func RunEval(ctx context.Context, set *BEIR, cfg EvalConfig) (*EvalReport, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	say := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}
	ws, err := cfg.DB.CreateWorkspace(ctx, fmt.Sprintf("eval-%d", time.Now().UnixNano()), "enterprise")
	if err != nil {
		return nil, err
	}
	if !cfg.KeepWorkspace {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
			defer cancel()
			if err := cfg.DB.DeleteEvalWorkspace(dctx, ws.ID); err != nil {
				cfg.Logger.Error("delete scratch workspace", "workspace", ws.ID, "err", err)
			}
		}()
	}
	rep := &EvalReport{Documents: len(set.Corpus), Queries: len(set.Qrels), Embedder: cfg.Embedder.Name()}
	say("loading %d documents into scratch workspace %d (embedder %s)…", len(set.Corpus), ws.ID, cfg.Embedder.Name())
	began := time.Now()
	byID, err := LoadCorpus(ctx, cfg.DB, cfg.Embedder, ws.ID, set.Corpus, nil)
	if err != nil {
		return nil, err
	}
	rep.LoadTook = time.Since(began)
	if rep.Chunks, err = cfg.DB.WorkspaceChunkCount(ctx, ws.ID, cfg.Embedder.Name(), cfg.Embedder.Dimensions()); err != nil {
		return nil, err
	}

	began = time.Now()
	indexes, err := searchindex.Open(searchindex.Config{Dir: cfg.IndexDir, DB: cfg.DB, Logger: cfg.Logger, Workspace: ws.ID, ReportInterval: -1})
	if err != nil {
		return nil, err
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		indexes.Run(rctx)
	}()
	defer func() {
		stop()
		<-done
		indexes.Close()
	}()
	if err := indexes.Sync(ctx); err != nil {
		return nil, err
	}
	rep.IndexTook = time.Since(began)
	say("loaded %d documents as %d chunks in %s; indexed in %s", rep.Documents, rep.Chunks,
		rep.LoadTook.Round(time.Millisecond), rep.IndexTook.Round(time.Millisecond))

	scfg := cfg.Search
	scfg.DB, scfg.Indexes, scfg.Embedder, scfg.Logger = cfg.DB, indexes, cfg.Embedder, cfg.Logger
	svc := New(scfg)
	rep.RRFK, rep.KeywordWeight, rep.SemanticWeight = svc.Fusion()
	rep.TitleBoost = svc.cfg.TitleBoost
	qids := make([]string, 0, len(set.Qrels))
	for q := range set.Qrels {
		qids = append(qids, q)
	}
	slices.Sort(qids)
	for _, mode := range cfg.Modes {
		mr := ModeReport{Mode: mode, Runs: map[string][]string{}}
		lat := make([]time.Duration, 0, len(qids))
		began := time.Now()
		for _, qid := range qids {
			t0 := time.Now()
			res, err := svc.Documents(ctx, ws.ID, nubiq.DocumentSearch{Query: set.Queries[qid], Mode: mode, Limit: MaxLimit})
			if err != nil {
				if nubiq.ErrorCode(err) == nubiq.ECodeInvalid {
					mr.Runs[qid] = nil // e.g. a query of nothing but punctuation
					continue
				}
				return nil, fmt.Errorf("query %s (%s): %w", qid, mode, err)
			}
			lat = append(lat, time.Since(t0))
			for _, h := range res.Results {
				mr.Runs[qid] = append(mr.Runs[qid], byID[h.DocumentID])
			}
		}
		mr.Took = time.Since(began)
		slices.Sort(lat)
		if len(lat) > 0 {
			mr.P50, mr.P95 = lat[len(lat)/2], lat[len(lat)*95/100]
		}
		mr.Metrics = Evaluate(mr.Runs, set.Qrels)
		rep.Modes = append(rep.Modes, mr)
		say("%-8s nDCG@10 %.4f  Recall@100 %.4f  MRR@10 %.4f  (%d queries in %s, p50 %s, p95 %s)", mode,
			mr.Metrics.NDCG10, mr.Metrics.Recall100, mr.Metrics.MRR10, mr.Metrics.Queries,
			mr.Took.Round(time.Millisecond), mr.P50.Round(10*time.Microsecond), mr.P95.Round(10*time.Microsecond))
	}
	if cfg.Tune {
		say("tuning fusion on %d queries…", len(qids))
		runs := map[string][2][]Hit{}
		for _, qid := range qids {
			kw, sem, err := svc.Rankings(ctx, ws.ID, set.Queries[qid], 2*MaxLimit)
			if err != nil {
				if nubiq.ErrorCode(err) == nubiq.ECodeInvalid {
					continue
				}
				return nil, err
			}
			runs[qid] = [2][]Hit{kw, sem}
		}
		rep.Tuning = TuneFusion(runs, set.Qrels, byID)
	}
	return rep, nil
}

// TuneResult is the quality of one fusion setting.
type TuneResult struct {
	K              float64 `json:"k"`
	SemanticWeight float64 `json:"semantic_weight"` // the keyword weight is 1
	Metrics        Metrics `json:"metrics"`
}

// TuneFusion fuses the given per-query keyword and semantic rankings with a grid of RRF
// constants and semantic weights, exactly as Documents does (one result per document, 100
// results), and returns the settings by decreasing nDCG@10.
func TuneFusion(runs map[string][2][]Hit, qrels Qrels, beirIDs map[int64]string) []TuneResult {
	var out []TuneResult
	for _, k := range []float64{1, 2, 3, 5, 10, 20, 30, 60, 100} {
		for _, w := range []float64{0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1} {
			ranked := map[string][]string{}
			for qid, r := range runs {
				fused := Fuse(r[0], r[1], Fusion{K: k, KeywordWeight: 1, SemanticWeight: w, PerDocument: true, KeywordPresent: true, SemanticPresent: true})
				for i, f := range fused {
					if i == MaxLimit {
						break
					}
					ranked[qid] = append(ranked[qid], beirIDs[f.DocumentID])
				}
			}
			out = append(out, TuneResult{K: k, SemanticWeight: w, Metrics: Evaluate(ranked, qrels)})
		}
	}
	slices.SortStableFunc(out, func(a, b TuneResult) int {
		switch {
		case a.Metrics.NDCG10 > b.Metrics.NDCG10:
			return -1
		case a.Metrics.NDCG10 < b.Metrics.NDCG10:
			return 1
		}
		return 0
	})
	return out
}
