package mcp_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/mcp/mcptest"
	"github.com/nubiq/hub/search/searchtest"
)

type searchEnv struct {
	mcp    *mcptest.Env
	node   *searchtest.Env
	ws     int64
	other  int64
	docs   []int64
	forDoc int64
}

func newSearchEnv(t *testing.T) *searchEnv {
	node := searchtest.New(t, nil)
	env := mcptest.New(t, node.DB, mcptest.WithDeps(func(d *mcp.Deps) { d.Search = node.Service }))
	s := &searchEnv{mcp: env, node: node}
	s.ws = env.Workspace(t, "acme", "pro")
	s.other = env.Workspace(t, "globex", "pro")
	s.docs = node.AddDocuments(t, s.ws,
		searchtest.Doc{Title: "Reset your password", SourceURL: "https://help.acme.test/password", Text: "Open Settings, then Security, and choose Reset password.",
			Metadata: map[string]any{"product": "app"}},
		searchtest.Doc{Title: "Invoices", Text: "Invoices are emailed monthly.\n\n---\n\nDownload past invoices from Billing."},
	)
	s.forDoc = node.AddDocument(t, s.other, searchtest.Doc{Title: "Reset your password (Globex)", Text: "Globex password reset."})
	conv := searchtest.AddConversation(t, node.DB, s.ws, searchtest.Conversation{Subject: "Password trouble"})
	searchtest.AddMessage(t, node.DB, s.ws, conv, searchtest.Message{Body: "I cannot reset my password."})
	searchtest.AddMessage(t, node.DB, s.ws, conv, searchtest.Message{AuthorType: "agent", Private: true, Body: "Known bug in the password reset flow."})
	searchtest.AddContact(t, node.DB, s.ws, searchtest.Contact{Name: "Ana Lima", Email: "ana@acme.test", Phone: "+55 11 91234 5678"})
	searchtest.AddContact(t, node.DB, s.other, searchtest.Contact{Name: "Ana Lima", Email: "ana@globex.test"})
	node.Sync(t)
	return s
}

func TestDocumentsSearchTool(t *testing.T) {
	s := newSearchEnv(t)
	cs := s.mcp.Client(t, s.mcp.Key(t, s.ws, nubiq.ScopeDocumentsRead))
	var out nubiq.DocumentSearchResult
	mcptest.MustCall(t, cs, "documents.search", map[string]any{"query": "how do I reset my password"}, &out)
	require.Equal(t, "hybrid", out.Mode)
	require.Equal(t, "hash", out.Embedder)
	require.NotEmpty(t, out.Results)
	top := out.Results[0]
	require.Equal(t, s.docs[0], top.DocumentID)
	require.Equal(t, "https://help.acme.test/password", top.SourceURL)
	require.Contains(t, top.Snippet, "**Reset** **password**")
	require.ElementsMatch(t, []string{"keyword", "semantic"}, top.FoundBy)
	for _, h := range out.Results {
		require.NotEqual(t, s.forDoc, h.DocumentID)
	}

	mcptest.MustCall(t, cs, "documents.search", map[string]any{"query": "invoices", "mode": "keyword", "chunks": true,
		"document_ids": []int64{s.docs[1]}, "updated_from": "2000-01-01T00:00:00Z"}, &out)
	require.Len(t, out.Results, 2)
	mcptest.MustCall(t, cs, "documents.search", map[string]any{"query": "password", "metadata": map[string]string{"product": "app"}, "mime_type": "text/markdown"}, &out)
	require.Len(t, out.Results, 1)

	for args, field := range map[string]string{
		`{"query": "x", "limit": 51}`:                 "limit",
		`{"query": "x", "mode": "vector"}`:            "mode",
		`{"query": ""}`:                               "query",
		`{"mode": "keyword"}`:                         "query",
		`{"query": "x", "updated_from": "yesterday"}`: "updated_from",
		`{"query": "x", "document_ids": "1"}`:         "document_ids",
		`{"query": "x", "sort": "date"}`:              "sort",
		`{"query": "x", "updated_from": "2026-02-01T00:00:00Z", "updated_to": "2026-01-01T00:00:00Z"}`: "updated_to",
	} {
		e := mcptest.MustFail(t, cs, "documents.search", json.RawMessage(args), nubiq.ECodeInvalid)
		require.Equal(t, field, e.Field, args)
	}
}

