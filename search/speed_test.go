package search_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/search"
	"github.com/nubiq/hub/search/searchtest"
)

// A node whose index holds one workspace leaves the workspace restriction out of bleve's
// query; it must still find nothing for another workspace, and restrict again as soon as
// another workspace's chunks arrive.
func TestDocumentSearchSingleWorkspaceIndex(t *testing.T) {
	env := searchtest.New(t, nil)
	ctx := context.Background()
	acme := searchtest.Workspace(t, env.DB, "acme")
	globex := searchtest.Workspace(t, env.DB, "globex")
	ids := env.AddDocuments(t, acme,
		searchtest.Doc{Title: "Installing the agent", Text: "Run the installer and the agent starts on boot."},
		searchtest.Doc{Title: "Billing", Text: "Invoices are sent monthly by the billing agent."})
	env.Sync(t)
	search := func(ws int64, mode string) []int64 {
		t.Helper()
		res, err := env.Service.Documents(ctx, ws, nubiq.DocumentSearch{Query: "agent installer invoices", Mode: mode})
		require.NoError(t, err)
		return docIDs(res)
	}
	for _, mode := range nubiq.SearchModes {
		require.ElementsMatch(t, ids, search(acme, mode), mode)
		require.Empty(t, search(globex, mode), "%s: a workspace the index does not hold", mode)
	}

	foreign := env.AddDocument(t, globex, searchtest.Doc{Title: "Installing the agent", Text: "Run the installer and the agent starts on boot."})
	env.Sync(t)
	for _, mode := range nubiq.SearchModes {
		require.ElementsMatch(t, ids, search(acme, mode), mode)
		require.Equal(t, []int64{foreign}, search(globex, mode), mode)
	}

	// Gone from the database and from the index: the term it leaves in the index's
	// dictionary keeps the restriction, which is still right.
	searchtest.Exec(t, env.DB, `DELETE FROM documents WHERE id = $1`, foreign)
	searchtest.Log(t, env.DB, globex, "document", foreign, "delete")
	env.Sync(t)
	for _, mode := range nubiq.SearchModes {
		require.ElementsMatch(t, ids, search(acme, mode), mode)
		require.Empty(t, search(globex, mode), mode)
	}
}

// bleve ranks by score alone and ties are ordered by chunk id (compared as text, as bleve
// compares ids) afterwards; when the cut falls between tied chunks, which of them make it
// must not depend on the index's internal order either.
func TestKeywordRankingTies(t *testing.T) {
	env := searchtest.New(t, nil)
	ctx := context.Background()
	ws := searchtest.Workspace(t, env.DB, "acme")
	var docs []searchtest.Doc
	for range 2 { // the best two, tied with each other
		docs = append(docs, searchtest.Doc{Title: "Rotating keys", Text: "Rotate the signing keys, then rotate the backup keys."})
	}
	for range 40 { // tied with each other, below the best two
		docs = append(docs, searchtest.Doc{Title: "Keys", Text: "Where the signing keys are kept, and who may rotate them."})
	}
	docIDs := env.AddDocuments(t, ws, docs...)
	env.Sync(t)
	var best, rest []string
	for i, id := range docIDs {
		chunk := strconv.FormatInt(searchtest.ChunkIDs(t, env.DB, id)[0], 10)
		if i < 2 {
			best = append(best, chunk)
		} else {
			rest = append(rest, chunk)
		}
	}
	slices.Sort(best)
	slices.Sort(rest)
	ranking := func(depth int) []string {
		t.Helper()
		kw, _, err := env.Service.Rankings(ctx, ws, "rotate signing keys", depth)
		require.NoError(t, err)
		var out []string
		for i, h := range kw {
			require.True(t, i == 0 || kw[i-1].Score >= h.Score, "best first")
			out = append(out, strconv.FormatInt(h.ChunkID, 10))
		}
		return out
	}
	require.Equal(t, best, ranking(2), "the cut between the tied best and the rest")
	require.Equal(t, append(slices.Clone(best), rest[:1]...), ranking(3), "the cut in the tied rest, the tie running past the chunks asked for")
	require.Equal(t, append(slices.Clone(best), rest[:10]...), ranking(12), "the same, deeper")
	require.Equal(t, append(slices.Clone(best), rest[:35]...), ranking(37), "the cut in the tied rest, bleve's last match within reach")
	require.Equal(t, append(slices.Clone(best), rest...), ranking(50), "everything")
	require.Equal(t, best[:1], ranking(1), "the cut between the tied best")
}

// A hybrid search runs both sides at once; it must give what the two rankings fused give.
func TestHybridFusesBothRankings(t *testing.T) {
	f := newDocFixture(t)
	ctx := context.Background()
	q := "how to run the installer for invoices"
	kw, sem, err := f.env.Service.Rankings(ctx, f.ws, q, 50)
	require.NoError(t, err)
	require.NotEmpty(t, kw)
	require.NotEmpty(t, sem)
	k, kwW, semW := f.env.Service.Fusion()
	fused := search.Fuse(kw, sem, search.Fusion{K: k, KeywordWeight: kwW, SemanticWeight: semW, PerDocument: true, KeywordPresent: true, SemanticPresent: true})
	res := f.search(t, nubiq.DocumentSearch{Query: q, Mode: nubiq.SearchHybrid})
	require.Len(t, res.Results, len(fused))
	for i, h := range res.Results {
		require.Equal(t, fused[i].ChunkID, h.ChunkID, "rank %d", i+1)
		require.Equal(t, fused[i].Score, h.Score)
		want := []string{}
		if fused[i].Keyword {
			want = append(want, search.FoundByKeyword)
		}
		if fused[i].Semantic {
			want = append(want, search.FoundBySemantic)
		}
		require.Equal(t, want, h.FoundBy)
	}
	require.True(t, strings.Contains(strings.Join(res.Results[0].FoundBy, ","), search.FoundByKeyword))
}

// failingEmbedder embeds documents as the hash embedder does, but fails on queries: with an
// error, or by panicking.
type failingEmbedder struct {
	indexer.Embedder
	panics bool
}

func (e failingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if e.panics {
		panic("embedder broke")
	}
	return nil, errors.New("embedder unreachable")
}

// The semantic side of a hybrid search runs beside the keyword side: its failure, even a
// panic, comes back as the search's error.
func TestHybridSemanticSideFails(t *testing.T) {
	for _, panics := range []bool{false, true} {
		env := searchtest.New(t, nil, searchtest.WithSearch(func(c *search.Config) {
			c.Embedder = failingEmbedder{Embedder: c.Embedder, panics: panics}
		}))
		ws := searchtest.Workspace(t, env.DB, "acme")
		env.AddDocument(t, ws, searchtest.Doc{Title: "Installing the agent", Text: "Run the installer."})
		env.Sync(t)
		_, err := env.Service.Documents(context.Background(), ws, nubiq.DocumentSearch{Query: "installer"})
		require.Error(t, err)
		if panics {
			require.ErrorContains(t, err, "embedder broke")
		} else {
			require.ErrorContains(t, err, "embedder unreachable")
		}
		res, err := env.Service.Documents(context.Background(), ws, nubiq.DocumentSearch{Query: "installer", Mode: nubiq.SearchKeyword})
		require.NoError(t, err)
		require.Len(t, res.Results, 1)
	}
}
