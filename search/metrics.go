package search

import (
	"math"
)

// Relevance metrics as BEIR reports them (pytrec_eval's definitions): graded relevance from
// qrels, ranked ids from a run. A ranking may contain an id at most once; repeats are
// ignored after the first.

// Qrels maps a query id to its judged documents and their relevance grades (> 0 relevant).
type Qrels map[string]map[string]int

// NDCG returns nDCG@k with linear gains (rel / log2(rank+1)), normalised by the ideal ranking
// of the judged documents. A query without relevant documents scores 0.
func NDCG(ranked []string, rel map[string]int, k int) float64 {
	var dcg float64
	seen := map[string]bool{}
	for i, id := range ranked {
		if i >= k {
			break
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		if g := rel[id]; g > 0 {
			dcg += float64(g) / math.Log2(float64(i)+2)
		}
	}
	var gains []int
	for _, g := range rel {
		if g > 0 {
			gains = append(gains, g)
		}
	}
	if len(gains) == 0 {
		return 0
	}
	// Ideal order: highest grades first.
	for i := 1; i < len(gains); i++ {
		for j := i; j > 0 && gains[j] > gains[j-1]; j-- {
			gains[j], gains[j-1] = gains[j-1], gains[j]
		}
	}
	var idcg float64
	for i, g := range gains {
		if i >= k {
			break
		}
		idcg += float64(g) / math.Log2(float64(i)+2)
	}
	return dcg / idcg
}

// Recall returns the share of relevant documents found in the first k results.
func Recall(ranked []string, rel map[string]int, k int) float64 {
	total := 0
	for _, g := range rel {
		if g > 0 {
			total++
		}
	}
	if total == 0 {
		return 0
	}
	found := 0
	seen := map[string]bool{}
	for i, id := range ranked {
		if i >= k {
			break
		}
		if !seen[id] && rel[id] > 0 {
			found++
		}
		seen[id] = true
	}
	return float64(found) / float64(total)
}

// MRR returns the reciprocal rank of the first relevant document within the first k results,
// or 0 when there is none.
func MRR(ranked []string, rel map[string]int, k int) float64 {
	for i, id := range ranked {
		if i >= k {
			break
		}
		if rel[id] > 0 {
			return 1 / float64(i+1)
		}
	}
	return 0
}

// Metrics are a run's means over its queries.
type Metrics struct {
	Queries  int     `json:"queries"`
	NDCG10   float64 `json:"ndcg@10"`
	Recall10 float64 `json:"recall@10"`
	// Recall100 is the share of relevant documents in the first 100 results.
	Recall100 float64 `json:"recall@100"`
	MRR10     float64 `json:"mrr@10"`
}

// Evaluate averages the metrics over every query of qrels that has a relevant document; a
// query missing from runs counts as an empty ranking.
func Evaluate(runs map[string][]string, qrels Qrels) Metrics {
	var m Metrics
	for qid, rel := range qrels {
		relevant := false
		for _, g := range rel {
			relevant = relevant || g > 0
		}
		if !relevant {
			continue
		}
		ranked := runs[qid]
		m.Queries++
		m.NDCG10 += NDCG(ranked, rel, 10)
		m.Recall10 += Recall(ranked, rel, 10)
		m.Recall100 += Recall(ranked, rel, 100)
		m.MRR10 += MRR(ranked, rel, 10)
	}
	if m.Queries > 0 {
		n := float64(m.Queries)
		m.NDCG10 /= n
		m.Recall10 /= n
		m.Recall100 /= n
		m.MRR10 /= n
	}
	return m
}
