package bench

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// httpFloor is the tool section's second floor: a bare net/http server that answers the very
// requests the MCP clients send by replaying the statements the tool sent for those
// arguments and writing a fixed JSON-RPC result as one SSE event. It has no authentication,
// scopes, rate limit, validation or encoding of rows: what it costs above the pgx loop is what
// HTTP on loopback costs, with the same client, on the same machine.
type httpFloor struct {
	URL  string
	srv  *http.Server
	done chan struct{}
}

func startHTTPFloor(pool *pgxpool.Pool, stmts map[string][]statement) (*httpFloor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var req struct {
			ID     json.RawMessage `json:"id"`
			Params struct {
				Arguments json.RawMessage `json:"arguments"`
			} `json:"params"`
		}
		if err == nil {
			err = json.Unmarshal(body, &req)
		}
		s, ok := stmts[string(req.Params.Arguments)]
		if err != nil || !ok {
			http.Error(w, "unknown arguments", http.StatusBadRequest)
			return
		}
		if err := replay(r.Context(), pool, s); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out := `event: message` + "\n" + `data: {"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":{"content":[],"structuredContent":{}}}` + "\n\n"
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		io.WriteString(w, out) //nolint:errcheck
	})
	f := &httpFloor{URL: "http://" + ln.Addr().String() + "/api/mcp/", srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.srv.Serve(ln) //nolint:errcheck
	}()
	return f, nil
}

func (f *httpFloor) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f.srv.Shutdown(ctx) //nolint:errcheck
	<-f.done
}
