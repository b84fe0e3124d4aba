package search

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	bsearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/searchindex"
)

// MaxQueryLength bounds a query's length in characters.
const MaxQueryLength = 2000

// Found-by labels of document hits.
const (
	FoundByKeyword  = "keyword"
	FoundBySemantic = "semantic"
)

// Documents searches the workspace's knowledge base.
func (s *Service) Documents(ctx context.Context, workspaceID int64, p nubiq.DocumentSearch) (*nubiq.DocumentSearchResult, error) {
	if err := validateDocumentSearch(&p); err != nil {
		return nil, err
	}
	out := &nubiq.DocumentSearchResult{Mode: p.Mode, Results: []nubiq.DocumentHit{}}
	if p.Mode != nubiq.SearchKeyword && s.cfg.Embedder == nil {
		if p.Mode == nubiq.SearchSemantic {
			return nil, nubiq.Errorf(nubiq.ECodeUnavailable, "semantic search is not configured on this server (no embedder); use mode keyword")
		}
		p.Mode, out.Mode = nubiq.SearchKeyword, nubiq.SearchKeyword
	}
	// Each side ranks more chunks than asked for: documents collapse to one chunk each, and
	// fusion promotes what either side ranks high.
	depth := max(50, 2*p.Limit)
	filter := postgres.DocumentFilter{DocumentIDs: p.DocumentIDs, Metadata: p.Metadata, MimeType: p.MimeType, Updated: p.Updated}

	kw, sem, err := s.rankings(ctx, workspaceID, p.Mode, p.Query, &filter, depth)
	if err != nil {
		return nil, err
	}
	if p.Mode != nubiq.SearchSemantic {
		out.IndexRebuilding = s.cfg.Indexes.Documents.Rebuilding()
	}
	if p.Mode != nubiq.SearchKeyword {
		out.Embedder = s.cfg.Embedder.Name()
	}
	fused := Fuse(kw, sem, Fusion{
		K: s.cfg.RRFK, KeywordWeight: s.cfg.KeywordWeight, SemanticWeight: s.cfg.SemanticWeight,
		PerDocument: !p.Chunks, KeywordPresent: p.Mode != nubiq.SearchSemantic, SemanticPresent: p.Mode != nubiq.SearchKeyword,
	})
	hits, err := s.hydrateDocuments(ctx, workspaceID, &p, fused)
	if err != nil {
		return nil, err
	}
	out.Results = hits
	return out, nil
}

// Rankings returns the keyword and semantic chunk rankings Documents would fuse, each depth
// long, for tuning fusion offline (see TuneFusion).
func (s *Service) Rankings(ctx context.Context, workspaceID int64, text string, depth int) (kw, sem []Hit, err error) {
	p := nubiq.DocumentSearch{Query: text}
	if err := validateDocumentSearch(&p); err != nil {
		return nil, nil, err
	}
	mode := nubiq.SearchHybrid
	if s.cfg.Embedder == nil {
		mode = nubiq.SearchKeyword
	}
	return s.rankings(ctx, workspaceID, mode, p.Query, &postgres.DocumentFilter{}, depth)
}

// rankings returns the keyword and semantic chunk rankings of a search in mode. In hybrid
// mode the two run at once: the semantic side mostly waits on PostgreSQL (the HNSW walk runs
// in its process) while the keyword side runs bleve in ours, so a hybrid search takes about
// as long as the slower side rather than both in turn.
func (s *Service) rankings(ctx context.Context, workspaceID int64, mode, text string, f *postgres.DocumentFilter, depth int) (kw, sem []Hit, err error) {
	switch mode {
	case nubiq.SearchKeyword:
		kw, err = s.keywordChunks(ctx, workspaceID, text, f, depth)
		return kw, nil, err
	case nubiq.SearchSemantic:
		sem, err = s.semanticChunks(ctx, workspaceID, text, f, depth)
		return nil, sem, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var semErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			// Out of the request's goroutine, a panic would not reach the handler's
			// recovery and would take the server down.
			if r := recover(); r != nil {
				semErr = fmt.Errorf("semantic search: panic: %v", r)
			}
		}()
		sem, semErr = s.semanticChunks(ctx, workspaceID, text, f, depth)
	}()
	kw, err = s.keywordChunks(ctx, workspaceID, text, f, depth)
	if err != nil {
		cancel() // no use finishing the other side
	}
	<-done
	if err != nil {
		return nil, nil, err
	}
	if semErr != nil {
		return nil, nil, semErr
	}
	return kw, sem, nil
}

