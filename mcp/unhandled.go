package mcp

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// The SDK answers a JSON-RPC method it does not know, in the 2025 protocol era, with a
// plain-text HTTP 400 ("JSON RPC not handled: …"), which clients cannot read as a JSON-RPC
// answer. JSON-RPC says a request for an unknown method gets error -32601 (method not found)
// and an unknown notification is ignored; MCP's transport acknowledges a notification with
// 202. unhandledMethods rewrites exactly that answer of the SDK and lets every other through.

const sdkNotHandled = "JSON RPC not handled"

// unhandledWriter holds back a plain-text 400 until its body shows whether it is the SDK's
// "not handled" answer; anything else passes straight through.
type unhandledWriter struct {
	http.ResponseWriter
	body    []byte // the request's JSON-RPC message
	holding bool
	held    bytes.Buffer
	done    bool
}

func (u *unhandledWriter) WriteHeader(status int) {
	if status == http.StatusBadRequest && strings.HasPrefix(u.Header().Get("Content-Type"), "text/plain") {
		u.holding = true
		return
	}
	u.ResponseWriter.WriteHeader(status)
}

func (u *unhandledWriter) Write(p []byte) (int, error) {
	if !u.holding {
		return u.ResponseWriter.Write(p)
	}
	u.held.Write(p)
	return len(p), nil
}

func (u *unhandledWriter) Flush() {
	if f, ok := u.ResponseWriter.(http.Flusher); ok && !u.holding {
		f.Flush()
	}
}

func (u *unhandledWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// finish writes what was held back: the JSON-RPC answer for an unknown method, or the SDK's
// own 400 as it was.
func (u *unhandledWriter) finish() {
	if !u.holding || u.done {
		return
	}
	u.done = true
	text := u.held.String()
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if !strings.HasPrefix(text, sdkNotHandled) || json.Unmarshal(u.body, &msg) != nil || msg.Method == "" {
		u.ResponseWriter.WriteHeader(http.StatusBadRequest)
		u.ResponseWriter.Write(u.held.Bytes()) //nolint:errcheck
		return
	}
	h := u.Header()
	h.Del("Content-Type")
	h.Del("X-Content-Type-Options")
	if len(msg.ID) == 0 || string(msg.ID) == "null" {
		u.ResponseWriter.WriteHeader(http.StatusAccepted) // a notification: nothing to answer
		return
	}
	out, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": msg.ID,
		"error": map[string]any{"code": -32601, "message": "method not found: " + strconv.Quote(msg.Method)}})
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	u.ResponseWriter.WriteHeader(http.StatusOK)
	u.ResponseWriter.Write(out) //nolint:errcheck
}
