package search

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestMetrics(t *testing.T) {
	rel := map[string]int{"a": 2, "b": 1, "z": 0}
	tests := []struct {
		name              string
		ranked            []string
		ndcg, recall, mrr float64
	}{
		{"ideal", []string{"a", "b"}, 1, 1, 1},
		{"swapped", []string{"b", "a"}, (1 + 2/math.Log2(3)) / (2 + 1/math.Log2(3)), 1, 1},
		{"first relevant at 3", []string{"x", "z", "b"}, (1 / math.Log2(4)) / (2 + 1/math.Log2(3)), 0.5, 1.0 / 3},
		{"nothing", []string{"x", "y"}, 0, 0, 0},
		{"empty", nil, 0, 0, 0},
		{"repeats count once", []string{"a", "a", "b"}, (2 + 1/math.Log2(4)) / (2 + 1/math.Log2(3)), 1, 1},
	}
	for _, tt := range tests {
		if got := NDCG(tt.ranked, rel, 10); !near(got, tt.ndcg) {
			t.Errorf("%s: NDCG = %v, want %v", tt.name, got, tt.ndcg)
		}
		if got := Recall(tt.ranked, rel, 100); !near(got, tt.recall) {
			t.Errorf("%s: Recall = %v, want %v", tt.name, got, tt.recall)
		}
		if got := MRR(tt.ranked, rel, 10); !near(got, tt.mrr) {
			t.Errorf("%s: MRR = %v, want %v", tt.name, got, tt.mrr)
		}
	}
	if got := NDCG([]string{"x", "a"}, rel, 1); got != 0 {
		t.Errorf("cut-off: NDCG@1 = %v", got)
	}
	m := Evaluate(map[string][]string{"q1": {"a"}, "q2": {"x"}}, Qrels{"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}})
	if m.Queries != 2 || !near(m.NDCG10, 0.5) || !near(m.MRR10, 0.5) || !near(m.Recall100, 0.5) {
		t.Errorf("Evaluate = %+v", m)
	}
}

func TestFuse(t *testing.T) {
	kw := []Hit{{ChunkID: 1, DocumentID: 10, Score: 9}, {ChunkID: 2, DocumentID: 10, Score: 8}, {ChunkID: 3, DocumentID: 30, Score: 7}}
	sem := []Hit{{ChunkID: 4, DocumentID: 40, Score: 0.9}, {ChunkID: 3, DocumentID: 30, Score: 0.8}, {ChunkID: 2, DocumentID: 10, Score: 0.7}}
	f := Fusion{K: 1, KeywordWeight: 1, SemanticWeight: 1, KeywordPresent: true, SemanticPresent: true}

	chunks := Fuse(kw, sem, f)
	// chunk 1: 1/2; chunk 2: 1/3 + 1/4; chunk 3: 1/4 + 1/3; chunk 4: 1/2.
	want := []Fused{
		{ChunkID: 2, DocumentID: 10, Score: 1.0/3 + 1.0/4, Keyword: true, Semantic: true},
		{ChunkID: 3, DocumentID: 30, Score: 1.0/4 + 1.0/3, Keyword: true, Semantic: true},
		{ChunkID: 1, DocumentID: 10, Score: 0.5, Keyword: true},
		{ChunkID: 4, DocumentID: 40, Score: 0.5, Semantic: true},
	}
	if len(chunks) != len(want) {
		t.Fatalf("chunks = %+v", chunks)
	}
	for i := range want {
		if chunks[i].ChunkID != want[i].ChunkID || !near(chunks[i].Score, want[i].Score) || chunks[i].Keyword != want[i].Keyword || chunks[i].Semantic != want[i].Semantic {
			t.Errorf("chunk %d = %+v, want %+v", i, chunks[i], want[i])
		}
	}

	f.PerDocument = true
	docs := Fuse(kw, sem, f)
	// Documents by rank: keyword 10, 30; semantic 40, 30, 10.
	// doc 10: 1/2 + 1/4; doc 30: 1/3 + 1/3; doc 40: 1/2.
	if len(docs) != 3 || docs[0].DocumentID != 10 || docs[1].DocumentID != 30 || docs[2].DocumentID != 40 {
		t.Fatalf("documents = %+v", docs)
	}
	if docs[0].ChunkID != 2 {
		t.Errorf("document 10 is represented by its best fused chunk, 2, not %d", docs[0].ChunkID)
	}
	if !near(docs[0].Score, 0.75) || !near(docs[1].Score, 2.0/3) {
		t.Errorf("scores %v, %v", docs[0].Score, docs[1].Score)
	}

	// One ranking alone keeps its order and scores.
	only := Fuse(kw, nil, Fusion{K: 60, KeywordWeight: 1, SemanticWeight: 1, PerDocument: true, KeywordPresent: true})
	if len(only) != 2 || only[0].ChunkID != 1 || only[0].Score != 9 || only[1].ChunkID != 3 || !only[0].Keyword || only[0].Semantic {
		t.Errorf("keyword only = %+v", only)
	}
	// Weight zero: semantic-only documents still appear, after the others.
	zero := Fuse(kw, sem, Fusion{K: 1, KeywordWeight: 1, SemanticWeight: 0, PerDocument: true, KeywordPresent: true, SemanticPresent: true})
	if zero[0].DocumentID != 10 || zero[2].DocumentID != 40 {
		t.Errorf("semantic weight 0 = %+v", zero)
	}
}
