package mcp

import (
	"context"
	"testing"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

func TestKeyCacheIsBounded(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	w, err := db.CreateWorkspace(ctx, "Acme", "pro")
	if err != nil {
		t.Fatal(err)
	}
	a := &KeyAuthenticator{DB: db, CacheSize: 4}
	for i := range 10 {
		_, secret, err := db.CreateAPIKey(ctx, postgres.CreateKeyParams{WorkspaceID: w.ID, Name: "k", Scopes: nubiq.AllScopes, ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		c, err := a.Authenticate(ctx, secret)
		if err != nil || c.WorkspaceID != w.ID || c.PerMinute != 60 || c.PerDay != 10000 || c.Plan != "pro" {
			t.Fatalf("key %d: %+v, %v", i, c, err)
		}
		a.mu.Lock()
		n := len(a.cache)
		a.mu.Unlock()
		if n > 4 {
			t.Fatalf("cache holds %d keys, bound 4", n)
		}
	}
	if a.ttl() != MaxKeyCacheTTL {
		t.Errorf("default TTL %v", a.ttl())
	}
	a.CacheTTL = time.Minute // a longer TTL would delay revocations: capped
	if a.ttl() != MaxKeyCacheTTL {
		t.Errorf("TTL %v is not capped at %v", a.ttl(), MaxKeyCacheTTL)
	}
}
