package search_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/search/searchtest"
	"github.com/nubiq/hub/searchindex"
)

func docIDs(res *nubiq.DocumentSearchResult) []int64 {
	var ids []int64
	for _, h := range res.Results {
		ids = append(ids, h.DocumentID)
	}
	return ids
}

type docFixture struct {
	env                             *searchtest.Env
	ws, other                       int64
	install, billing, html, foreign int64
}

func newDocFixture(t *testing.T) *docFixture {
	env := searchtest.New(t, nil)
	f := &docFixture{env: env}
	f.ws = searchtest.Workspace(t, env.DB, "acme")
	f.other = searchtest.Workspace(t, env.DB, "globex")
	ids := env.AddDocuments(t, f.ws,
		searchtest.Doc{Title: "Installing the agent", SourceURL: "https://help.example.com/install",
			Text:     "Download the installer for your system.\n\n---\n\nRun the installer and the agent starts on boot.",
			Headings: [][]string{{"Install", "Download"}, {"Install", "Run"}},
			Metadata: map[string]any{"product": "agent", "audience": "admin"}},
		searchtest.Doc{Title: "Billing and invoices", Text: "Invoices are sent monthly; the agent plan is billed per seat.",
			Metadata: map[string]any{"product": "billing"}},
		searchtest.Doc{Title: "Agent FAQ", MimeType: "text/html", Text: "Does the agent need root? The installer asks once.",
			Metadata: map[string]any{"product": "agent", "tags": []any{"faq", "install"}}},
	)
	f.install, f.billing, f.html = ids[0], ids[1], ids[2]
	f.foreign = env.AddDocument(t, f.other, searchtest.Doc{Title: "Installing the agent elsewhere", Text: "The installer of another company."})
	env.Sync(t)
	return f
}

func (f *docFixture) search(t *testing.T, p nubiq.DocumentSearch) *nubiq.DocumentSearchResult {
	t.Helper()
	res, err := f.env.Service.Documents(context.Background(), f.ws, p)
	require.NoError(t, err)
	return res
}

func TestDocumentSearchModesAndResults(t *testing.T) {
	f := newDocFixture(t)
	for _, mode := range nubiq.SearchModes {
		t.Run(mode, func(t *testing.T) {
			res := f.search(t, nubiq.DocumentSearch{Query: "how to run the installer", Mode: mode})
			require.Equal(t, mode, res.Mode)
			require.False(t, res.IndexRebuilding)
			require.NotEmpty(t, res.Results)
			top := res.Results[0]
			require.Equal(t, f.install, top.DocumentID)
			require.Equal(t, "Installing the agent", top.Title)
			require.Equal(t, "https://help.example.com/install", top.SourceURL)
			require.Equal(t, []string{"Install", "Run"}, top.HeadingPath, "the passage about running, not downloading")
			require.Equal(t, 1, top.ChunkIndex)
			require.Contains(t, top.Snippet, "**Run** the **installer**")
			require.Equal(t, map[string]any{"product": "agent", "audience": "admin"}, top.Metadata)
			require.NotContains(t, docIDs(res), f.foreign, "another workspace's document")
			seen := map[int64]bool{}
			for _, h := range res.Results {
				require.False(t, seen[h.DocumentID], "one result per document")
				seen[h.DocumentID] = true
			}
			switch mode {
			case nubiq.SearchKeyword:
				require.Equal(t, []string{"keyword"}, top.FoundBy)
				require.Empty(t, res.Embedder)
			case nubiq.SearchSemantic:
				require.Equal(t, []string{"semantic"}, top.FoundBy)
				require.Equal(t, "hash", res.Embedder)
			case nubiq.SearchHybrid:
				require.Equal(t, []string{"keyword", "semantic"}, top.FoundBy)
				require.Equal(t, "hash", res.Embedder)
			}
		})
	}
}

func TestDocumentSearchChunks(t *testing.T) {
	f := newDocFixture(t)
	res := f.search(t, nubiq.DocumentSearch{Query: "installer", Mode: nubiq.SearchKeyword, Chunks: true})
	perDoc := map[int64]int{}
	for _, h := range res.Results {
		perDoc[h.DocumentID]++
	}
	require.Equal(t, 2, perDoc[f.install], "both passages of the install document")
	require.Equal(t, 1, perDoc[f.html])
}

