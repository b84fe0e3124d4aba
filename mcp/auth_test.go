package mcp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/mcp/mcptest"
	"github.com/nubiq/hub/postgres"
)

func TestUnauthorizedCasesSayWhich(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	ctx := context.Background()
	ws := env.Workspace(t, "Acme", "pro")

	revoked := env.Key(t, ws)
	keys, _ := env.DB.ListAPIKeys(ctx, ws)
	if _, err := env.DB.RevokeAPIKey(ctx, ws, keys[0].ID); err != nil {
		t.Fatal(err)
	}
	expired := env.Key(t, ws)
	if _, err := env.DB.Pool.Exec(ctx, `UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE hash = $1`, postgres.HashKey(expired)); err != nil {
		t.Fatal(err)
	}
	valid := env.Key(t, ws)

	for _, tc := range []struct {
		name, auth, url, reason, says string
	}{
		{name: "missing header", reason: mcp.ReasonMissing, says: "missing Authorization header"},
		{name: "not bearer", auth: "Basic dXNlcjpwYXNz", reason: mcp.ReasonMalformedHeader, says: "expected Bearer"},
		{name: "bearer without token", auth: "Bearer ", reason: mcp.ReasonMalformedHeader, says: "expected Bearer"},
		{name: "malformed key", auth: "Bearer sk-1234567890abcdef1234567890abcdef12", reason: mcp.ReasonMalformedKey, says: "malformed API key"},
		{name: "short key", auth: "Bearer nbq_short", reason: mcp.ReasonMalformedKey, says: "malformed API key"},
		{name: "unknown key", auth: "Bearer " + postgres.NewKeySecret(), reason: mcp.ReasonUnknown, says: "unknown API key"},
		{name: "expired key", auth: "Bearer " + expired, reason: mcp.ReasonExpired, says: "expired at"},
		{name: "revoked key", auth: "Bearer " + revoked, reason: mcp.ReasonRevoked, says: "was revoked"},
		{name: "key in query string", url: env.URL + "?api_key=" + valid, reason: mcp.ReasonInURL, says: "never in the URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := env.URL
			if tc.url != "" {
				url = tc.url
			}
			r := post(t, url, "", toolsList, map[string]string{"Authorization": tc.auth})
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", r.Status, r.Body)
			}
			wa := r.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(wa, "Bearer") || strings.Contains(wa, "resource_metadata") {
				t.Errorf("WWW-Authenticate = %q, want Bearer without resource_metadata", wa)
			}
			e := r.errorBody(t)
			if e["code"] != "unauthorized" || e["reason"] != tc.reason || !strings.Contains(e["message"].(string), tc.says) {
				t.Errorf("body %s, want code unauthorized, reason %s, message saying %q", r.Body, tc.reason, tc.says)
			}
			if strings.Contains(string(r.Body), valid) || (len(tc.auth) > 20 && strings.Contains(string(r.Body), strings.TrimPrefix(tc.auth, "Bearer "))) {
				t.Errorf("the answer repeats the key: %s", r.Body)
			}
		})
	}
	// The valid key passes, so the cases above fail for the reason given.
	if r := post(t, env.URL, valid, toolsList, nil); r.Status != http.StatusOK {
		t.Fatalf("valid key: %d %s", r.Status, r.Body)
	}
}

// A revoked key stops working on every server within 5 seconds, although each caches it.
func TestRevokedKeyRefusedByEveryServerWithin5s(t *testing.T) {
	t.Parallel()
	a := mcptest.New(t, nil)
	b := mcptest.New(t, a.DB)
	ctx := context.Background()
	ws := a.Workspace(t, "Acme", "pro")
	key := a.Key(t, ws)
	for _, env := range []*mcptest.Env{a, b} {
		if r := post(t, env.URL, key, toolsList, nil); r.Status != http.StatusOK {
			t.Fatalf("before revocation: %d %s", r.Status, r.Body)
		}
	}
	keys, _ := a.DB.ListAPIKeys(ctx, ws)
	revokedAt := time.Now()
	if _, err := a.DB.RevokeAPIKey(ctx, ws, keys[0].ID); err != nil {
		t.Fatal(err)
	}
	for i, env := range []*mcptest.Env{a, b} {
		for {
			r := post(t, env.URL, key, toolsList, nil)
			if r.Status == http.StatusUnauthorized && r.errorBody(t)["reason"] == mcp.ReasonRevoked {
				t.Logf("server %d refused the revoked key after %v", i+1, time.Since(revokedAt).Round(time.Millisecond))
				break
			}
			if time.Since(revokedAt) > 5*time.Second {
				t.Fatalf("server %d still answers %d to a key revoked 5s ago", i+1, r.Status)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// Expiry is checked against the clock on every request, not when the key was cached.
func TestExpiryCheckedOnEveryRequest(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	ws := env.Workspace(t, "Acme", "pro")
	key := env.Key(t, ws) // expires in 24h
	clk := newClock(time.Now())
	env.Auth.Now = clk.Now
	if r := post(t, env.URL, key, toolsList, nil); r.Status != http.StatusOK {
		t.Fatalf("fresh key: %d %s", r.Status, r.Body)
	}
	clk.Set(time.Now().Add(25 * time.Hour)) // the key is still in the cache
	r := post(t, env.URL, key, toolsList, nil)
	if r.Status != http.StatusUnauthorized || r.errorBody(t)["reason"] != mcp.ReasonExpired {
		t.Fatalf("expired key: %d %s", r.Status, r.Body)
	}
}

// Requests record last use in memory only; a flush writes it, in one statement for all keys.
func TestLastUsedWrittenInBatchesNotPerRequest(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	ctx := context.Background()
	ws := env.Workspace(t, "Acme", "pro")
	k1, k2 := env.Key(t, ws), env.Key(t, ws)
	base := time.Now().UTC().Truncate(time.Second) // keys expire in 24h
	clk := newClock(base)
	env.Auth.Now = clk.Now
	for range 3 {
		if r := post(t, env.URL, k1, toolsList, nil); r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	}
	clk.Set(clk.Now().Add(time.Second))
	post(t, env.URL, k2, toolsList, nil)

	lastUsed := func() map[string]*time.Time {
		keys, err := env.DB.ListAPIKeys(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]*time.Time{}
		for _, k := range keys {
			m[k.Prefix] = k.LastUsedAt
		}
		return m
	}
	for p, at := range lastUsed() {
		if at != nil {
			t.Fatalf("key %s: last_used_at written per request (%v) before any flush", p, at)
		}
	}
	if err := env.Auth.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := lastUsed()
	if at := got[k1[:12]]; at == nil || !at.Equal(base) {
		t.Errorf("key 1 last used %v", at)
	}
	if at := got[k2[:12]]; at == nil || !at.Equal(base.Add(time.Second)) {
		t.Errorf("key 2 last used %v", at)
	}

	// Run flushes periodically and once more when stopped.
	clk.Set(clk.Now().Add(time.Minute))
	post(t, env.URL, k1, toolsList, nil)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { env.Auth.Run(runCtx, time.Hour); close(done) }()
	stop()
	<-done
	if at := lastUsed()[k1[:12]]; at == nil || !at.Equal(base.Add(time.Minute+time.Second)) {
		t.Errorf("after Run stopped, key 1 last used %v, want the final flush to have written %v", at, base.Add(time.Minute+time.Second))
	}
}
