package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/nubiq/hub"
)

// Stateless tools/call requests are answered here, without the SDK, when they are plain: one
// JSON-RPC request, a known tool, a protocol version we know. The SDK builds a whole session
// per stateless request (connection, goroutines, several decodes of the body through 32 KiB
// buffers, the result encoded and re-compacted three times); for a tool that reads one row
// that was most of the server's CPU per call (see BENCHMARKS.md). Everything else — other
// methods, batches, unknown tools, unknown versions, anything unusual in the envelope — goes
// to the SDK, which also answers every error of the protocol itself, so that there is one
// authority for those. The answers are the SDK's, field for field (fastcall_test.go compares
// them). A tool answered here cannot send notifications before its result: no tool does.

// The server's identity, as serverInfo tells clients.
const (
	serverName  = "nubiq-hub"
	serverTitle = "Nubiq Hub"
)

// fastCaller answers plain stateless tool calls.
type fastCaller struct {
	reg        *Registry
	logger     *slog.Logger
	serverInfo json.RawMessage // the SDK's Implementation, as 2026-07-28 results carry it
}

func newFastCaller(reg *Registry, logger *slog.Logger) *fastCaller {
	info, _ := json.Marshal(map[string]string{"name": serverName, "title": serverTitle, "version": Version})
	return &fastCaller{reg: reg, logger: logger, serverInfo: info}
}

// Protocol versions: the 2025 era negotiates with initialize, which a stateless server does
// not need; 2026-07-28 carries version, client info and capabilities in every request's _meta.
const protocolVersionMeta = "2026-07-28"

var legacyProtocolVersions = map[string]bool{"": true, "2024-11-05": true, "2025-03-26": true, "2025-06-18": true, "2025-11-25": true}

type fastRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  *fastParams     `json:"params"`
}

type fastParams struct {
	Name      string                     `json:"name"`
	Arguments json.RawMessage            `json:"arguments"`
	Meta      map[string]json.RawMessage `json:"_meta"`
	// Present only in requests the SDK must handle (tasks, multi-round-trip input).
	Task           json.RawMessage `json:"task"`
	InputResponses json.RawMessage `json:"inputResponses"`
	RequestState   json.RawMessage `json:"requestState"`
}

const (
	metaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	metaClientInfo         = "io.modelcontextprotocol/clientInfo"
	metaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
	metaServerInfo         = "io.modelcontextprotocol/serverInfo"
)