func TestConnectorSearchAndFetch(t *testing.T) {
	s := newSearchEnv(t)
	cs := s.mcp.Client(t, s.mcp.Key(t, s.ws, nubiq.ScopeDocumentsRead))
	var out struct {
		Results []struct{ ID, Title, URL string }
	}
	mcptest.MustCall(t, cs, "search", map[string]any{"query": "invoices"}, &out)
	require.NotEmpty(t, out.Results)
	for _, r := range out.Results {
		require.NotEmpty(t, r.URL)
		require.NotEqual(t, strconv.FormatInt(s.forDoc, 10), r.ID)
	}
	require.Equal(t, strconv.FormatInt(s.docs[1], 10), out.Results[0].ID)
	require.Equal(t, "Invoices", out.Results[0].Title)
	require.Equal(t, "nubiq://documents/"+out.Results[0].ID, out.Results[0].URL, "never empty")

	var doc struct {
		ID, Title, Text, URL string
		Metadata             map[string]any
	}
	mcptest.MustCall(t, cs, "fetch", map[string]any{"id": out.Results[0].ID}, &doc)
	require.Equal(t, out.Results[0].ID, doc.ID)
	require.Equal(t, "Invoices are emailed monthly.\n\nDownload past invoices from Billing.", doc.Text)
	require.Equal(t, "text/markdown", doc.Metadata["mime_type"])
	mcptest.MustCall(t, cs, "fetch", map[string]any{"id": strconv.FormatInt(s.docs[0], 10)}, &doc)
	require.Equal(t, "https://help.acme.test/password", doc.URL)
	require.Equal(t, map[string]any{"product": "app"}, doc.Metadata["document_metadata"])

	mcptest.MustFail(t, cs, "fetch", map[string]any{"id": strconv.FormatInt(s.forDoc, 10)}, nubiq.ECodeNotFound)
	mcptest.MustFail(t, cs, "fetch", map[string]any{"id": "999999"}, nubiq.ECodeNotFound)
	e := mcptest.MustFail(t, cs, "fetch", map[string]any{"id": "doc-1"}, nubiq.ECodeInvalid)
	require.Equal(t, "id", e.Field)

	// Scope: a key without documents:read sees neither tool.
	other := s.mcp.Client(t, s.mcp.Key(t, s.ws, nubiq.ScopeContactsRead))
	mcptest.MustFail(t, other, "search", map[string]any{"query": "x"}, nubiq.ECodeForbidden)
	mcptest.MustFail(t, other, "fetch", map[string]any{"id": "1"}, nubiq.ECodeForbidden)
}

func TestConversationsSearchTool(t *testing.T) {
	s := newSearchEnv(t)
	read := s.mcp.Client(t, s.mcp.Key(t, s.ws, nubiq.ScopeConversationsRead))
	var out nubiq.ConversationSearchResult
	mcptest.MustCall(t, read, "conversations.search", map[string]any{"query": "password", "status": "open"}, &out)
	require.Len(t, out.Results, 1)
	require.Len(t, out.Results[0].Matches, 1, "the private note is left out")
	require.Equal(t, "**Password** trouble", out.Results[0].SubjectSnippet)
	require.Equal(t, "Password trouble", out.Results[0].Conversation.Subject)

	e := mcptest.MustFail(t, read, "conversations.search", map[string]any{"query": "bug", "include_private": true}, nubiq.ECodeForbidden)
	require.Contains(t, e.Message, "conversations:write")

	write := s.mcp.Client(t, s.mcp.Key(t, s.ws, nubiq.ScopeConversationsRead, nubiq.ScopeConversationsWrite))
	mcptest.MustCall(t, write, "conversations.search", map[string]any{"query": "bug", "include_private": true}, &out)
	require.Len(t, out.Results, 1)
	require.True(t, out.Results[0].Matches[0].Private)

	for args, field := range map[string]string{
		`{"query": "x", "status": "done"}`:          "status",
		`{"query": "x", "created_after": "monday"}`: "created_after",
		`{"query": "x", "assignee": "member:x"}`:    "assignee",
		`{"query": "x", "channel_id": "7"}`:         "channel_id",
		`{"query": "x", "tag": " "}`:                "tag",
	} {
		e := mcptest.MustFail(t, read, "conversations.search", json.RawMessage(args), nubiq.ECodeInvalid)
		require.Equal(t, field, e.Field, args)
	}
	// Another workspace's key finds nothing of this one.
	otherKey := s.mcp.Client(t, s.mcp.Key(t, s.other, nubiq.ScopeConversationsRead, nubiq.ScopeConversationsWrite))
	mcptest.MustCall(t, otherKey, "conversations.search", map[string]any{"query": "password", "include_private": true}, &out)
	require.Empty(t, out.Results)
}

