package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// TestShutdownFinishesInFlightRequests stops the server (what SIGTERM does) while a request's
// body is still arriving: the server stops accepting connections at once, the request in
// flight completes and its write is committed, and serve returns cleanly.
func TestShutdownFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base, dbURL, stop := startServer(t)
	db, err := postgres.Open(ctx, postgres.Config{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ws, err := db.CreateWorkspace(ctx, "Acme", "pro")
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := db.CreateAPIKey(ctx, postgres.CreateKeyParams{WorkspaceID: ws.ID, Name: "k", Scopes: nubiq.AllScopes, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/mcp/", pr)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	type answer struct {
		status int
		body   string
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		answered <- answer{res.StatusCode, string(b), err}
	}()
	if _, err := pw.Write([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"tickets.create","arguments":`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the server has the headers and waits for the body

	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("serve returned with a request in flight")
	default:
	}
	if _, err := (&http.Client{Transport: &http.Transport{}, Timeout: 2 * time.Second}).Get(base + "/healthz"); err == nil {
		t.Error("a new connection was accepted during shutdown")
	}

	if _, err := pw.Write([]byte(`{"subject":"in flight at shutdown"}}}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	var a answer
	select {
	case a = <-answered:
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight request got no answer")
	}
	if a.err != nil || a.status != 200 || !strings.Contains(a.body, "in flight at shutdown") || strings.Contains(a.body, `"isError":true`) {
		t.Fatalf("in-flight request: %d %v %s", a.status, a.err, a.body)
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after the last request finished")
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE workspace_id = $1 AND subject = 'in flight at shutdown'`, ws.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the in-flight write: %d rows, %v", n, err)
	}
}