// serve answers r, whose body the handler has already read (bounded) into body, if it is a
// plain tools/call, and reports whether it did. It does not touch r.Body, which stays intact
// for the SDK.
func (f *fastCaller) serve(w http.ResponseWriter, r *http.Request, body []byte, caller *nubiq.Caller) bool {
	if r.Method != http.MethodPost || !isJSON(r.Header.Get("Content-Type")) || !acceptsJSONAndSSE(r.Header.Values("Accept")) {
		return false
	}
	if r.Header.Get("Mcp-Session-Id") != "" {
		return false // sessions are the SDK's (see MCPGODEBUG allowsessionsinstateless)
	}
	version := r.Header.Get("Mcp-Protocol-Version")
	if !legacyProtocolVersions[version] && version != protocolVersionMeta {
		return false
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return false // batches and garbage
	}
	var req fastRequest
	if json.Unmarshal(body, &req) != nil || req.JSONRPC != "2.0" || req.Method != "tools/call" || !plainID(req.ID) {
		return false
	}
	p := req.Params
	if p == nil || p.Task != nil || p.InputResponses != nil || p.RequestState != nil {
		return false
	}
	t := f.reg.byName[p.Name]
	if t == nil {
		return false
	}
	newEra := version == protocolVersionMeta
	if newEra {
		if !validMeta(p.Meta, version) || r.Header.Get("Mcp-Method") != "tools/call" || r.Header.Get("Mcp-Name") != p.Name {
			return false
		}
	} else if _, ok := p.Meta[metaProtocolVersion]; ok {
		return false
	}

	result := f.call(r.Context(), caller, t, p.Arguments) // Registry.Call checks the scope

	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuf(buf)
	buf.WriteString("event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":")
	buf.Write(req.ID)
	buf.WriteString(`,"result":{`)
	if newEra {
		buf.WriteString(`"_meta":{"` + metaServerInfo + `":`)
		buf.Write(f.serverInfo)
		buf.WriteString(`},`)
	}
	buf.Write(result)
	if newEra {
		buf.WriteString(`,"resultType":"complete"`)
	}
	buf.WriteString("}}\n\n")
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("Content-Length", strconv.Itoa(buf.Len())) // the whole stream is one event: no chunking
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away
	return true
}

// call runs the tool and returns the members of its CallToolResult, as the SDK writes them:
// the result as text content and as structured content, or the tool error.
func (f *fastCaller) call(ctx context.Context, caller *nubiq.Caller, t *Tool, args json.RawMessage) []byte {
	out, err := f.reg.Call(ctx, caller, t.Name, args)
	if err != nil {
		if nubiq.ErrorCode(err) == nubiq.ECodeInternal {
			f.logger.Error("tool failed", "tool", t.Name, "workspace", caller.WorkspaceID, "key", caller.KeyPrefix, "err", err)
		}
		return toolErrorJSON(err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		f.logger.Error("encode tool result", "tool", t.Name, "err", err)
		return toolErrorJSON(err)
	}
	res := make([]byte, 0, 2*len(b)+64)
	res = append(res, `"content":[{"type":"text","text":"`...)
	res = appendEscaped(res, b)
	res = append(res, `"}],"structuredContent":`...)
	res = append(res, b...)
	return res
}

func toolErrorJSON(err error) []byte {
	b, _ := json.Marshal(ToolError{Error: ToolErrorBody{
		Code: nubiq.ErrorCode(err), Message: nubiq.ErrorMessage(err), Field: nubiq.ErrorField(err),
	}})
	res := make([]byte, 0, 2*len(b)+64)
	res = append(res, `"content":[{"type":"text","text":"`...)
	res = appendEscaped(res, b)
	return append(res, `"}],"isError":true`...)
}

// appendEscaped appends JSON text as the inside of a JSON string. Compact output of
// encoding/json holds no raw control characters, so quotes and backslashes are all there is
// to escape; anything else below 0x20 is escaped anyway.
func appendEscaped(dst, js []byte) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i, c := range js {
		if c != '"' && c != '\\' && c >= 0x20 {
			continue
		}
		dst = append(dst, js[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	return append(dst, js[start:]...)
}

// plainID is a JSON-RPC request id: a string or a number (not null, not absent).
func plainID(id json.RawMessage) bool {
	if len(id) == 0 {
		return false
	}
	c := id[0]
	return c == '"' || c == '-' || (c >= '0' && c <= '9')
}

// validMeta checks the 2026-07-28 _meta triple the way the SDK does: the protocol version
// matching the header, client capabilities an object, client info absent or an object.
// Anything else goes to the SDK, which explains what is wrong.
func validMeta(meta map[string]json.RawMessage, version string) bool {
	var v string
	if json.Unmarshal(meta[metaProtocolVersion], &v) != nil || v != version {
		return false
	}
	if !isObject(meta[metaClientCapabilities]) {
		return false
	}
	if ci, ok := meta[metaClientInfo]; ok {
		var info struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		}
		if !isObject(ci) || json.Unmarshal(ci, &info) != nil {
			return false
		}
	}
	for k := range meta {
		switch k {
		case metaProtocolVersion, metaClientInfo, metaClientCapabilities:
		default:
			return false // log levels, subscriptions, progress tokens: the SDK's business
		}
	}
	return true
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '{'
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// acceptsJSONAndSSE mirrors the SDK's rule for stateless POSTs: both media types (or
// wildcards covering them) must be acceptable.
func acceptsJSONAndSSE(values []string) bool {
	var jsonOK, sseOK bool
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "application/json":
				jsonOK = true
			case "text/event-stream":
				sseOK = true
			case "application/*":
				jsonOK = true
			case "text/*":
				sseOK = true
			case "*/*":
				jsonOK, sseOK = true, true
			}
		}
	}
	return jsonOK && sseOK
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBuf(b *bytes.Buffer) {
	if b.Cap() > 1<<20 {
		return // let one huge answer go rather than keep its buffer
	}
	b.Reset()
	bufPool.Put(b)
}