func validateDocumentSearch(p *nubiq.DocumentSearch) error {
	p.Query = strings.TrimSpace(p.Query)
	switch {
	case p.Query == "":
		return nubiq.Invalidf("query", "is required: the words or question to search for")
	case !utf8.ValidString(p.Query):
		return nubiq.Invalidf("query", "must be valid UTF-8 text")
	case utf8.RuneCountInString(p.Query) > MaxQueryLength:
		return nubiq.Invalidf("query", "must be at most %d characters", MaxQueryLength)
	}
	if p.Mode == "" {
		p.Mode = nubiq.SearchHybrid
	}
	if !slices.Contains(nubiq.SearchModes, p.Mode) {
		return nubiq.Invalidf("mode", "must be one of %s, got %q", strings.Join(nubiq.SearchModes, ", "), p.Mode)
	}
	switch {
	case p.Limit == 0:
		p.Limit = DefaultLimit
	case p.Limit < 1 || p.Limit > MaxLimit:
		return nubiq.Invalidf("limit", "must be between 1 and %d, got %d", MaxLimit, p.Limit)
	}
	if len(p.DocumentIDs) > 1000 {
		return nubiq.Invalidf("document_ids", "at most 1000 ids, got %d", len(p.DocumentIDs))
	}
	for _, id := range p.DocumentIDs {
		if id <= 0 {
			return nubiq.Invalidf("document_ids", "ids are positive integers, got %d", id)
		}
	}
	if len(p.Metadata) > 20 {
		return nubiq.Invalidf("metadata", "at most 20 keys, got %d", len(p.Metadata))
	}
	for k := range p.Metadata {
		if k == "" || len(k) > 200 {
			return nubiq.Invalidf("metadata", "keys must be 1 to 200 characters")
		}
	}
	return nil
}

// documentQuery builds the keyword query: the query text against the combined field and,
// weighted down, the title, once per analyser in use (French documents are matched with a
// French analysis of the query), within the workspace and the filters. Filter clauses have
// boost 0: they select but do not score (the workspace's clause is left out when the index
// holds no other workspace: see searchindex.Filtered).
func (s *Service) documentQuery(workspaceID int64, text string, f *postgres.DocumentFilter) query.Query {
	ix := s.cfg.Indexes.Documents
	m := ix.Mapping()
	analyzers := []string{searchindex.AnalyzerDefault}
	for a := range ix.Stats().Analyzers {
		if a != searchindex.AnalyzerDefault {
			analyzers = append(analyzers, a)
		}
	}
	sort.Strings(analyzers[1:])
	var alts []query.Query
	seen := map[string]bool{}
	for _, a := range analyzers {
		terms := searchindex.Terms(m, a, text)
		key := strings.Join(terms, "\x00")
		if len(terms) == 0 || seen[key] {
			continue
		}
		seen[key] = true
		all := query.NewMatchQuery(text)
		all.SetField(searchindex.DocFieldAll)
		all.Analyzer = a
		title := query.NewMatchQuery(text)
		title.SetField(searchindex.DocFieldTitle)
		title.Analyzer = a
		title.SetBoost(s.cfg.TitleBoost)
		alts = append(alts, query.NewDisjunctionQuery([]query.Query{all, title}))
	}
	if len(alts) == 0 {
		return nil
	}
	var textQ query.Query = alts[0]
	if len(alts) > 1 {
		textQ = query.NewDisjunctionQuery(alts)
	}
	var clauses []query.Query
	if len(f.DocumentIDs) > 0 {
		var ids []query.Query
		for _, id := range f.DocumentIDs {
			ids = append(ids, term(searchindex.DocFieldDocument, strconv.FormatInt(id, 10)))
		}
		clauses = append(clauses, filterOr(ids))
	}
	for k, v := range f.Metadata {
		clauses = append(clauses, term(searchindex.DocFieldMeta, k+"="+v))
	}
	if f.MimeType != "" {
		clauses = append(clauses, term(searchindex.DocFieldMime, f.MimeType))
	}
	if r := dateRange(searchindex.DocFieldUpdated, f.Updated); r != nil {
		clauses = append(clauses, r)
	}
	if len(clauses) > 0 {
		textQ = query.NewConjunctionQuery(append(clauses, textQ))
	}
	return searchindex.Filtered(textQ, searchindex.DocFieldWorkspace, strconv.FormatInt(workspaceID, 10))
}

// term is a non-scoring filter clause on a keyword field.
func term(field, value string) query.Query {
	q := query.NewTermQuery(value)
	q.SetField(field)
	q.SetBoost(0)
	return q
}

func filterOr(qs []query.Query) query.Query {
	if len(qs) == 1 {
		return qs[0]
	}
	d := query.NewDisjunctionQuery(qs)
	d.SetBoost(0)
	return d
}

