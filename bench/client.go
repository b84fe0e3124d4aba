package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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

// rpcClient is a deliberately thin MCP client: one stateless JSON-RPC POST per tool call over
// a kept-alive HTTP/1.1 connection per worker, written by hand and read with net/http's own
// response parser, and only enough decoding to tell success from failure. The client shares
// the machine with the server it measures, so it must cost little: the official client opens
// a session per connection, and net/http's Transport hands every request to two goroutines of
// its own.
type rpcClient struct {
	addr, path, host string
	key              string
	protocol         string
	conns            []*rawConn
}

type rawConn struct {
	c   net.Conn
	br  *bufio.Reader
	req bytes.Buffer
}

func newRPCClient(endpoint, key, protocol string, workers int) (*rpcClient, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	c := &rpcClient{addr: u.Host, path: u.RequestURI(), host: u.Host, key: key, protocol: protocol, conns: make([]*rawConn, workers)}
	return c, nil
}

func (c *rpcClient) close() {
	for _, rc := range c.conns {
		if rc != nil {
			rc.c.Close()
		}
	}
}

func (c *rpcClient) conn(worker int) (*rawConn, error) {
	if rc := c.conns[worker]; rc != nil {
		return rc, nil
	}
	nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	rc := &rawConn{c: nc, br: bufio.NewReaderSize(nc, 64<<10)}
	c.conns[worker] = rc
	return rc, nil
}

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

// call calls a tool on the worker's connection and returns its structured result; a tool
// error, a JSON-RPC error or an HTTP failure is an error. Each worker uses its own connection,
// so calls of one worker never overlap.
func (c *rpcClient) call(ctx context.Context, worker, id int, tool string, args json.RawMessage) (json.RawMessage, error) {
	rc, err := c.conn(worker)
	if err != nil {
		return nil, err
	}
	raw, err := c.roundTrip(rc, id, tool, args)
	if err != nil {
		rc.c.Close()
		c.conns[worker] = nil
		return nil, err
	}
	var r rpcResponse
	if err := json.Unmarshal(raw, &r); err != nil {
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

// roundTrip sends one request and returns the JSON-RPC message of the answer.
func (c *rpcClient) roundTrip(rc *rawConn, id int, tool string, args json.RawMessage) ([]byte, error) {
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

	req := &rc.req
	req.Reset()
	fmt.Fprintf(req, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"+
		"Authorization: Bearer %s\r\nMcp-Protocol-Version: %s\r\nMcp-Method: tools/call\r\nMcp-Name: %s\r\nContent-Length: %d\r\n\r\n",
		c.path, c.host, c.key, c.protocol, tool, body.Len())
	req.Write(body.Bytes())
	rc.c.SetDeadline(time.Now().Add(time.Minute)) //nolint:errcheck
	if _, err := rc.c.Write(req.Bytes()); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %s", tool, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		raw = sseData(raw)
	}
	return raw, nil
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
