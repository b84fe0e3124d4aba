package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/search"
	"github.com/nubiq/hub/searchindex"
)

// Targets of the search section (issue #8), held at 100k chunks and above.
const (
	targetSearchScale     = 100000
	targetHybridFloorX    = 2.0
	targetHybridP50ms     = 15.0
	targetHybridP99ms     = 60.0
	searchQueriesPerScale = 300
	chunksPerDocument     = 10
	chunkWords            = 180
)

// searchCorpus is a workspace loaded with synthetic help-center articles.
type searchCorpus struct {
	ws      int64
	key     string
	chunks  int
	queries []string
}

// searchNode is a node's search: its bleve indexes kept up to date from the index log, and
// the search service over them and pgvector.
type searchNode struct {
	indexes *searchindex.Set
	svc     *search.Service
	dir     string
	cancel  context.CancelFunc
	done    chan struct{}
}

func runSearch(ctx context.Context, e *env) (*SectionResult, error) {
	cfg := e.cfg
	res := &SectionResult{Available: true, Note: "mcp: documents.search over loopback HTTP with a real key (" + protocol2025 +
		"), hash embedder (256 dims); floor: the same bleve request on the same index (keyword), the same nearest-chunks " +
		"statement the tool sent, replayed on a pooled connection with its planner settings made once per connection " +
		"(semantic), both in turn (hybrid, bleve+pgv) and both at once (hybrid, bleve||pgv, as the service runs them). " +
		"Ratio: end-to-end p50 ÷ floor p50 (for hybrid, the in-turn floor; the at-once row shows end-to-end p50 ÷ its own). " + rateLimitNote +
		" Setup: the corpus is written with COPY, then the node's bleve index and PostgreSQL's HNSW index are built, in turn. " +
		fmt.Sprintf("As on a server, a corpus of up to %d chunks is ranked exactly and stays out of the HNSW index (its build has nothing to index); ", postgres.VectorExactMax) +
		"a larger one is written into it."}
	emb := indexer.NewHashEmbedder(indexer.DefaultHashDims)
	for i, n := range cfg.Chunks {
		last := i == len(cfg.Chunks)-1
		if err := e.searchScale(ctx, res, emb, n, last); err != nil {
			return nil, fmt.Errorf("%d chunks: %w", n, err)
		}
	}
	return res, nil
}

