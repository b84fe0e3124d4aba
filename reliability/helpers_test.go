package reliability_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub/importer"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/mcp/mcptest"
	"github.com/nubiq/hub/search/searchtest"
)

// rawClient speaks JSON-RPC over HTTP to the endpoint directly, so that every answer can be
// classified: HTTP status, JSON-RPC error, tool error or result.
type rawClient struct {
	url, key string
	http     *http.Client
	id       atomic.Int64
}

func newRawClient(url, key string) *rawClient {
	return &rawClient{url: url, key: key, http: &http.Client{Timeout: 15 * time.Second}}
}

// outcome is one answer of the endpoint.
type outcome struct {
	Status     int    // HTTP status; 0 when the request failed in transport
	RetryAfter string // Retry-After header
	Transport  error  // no HTTP answer at all
	RPCError   string // JSON-RPC error message
	ToolCode   string // tool error code ("" when the tool succeeded)
	ToolMsg    string
	ToolField  string
	Result     json.RawMessage // structured tool result
	Body       []byte
	Took       time.Duration
}

func (o outcome) ok() bool {
	return o.Status == 200 && o.RPCError == "" && o.ToolCode == "" && o.Transport == nil
}

func (o outcome) String() string {
	switch {
	case o.Transport != nil:
		return "transport error: " + o.Transport.Error()
	case o.Status != 200:
		return fmt.Sprintf("HTTP %d: %.300s", o.Status, o.Body)
	case o.RPCError != "":
		return "JSON-RPC error: " + o.RPCError
	case o.ToolCode != "":
		return fmt.Sprintf("tool error %s (field %q): %.300s", o.ToolCode, o.ToolField, o.ToolMsg)
	}
	return fmt.Sprintf("ok: %.200s", o.Result)
}

// call calls a tool; args may be any JSON-encodable value or a json.RawMessage.
func (c *rawClient) call(ctx context.Context, tool string, args any) outcome {
	a, err := json.Marshal(args)
	if err != nil {
		panic(err)
	}
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, c.id.Add(1), tool, a)
	return c.post(ctx, []byte(body))
}

// post sends a raw body.
func (c *rawClient) post(ctx context.Context, body []byte) outcome {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	res, err := c.http.Do(req)
	if err != nil {
		return outcome{Transport: err, Took: time.Since(start)}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	o := outcome{Status: res.StatusCode, RetryAfter: res.Header.Get("Retry-After"), Body: b, Took: time.Since(start)}
	if err != nil {
		o.Transport = err
		return o
	}
	if res.StatusCode != 200 {
		return o
	}
	msg := b
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		msg = nil
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				msg = []byte(d)
			}
		}
	}
	var m struct {
		Result *struct {
			IsError bool `json:"isError"`
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
			Structured json.RawMessage `json:"structuredContent"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		o.RPCError = "unparseable response: " + err.Error()
		return o
	}
	switch {
	case m.Error != nil:
		o.RPCError = m.Error.Message
	case m.Result == nil:
		o.RPCError = "response without result"
	case m.Result.IsError:
		var te struct {
			Error struct{ Code, Message, Field string } `json:"error"`
		}
		if len(m.Result.Content) > 0 {
			json.Unmarshal([]byte(m.Result.Content[0].Text), &te) //nolint:errcheck
		}
		o.ToolCode, o.ToolMsg, o.ToolField = te.Error.Code, te.Error.Message, te.Error.Field
		if o.ToolCode == "" {
			o.ToolCode = "?"
			if len(m.Result.Content) > 0 {
				o.ToolMsg = m.Result.Content[0].Text
			}
		}
	default:
		o.Result = m.Result.Structured
	}
	return o
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// seeded is an endpoint with search running, over demo workspaces whose documents are indexed.
type seeded struct {
	env  *mcptest.Env
	node *searchtest.Env
	ws   map[string]int64
}

// newSeeded seeds a demo workspace per name, runs ingest until their documents are ready,
// and waits for the search node to catch up.
func newSeeded(t *testing.T, opts []mcptest.Option, names ...string) *seeded {
	t.Helper()
	ctx := context.Background()
	node := searchtest.New(t, nil)
	opts = append(opts, mcptest.WithDeps(func(d *mcp.Deps) { d.Search = node.Service }))
	s := &seeded{env: mcptest.New(t, node.DB, opts...), node: node, ws: map[string]int64{}}
	runner, err := jobs.NewRunner(&jobs.Deps{DB: node.DB, Embedder: node.Embedder}, jobs.Config{FetchCooldown: 10 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, runner.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		runner.Stop(sctx) //nolint:errcheck
	})
	now := time.Now().UTC().Truncate(time.Hour)
	for _, name := range names {
		res, err := importer.SeedDemo(ctx, node.DB, name, now)
		require.NoError(t, err)
		s.ws[name] = res.Workspace.ID
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, id := range s.ws {
		require.NoError(t, node.DB.WaitDocuments(wctx, id, 20*time.Millisecond))
	}
	node.Sync(t)
	return s
}
