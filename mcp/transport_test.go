package mcp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/mcp/mcptest"
)

func TestForeignOriginRefused(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil, mcptest.WithHandlerConfig(func(c *mcp.HandlerConfig) {
		c.AllowedOrigins = []string{"https://app.example.com"}
	}))
	key := env.Key(t, env.Workspace(t, "Acme", "pro"))
	for _, tc := range []struct {
		origin string
		status int
	}{
		{"https://evil.example", http.StatusForbidden},
		{"http://app.example.com", http.StatusForbidden}, // scheme matters
		{"https://app.example.com", http.StatusOK},
		{env.Server.URL, http.StatusOK}, // the server's own origin
		{"", http.StatusOK},             // not a browser
	} {
		r := post(t, env.URL, key, toolsList, map[string]string{"Origin": tc.origin})
		if r.Status != tc.status {
			t.Errorf("Origin %q: %d, want %d: %s", tc.origin, r.Status, tc.status, r.Body)
			continue
		}
		if tc.status == http.StatusForbidden {
			if e := r.errorBody(t); e["code"] != nubiq.ECodeForbidden || !strings.Contains(e["message"].(string), tc.origin) {
				t.Errorf("Origin %q: body %s", tc.origin, r.Body)
			}
		}
	}
}

// chunked hides its length, so the request goes out with Transfer-Encoding: chunked.
type chunked struct{ io.Reader }

func TestBodyOverLimitIs413WithAndWithoutContentLength(t *testing.T) {
	t.Parallel()
	var sawChunked atomic.Int32
	env := mcptest.New(t, nil, mcptest.WithHandlerConfig(func(c *mcp.HandlerConfig) {
		c.MaxBodyBytes = 4096
		c.Before = func(_ http.ResponseWriter, r *http.Request, _ *nubiq.Caller) bool {
			if r.ContentLength == -1 && slices.Contains(r.TransferEncoding, "chunked") {
				sawChunked.Add(1)
			}
			return true
		}
	}))
	key := env.Key(t, env.Workspace(t, "Acme", "pro"))
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"tickets.create","arguments":{"subject":"` + strings.Repeat("x", 5000) + `"}}}`
	for name, body := range map[string]any{
		"with Content-Length":       big,
		"chunked, no length":        chunked{strings.NewReader(big)},
		"chunked, just over":        chunked{strings.NewReader(strings.Repeat(" ", 4097))},
		"Content-Length, just over": strings.Repeat(" ", 4097),
	} {
		r := post(t, env.URL, key, body, nil)
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: %d, want 413: %s", name, r.Status, r.Body)
			continue
		}
		if e := r.errorBody(t); e["code"] != nubiq.ECodeTooLarge || !strings.Contains(e["message"].(string), "4096 bytes") {
			t.Errorf("%s: body %s", name, r.Body)
		}
	}
	// At the limit, chunked or not, the request goes through.
	ok := toolsList + strings.Repeat(" ", 4096-len(toolsList))
	for name, body := range map[string]any{"sized": ok, "chunked": chunked{strings.NewReader(ok)}} {
		if r := post(t, env.URL, key, body, nil); r.Status != http.StatusOK {
			t.Errorf("%s body of exactly the limit: %d %s", name, r.Status, r.Body)
		}
	}
	if n := sawChunked.Load(); n != 3 {
		t.Errorf("%d requests arrived chunked without a length, want 3", n)
	}
}

// Both /api/mcp and /api/mcp/ answer, and responses stream as SSE when the client accepts it.
func TestBothPathsAnswerAndSSEStaysAvailable(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	key := env.Key(t, env.Workspace(t, "Acme", "pro"))
	for _, url := range []string{env.Server.URL + "/api/mcp", env.Server.URL + "/api/mcp/"} {
		r := post(t, url, key, toolsList, nil)
		if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("%s: %d %s %s", url, r.Status, r.Header.Get("Content-Type"), r.Body)
		}
		if res, rerr := r.message(t); rerr != nil || !strings.Contains(string(res), "conversations.list") {
			t.Fatalf("%s: %s", url, r.Body)
		}
	}
}

var legacyVersions = []string{"2025-03-26", "2025-06-18", "2025-11-25"}

const modernVersion = "2026-07-28"

// Raw JSON-RPC over HTTP, as any client would send it: the initialize handshake of each legacy
// version, and server/discover with per-request metadata for 2026-07-28.
func TestProtocolErasOverRawJSONRPC(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	key := env.Key(t, env.Workspace(t, "Acme", "pro"), nubiq.ScopeTicketsRead)
	wantTools := []string{"tickets.list", "tickets.get"}

	toolNames := func(t *testing.T, res json.RawMessage) []string {
		var lr struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		}
		if err := json.Unmarshal(res, &lr); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tl := range lr.Tools {
			names = append(names, tl.Name)
		}
		return names
	}

	for _, v := range legacyVersions {
		t.Run(v, func(t *testing.T) {
			r := post(t, env.URL, key, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"`+v+`","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`, nil)
			res, rerr := r.message(t)
			var init struct {
				ProtocolVersion string `json:"protocolVersion"`
				ServerInfo      struct{ Name string }
			}
			if rerr != nil || json.Unmarshal(res, &init) != nil || init.ProtocolVersion != v || init.ServerInfo.Name != "nubiq-hub" {
				t.Fatalf("initialize %s: %d %s", v, r.Status, r.Body)
			}
			hdr := map[string]string{"Mcp-Protocol-Version": v}
			if r := post(t, env.URL, key, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, hdr); r.Status != http.StatusAccepted {
				t.Fatalf("notifications/initialized: %d %s", r.Status, r.Body)
			}
			r = post(t, env.URL, key, toolsList, hdr)
			res, rerr = r.message(t)
			if rerr != nil || !slices.Equal(toolNames(t, res), wantTools) {
				t.Fatalf("tools/list at %s: %s", v, r.Body)
			}
			r = post(t, env.URL, key, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"tickets.create","arguments":{}}}`, hdr)
			res, rerr = r.message(t)
			if rerr != nil || !strings.Contains(string(res), `"isError":true`) || !strings.Contains(string(res), "tickets:write") {
				t.Fatalf("refused tools/call at %s: %s", v, r.Body)
			}
		})
	}

	t.Run(modernVersion, func(t *testing.T) {
		meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"` + modernVersion + `","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
		hdr := func(method, name string) map[string]string {
			h := map[string]string{"Mcp-Protocol-Version": modernVersion, "Mcp-Method": method}
			if name != "" {
				h["Mcp-Name"] = name
			}
			return h
		}
		r := post(t, env.URL, key, `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{`+meta+`}}`, hdr("server/discover", ""))
		res, rerr := r.message(t)
		var disc struct {
			SupportedVersions []string `json:"supportedVersions"`
		}
		if rerr != nil || json.Unmarshal(res, &disc) != nil {
			t.Fatalf("server/discover: %d %s", r.Status, r.Body)
		}
		for _, v := range append(legacyVersions, modernVersion) {
			if !slices.Contains(disc.SupportedVersions, v) {
				t.Errorf("server/discover does not list %s: %v", v, disc.SupportedVersions)
			}
		}
		r = post(t, env.URL, key, `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{`+meta+`}}`, hdr("tools/list", ""))
		res, rerr = r.message(t)
		if rerr != nil || !slices.Equal(toolNames(t, res), wantTools) {
			t.Fatalf("tools/list: %s", r.Body)
		}
		// The list depends on the key: no shared cache may keep it.
		if !strings.Contains(string(res), `"cacheScope":"private"`) {
			t.Errorf("tools/list is not marked private: %s", res)
		}
		r = post(t, env.URL, key, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"tickets.list","arguments":{},`+meta+`}}`, hdr("tools/call", "tickets.list"))
		if res, rerr = r.message(t); rerr != nil || strings.Contains(string(res), `"forbidden"`) {
			t.Fatalf("tools/call: %s", r.Body)
		}
	})
}

