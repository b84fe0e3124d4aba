package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/searchindex"
)

// Target of the freshness section (issue #8).
const targetFreshnessP95 = time.Second

// runFreshness commits documents one at a time, each with a word no other holds, and measures
// how long until a second node's index answers a query for that word: the index log's delay
// as a node sees it (its poll interval, reading the log, applying the batch, refreshing the
// searcher).
func runFreshness(ctx context.Context, e *env) (*SectionResult, error) {
	cfg := e.cfg
	emb := indexer.NewHashEmbedder(indexer.DefaultHashDims)
	ws, _, err := e.workspace(ctx, "bench-freshness")
	if err != nil {
		return nil, err
	}
	// A knowledge base to find things in, not an empty index.
	c := newCorpus(7)
	var base []postgres.IndexedDocument
	for i := range max(20, int(500*cfg.Scale)) {
		base = append(base, freshDoc(c, emb, fmt.Sprint("base ", i), ""))
	}
	for _, d := range base {
		vecs, err := emb.Embed(ctx, []string{d.Chunks[0].Text})
		if err != nil {
			return nil, err
		}
		d.Chunks[0].Vector = vecs[0]
	}
	if _, err := e.db.InsertIndexedDocuments(ctx, ws, base); err != nil {
		return nil, err
	}
	second, err := e.startSearchNode(ctx, emb)
	if err != nil {
		return nil, err
	}
	defer second.stop(false)
	if err := second.indexes.Sync(ctx); err != nil {
		return nil, err
	}

	n := max(10, int(60*cfg.Scale))
	rng := rand.New(rand.NewPCG(3, 4))
	lat := make([]time.Duration, 0, n)
	for i := range n {
		// Writes arrive at any moment of the node's poll cycle.
		time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
		word := freshWord(i)
		d := freshDoc(c, emb, "fresh "+word, word)
		vecs, err := emb.Embed(ctx, []string{d.Chunks[0].Text})
		if err != nil {
			return nil, err
		}
		d.Chunks[0].Vector = vecs[0]
		if _, err := e.db.InsertIndexedDocuments(ctx, ws, []postgres.IndexedDocument{d}); err != nil {
			return nil, err
		}
		committed := time.Now() // the transaction committed as the call returned
		for {
			found, err := findWord(ctx, second.indexes.Documents, ws, word)
			if err != nil {
				return nil, err
			}
			if found {
				lat = append(lat, time.Since(committed))
				break
			}
			if time.Since(committed) > time.Minute {
				return nil, fmt.Errorf("document %d not searchable on the second node after a minute", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	slices.Sort(lat)
	r := &result{ops: len(lat), latencies: lat}
	for _, l := range lat {
		r.seconds += l.Seconds()
	}
	row := r.row("commit→searchable", "2nd node", 0, "docs/s")
	row.PerSecond, row.Unit = 0, ""
	row.Target = fmt.Sprintf("p95 ≤%s", targetFreshnessP95)
	row.Met = boolPtr(time.Duration(row.P95ms*float64(time.Millisecond)) <= targetFreshnessP95)
	e.table.row(SectionFreshness, row)
	return &SectionResult{Available: true, Rows: []Row{row}, Note: fmt.Sprintf(
		"%d documents committed one at a time (as an ingest commits: document, chunks and index-log entry in one transaction) "+
			"into a workspace of %d, at random moments; each timed from its commit until a node that did not write it "+
			"(its own bleve index, following the index log with the default 100ms poll, as serve runs it) answers a query "+
			"for a word only that document holds.", n, len(base))}, nil
}

// freshWord is a word no generated text holds, distinct for each i.
func freshWord(i int) string {
	var b strings.Builder
	b.WriteString("zqfresh")
	for _, d := range strconv.Itoa(i) {
		b.WriteByte(byte('a' + d - '0'))
	}
	return b.String()
}

// freshDoc is a one-chunk article holding word (when not empty) among ordinary text.
func freshDoc(c *corpus, emb indexer.Embedder, title, word string) postgres.IndexedDocument {
	text := c.paragraph(120)
	if word != "" {
		text += " Reference " + word + "."
	}
	return postgres.IndexedDocument{Title: title, MimeType: indexer.MIMEMarkdown, Embedder: emb.Name(), Text: text,
		Chunks: []postgres.IndexedChunk{{Text: text, HeadingPath: []string{title}, Start: 0, End: len(text), Tokens: len(strings.Fields(text))}}}
}

// findWord reports whether the documents index answers a query for word in workspace ws.
func findWord(ctx context.Context, ix *searchindex.Index, ws int64, word string) (bool, error) {
	q := query.NewMatchQuery(word)
	q.SetField(searchindex.DocFieldAll)
	q.Analyzer = searchindex.AnalyzerDefault
	w := query.NewTermQuery(strconv.FormatInt(ws, 10))
	w.SetField(searchindex.DocFieldWorkspace)
	req := bleve.NewSearchRequestOptions(query.NewConjunctionQuery([]query.Query{w, q}), 1, 0, false)
	res, err := ix.Search(ctx, req)
	if err != nil {
		return false, err
	}
	return res.Total > 0, nil
}
