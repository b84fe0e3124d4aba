package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

// cli runs a nubiq command line as a user would and returns what it printed.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	var buf bytes.Buffer
	old := stdout
	stdout = &buf
	defer func() { stdout = old }()
	if code := run(context.Background(), args); code != 0 {
		t.Fatalf("nubiq %s: exit %d\n%s", strings.Join(args, " "), code, buf.String())
	}
	return buf.String()
}

// startServer runs `nubiq serve` on a fresh database and returns its base URL and the
// database URL; the server stops when the test ends, and stopped() waits for that.
func startServer(t *testing.T) (base, dbURL string, stop func()) {
	t.Helper()
	dbURL = pgtest.URL(t)
	f := &serveFlags{addr: "127.0.0.1:0", shutdownTimeout: 5 * time.Second, maxBodyBytes: "16777216"}
	f.db.URL = dbURL
	f.db.DataDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, f, slog.New(slog.DiscardHandler), ready) }()
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start in 30s")
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	return base, dbURL, stop
}

// serve wires the limiter, the key cache and the background flush: responses carry the rate
// headers, and key use reaches the database by shutdown at the latest.
func TestServeWiresRateLimitsAndKeyUse(t *testing.T) {
	base, dbURL, stop := startServer(t)
	cli(t, "workspaces", "create", "--name", "Acme", "--plan", "enterprise", "--database-url", dbURL)
	key := strings.TrimSpace(cli(t, "keys", "create", "--workspace", "Acme", "--name", "k", "--scopes", "all", "--quiet", "--database-url", dbURL))

	for _, path := range []string{"/api/mcp", "/api/mcp/"} {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("X-RateLimit-Limit-Minute") != "300" || res.Header.Get("X-RateLimit-Limit-Day") != "100000" {
			t.Fatalf("%s: %d %v %s", path, res.StatusCode, res.Header, body)
		}
	}
	stop()

	db, err := postgres.Open(context.Background(), postgres.Config{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, _ := db.FindWorkspace(context.Background(), "Acme")
	keys, _ := db.ListAPIKeys(context.Background(), w.ID)
	if len(keys) != 1 || keys[0].LastUsedAt == nil {
		t.Fatalf("after shutdown the key's last use was not written: %+v", keys[0])
	}
}

func TestServeEndpointSettings(t *testing.T) {
	for _, tc := range []struct {
		origins, body string
		want          []string
		wantBody      int64
		bad           string
	}{
		{origins: "", body: "16777216", wantBody: 16777216},
		{origins: " https://app.example.com/ , http://localhost:3000", body: "1048576", want: []string{"https://app.example.com", "http://localhost:3000"}, wantBody: 1048576},
		{origins: "*", body: "2048", want: []string{"*"}, wantBody: 2048},
		{origins: "app.example.com", body: "2048", bad: `"app.example.com" is not an origin`},
		{origins: "https://app.example.com/path", body: "2048", bad: "is not an origin"},
		{body: "16MB", bad: `NUBIQ_MAX_BODY_BYTES): "16MB" is not a number of bytes`},
		{body: "100", bad: "at least 1024"},
	} {
		f := &serveFlags{allowedOrigins: tc.origins, maxBodyBytes: tc.body}
		origins, body, err := f.mcpConfig()
		if tc.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("%q/%q: %v, want an error saying %q", tc.origins, tc.body, err, tc.bad)
			}
			continue
		}
		if err != nil || strings.Join(origins, " ") != strings.Join(tc.want, " ") || body != tc.wantBody {
			t.Errorf("%q/%q: %v %d %v", tc.origins, tc.body, origins, body, err)
		}
	}
}