// dateRange is a non-scoring [from, to) filter on a datetime field, nil when open.
func dateRange(field string, r nubiq.TimeRange) query.Query {
	if r.From.IsZero() && r.To.IsZero() {
		return nil
	}
	incl, excl := true, false
	q := query.NewDateRangeInclusiveQuery(r.From, r.To, &incl, &excl)
	q.SetField(field)
	q.SetBoost(0)
	return q
}

func (s *Service) keywordChunks(ctx context.Context, workspaceID int64, text string, f *postgres.DocumentFilter, depth int) ([]Hit, error) {
	q := s.documentQuery(workspaceID, text, f)
	if q == nil {
		return nil, nil // nothing but stop words
	}
	found, err := topChunks(ctx, s.cfg.Indexes.Documents, q, depth)
	if err != nil {
		return nil, err
	}
	hits := make([]Hit, 0, len(found))
	for _, h := range found {
		chunk, err := searchindex.ChunkID(h.ID)
		if err != nil {
			return nil, err
		}
		docStr, _ := h.Fields[searchindex.DocFieldDocument].(string)
		doc, err := strconv.ParseInt(docStr, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("documents index: chunk %d has no document id", chunk)
		}
		hits = append(hits, Hit{ChunkID: chunk, DocumentID: doc, Score: h.Score})
	}
	return hits, nil
}

