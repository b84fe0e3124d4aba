package mcp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nubiq/hub"
)

// FuzzHandlerJSONRPC throws arbitrary bodies at the real MCP handler: whatever arrives, the
// answer is a well-formed HTTP response (never a panic, never a 5xx from the transport).
func FuzzHandlerJSONRPC(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"f","version":"1"}}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"tickets.list","arguments":{"limit":"x"}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"tickets.list","arguments":[1,2]}}`,
		`{"jsonrpc":"2.0","id":5,"method":"server/discover"}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}`,
		`{"id":1}`, `null`, `[]`, `{`, "\xff\xfe", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\u0000"}}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	} {
		f.Add(seed)
	}
	reg := NewRegistry(&Deps{})
	h := NewHandler(HandlerConfig{Registry: reg, MaxBodyBytes: 1 << 16, Auth: staticAuth{
		"k": {WorkspaceID: 1, Scopes: nubiq.AllScopes, ExpiresAt: time.Now().Add(time.Hour)},
	}})
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/api/mcp/", bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer k")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("MCP-Protocol-Version", "2025-06-18")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body.String())
		}
		io.Copy(io.Discard, rec.Body)
	})
}

// FuzzToolArguments decodes arbitrary argument objects for every tool's input type: a clear
// error or a value, never a panic.
func FuzzToolArguments(f *testing.F) {
	for _, seed := range []string{`{}`, `{"limit":5}`, `{"limit":"5"}`, `{"cursor":"abc"}`, `{"unknown":1}`,
		`{"status":["open"]}`, `{"id":1e400}`, `{"id":-1}`, `{"metadata":{"a":"b"}}`, `null`, `[]`, `"x"`, `{"a":` + `"` + string(bytes.Repeat([]byte("é"), 1000)) + `"}`} {
		f.Add(seed)
	}
	reg := NewRegistry(&Deps{})
	f.Fuzz(func(t *testing.T, args string) {
		for _, tool := range reg.Tools() {
			v := newInput(tool)
			err := decodeArgs(json.RawMessage(args), v, tool.InputSchema)
			if err != nil && nubiq.ErrorCode(err) != nubiq.ECodeInvalid {
				t.Fatalf("%s: decode error with code %q: %v", tool.Name, nubiq.ErrorCode(err), err)
			}
		}
	})
}

// FuzzCursor: any string given as a cursor is either a valid position or an invalid-input error.
func FuzzCursor(f *testing.F) {
	f.Add("")
	f.Add(nubiq.Cursor{Kind: "tickets", Time: time.Unix(1e9, 0), ID: 7}.Encode())
	f.Add("eyJrIjoidGlja2V0cyIsImkiOjF9")
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := nubiq.DecodeCursor("tickets", s)
		if err != nil && nubiq.ErrorField(err) != "cursor" {
			t.Fatalf("cursor %q: unexpected error %v", s, err)
		}
		if err == nil && s != "" && (c == nil || c.Kind != "tickets") {
			t.Fatalf("cursor %q decoded to %+v", s, c)
		}
	})
}