func TestDocumentSearchFilters(t *testing.T) {
	f := newDocFixture(t)
	ctx := context.Background()
	searchtest.Exec(t, f.env.DB, `UPDATE documents SET updated_at = $2 WHERE id = $1`, f.billing, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	searchtest.Log(t, f.env.DB, f.ws, "document", f.billing, "upsert")
	f.env.Sync(t)
	cut := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		p    nubiq.DocumentSearch
		want []int64
	}{
		{"document ids", nubiq.DocumentSearch{DocumentIDs: []int64{f.billing, f.html}}, []int64{f.billing, f.html}},
		{"another workspace's id matches nothing", nubiq.DocumentSearch{DocumentIDs: []int64{f.foreign}}, nil},
		{"metadata", nubiq.DocumentSearch{Metadata: map[string]string{"product": "agent"}}, []int64{f.install, f.html}},
		{"metadata, two keys", nubiq.DocumentSearch{Metadata: map[string]string{"product": "agent", "audience": "admin"}}, []int64{f.install}},
		{"metadata array element", nubiq.DocumentSearch{Metadata: map[string]string{"tags": "faq"}}, []int64{f.html}},
		{"metadata without a match", nubiq.DocumentSearch{Metadata: map[string]string{"product": "Agent"}}, nil},
		{"mime type", nubiq.DocumentSearch{MimeType: "text/html"}, []int64{f.html}},
		{"updated before", nubiq.DocumentSearch{Updated: nubiq.TimeRange{To: cut}}, []int64{f.billing}},
		{"updated after", nubiq.DocumentSearch{Updated: nubiq.TimeRange{From: cut}}, []int64{f.install, f.html}},
	}
	for _, tt := range tests {
		for _, mode := range nubiq.SearchModes {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				p := tt.p
				p.Query, p.Mode = "agent installer invoices", mode
				res, err := f.env.Service.Documents(ctx, f.ws, p)
				require.NoError(t, err)
				require.ElementsMatch(t, tt.want, docIDs(res))
			})
		}
	}
}

func TestDocumentSearchValidation(t *testing.T) {
	f := newDocFixture(t)
	tests := []struct {
		p     nubiq.DocumentSearch
		field string
	}{
		{nubiq.DocumentSearch{Query: "  "}, "query"},
		{nubiq.DocumentSearch{Query: "x", Mode: "fuzzy"}, "mode"},
		{nubiq.DocumentSearch{Query: "x", Limit: 101}, "limit"},
		{nubiq.DocumentSearch{Query: "x", Limit: -1}, "limit"},
		{nubiq.DocumentSearch{Query: "x", DocumentIDs: []int64{0}}, "document_ids"},
		{nubiq.DocumentSearch{Query: "x", Metadata: map[string]string{"": "v"}}, "metadata"},
	}
	for _, tt := range tests {
		_, err := f.env.Service.Documents(context.Background(), f.ws, tt.p)
		require.Equal(t, nubiq.ECodeInvalid, nubiq.ErrorCode(err), "%+v", tt.p)
		require.Equal(t, tt.field, nubiq.ErrorField(err))
	}
	// Stop words only: a valid query that matches nothing by keyword.
	res := f.search(t, nubiq.DocumentSearch{Query: "the of and", Mode: nubiq.SearchKeyword})
	require.Empty(t, res.Results)
	// Query syntax is not interpreted.
	res = f.search(t, nubiq.DocumentSearch{Query: `+title:"agent" -billing AND OR *`, Mode: nubiq.SearchKeyword})
	require.Contains(t, docIDs(res), f.billing)
}

// A document deleted in Postgres but still in a lagging index is not returned.
func TestDocumentSearchDropsRowsGoneFromTheDatabase(t *testing.T) {
	f := newDocFixture(t)
	f.env.Stop() // the index no longer follows the database
	searchtest.Exec(t, f.env.DB, `DELETE FROM documents WHERE id = $1`, f.install)
	searchtest.Exec(t, f.env.DB, `UPDATE documents SET mime_type = 'text/plain' WHERE id = $1`, f.html)
	env := searchtest.New(t, f.env.DB, searchtest.WithDir(f.env.Dir), searchtest.WithIndexes(func(c *searchindex.Config) { c.PollInterval = time.Hour }))
	res, err := env.Service.Documents(context.Background(), f.ws, nubiq.DocumentSearch{Query: "installer", Mode: nubiq.SearchKeyword, MimeType: "text/html"})
	require.NoError(t, err)
	require.Empty(t, res.Results)
}

func TestDocumentSearchLanguage(t *testing.T) {
	env := searchtest.New(t, nil)
	ws := searchtest.Workspace(t, env.DB, "acme")
	fr := env.AddDocument(t, ws, searchtest.Doc{Title: "Mot de passe", Language: "fr", Text: "Les utilisateurs changent leur mot de passe."})
	en := env.AddDocument(t, ws, searchtest.Doc{Title: "Users", Text: "Users change their passwords."})
	env.Sync(t)
	res, err := env.Service.Documents(context.Background(), ws, nubiq.DocumentSearch{Query: "utilisateur", Mode: nubiq.SearchKeyword})
	require.NoError(t, err)
	require.Equal(t, []int64{fr}, docIDs(res), "French stemming of the French document")
	require.Contains(t, res.Results[0].Snippet, "**utilisateurs**")
	res, err = env.Service.Documents(context.Background(), ws, nubiq.DocumentSearch{Query: "changing password", Mode: nubiq.SearchKeyword})
	require.NoError(t, err)
	require.Equal(t, []int64{en}, docIDs(res), "English stemming by default")
}