func (e *env) searchScale(ctx context.Context, res *SectionResult, emb indexer.Embedder, n int, keep bool) error {
	cfg := e.cfg
	t0 := time.Now()
	sc, err := e.loadSearchCorpus(ctx, emb, fmt.Sprintf("bench-search-%d", n), n, uint64(n))
	if err != nil {
		return err
	}
	loaded := time.Since(t0)
	// One after the other: built at once, the bleve index and PostgreSQL's HNSW build (which
	// takes every core) starve each other, and both take longer than in turn.
	t0 = time.Now()
	node, err := e.startSearchNode(ctx, emb)
	if err != nil {
		return err
	}
	// The largest corpus stays loaded, and its index on disk, for the memory section.
	defer func() {
		if keep {
			e.indexDir = node.dir
		}
		node.stop(keep)
	}()
	if err := node.indexes.Sync(ctx); err != nil {
		return err
	}
	indexed := time.Since(t0)
	t0 = time.Now()
	if err := e.db.EnsureVectorIndex(ctx, emb.Dimensions()); err != nil {
		return err
	}
	if _, err := e.db.Pool.Exec(ctx, `ANALYZE documents, document_chunks`); err != nil {
		return err
	}
	hnswSecs := time.Since(t0).Seconds()
	res.Rows = append(res.Rows, Row{Name: "setup: load (COPY)", Path: "setup", Chunks: n, Ops: n, Seconds: loaded.Seconds(), PerSecond: float64(n) / loaded.Seconds(), Unit: "chunks/s"},
		Row{Name: "setup: bleve index", Path: "setup", Chunks: n, Ops: n, Seconds: indexed.Seconds(), PerSecond: float64(n) / indexed.Seconds(), Unit: "chunks/s"},
		Row{Name: "setup: HNSW index", Path: "setup", Chunks: n, Ops: n, Seconds: hnswSecs, PerSecond: float64(n) / hnswSecs, Unit: "chunks/s"})
	for _, r := range res.Rows[len(res.Rows)-3:] {
		e.table.row(SectionSearch, r)
	}

	srv, err := e.startServer(&mcp.Deps{DB: e.db, Logger: cfg.Logger, Search: node.svc})
	if err != nil {
		return err
	}
	defer srv.close()

	floor, err := e.newSearchFloor(ctx, node, emb, sc)
	if err != nil {
		return err
	}
	defer floor.close()

	for _, mode := range nubiq.SearchModes {
		args := make([]json.RawMessage, len(sc.queries))
		for i, q := range sc.queries {
			args[i], _ = json.Marshal(map[string]any{"query": q, "mode": mode})
		}
		for _, conc := range cfg.Concurrency {
			client, err := newRPCClient(srv.URL, sc.key, protocol2025, conc)
			if err != nil {
				return err
			}
			vs := []variant{
				{name: "mcp", label: "client", op: func(ctx context.Context, worker, i int) error {
					_, err := client.call(ctx, worker, i, "documents.search", args[pick(worker, i, len(args))])
					return err
				}},
				{name: floorName(mode), label: "baseline", op: func(ctx context.Context, worker, i int) error {
					return floor.run(ctx, mode, pick(worker, i, len(args)))
				}},
			}
			if mode == nubiq.SearchHybrid {
				// What the engines take when asked at once, as the service asks them.
				vs = append(vs, variant{name: floorAtOnce, label: "baseline", op: func(ctx context.Context, worker, i int) error {
					return floor.runAtOnce(ctx, pick(worker, i, len(args)))
				}})
			}
			rs, err := compare(ctx, conc, cfg.Warmup, cfg.Duration, cfg.Rounds, vs)
			client.close()
			if err != nil {
				return fmt.Errorf("%s c=%d: %w", mode, conc, err)
			}
			ours := rs[0].row("documents.search "+mode, "mcp", conc, "q/s")
			base := rs[1].row("documents.search "+mode, floorName(mode), conc, "q/s")
			ours.Chunks, base.Chunks = n, n
			ours.Ratio, ours.RatioOf = ours.P50ms/base.P50ms, "× floor p50"
			if mode == nubiq.SearchHybrid && n >= targetSearchScale {
				ours.Target = fmt.Sprintf("p50 ≤%.0f× floor, ≤%.0f ms; p99 ≤%.0f ms", targetHybridFloorX, targetHybridP50ms, targetHybridP99ms)
				ours.Met = boolPtr(ours.Ratio <= targetHybridFloorX && ours.P50ms <= targetHybridP50ms && ours.P99ms <= targetHybridP99ms)
			}
			rows := []Row{ours, base}
			if len(rs) > 2 {
				both := rs[2].row("documents.search "+mode, floorAtOnce, conc, "q/s")
				both.Chunks = n
				both.Ratio, both.RatioOf = ours.P50ms/both.P50ms, "mcp p50 ÷ this"
				rows = append(rows, both)
			}
			for _, r := range rows {
				e.table.row(SectionSearch, r)
				res.Rows = append(res.Rows, r)
			}
		}
	}
	if keep {
		e.corpus = sc
		return nil
	}
	return e.dropDocuments(ctx)
}

func floorName(mode string) string {
	switch mode {
	case nubiq.SearchKeyword:
		return "bleve"
	case nubiq.SearchSemantic:
		return "pgvector"
	}
	return "bleve+pgv"
}

