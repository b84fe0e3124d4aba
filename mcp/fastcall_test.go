package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres/pgtest"
)

// TestFastCallAnswersAsTheSDK sends the same requests to the endpoint with and without the
// fast path and requires the same answers, and checks which requests the fast path takes.
func TestFastCallAnswersAsTheSDK(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	ws, err := db.CreateWorkspace(ctx, "fast", "pro")
	require.NoError(t, err)
	tk, err := db.CreateTicket(ctx, ws.ID, nubiq.NewTicket{
		Subject:     `Quotes " and \ backslash, <b>tags</b> & ampersands`,
		Description: "unicode: ünïcødé ✓, line\nbreak, tab\t, separator \u2028 end",
		Tags:        []string{"vip"}, CustomFields: map[string]string{"k": `v"1`},
	}, time.Now())
	require.NoError(t, err)

	reg := NewRegistry(&Deps{DB: db})
	exp := time.Now().Add(time.Hour)
	auth := staticAuth{
		"all":     {WorkspaceID: ws.ID, Scopes: nubiq.AllScopes, ExpiresAt: exp},
		"tickets": {WorkspaceID: ws.ID, Scopes: []nubiq.Scope{nubiq.ScopeTicketsRead}, ExpiresAt: exp},
	}
	viaSDK := NewHandler(HandlerConfig{Registry: reg, Auth: auth, sdkOnly: true})
	withFast := NewHandler(HandlerConfig{Registry: reg, Auth: auth})
	fast := newFastCaller(reg, nil)

	meta26 := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	call := func(id, name, args string, extra ...string) string {
		p := `"name":"` + name + `","arguments":` + args
		for _, e := range extra {
			p += "," + e
		}
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{` + p + `}}`
	}
	getTicket := `{"id":` + jsonInt(tk.ID) + `}`
	type tc struct {
		name    string
		key     string
		version string // Mcp-Protocol-Version; "-" sends none
		headers map[string]string
		body    string
		fast    bool // whether the fast path answers it
	}
	var cases []tc
	for _, v := range []string{"-", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"} {
		var meta []string
		if v == "2026-07-28" {
			meta = []string{meta26}
		}
		cases = append(cases,
			tc{"ticket " + v, "all", v, nil, call("1", "tickets.get", getTicket, meta...), true},
			tc{"string id " + v, "all", v, nil, call(`"req-7"`, "tickets.get", getTicket, meta...), true},
			tc{"not found " + v, "all", v, nil, call("2", "tickets.get", `{"id":999999}`, meta...), true},
			tc{"invalid " + v, "all", v, nil, call("3", "tickets.get", `{"id":"x"}`, meta...), true},
			tc{"unknown field " + v, "all", v, nil, call("4", "tickets.get", `{"id":1,"nope":2}`, meta...), true},
			tc{"no arguments " + v, "all", v, nil, strings.Replace(call("5", "conversations.list", `{}`, meta...), `"arguments":{}`, `"arguments":null`, 1), true},
			tc{"list " + v, "all", v, nil, call("6", "conversations.list", `{}`, meta...), true},
			tc{"forbidden " + v, "tickets", v, nil, call("7", "conversations.list", `{}`, meta...), true},
			tc{"placeholder " + v, "all", v, nil, call("8", "billing.usage", `{}`, meta...), true},
			tc{"unknown tool " + v, "all", v, nil, call("9", "no.such.tool", `{}`, meta...), false},
			tc{"tools/list " + v, "all", v, nil, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + strings.Join(meta, "") + `}}`, false},
			tc{"batch " + v, "all", v, nil, "[" + call("1", "tickets.get", getTicket, meta...) + "]", false},
			tc{"notification " + v, "all", v, nil, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, false},
			tc{"task " + v, "all", v, nil, call("1", "tickets.get", getTicket, append(meta, `"task":{"ttl":1000}`)...), false},
		)
	}
	withNames := map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "tickets.get"}
	cases = append(cases,
		tc{"accept all", "all", "2025-11-25", map[string]string{"Accept": "*/*"}, call("1", "tickets.get", getTicket), true},
		tc{"json only", "all", "2025-11-25", map[string]string{"Accept": "application/json"}, call("1", "tickets.get", getTicket), false},
		tc{"text/plain body", "all", "2025-11-25", map[string]string{"Content-Type": "text/plain"}, call("1", "tickets.get", getTicket), false},
		tc{"unknown version", "all", "1999-01-01", nil, call("1", "tickets.get", getTicket), false},
		tc{"2025 with new meta", "all", "2025-11-25", nil, call("1", "tickets.get", getTicket, meta26), false},
		tc{"2026 without meta", "all", "2026-07-28", withNames, call("1", "tickets.get", getTicket), false},
		tc{"2026 without capabilities", "all", "2026-07-28", withNames, call("1", "tickets.get", getTicket,
			`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}`), false},
		tc{"2026 meta version mismatch", "all", "2026-07-28", withNames, call("1", "tickets.get", getTicket,
			strings.Replace(meta26, `protocolVersion":"2026-07-28"`, `protocolVersion":"2025-11-25"`, 1)), false},
		tc{"2026 without Mcp-Name", "all", "2026-07-28", map[string]string{"Mcp-Method": "tools/call"}, call("1", "tickets.get", getTicket, meta26), false},
		tc{"2026 wrong Mcp-Name", "all", "2026-07-28", map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "tickets.list"}, call("1", "tickets.get", getTicket, meta26), false},
		tc{"null id", "all", "2025-11-25", nil, call("null", "tickets.get", getTicket), false},
		// A stateless server ignores session ids, unless MCPGODEBUG brings legacy sessions
		// back; then only the SDK knows what to answer.
		tc{"session id", "all", "2025-11-25", map[string]string{"Mcp-Session-Id": "abc"}, call("1", "tickets.get", getTicket), false},
		tc{"bad json", "all", "2025-11-25", nil, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{`, false},
	)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			newReq := func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/api/mcp/", strings.NewReader(c.body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Accept", "application/json, text/event-stream")
				r.Header.Set("Authorization", "Bearer "+c.key)
				if c.version != "-" {
					r.Header.Set("Mcp-Protocol-Version", c.version)
				}
				if c.version == "2026-07-28" && c.headers == nil {
					r.Header.Set("Mcp-Method", "tools/call")
					var p struct {
						Params struct{ Name string } `json:"params"`
					}
					json.Unmarshal([]byte(c.body), &p) //nolint:errcheck
					r.Header.Set("Mcp-Name", p.Params.Name)
				}
				for k, v := range c.headers {
					r.Header.Set(k, v)
				}
				return r
			}

			// Which path answers it.
			r := newReq()
			rec := httptest.NewRecorder()
			took := fast.serve(rec, r, []byte(c.body), auth[c.key])
			require.Equal(t, c.fast, took, "fast path taken")
			if !took {
				rest, _ := io.ReadAll(r.Body)
				require.Equal(t, c.body, string(rest), "the body must be left intact for the SDK")
				require.Zero(t, rec.Body.Len())
			}

			// And the endpoint answers the same either way.
			want := httptest.NewRecorder()
			viaSDK.ServeHTTP(want, newReq())
			got := httptest.NewRecorder()
			withFast.ServeHTTP(got, newReq())
			require.Equal(t, want.Code, got.Code, "status; body %s", got.Body)
			// Every header alike, but the length (the fast path knows it, the SDK streams) and
			// the SDK's Connection: keep-alive, which HTTP/1.1 means anyway and HTTP/2 forbids.
			wantH, gotH := want.Header().Clone(), got.Header().Clone()
			for _, h := range []string{"Content-Length", "Connection"} {
				gotH.Del(h)
				wantH.Del(h)
			}
			require.Equal(t, wantH, gotH, "headers")
			require.Equal(t, decodeAnswer(t, want), decodeAnswer(t, got))
		})
	}
}

