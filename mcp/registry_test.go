package mcp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nubiq/hub"
)

type staticAuth map[string]*nubiq.Caller

func (a staticAuth) Authenticate(_ context.Context, token string) (*nubiq.Caller, error) {
	if c, ok := a[token]; ok {
		return c, nil
	}
	return nil, nubiq.Errorf(nubiq.ECodeUnauthorized, "unknown API key")
}

type headerRT struct {
	token string
	base  http.RoundTripper
}

func (h headerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+h.token)
	return h.base.RoundTrip(r)
}

func connect(t *testing.T, url, token string) *sdk.ClientSession {
	t.Helper()
	client := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	tr := &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: headerRT{token, http.DefaultTransport}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func TestToolsListFilteredAndCallsRefusedByScope(t *testing.T) {
	reg := NewRegistry(&Deps{})
	exp := time.Now().Add(time.Hour)
	h := NewHandler(HandlerConfig{Registry: reg, Auth: staticAuth{
		"tickets": {WorkspaceID: 1, Scopes: []nubiq.Scope{nubiq.ScopeTicketsRead}, ExpiresAt: exp},
	}})
	srv := httptest.NewServer(h)
	defer srv.Close()

	cs := connect(t, srv.URL, "tickets")
	ctx := context.Background()
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
		b, _ := json.Marshal(tl.InputSchema)
		if strings.Contains(string(b), `"null"`) {
			t.Errorf("%s: input schema has a null union: %s", tl.Name, b)
		}
	}
	if strings.Join(names, ",") != "tickets.get,tickets.list" && strings.Join(names, ",") != "tickets.list,tickets.get" {
		t.Fatalf("tools/list = %v, want the two tickets:read tools", names)
	}

	cr, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "tickets.create", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	text := cr.Content[0].(*sdk.TextContent).Text
	if !cr.IsError || !strings.Contains(text, "tickets:write") || !strings.Contains(text, "forbidden") {
		t.Fatalf("call without scope: isError=%v %s", cr.IsError, text)
	}
}
