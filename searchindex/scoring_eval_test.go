package searchindex_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	hsearch "github.com/nubiq/hub/search"
	"github.com/nubiq/hub/searchindex"
)

// TestScoringVariants compares keyword scoring choices on a BEIR dataset, straight on bleve
// (no database): bleve's TF-IDF, bleve's BM25 as it is, BM25 with the true average field
// lengths (what Stats supplies), and the combined title+text field the documents index uses;
// textbook BM25 computed exactly is the reference. It backs the scoring choices in
// docs/SEARCH.md and runs only when NUBIQ_SCIFACT_DIR names a BEIR directory:
//
//	NUBIQ_SCIFACT_DIR=../shared/datasets/scifact-train go test ./searchindex -run TestScoringVariants -v
func TestScoringVariants(t *testing.T) {
	dir := os.Getenv("NUBIQ_SCIFACT_DIR")
	if dir == "" {
		t.Skip("set NUBIQ_SCIFACT_DIR to a BEIR dataset directory")
	}
	qrelsPath := filepath.Join(dir, "qrels", "train.tsv")
	if _, err := os.Stat(qrelsPath); err != nil {
		qrelsPath = filepath.Join(dir, "qrels", "test.tsv")
	}
	set, err := hsearch.LoadBEIR(filepath.Join(dir, "corpus.jsonl"), filepath.Join(dir, "queries.jsonl"), qrelsPath)
	if err != nil {
		t.Fatal(err)
	}
	an := searchindex.DocumentsMapping().AnalyzerNamed(en.AnalyzerName)
	var tokAll, tokText, tokTitle int
	for _, d := range set.Corpus {
		tokAll += len(an.Analyze([]byte(d.Title + "\n" + d.Text)))
		tokText += len(an.Analyze([]byte(d.Text)))
		tokTitle += len(an.Analyze([]byte(d.Title)))
	}
	n := len(set.Corpus)
	stats := &search.BM25Stats{DocCount: float64(n), FieldCardinality: map[string]int{"all": tokAll, "text": tokText, "title": tokTitle}}

	build := func(model string) bleve.Index {
		im := mapping.NewIndexMapping()
		im.DefaultAnalyzer = en.AnalyzerName
		im.ScoringModel = model
		idx, err := bleve.New(filepath.Join(t.TempDir(), "i"), im)
		if err != nil {
			t.Fatal(err)
		}
		b := idx.NewBatch()
		for _, d := range set.Corpus {
			if err := b.Index(d.ID, map[string]any{"title": d.Title, "text": d.Text, "all": d.Title + "\n" + d.Text}); err != nil {
				t.Fatal(err)
			}
		}
		if err := idx.Batch(b); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { idx.Close() })
		return idx
	}
	match := func(q, field string, boost float64) query.Query {
		m := query.NewMatchQuery(q)
		m.SetField(field)
		m.SetBoost(boost)
		return m
	}
	run := func(idx bleve.Index, fix bool, mk func(q string) query.Query) hsearch.Metrics {
		runs := map[string][]string{}
		for qid := range set.Qrels {
			req := bleve.NewSearchRequestOptions(mk(set.Queries[qid]), 100, 0, false)
			if fix {
				req.PreSearchData = map[string]any{search.BM25PreSearchDataKey: stats}
			}
			res, err := idx.Search(req)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range res.Hits {
				runs[qid] = append(runs[qid], h.ID)
			}
		}
		return hsearch.Evaluate(runs, set.Qrels)
	}
	separate := func(titleBoost float64) func(string) query.Query {
		return func(q string) query.Query {
			return query.NewDisjunctionQuery([]query.Query{match(q, "text", 1), match(q, "title", titleBoost)})
		}
	}
	combined := func(titleBoost float64) func(string) query.Query {
		return func(q string) query.Query {
			return query.NewDisjunctionQuery([]query.Query{match(q, "all", 1), match(q, "title", titleBoost)})
		}
	}
	tfidf, bm25 := build(index.TFIDFScoring), build(index.BM25Scoring)
	report := func(name string, m hsearch.Metrics) {
		t.Logf("%-58s nDCG@10 %.4f  Recall@100 %.4f  MRR@10 %.4f", name, m.NDCG10, m.Recall100, m.MRR10)
	}
	report("bleve TF-IDF, title and text fields", run(tfidf, false, separate(1)))
	report("bleve BM25 as shipped, title and text fields", run(bm25, false, separate(1)))
	report("BM25 with true average lengths, title and text fields", run(bm25, true, separate(1)))
	for _, tb := range []float64{0.1, 0.25, 0.5, 1} {
		report(fmt.Sprintf("BM25 with true average lengths, combined field, title %.2f", tb), run(bm25, true, combined(tb)))
	}
	report("textbook BM25 (k1 1.2, b 0.75) over title+text, exact", textbookBM25(set, an.Analyze))
}

func textbookBM25(set *hsearch.BEIR, analyze func([]byte) analysis.TokenStream) hsearch.Metrics {
	const k1, b = 1.2, 0.75
	tf := make([]map[string]int, len(set.Corpus))
	lens := make([]int, len(set.Corpus))
	df := map[string]int{}
	total := 0
	for i, d := range set.Corpus {
		tf[i] = map[string]int{}
		toks := analyze([]byte(d.Title + "\n" + d.Text))
		for _, tok := range toks {
			tf[i][string(tok.Term)]++
		}
		for term := range tf[i] {
			df[term]++
		}
		lens[i] = len(toks)
		total += len(toks)
	}
	avg := float64(total) / float64(len(set.Corpus))
	n := float64(len(set.Corpus))
	runs := map[string][]string{}
	for qid := range set.Qrels {
		scores := make([]float64, len(set.Corpus))
		for _, tok := range analyze([]byte(set.Queries[qid])) {
			term := string(tok.Term)
			d := float64(df[term])
			if d == 0 {
				continue
			}
			idf := math.Log(1 + (n-d+0.5)/(d+0.5))
			for i := range set.Corpus {
				if f := float64(tf[i][term]); f > 0 {
					scores[i] += idf * f * (k1 + 1) / (f + k1*(1-b+b*float64(lens[i])/avg))
				}
			}
		}
		order := make([]int, len(set.Corpus))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, c int) bool { return scores[order[a]] > scores[order[c]] })
		for _, i := range order[:100] {
			if scores[i] > 0 {
				runs[qid] = append(runs[qid], set.Corpus[i].ID)
			}
		}
	}
	return hsearch.Evaluate(runs, set.Qrels)
}