// The official Go client in each era.
func TestProtocolErasWithGoClient(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	key := env.Key(t, env.Workspace(t, "Acme", "pro"), nubiq.ScopeTicketsRead)
	for _, v := range append(legacyVersions, modernVersion) {
		t.Run(v, func(t *testing.T) {
			cs := env.ClientVersion(t, key, v)
			if got := cs.InitializeResult().ProtocolVersion; got != v {
				t.Fatalf("negotiated %s, want %s", got, v)
			}
			res, err := cs.ListTools(context.Background(), nil)
			if err != nil || len(res.Tools) != 2 {
				t.Fatalf("tools/list: %v, %v", res, err)
			}
			cr, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "tickets.create", Arguments: map[string]any{}})
			if err != nil || !cr.IsError {
				t.Fatalf("tools/call: %v, %v", cr, err)
			}
		})
	}
}

// An unknown method gets JSON-RPC's "method not found" (-32601) in both protocol eras, and an
// unknown notification is acknowledged with 202, never a plain-text 400.
func TestUnknownMethodsAndNotifications(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil, mcptest.WithRateLimits(nil))
	key := env.Key(t, env.Workspace(t, "Acme", "pro"))
	for _, era := range []string{"2025-11-25", "2026-07-28"} {
		r := post(t, env.URL, key, `{"jsonrpc":"2.0","id":7,"method":"no/such/method"}`, map[string]string{"Mcp-Protocol-Version": era})
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: unknown method answered %d %q: %s", era, r.Status, r.Header.Get("Content-Type"), r.Body)
		}
		if _, rerr := r.message(t); rerr == nil || rerr.Code != -32601 {
			t.Errorf("%s: unknown method: %d %s, want error -32601", era, r.Status, r.Body)
		}
		if r.Header.Get("X-RateLimit-Limit-Minute") != "60" {
			t.Errorf("%s: rate-limit headers missing: %v", era, r.Header)
		}
		r = post(t, env.URL, key, `{"jsonrpc":"2.0","method":"notifications/no_such_thing"}`, map[string]string{"Mcp-Protocol-Version": era})
		if r.Status != http.StatusAccepted || len(r.Body) != 0 {
			t.Errorf("%s: unknown notification answered %d %s, want 202", era, r.Status, r.Body)
		}
	}
	// Other 400s of the SDK are left as they are.
	r := post(t, env.URL, key, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Mcp-Protocol-Version": "1999-01-01"})
	if r.Status != http.StatusBadRequest {
		t.Errorf("unsupported protocol version: %d %s, want 400", r.Status, r.Body)
	}
}
