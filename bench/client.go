package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MCP protocol eras the stateless endpoint answers without an initialize handshake: the
// 2025 era (Mcp-Protocol-Version header, plain params) and the 2026-07-28 era (per-request
// _meta carrying version, client info and capabilities, plus Mcp-Method and Mcp-Name headers).
const (
	protocol2025 = "2025-11-25"
	protocol2026 = "2026-07-28"
)

// rpcClient is a deliberately thin MCP client: one stateless JSON-RPC POST per tool call,
// kept-alive connections, and only enough decoding to tell success from failure. The
// official client would open a session per connection and measure itself.
type rpcClient struct {
	url      string
	key      string
	protocol string
	http     *http.Client
}

func newRPCClient(url, key, protocol string, conns int) *rpcClient {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &rpcClient{url: url, key: key, protocol: protocol, http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (c *rpcClient) close() { c.http.CloseIdleConnections() }

type rpcResponse struct {
	Result *struct {
		IsError           bool            `json:"isError"`
		StructuredContent json.RawMessage `json:"structuredContent"`
		Content           []struct {
			Text string `json:"text"`
		} `json:"content"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// call calls a tool and returns its structured result; a tool error, a JSON-RPC error or an
// HTTP failure is an error.
func (c *rpcClient) call(ctx context.Context, id int, tool string, args json.RawMessage) (json.RawMessage, error) {
	var body bytes.Buffer
	body.Grow(256 + len(args))
	body.WriteString(`{"jsonrpc":"2.0","id":`)
	body.WriteString(strconv.Itoa(id))
	body.WriteString(`,"method":"tools/call","params":{"name":`)
	name, _ := json.Marshal(tool)
	body.Write(name)
	body.WriteString(`,"arguments":`)
	body.Write(args)
	if c.protocol >= protocol2026 {
		body.WriteString(`,"_meta":{"io.modelcontextprotocol/protocolVersion":"` + c.protocol +
			`","io.modelcontextprotocol/clientInfo":{"name":"nubiq-bench","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`)
	}
	body.WriteString(`}}`)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, &body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Mcp-Protocol-Version", c.protocol)
	req.Header.Set("Mcp-Method", "tools/call")
	req.Header.Set("Mcp-Name", tool)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %s", tool, resp.StatusCode, bytes.TrimSpace(raw))
	}
	msg := raw
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		msg = sseData(raw)
	}
	var r rpcResponse
	if err := json.Unmarshal(msg, &r); err != nil {
		return nil, fmt.Errorf("%s: decode response %q: %w", tool, raw, err)
	}
	switch {
	case r.Error != nil:
		return nil, fmt.Errorf("%s: JSON-RPC error %d: %s", tool, r.Error.Code, r.Error.Message)
	case r.Result == nil:
		return nil, fmt.Errorf("%s: response without result: %s", tool, raw)
	case r.Result.IsError:
		text := ""
		if len(r.Result.Content) > 0 {
			text = r.Result.Content[0].Text
		}
		return nil, fmt.Errorf("%s: tool error: %s", tool, text)
	}
	return r.Result.StructuredContent, nil
}

// sseData returns the data of the first event of an SSE stream: a stateless tool call answers
// with one message event.
func sseData(stream []byte) []byte {
	var data []byte
	for len(stream) > 0 {
		line := stream
		if i := bytes.IndexByte(stream, '\n'); i >= 0 {
			line, stream = stream[:i], stream[i+1:]
		} else {
			stream = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			if data != nil {
				return data
			}
			continue
		}
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
		}
	}
	return data
}
