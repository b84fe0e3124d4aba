package mcp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp/mcptest"
)

// clock is a settable clock for rate-limit windows and key expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// response is a raw HTTP answer from the endpoint.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// rpcError is a JSON-RPC error object.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// message is the JSON-RPC message of a response, whether sent as JSON or as an SSE stream.
func (r response) message(t *testing.T) (result json.RawMessage, rerr *rpcError) {
	t.Helper()
	body := r.Body
	if strings.HasPrefix(r.Header.Get("Content-Type"), "text/event-stream") {
		body = nil
		sc := bufio.NewScanner(bytes.NewReader(r.Body))
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				body = []byte(d) // the last message is the response; earlier ones are notifications
			}
		}
	}
	var m struct {
		Result json.RawMessage `json:"result"`
		Error  *rpcError       `json:"error"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("response %d is not JSON-RPC: %v\n%s", r.Status, err, r.Body)
	}
	return m.Result, m.Error
}

// errorBody decodes a non-MCP error answer {"error":{…}}.
func (r response) errorBody(t *testing.T) map[string]any {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error answer %d has Content-Type %q: %s", r.Status, ct, r.Body)
	}
	var m struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &m); err != nil || m.Error == nil {
		t.Fatalf("error answer %d is not {\"error\":{…}}: %v: %s", r.Status, err, r.Body)
	}
	return m.Error
}

// post sends one raw JSON-RPC message as an MCP client would.
func post(t *testing.T, url, key string, body any, header map[string]string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

const toolsList = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`

// listNames lists the tools a key sees, in order, over the Go client.
func listNames(t *testing.T, env *mcptest.Env, key string) []string {
	t.Helper()
	res, err := env.Client(t, key).ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	return names
}

func without(all []nubiq.Scope, s nubiq.Scope) []nubiq.Scope {
	var out []nubiq.Scope
	for _, x := range all {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}