// loadSearchCorpus creates a workspace of n chunks: articles of chunksPerDocument chunks of
// about chunkWords words, embedded with emb and written as the ingest pipeline writes them
// (documents ready, chunks with vectors, index-log entries; chunks by COPY).
func (e *env) loadSearchCorpus(ctx context.Context, emb indexer.Embedder, name string, n int, seed uint64) (*searchCorpus, error) {
	ws, key, err := e.workspace(ctx, name)
	if err != nil {
		return nil, err
	}
	if n > postgres.VectorExactMax {
		// A workspace this large has crossed the threshold: its chunks are in the HNSW index
		// (the workspace being empty, that is instant), and search walks it.
		if _, err := e.db.IndexWorkspaceVectors(ctx, ws, 0); err != nil {
			return nil, err
		}
	}
	c := newCorpus(seed)
	sc := &searchCorpus{ws: ws, key: key, chunks: n}
	const batchDocs = 200
	for made := 0; made < n; {
		var docs []postgres.IndexedDocument
		var texts []string
		for len(docs) < batchDocs && made < n {
			title := c.title()
			d := postgres.IndexedDocument{Title: title, MimeType: "text/markdown", Embedder: emb.Name(),
				SourceURL: fmt.Sprintf("https://help.example.com/articles/%d", made), Metadata: map[string]any{"section": c.contentWord()}}
			var text strings.Builder
			heading := c.heading()
			for j := 0; j < chunksPerDocument && made < n; j++ {
				if j%3 == 0 {
					heading = c.heading()
				}
				body := c.paragraph(chunkWords)
				start := text.Len()
				text.WriteString(body)
				text.WriteString("\n\n")
				d.Chunks = append(d.Chunks, postgres.IndexedChunk{Text: body, HeadingPath: []string{title, heading},
					Start: start, End: start + len(body), Tokens: len(strings.Fields(body))})
				texts = append(texts, title+"\n"+body)
				made++
			}
			d.Text = text.String()
			docs = append(docs, d)
		}
		vecs, err := emb.Embed(ctx, texts)
		if err != nil {
			return nil, err
		}
		k := 0
		for i := range docs {
			for j := range docs[i].Chunks {
				docs[i].Chunks[j].Vector = vecs[k]
				k++
			}
		}
		if _, err := e.db.InsertIndexedDocuments(ctx, ws, docs); err != nil {
			return nil, err
		}
	}
	for range searchQueriesPerScale {
		sc.queries = append(sc.queries, c.query())
	}
	return sc, nil
}

// startSearchNode opens a node's search indexes in a directory of their own and keeps them up
// to date in the background, as `nubiq serve` does.
func (e *env) startSearchNode(ctx context.Context, emb indexer.Embedder) (*searchNode, error) {
	dir, err := os.MkdirTemp("", "nubiq-bench-index-")
	if err != nil {
		return nil, err
	}
	ix, err := searchindex.Open(searchindex.Config{Dir: filepath.Join(dir, "index"), DB: e.db, Logger: e.cfg.Logger, ReportInterval: -1})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n := &searchNode{indexes: ix, dir: dir, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(n.done)
		ix.Run(rctx)
	}()
	n.svc = search.New(search.Config{DB: e.db, Indexes: ix, Embedder: emb, Logger: e.cfg.Logger})
	return n, nil
}

// stop stops the node and removes its index directory unless keepDir.
func (n *searchNode) stop(keepDir bool) {
	n.cancel()
	<-n.done
	n.indexes.Close() //nolint:errcheck
	if !keepDir {
		os.RemoveAll(n.dir)
	}
}

// dropDocuments empties the knowledge base of every workspace, with the index log, and drops
// the HNSW index, so that the next corpus loads as fast as the first and gets its index built
// in one go: the database is the run's own.
func (e *env) dropDocuments(ctx context.Context) error {
	if _, err := e.db.Pool.Exec(ctx, `TRUNCATE document_chunks, documents, index_log`); err != nil {
		return err
	}
	_, err := e.db.Pool.Exec(ctx, `DROP INDEX IF EXISTS `+postgres.VectorIndexName(indexer.DefaultHashDims))
	return err
}

