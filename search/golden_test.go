package search_test

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/search"
	"github.com/nubiq/hub/search/searchtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenRun is what the relevance golden file holds for one mode.
type goldenRun struct {
	Metrics search.Metrics      `json:"metrics"`
	Ranked  map[string][]string `json:"ranked"` // query id → top ten document ids
}

// TestRelevanceGolden ranks fixed queries over a fixed help-center corpus in each mode and
// compares the rankings and their metrics with testdata/golden/relevance.json, so that any
// change to analysis, scoring or fusion shows up as a diff. After an intended change:
//
//	go test ./search -run TestRelevanceGolden -update
func TestRelevanceGolden(t *testing.T) {
	dir := filepath.Join("testdata", "golden")
	set, err := search.LoadBEIR(filepath.Join(dir, "corpus.jsonl"), filepath.Join(dir, "queries.jsonl"), filepath.Join(dir, "qrels.tsv"))
	require.NoError(t, err)
	require.Len(t, set.Corpus, 24)
	require.Len(t, set.Qrels, 12)

	env := searchtest.New(t, nil)
	ws := searchtest.Workspace(t, env.DB, "golden")
	ctx := context.Background()
	byID, err := search.LoadCorpus(ctx, env.DB, env.Embedder, ws, set.Corpus, nil)
	require.NoError(t, err)
	env.Sync(t)

	got := map[string]goldenRun{}
	for _, mode := range nubiq.SearchModes {
		run := goldenRun{Ranked: map[string][]string{}}
		for qid := range set.Qrels {
			res, err := env.Service.Documents(ctx, ws, nubiq.DocumentSearch{Query: set.Queries[qid], Mode: mode, Limit: 10})
			require.NoError(t, err)
			for _, h := range res.Results {
				run.Ranked[qid] = append(run.Ranked[qid], byID[h.DocumentID])
			}
		}
		m := search.Evaluate(run.Ranked, set.Qrels)
		round := func(f float64) float64 { return math.Round(f*1e4) / 1e4 }
		m.NDCG10, m.Recall10, m.Recall100, m.MRR10 = round(m.NDCG10), round(m.Recall10), round(m.Recall100), round(m.MRR10)
		run.Metrics = m
		got[mode] = run
	}
	b, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	b = append(b, '\n')
	path := filepath.Join(dir, "relevance.json")
	if *update {
		require.NoError(t, os.WriteFile(path, b, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create the golden file")
	require.Equal(t, string(want), string(b), "rankings changed; if intended, run go test ./search -run TestRelevanceGolden -update and review the diff")

	// Whatever the golden file says, hybrid must not rank worse than keyword here.
	require.GreaterOrEqual(t, got[nubiq.SearchHybrid].Metrics.NDCG10, got[nubiq.SearchKeyword].Metrics.NDCG10)
	for qid := range set.Qrels {
		require.True(t, slices.ContainsFunc(got[nubiq.SearchHybrid].Ranked[qid], func(id string) bool { return set.Qrels[qid][id] > 0 }),
			"query %s (%q) finds a relevant document in its first ten", qid, set.Queries[qid])
	}
}
