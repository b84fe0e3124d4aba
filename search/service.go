// Package search answers Nubiq Hub's search tools: hybrid document search (BM25 over the
// node's bleve index fused with pgvector kNN), conversation and contact search, snippets with
// matched words marked, and the relevance metrics and BEIR loader behind `nubiq eval`.
package search

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/searchindex"
)

// Defaults for Config, measured on SciFact's train split and on synthetic workspaces (see
// docs/SEARCH.md for the figures).
const (
	// DefaultRRFK and DefaultSemanticWeight are the usual reciprocal rank fusion settings
	// (k = 60, rankings weighed equally), for embedders that capture meaning. They could
	// not be tuned here: no such model is available offline.
	DefaultRRFK           = 60
	DefaultKeywordWeight  = 1.0
	DefaultSemanticWeight = 1.0
	// HashRRFK and HashSemanticWeight serve the hash embedder, which is lexical: on SciFact
	// its ranking is far weaker than BM25 (nDCG@10 0.38 against 0.69) and fusing it as an
	// equal adds noise (0.55). Weighed at a fifth with a small k, it only reorders what
	// BM25 ranks alike and slightly lifts recall.
	HashRRFK           = 2
	HashSemanticWeight = 0.2
	// DefaultTitleBoost weighs title matches against the combined field.
	DefaultTitleBoost = 0.25
	// DefaultExactScanMax: up to this many chunks, ranking a workspace's vectors exactly is
	// about as fast as the HNSW index and never misses; above it the HNSW index is used, once
	// the workspace's chunks are all in it. Ingest keeps the chunks of such workspaces out of
	// the index by the same number (postgres.VectorExactMax).
	DefaultExactScanMax = postgres.VectorExactMax
	DefaultEfSearch     = 100
	// DefaultLimit and MaxLimit bound the number of results; the MCP tools allow fewer.
	DefaultLimit = 10
	MaxLimit     = 100
)

// Config configures a Service. Zero values get defaults.
type Config struct {
	DB      *postgres.DB
	Indexes *searchindex.Set
	// Embedder embeds queries for semantic search; it must be the embedder that made the
	// chunks' vectors. Nil leaves semantic search out (hybrid falls back to keyword).
	Embedder indexer.Embedder
	Logger   *slog.Logger

	// RRFK, KeywordWeight and SemanticWeight parameterise reciprocal rank fusion; zero
	// values pick the defaults for the embedder (see FusionDefaults).
	RRFK           float64
	KeywordWeight  float64
	SemanticWeight float64
	// TitleBoost weighs title matches against the combined title+headings+text field.
	TitleBoost float64
	// ExactScanMax is the chunk count up to which a workspace's vectors are ranked exactly.
	// Above it the HNSW index is walked, but only for a workspace whose chunks are all in the
	// index (ingest moves them in when it outgrows the same threshold); until then it is
	// ranked exactly still.
	ExactScanMax int64
	// EfSearch is the HNSW candidate list size for large workspaces.
	EfSearch int
}

// Service runs searches. It is safe for concurrent use.
type Service struct {
	cfg Config

	countsMu sync.Mutex
	counts   map[int64]chunkCount
}

type chunkCount struct {
	stats postgres.WorkspaceVectorStats
	at    time.Time
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	k, kw, sw := FusionDefaults(cfg.Embedder)
	if cfg.RRFK <= 0 {
		cfg.RRFK = k
	}
	if cfg.KeywordWeight <= 0 {
		cfg.KeywordWeight = kw
	}
	if cfg.SemanticWeight <= 0 {
		cfg.SemanticWeight = sw
	}
	if cfg.TitleBoost <= 0 {
		cfg.TitleBoost = DefaultTitleBoost
	}
	if cfg.ExactScanMax <= 0 {
		cfg.ExactScanMax = DefaultExactScanMax
	}
	if cfg.EfSearch <= 0 {
		cfg.EfSearch = DefaultEfSearch
	}
	return &Service{cfg: cfg, counts: map[int64]chunkCount{}}
}

// FusionDefaults returns the fusion settings for an embedder: tuned ones for the lexical hash
// embedder, the usual ones otherwise.
func FusionDefaults(e indexer.Embedder) (k, keywordWeight, semanticWeight float64) {
	if e != nil && e.Name() == indexer.EmbedderHash {
		return HashRRFK, DefaultKeywordWeight, HashSemanticWeight
	}
	return DefaultRRFK, DefaultKeywordWeight, DefaultSemanticWeight
}

// Fusion returns the fusion settings in use.
func (s *Service) Fusion() (k, keywordWeight, semanticWeight float64) {
	return s.cfg.RRFK, s.cfg.KeywordWeight, s.cfg.SemanticWeight
}

// EmbedderName names the embedder serving semantic search ("" when there is none).
func (s *Service) EmbedderName() string {
	if s.cfg.Embedder == nil {
		return ""
	}
	return s.cfg.Embedder.Name()
}

// vectorStats returns the workspace's number of chunks for the configured embedder and
// whether they are all in the HNSW index, cached for a while: they only pick the vector plan,
// both plans are correct for a workspace whose chunks are all in the index, and a workspace
// once indexed stays so.
func (s *Service) vectorStats(ctx context.Context, workspaceID int64) (postgres.WorkspaceVectorStats, error) {
	s.countsMu.Lock()
	c, ok := s.counts[workspaceID]
	s.countsMu.Unlock()
	if ok && time.Since(c.at) < 30*time.Second {
		return c.stats, nil
	}
	st, err := s.cfg.DB.WorkspaceVectors(ctx, workspaceID, s.cfg.Embedder.Name(), s.cfg.Embedder.Dimensions())
	if err != nil {
		return st, err
	}
	if st.Chunks == 0 {
		// Not cached: an empty workspace's first document must be searchable at once.
		return st, nil
	}
	s.countsMu.Lock()
	if len(s.counts) > 10000 {
		clear(s.counts)
	}
	s.counts[workspaceID] = chunkCount{stats: st, at: time.Now()}
	s.countsMu.Unlock()
	return st, nil
}
