package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type keyHeader struct{ key string }

func (k keyHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+k.key)
	return http.DefaultTransport.RoundTrip(r)
}

// TestSecretsNeverLogged runs the real server with debug logging and does what exposes
// secrets if anything does: calls with valid, unknown, revoked and malformed keys and with a
// key in the URL, failing and succeeding tool calls, channels holding SMTP passwords and
// webhook secrets, deliveries that fail. No key secret, channel secret or password appears in
// the logs, in tool answers, or in the audit and usage rows; a token in a webhook URL (part of
// the channel's visible configuration) does not appear in the logs.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dbURL := pgtest.URL(t)
	f := &serveFlags{addr: "127.0.0.1:0", shutdownTimeout: 5 * time.Second, maxBodyBytes: "16777216"}
	f.db.URL = dbURL
	f.db.DataDir = t.TempDir()
	sctx, cancel := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(sctx, f, logger, ready) }()
	var base string
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)

	db, err := postgres.Open(ctx, postgres.Config{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ws, err := db.CreateWorkspace(ctx, "Acme", "pro")
	if err != nil {
		t.Fatal(err)
	}
	newKey := func(scopes ...nubiq.Scope) (*nubiq.APIKey, string) {
		k, s, err := db.CreateAPIKey(ctx, postgres.CreateKeyParams{WorkspaceID: ws.ID, Name: "k", Scopes: scopes, ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return k, s
	}
	_, key := newKey(nubiq.AllScopes...)
	_, narrow := newKey(nubiq.ScopeTicketsRead)
	revokedKey, revoked := newKey(nubiq.AllScopes...)
	if _, err := db.RevokeAPIKey(ctx, ws.ID, revokedKey.ID); err != nil {
		t.Fatal(err)
	}
	const smtpPassword = "smtp-pa55word-Zq81"
	const webhookSecret = "whsec-Zq81-very-secret"
	const urlToken = "tok-in-url-Zq81"
	mail, err := db.CreateChannel(ctx, ws.ID, postgres.CreateChannelParams{Kind: "email", Name: "Mail",
		Config:  map[string]any{"host": "127.0.0.1", "port": 1, "from": "help@acme.test", "tls": "none"},
		Secrets: map[string]string{"username": "help", "password": smtpPassword}})
	if err != nil {
		t.Fatal(err)
	}
	hook, err := db.CreateChannel(ctx, ws.ID, postgres.CreateChannelParams{Kind: "sms", Name: "SMS",
		Config:  map[string]any{"webhook_url": "http://127.0.0.1:1/hook?token=" + urlToken},
		Secrets: map[string]string{"webhook_secret": webhookSecret}})
	if err != nil {
		t.Fatal(err)
	}
	unknown := postgres.NewKeySecret() // well-formed, never issued
	secrets := map[string]string{"key": key, "narrow key": narrow, "revoked key": revoked, "unknown key": unknown,
		"SMTP password": smtpPassword, "webhook secret": webhookSecret, "URL token": urlToken}
	// The part of a key after its displayed prefix is the secret part: it must not appear either.
	for name, s := range map[string]string{"key": key, "narrow key": narrow, "revoked key": revoked, "unknown key": unknown} {
		secrets[name+" (tail)"] = s[len(s)-16:]
	}

	client := func(k string) *sdk.ClientSession {
		c := sdk.NewClient(&sdk.Implementation{Name: "t", Version: "1"}, nil)
		cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: base + "/api/mcp/", HTTPClient: &http.Client{Transport: keyHeader{k}}}, nil)
		if err != nil {
			return nil
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	var answers strings.Builder
	call := func(cs *sdk.ClientSession, tool string, args map[string]any) {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
		if err != nil {
			answers.WriteString(err.Error())
			return
		}
		for _, c := range res.Content {
			if tc, ok := c.(*sdk.TextContent); ok {
				answers.WriteString(tc.Text)
			}
		}
	}
	cs := client(key)
	if cs == nil {
		t.Fatal("could not connect with a valid key")
	}
	call(cs, "channels.list", nil)
	call(cs, "channels.get", map[string]any{"id": mail.ID})
	call(cs, "channels.get", map[string]any{"id": hook.ID})
	call(cs, "channels.send", map[string]any{"channel_id": mail.ID, "recipient": "bob@example.com", "subject": "s", "body": "b"})
	call(cs, "channels.send", map[string]any{"channel_id": hook.ID, "recipient": "+14155550100", "body": "b"})
	call(cs, "tickets.create", map[string]any{"subject": "uses " + key[:8]})
	call(cs, "tickets.create", map[string]any{"subject": 7})
	call(cs, "team.invite", map[string]any{"email": "new@acme.test", "role": "agent"})
	call(cs, "no.such.tool", nil)
	if n := client(narrow); n != nil {
		call(n, "tickets.create", map[string]any{"subject": "s"})
	}
	for _, k := range []string{revoked, unknown, key + "x", "Bearer " + key, strings.ToUpper(key)} {
		if c := client(k); c != nil {
			t.Errorf("connected with a bad key")
		}
	}
	for _, u := range []string{base + "/api/mcp/?api_key=" + key, base + "/api/mcp/?token=" + unknown} {
		res, err := http.Post(u, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			answers.Write(b)
		}
	}
	// Let the deliveries fail (SMTP refused, webhook to a refused address) and get logged.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var queued int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM outbound_messages WHERE workspace_id = $1 AND status = 'queued' AND attempts = 0`, ws.ID).Scan(&queued); err != nil {
			t.Fatal(err)
		}
		if queued == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()

	var rows strings.Builder
	for _, q := range []string{`SELECT string_agg(x::text, '|') FROM audit_log x`, `SELECT string_agg(x::text, '|') FROM usage_counters x`,
		`SELECT string_agg(x::text, '|') FROM api_keys x`, `SELECT string_agg(x::text, '|') FROM outbound_messages x`,
		`SELECT string_agg(x::text, '|') FROM channels x`, `SELECT string_agg(x::text, '|') FROM notification_events x`} {
		var s *string
		if err := db.Pool.QueryRow(ctx, q).Scan(&s); err != nil {
			t.Fatal(err)
		}
		if s != nil {
			rows.WriteString(*s)
		}
	}
	out := logs.String()
	if len(out) < 500 || !strings.Contains(out, `"level":"DEBUG"`) {
		t.Fatalf("debug logs were not captured (%d bytes)", len(out))
	}
	for name, s := range secrets {
		for where, text := range map[string]string{"logs": out, "tool answers": answers.String(), "database rows": rows.String()} {
			if name == "URL token" && where != "logs" {
				continue // part of the channel's configuration, shown by design; never logged
			}
			if strings.Contains(text, s) {
				i := strings.Index(text, s)
				t.Errorf("%s found in %s: …%s…", name, where, text[max(0, i-200):min(len(text), i+len(s)+50)])
			}
		}
	}
	t.Logf("scanned %d bytes of logs, %d of answers, %d of rows for %d secrets", len(out), answers.Len(), rows.Len(), len(secrets))
}
