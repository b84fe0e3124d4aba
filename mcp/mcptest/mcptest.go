// Package mcptest runs a real Nubiq Hub MCP endpoint on a fresh database for tests: a real
// HTTP server, real API keys, and the official Go MCP client.
package mcptest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

// Env is a running MCP endpoint on its own database.
type Env struct {
	DB       *postgres.DB
	Deps     *mcp.Deps
	Registry *mcp.Registry
	// Auth verifies keys; tests call Auth.Flush to write recorded key uses.
	Auth   *mcp.KeyAuthenticator
	Server *httptest.Server
	// URL is the endpoint, ending in /api/mcp/.
	URL string
}

// Option adjusts the environment before the server starts.
type Option func(*Env, *mcp.HandlerConfig)

// WithDeps lets a test add dependencies (search, River, clock) to the tools.
func WithDeps(f func(*mcp.Deps)) Option { return func(e *Env, _ *mcp.HandlerConfig) { f(e.Deps) } }

// WithHandlerConfig lets a test adjust the handler (origins, body limit, rate limiter).
func WithHandlerConfig(f func(*mcp.HandlerConfig)) Option {
	return func(_ *Env, c *mcp.HandlerConfig) { f(c) }
}

// WithRateLimits enables plan rate limits, with windows taken from now (nil: the real clock).
// They are off by default so that tests of tools may call as often as they need.
func WithRateLimits(now func() time.Time) Option {
	return func(e *Env, c *mcp.HandlerConfig) { c.Limiter = &mcp.RateLimiter{DB: e.DB, Now: now} }
}

// New starts an endpoint on a fresh migrated database (db may be given to share one).
func New(t testing.TB, db *postgres.DB, opts ...Option) *Env {
	t.Helper()
	if db == nil {
		db = pgtest.NewDB(t)
	}
	e := &Env{DB: db, Deps: &mcp.Deps{DB: db}, Auth: &mcp.KeyAuthenticator{DB: db}}
	cfg := mcp.HandlerConfig{Auth: e.Auth}
	for _, o := range opts {
		o(e, &cfg)
	}
	e.Registry = mcp.NewRegistry(e.Deps)
	cfg.Registry = e.Registry
	mux := http.NewServeMux()
	h := mcp.NewHandler(cfg)
	mux.Handle("/api/mcp/", h)
	mux.Handle("/api/mcp", h)
	e.Server = httptest.NewServer(mux)
	t.Cleanup(e.Server.Close)
	e.URL = e.Server.URL + "/api/mcp/"
	return e
}

// Workspace creates a workspace on plan ("pro" or "enterprise") and returns its id.
func (e *Env) Workspace(t testing.TB, name, plan string) int64 {
	t.Helper()
	w, err := e.DB.CreateWorkspace(context.Background(), name, plan)
	if err != nil {
		t.Fatalf("create workspace: %v", err)
	}
	return w.ID
}

// Key creates an API key in the workspace with the given scopes (all when none given) and
// returns its secret.
func (e *Env) Key(t testing.TB, workspaceID int64, scopes ...nubiq.Scope) string {
	t.Helper()
	if len(scopes) == 0 {
		scopes = nubiq.AllScopes
	}
	_, secret, err := e.DB.CreateAPIKey(context.Background(), postgres.CreateKeyParams{
		WorkspaceID: workspaceID, Name: "test", Scopes: scopes, ExpiresAt: time.Now().Add(24 * time.Hour),
	})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return secret
}

type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// Client connects the official Go MCP client with key, at the newest protocol version.
func (e *Env) Client(t testing.TB, key string) *sdk.ClientSession {
	t.Helper()
	return e.ClientVersion(t, key, "")
}

// ClientVersion connects the official Go MCP client with key at a protocol version: those
// before 2026-07-28 use the initialize handshake, later ones server/discover.
func (e *Env) ClientVersion(t testing.TB, key, version string) *sdk.ClientSession {
	t.Helper()
	c := sdk.NewClient(&sdk.Implementation{Name: "mcptest", Version: "1"}, nil)
	tr := &sdk.StreamableClientTransport{Endpoint: e.URL, HTTPClient: &http.Client{Transport: bearer{key, http.DefaultTransport}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, tr, &sdk.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// Result is a tool call's outcome: the structured result, or the tool error.
type Result struct {
	JSON  json.RawMessage
	Error *mcp.ToolErrorBody
}

// Call calls a tool over MCP and returns its structured result or tool error; protocol
// failures fail the test.
func Call(t testing.TB, cs *sdk.ClientSession, tool string, args any) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", tool, err)
	}
	text := ""
	if len(res.Content) > 0 {
		if tc, ok := res.Content[0].(*sdk.TextContent); ok {
			text = tc.Text
		}
	}
	if res.IsError {
		var te mcp.ToolError
		if err := json.Unmarshal([]byte(text), &te); err != nil {
			t.Fatalf("call %s: tool error is not JSON: %s", tool, text)
		}
		return Result{Error: &te.Error}
	}
	return Result{JSON: json.RawMessage(text)}
}

// MustCall calls a tool and fails the test on a tool error, decoding the result into out.
func MustCall(t testing.TB, cs *sdk.ClientSession, tool string, args any, out any) {
	t.Helper()
	r := Call(t, cs, tool, args)
	if r.Error != nil {
		t.Fatalf("call %s: %s: %s (field %q)", tool, r.Error.Code, r.Error.Message, r.Error.Field)
	}
	if out != nil {
		if err := json.Unmarshal(r.JSON, out); err != nil {
			t.Fatalf("call %s: decode %s: %v", tool, r.JSON, err)
		}
	}
}

// MustFail calls a tool and fails the test unless it returns a tool error with code.
func MustFail(t testing.TB, cs *sdk.ClientSession, tool string, args any, code string) *mcp.ToolErrorBody {
	t.Helper()
	r := Call(t, cs, tool, args)
	if r.Error == nil {
		t.Fatalf("call %s: want %s error, got result %s", tool, code, r.JSON)
	}
	if r.Error.Code != code {
		t.Fatalf("call %s: want %s error, got %s: %s", tool, code, r.Error.Code, r.Error.Message)
	}
	return r.Error
}