// decodeAnswer returns the JSON-RPC message of an answer (SSE or plain JSON) as generic
// values, with the text content decoded too, so that equal answers compare equal whatever
// their escaping.
func decodeAnswer(t *testing.T, rec *httptest.ResponseRecorder) any {
	t.Helper()
	body := rec.Body.Bytes()
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
		var data []byte
		for _, line := range bytes.Split(body, []byte("\n")) {
			if v, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
				data = append(data, v...)
			}
		}
		body = data
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return string(body) // plain-text errors compare as text
	}
	if m, ok := v.(map[string]any); ok {
		if res, ok := m["result"].(map[string]any); ok {
			if content, ok := res["content"].([]any); ok && len(content) > 0 {
				if c0, ok := content[0].(map[string]any); ok {
					var inner any
					if s, ok := c0["text"].(string); ok && json.Unmarshal([]byte(s), &inner) == nil {
						c0["text"] = inner
					}
				}
			}
		}
	}
	return v
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestAppendEscaped(t *testing.T) {
	for _, in := range []string{``, `{}`, `{"a":"b"}`, `{"q":"say \"hi\"","p":"C:\\dir"}`, "\x01\x1f", `plain`} {
		got := appendEscaped(nil, []byte(in))
		var back string
		require.NoError(t, json.Unmarshal([]byte(`"`+string(got)+`"`), &back), "%q", got)
		require.Equal(t, in, back)
	}
}