// topChunks returns the depth best chunks for q, best first, ties in chunk id order (as
// strings, as bleve sorts ids), with their document ids loaded.
//
// Sorting by score alone is bleve's fast path: asking bleve to break ties by id instead makes
// it load the external id of every matching chunk as it collects, not only of the chunks
// returned — at 100,000 chunks, where common words match most of them, a large share of
// the request. The result is the same: bleve returns tieMargin chunks more than needed, and
// when the last of them scores below the cut (or bleve ran out of matches), every chunk tied
// with the cut is among them, so ordering them here by score, then id, and cutting gives
// exactly what bleve's tie-break would. Chunk lengths are few, so scores tie often: on the
// benchmark's kind of corpus (100,000 chunks) the cut fell inside a tie for 53 of 300
// queries, with at most 4 of the tied chunks beyond it. Only when the tie runs past the
// margin is the request made again with bleve breaking ties by id.
func topChunks(ctx context.Context, ix *searchindex.Index, q query.Query, depth int) (bsearch.DocumentMatchCollection, error) {
	req := keywordRequest(q, depth)
	res, err := ix.Search(ctx, req)
	if err != nil {
		return nil, err
	}
	hits := res.Hits
	if len(hits) == req.Size && len(hits) > depth && hits[len(hits)-1].Score == hits[depth-1].Score {
		req = bleve.NewSearchRequestOptions(q, depth, 0, false)
		req.Fields = []string{searchindex.DocFieldDocument}
		req.SortBy([]string{"-_score", "_id"})
		if res, err = ix.Search(ctx, req); err != nil {
			return nil, err
		}
		return res.Hits, nil
	}
	slices.SortStableFunc(hits, func(a, b *bsearch.DocumentMatch) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return hits[:min(len(hits), depth)], nil
}

// tieMargin is how many chunks past the cut the keyword request asks for (see topChunks).
const tieMargin = 10

func keywordRequest(q query.Query, depth int) *bleve.SearchRequest {
	req := bleve.NewSearchRequestOptions(q, depth+tieMargin, 0, false)
	req.Fields = []string{searchindex.DocFieldDocument}
	return req
}

// KeywordRequest returns the bleve request the keyword side of a search sends for text (nil
// when text is nothing but stop words), for running it straight on the index as the engine's
// floor in benchmarks.
func (s *Service) KeywordRequest(workspaceID int64, text string, depth int) *bleve.SearchRequest {
	q := s.documentQuery(workspaceID, strings.TrimSpace(text), &postgres.DocumentFilter{})
	if q == nil {
		return nil
	}
	return keywordRequest(q, depth)
}

func (s *Service) semanticChunks(ctx context.Context, workspaceID int64, text string, f *postgres.DocumentFilter, depth int) ([]Hit, error) {
	e := s.cfg.Embedder
	vecs, err := e.Embed(ctx, []string{text})
	if err != nil {
		return nil, fmt.Errorf("embed query: %w", err)
	}
	if len(vecs) != 1 || isZero(vecs[0]) {
		return nil, nil // nothing the embedder recognises: no direction to search in
	}
	strategy, err := s.VectorStrategy(ctx, workspaceID)
	if err != nil || strategy == "" {
		return nil, err
	}
	vq := postgres.VectorQuery{Embedder: e.Name(), Vector: vecs[0], Limit: depth, Filter: *f, Strategy: strategy, EfSearch: s.cfg.EfSearch}
	res, err := s.cfg.DB.NearestChunks(ctx, workspaceID, vq)
	if err != nil {
		return nil, err
	}
	if vq.Strategy == postgres.VectorHNSW && len(res) < depth {
		// The index walk stops after a bounded number of candidates; selective filters can
		// leave it short. Ranking exactly never returns fewer than exist.
		vq.Strategy = postgres.VectorExact
		if res, err = s.cfg.DB.NearestChunks(ctx, workspaceID, vq); err != nil {
			return nil, err
		}
	}
	hits := make([]Hit, len(res))
	for i, r := range res {
		hits[i] = Hit{ChunkID: r.ChunkID, DocumentID: r.DocumentID, Score: 1 - r.Distance}
	}
	return hits, nil
}

// VectorStrategy returns the plan semantic search uses for the workspace:
// postgres.VectorExact up to ExactScanMax chunks, postgres.VectorHNSW above once every chunk
// of the workspace is in the HNSW index (until then exact: a chunk outside the index would
// never be found by walking it), and "" when the workspace has no chunks of the embedder.
func (s *Service) VectorStrategy(ctx context.Context, workspaceID int64) (string, error) {
	if s.cfg.Embedder == nil {
		return "", nil
	}
	st, err := s.vectorStats(ctx, workspaceID)
	switch {
	case err != nil || st.Chunks == 0:
		return "", err
	case st.Chunks > s.cfg.ExactScanMax && st.Indexed:
		return postgres.VectorHNSW, nil
	}
	return postgres.VectorExact, nil
}

func isZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// hydrateDocuments loads the top fused chunks from Postgres and builds results. Rows that are
// gone, or that no longer pass the filters (the local index may trail the database by a
// moment), are dropped; a few spare candidates make up for them.
func (s *Service) hydrateDocuments(ctx context.Context, workspaceID int64, p *nubiq.DocumentSearch, fused []Fused) ([]nubiq.DocumentHit, error) {
	want := min(len(fused), p.Limit+10)
	ids := make([]int64, want)
	for i := range want {
		ids[i] = fused[i].ChunkID
	}
	rows, err := s.cfg.DB.SearchChunks(ctx, workspaceID, ids)
	if err != nil {
		return nil, err
	}
	m := s.cfg.Indexes.Documents.Mapping()
	terms := map[string]map[string]bool{}
	out := make([]nubiq.DocumentHit, 0, p.Limit)
	for _, f := range fused[:want] {
		if len(out) == p.Limit {
			break
		}
		c := rows[f.ChunkID]
		if c == nil || !passesFilter(c, p) {
			continue
		}
		analyzer := searchindex.LanguageAnalyzer(c.Language)
		if terms[analyzer] == nil {
			terms[analyzer] = queryTerms(m, analyzer, p.Query)
		}
		foundBy := []string{}
		if f.Keyword {
			foundBy = append(foundBy, FoundByKeyword)
		}
		if f.Semantic {
			foundBy = append(foundBy, FoundBySemantic)
		}
		heading := c.HeadingPath
		if heading == nil {
			heading = []string{}
		}
		meta := c.Metadata
		if meta == nil {
			meta = map[string]any{}
		}
		out = append(out, nubiq.DocumentHit{
			DocumentID: c.DocumentID, Title: c.Title, SourceURL: c.SourceURL, MimeType: c.MimeType,
			Metadata: meta, UpdatedAt: c.UpdatedAt, ChunkID: c.ID, ChunkIndex: c.ChunkIndex,
			HeadingPath: heading, Snippet: Snippet(m, analyzer, c.Text, terms[analyzer], DefaultSnippetLength),
			Score: f.Score, FoundBy: foundBy,
		})
	}
	return out, nil
}

func passesFilter(c *postgres.SearchChunk, p *nubiq.DocumentSearch) bool {
	if len(p.DocumentIDs) > 0 && !slices.Contains(p.DocumentIDs, c.DocumentID) {
		return false
	}
	if p.MimeType != "" && c.MimeType != p.MimeType {
		return false
	}
	if !p.Updated.From.IsZero() && c.UpdatedAt.Before(p.Updated.From) {
		return false
	}
	if !p.Updated.To.IsZero() && !c.UpdatedAt.Before(p.Updated.To) {
		return false
	}
	if len(p.Metadata) > 0 {
		have := map[string]bool{}
		for _, t := range searchindex.MetadataTerms(c.Metadata) {
			have[t] = true
		}
		for k, v := range p.Metadata {
			if !have[k+"="+v] {
				return false
			}
		}
	}
	return true
}
