package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nubiq/hub"
)

type bearerTransport struct{ key string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

// callTool calls a tool on the running server and decodes its structured result; a tool
// error fails the test.
func callTool(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any, out any) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	b, _ := json.Marshal(res.StructuredContent)
	if res.IsError {
		t.Fatalf("%s: tool error %s", name, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v (%s)", name, err, b)
	}
}

// The whole knowledge-base path on one real server: documents.upload queues a River job,
// the node's workers extract, chunk and embed, the node's search indexes follow the index
// log, and documents.search finds the passage in every mode; a new version replaces the
// old text and a deleted document leaves the results.
func TestUploadIngestSearchEndToEnd(t *testing.T) {
	base, dbURL, _ := startServer(t)
	cli(t, "workspaces", "create", "--name", "Acme", "--plan", "enterprise", "--database-url", dbURL)
	key := strings.TrimSpace(cli(t, "keys", "create", "--workspace", "Acme", "--name", "e2e",
		"--scopes", "documents:read,documents:write", "--quiet", "--database-url", dbURL))
	ctx := context.Background()
	client := sdk.NewClient(&sdk.Implementation{Name: "e2e", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{
		Endpoint: base + "/api/mcp/", HTTPClient: &http.Client{Transport: bearerTransport{key}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	docs := map[string]string{
		"refunds":  "# Refunds\n\n## Card payments\n\nRefunds to a credit card reach the cardholder within five business days of approval.",
		"shipping": "# Shipping\n\nParcels leave the warehouse in Rotterdam every weekday; tracking numbers arrive by email.",
		"password": "# Account\n\n## Resetting a password\n\nUse the forgotten password link on the sign-in page to receive a reset email.",
	}
	ids := map[string]int64{}
	for ext, content := range docs {
		var up nubiq.UploadResult
		callTool(t, cs, "documents.upload", map[string]any{"title": ext, "external_id": ext, "content": content, "mime_type": "text/markdown"}, &up)
		ids[ext] = up.DocumentID
	}
	waitReady := func() {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var list struct{ Documents []nubiq.Document }
			callTool(t, cs, "documents.list", map[string]any{}, &list)
			ready := 0
			for _, d := range list.Documents {
				if d.Status == "failed" {
					t.Fatalf("document %d failed: %+v", d.ID, d)
				}
				if d.Status == "ready" {
					ready++
				}
			}
			if ready == len(list.Documents) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("documents not ready after 60s: %+v", list.Documents)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// search polls until the top hit is want (0: until nothing matches), since the node's
	// keyword index follows commits asynchronously.
	search := func(query, mode string, want int64) nubiq.DocumentSearchResult {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var res nubiq.DocumentSearchResult
			callTool(t, cs, "documents.search", map[string]any{"query": query, "mode": mode}, &res)
			top := int64(0)
			if len(res.Results) > 0 {
				top = res.Results[0].DocumentID
			}
			if top == want && (want != 0 || len(res.Results) == 0) {
				return res
			}
			if time.Now().After(deadline) {
				t.Fatalf("documents.search %q (%s): top document %d, want %d: %+v", query, mode, top, want, res.Results)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	waitReady()
	for _, mode := range []string{"keyword", "semantic", "hybrid"} {
		res := search("refunds credit card business days", mode, ids["refunds"])
		if mode != "semantic" && !strings.Contains(res.Results[0].Snippet, "**") {
			t.Errorf("%s: snippet marks no matched words: %q", mode, res.Results[0].Snippet)
		}
		if got := strings.Join(res.Results[0].HeadingPath, " > "); got != "Refunds > Card payments" {
			t.Errorf("%s: heading path %q", mode, got)
		}
	}
	search("reset forgotten password", "hybrid", ids["password"])

	// A new version: the old wording disappears from keyword search, the new one is found.
	var up nubiq.UploadResult
	callTool(t, cs, "documents.upload", map[string]any{"title": "shipping", "external_id": "shipping",
		"content": "# Shipping\n\nOrders now ship from the Lisbon depot with courier pickup at noon.", "mime_type": "text/markdown"}, &up)
	if up.DocumentID != ids["shipping"] || up.Version != 2 {
		t.Fatalf("new version: %+v", up)
	}
	waitReady()
	search("lisbon depot courier", "keyword", ids["shipping"])
	search("rotterdam warehouse", "keyword", 0)

	var del struct{ Deleted bool }
	callTool(t, cs, "documents.delete", map[string]any{"document_id": ids["password"]}, &del)
	if !del.Deleted {
		t.Fatal("documents.delete: not deleted")
	}
	search("reset forgotten password", "keyword", 0)
	// Vectors live in Postgres: the deleted document's are gone with it, at once.
	var res nubiq.DocumentSearchResult
	callTool(t, cs, "documents.search", map[string]any{"query": "reset forgotten password", "mode": "semantic"}, &res)
	for _, h := range res.Results {
		if h.DocumentID == ids["password"] {
			t.Fatalf("semantic search still returns the deleted document: %+v", res.Results)
		}
	}
}
