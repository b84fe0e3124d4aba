package searchindex

import (
	"context"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
)

// fieldLens is a stored, unindexed field holding a document's analysed field lengths
// ("all:120 title:9"), so that replacing or deleting it can keep Stats exact.
const fieldLens = "_lens"

// Stats are the collection statistics BM25 needs that bleve v2.6.1 gets wrong: bleve divides
// a field's number of distinct terms by the document count and uses that as the average field
// length, which for prose is a small fraction of the real one, so that every document longer
// than a few words is punished as if it were huge. The writer counts analysed tokens per
// field as it indexes, and searches hand bleve the real averages (see BM25Stats).
type Stats struct {
	FieldTokens map[string]int64 `json:"field_tokens"`
	FieldDocs   map[string]int64 `json:"field_docs"`
	// Analyzers are the document analysers in use (documents index), for query analysis.
	Analyzers map[string]bool `json:"analyzers,omitempty"`
}

func (s *Stats) clone() *Stats {
	if s == nil {
		return &Stats{FieldTokens: map[string]int64{}, FieldDocs: map[string]int64{}, Analyzers: map[string]bool{}}
	}
	c := &Stats{FieldTokens: maps.Clone(s.FieldTokens), FieldDocs: maps.Clone(s.FieldDocs), Analyzers: maps.Clone(s.Analyzers)}
	if c.FieldTokens == nil {
		c.FieldTokens = map[string]int64{}
	}
	if c.FieldDocs == nil {
		c.FieldDocs = map[string]int64{}
	}
	if c.Analyzers == nil {
		c.Analyzers = map[string]bool{}
	}
	return c
}

func (s *Stats) add(lens map[string]int, sign int64) {
	for f, n := range lens {
		s.FieldTokens[f] += sign * int64(n)
		s.FieldDocs[f] += sign
	}
}

func statsFrom(cp *checkpoint) *Stats {
	if cp.Stats == nil {
		return (*Stats)(nil).clone()
	}
	return cp.Stats.clone()
}

// AvgFieldLength returns the mean analysed length of field over the documents that have it.
func (s *Stats) AvgFieldLength(field string) float64 {
	if s == nil || s.FieldDocs[field] <= 0 {
		return 0
	}
	return float64(s.FieldTokens[field]) / float64(s.FieldDocs[field])
}

// BM25Stats returns what bleve's BM25 scorer takes as collection statistics. bleve computes a
// field's average length as ceil(FieldCardinality / DocCount), so each text field gets the
// "cardinality" that makes that quotient its real mean length; every other field (keywords,
// dates: length 1) gets DocCount. fields lists every field a query may touch: bleve refuses a
// query on a field missing from the map.
func (s *Stats) BM25Stats(docCount uint64, fields []string) *search.BM25Stats {
	card := make(map[string]int, len(fields))
	for _, f := range fields {
		card[f] = int(docCount)
		if avg := s.AvgFieldLength(f); avg > 0 {
			card[f] = int(math.Floor(avg * float64(docCount)))
		}
	}
	return &search.BM25Stats{DocCount: float64(docCount), FieldCardinality: card}
}

func encodeLens(lens map[string]int) string {
	var sb strings.Builder
	for f, n := range lens {
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(f)
		sb.WriteByte(':')
		sb.WriteString(strconv.Itoa(n))
	}
	return sb.String()
}

func decodeLens(s string) map[string]int {
	out := map[string]int{}
	for _, part := range strings.Fields(s) {
		f, n, ok := strings.Cut(part, ":")
		if !ok {
			continue
		}
		if v, err := strconv.Atoi(n); err == nil {
			out[f] = v
		}
	}
	return out
}

// writer collects changes for one index into bleve batches and keeps Stats in step.
type writer struct {
	ix    *Index
	idx   bleve.Index
	batch *bleve.Batch
	stats *Stats
	// lookupOld: documents may already be in the index, so their old lengths must be found
	// and subtracted (false while a rebuild scans into an empty index).
	lookupOld bool
	// pending holds the lengths of documents put in the current batch (nil: deleted in it).
	pending map[string]map[string]int
	// onFlush, when set, sees the statistics after each flush.
	onFlush func(*Stats)
}

// maxBatchOps bounds a batch's size; a larger change is applied in several batches.
const maxBatchOps = 2000

func newWriter(ix *Index, idx bleve.Index) *writer {
	return &writer{ix: ix, idx: idx, batch: idx.NewBatch(), stats: ix.Stats().clone(), lookupOld: true, pending: map[string]map[string]int{}}
}

// put indexes doc under id, replacing any previous version. lens are the analysed lengths of
// its text fields.
func (w *writer) put(id string, doc map[string]any, lens map[string]int) error {
	if err := w.forget(id); err != nil {
		return err
	}
	doc[fieldLens] = encodeLens(lens)
	if err := w.batch.Index(id, doc); err != nil {
		return fmt.Errorf("index %s: %w", id, err)
	}
	w.stats.add(lens, 1)
	w.pending[id] = lens
	return w.maybeFlush()
}

// delete removes id from the index (a no-op when absent).
func (w *writer) delete(id string) error {
	if err := w.forget(id); err != nil {
		return err
	}
	w.batch.Delete(id)
	w.pending[id] = nil
	return w.maybeFlush()
}

// forget subtracts the lengths of id's current version from the statistics.
func (w *writer) forget(id string) error {
	if lens, ok := w.pending[id]; ok {
		w.stats.add(lens, -1)
		w.pending[id] = nil
		return nil
	}
	if !w.lookupOld {
		return nil
	}
	d, err := w.idx.Document(id)
	if err != nil {
		return fmt.Errorf("read %s: %w", id, err)
	}
	if d == nil {
		return nil
	}
	d.VisitFields(func(f index.Field) {
		if f.Name() == fieldLens {
			w.stats.add(decodeLens(string(f.Value())), -1)
		}
	})
	return nil
}

func (w *writer) maybeFlush() error {
	if w.batch.Size() >= maxBatchOps {
		return w.flush()
	}
	return nil
}

// flush applies the pending batch.
func (w *writer) flush() error {
	if w.batch.Size() == 0 {
		return nil
	}
	if err := w.idx.Batch(w.batch); err != nil {
		return fmt.Errorf("%w: apply batch to %s index: %w", errBatch, w.ix.spec.name, err)
	}
	w.batch.Reset()
	clear(w.pending)
	if w.onFlush != nil {
		w.onFlush(w.stats)
	}
	return nil
}

// idsWhere returns the ids of the indexed documents whose keyword field holds value (as of
// the last flush).
func (w *writer) idsWhere(ctx context.Context, field, value string) ([]string, error) {
	q := query.NewTermQuery(value)
	q.SetField(field)
	var out []string
	const page = 5000
	for from := 0; ; from += page {
		req := bleve.NewSearchRequestOptions(q, page, from, false)
		req.Score = "none"
		req.SortBy([]string{"_id"})
		res, err := w.idx.SearchInContext(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("find %s=%s in %s index: %w", field, value, w.ix.spec.name, err)
		}
		for _, h := range res.Hits {
			out = append(out, h.ID)
		}
		if len(res.Hits) < page {
			return out, nil
		}
	}
}