// searchFloor queries the engines directly: the same bleve request the service builds, on the
// same index, and the very nearest-chunks statement the service sent, captured per query.
type searchFloor struct {
	node    *searchNode
	ws      int64
	queries []string
	vector  []statement // per query: the nearest-chunks statement
	pool    *pgxpool.Pool
}

func (e *env) newSearchFloor(ctx context.Context, node *searchNode, emb indexer.Embedder, sc *searchCorpus) (*searchFloor, error) {
	f := &searchFloor{node: node, ws: sc.ws, queries: sc.queries}
	capt, err := newCapturer(ctx, e.cfg.DatabaseURL, mcp.Deps{Logger: e.cfg.Logger})
	if err != nil {
		return nil, err
	}
	defer capt.close()
	capt.use(mcp.Deps{Logger: e.cfg.Logger,
		Search: search.New(search.Config{DB: capt.db, Indexes: node.indexes, Embedder: emb, Logger: e.cfg.Logger})})
	caller := &nubiq.Caller{WorkspaceID: sc.ws, Plan: benchPlan, Scopes: nubiq.AllScopes, ExpiresAt: time.Now().Add(time.Hour)}
	var settings string
	for _, q := range sc.queries {
		args, _ := json.Marshal(map[string]any{"query": q, "mode": nubiq.SearchSemantic})
		stmts, _, err := capt.capture(ctx, caller, "documents.search", args)
		if err != nil {
			return nil, err
		}
		var vec *statement
		for i, s := range stmts {
			switch {
			case strings.Contains(s.SQL, "<=>"):
				vec = &stmts[i]
			case strings.HasPrefix(strings.TrimSpace(s.SQL), "SET LOCAL"):
				settings = s.SQL
			}
		}
		if vec == nil {
			return nil, fmt.Errorf("query %q: the semantic search sent no nearest-chunks statement", q)
		}
		f.vector = append(f.vector, *vec)
	}
	pcfg, err := pgxpool.ParseConfig(e.cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = 16
	session := strings.ReplaceAll(settings, "SET LOCAL", "SET")
	pcfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if err := pgxvec.RegisterTypes(ctx, conn); err != nil {
			return err
		}
		if session != "" {
			_, err := conn.Exec(ctx, session)
			return err
		}
		return nil
	}
	if f.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *searchFloor) close() { f.pool.Close() }

// floorAtOnce names the hybrid floor that queries bleve and pgvector at the same time.
const floorAtOnce = "bleve||pgv"

// runAtOnce runs query i's bleve request and nearest-chunks statement at the same time.
func (f *searchFloor) runAtOnce(ctx context.Context, i int) error {
	done := make(chan error, 1)
	go func() { done <- replay(ctx, f.pool, []statement{f.vector[i]}) }()
	err := f.keyword(ctx, f.queries[i])
	if verr := <-done; err == nil {
		err = verr
	}
	return err
}

func (f *searchFloor) run(ctx context.Context, mode string, i int) error {
	if mode != nubiq.SearchSemantic {
		if err := f.keyword(ctx, f.queries[i]); err != nil {
			return err
		}
	}
	if mode != nubiq.SearchKeyword {
		return replay(ctx, f.pool, []statement{f.vector[i]})
	}
	return nil
}

// keyword runs the request the service's keyword side runs (the service builds it): the query
// against the combined field and, weighted down, the title, within the workspace, best first,
// 50 deep and a few more (to see whether the cut falls inside a run of tied scores).
func (f *searchFloor) keyword(ctx context.Context, text string) error {
	req := f.node.svc.KeywordRequest(f.ws, text, 50)
	if req == nil {
		return nil
	}
	_, err := f.node.indexes.Documents.Search(ctx, req)
	return err
}