func TestContactsSearchTool(t *testing.T) {
	s := newSearchEnv(t)
	cs := s.mcp.Client(t, s.mcp.Key(t, s.ws, nubiq.ScopeContactsRead))
	var out nubiq.ContactSearchResult
	mcptest.MustCall(t, cs, "contacts.search", map[string]any{"phone": "(11) 91234-5678"}, &out)
	require.Len(t, out.Results, 1)
	require.Equal(t, "ana@acme.test", out.Results[0].Contact.Email)
	mcptest.MustCall(t, cs, "contacts.search", map[string]any{"name": "ana lima"}, &out)
	require.Len(t, out.Results, 1, "not the other workspace's Ana")
	mcptest.MustCall(t, cs, "contacts.search", map[string]any{"email": "@globex.test"}, &out)
	require.Empty(t, out.Results)
	e := mcptest.MustFail(t, cs, "contacts.search", map[string]any{}, nubiq.ECodeInvalid)
	require.Equal(t, "query", e.Field)
	e = mcptest.MustFail(t, cs, "contacts.search", map[string]any{"email": "ana"}, nubiq.ECodeInvalid)
	require.Equal(t, "email", e.Field)
}

func TestSearchToolsWithoutSearch(t *testing.T) {
	env := mcptest.New(t, nil)
	ws := env.Workspace(t, "acme", "pro")
	cs := env.Client(t, env.Key(t, ws))
	for tool, args := range map[string]any{
		"documents.search":     map[string]any{"query": "x"},
		"conversations.search": map[string]any{"query": "x"},
		"contacts.search":      map[string]any{"query": "x"},
		"search":               map[string]any{"query": "x"},
	} {
		mcptest.MustFail(t, cs, tool, args, nubiq.ECodeUnavailable)
	}
}

// The domain's own write paths feed the index: a conversation created by the store and a
// reply sent through conversations.reply become searchable, and a status change reaches the
// filters.
func TestConversationWritesReachSearch(t *testing.T) {
	s := newSearchEnv(t)
	ctx := context.Background()
	c, err := s.node.DB.CreateConversation(ctx, s.ws, nubiq.NewConversation{Subject: "Damaged parcel"})
	require.NoError(t, err)
	_, err = s.node.DB.AddMessage(ctx, s.ws, c.ID, nubiq.NewMessage{AuthorType: nubiq.AuthorContact, Body: "The box arrived crushed."})
	require.NoError(t, err)
	cs := s.mcp.Client(t, s.mcp.Key(t, s.ws, nubiq.ScopeConversationsRead, nubiq.ScopeConversationsWrite))
	mcptest.MustCall(t, cs, "conversations.reply", map[string]any{"id": c.ID, "body": "We are sending a replacement courier today."}, nil)
	mcptest.MustCall(t, cs, "conversations.update_status", map[string]any{"id": c.ID, "status": "resolved"}, nil)
	s.node.Sync(t)

	var out nubiq.ConversationSearchResult
	mcptest.MustCall(t, cs, "conversations.search", map[string]any{"query": "courier replacement", "status": "resolved"}, &out)
	require.Len(t, out.Results, 1)
	require.Equal(t, c.ID, out.Results[0].Conversation.ID)
	require.Equal(t, "agent", out.Results[0].Matches[0].AuthorType)
	mcptest.MustCall(t, cs, "conversations.search", map[string]any{"query": "crushed", "status": "open"}, &out)
	require.Empty(t, out.Results)
}
