package mcp

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// KeyAuthenticator verifies API keys against the database by the SHA-256 of the secret: the
// database finds the row by hash, so no secret is ever compared in Go.
//
// Verified keys are cached for CacheTTL, so a revocation reaches every replica within that
// time; expiry is checked against the clock on every request. Unknown keys are not cached:
// each costs one indexed lookup.
//
// Uses are recorded in memory and written by Flush (Run calls it periodically and once more
// when stopping), so that last_used_at costs no database write per request.
//
// The zero value is usable once DB is set.
type KeyAuthenticator struct {
	DB *postgres.DB
	// Now is the clock expiry and last use are measured against; default time.Now.
	Now func() time.Time
	// CacheTTL is how long a verified key is trusted without reading it again. Default and
	// maximum 2s.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached keys. Default 10,000.
	CacheSize int
	Logger    *slog.Logger

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cachedKey
	used  map[int64]postgres.KeyUse
}

// MaxKeyCacheTTL bounds CacheTTL, so that revoking a key takes effect everywhere within
// seconds.
const MaxKeyCacheTTL = 2 * time.Second

type cachedKey struct {
	key     *nubiq.APIKey
	plan    *nubiq.Plan
	fetched time.Time // monotonic: the cache's lifetime is not subject to the test clock
}

func (a *KeyAuthenticator) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

func (a *KeyAuthenticator) ttl() time.Duration {
	if a.CacheTTL <= 0 || a.CacheTTL > MaxKeyCacheTTL {
		return MaxKeyCacheTTL
	}
	return a.CacheTTL
}

// Authenticate implements Authenticator.
func (a *KeyAuthenticator) Authenticate(ctx context.Context, token string) (*nubiq.Caller, error) {
	if !strings.HasPrefix(token, postgres.KeyPrefix) || len(token) < len(postgres.KeyPrefix)+32 || len(token) > 128 {
		return nil, unauthorized(ReasonMalformedKey, "malformed API key: Nubiq Hub keys start with %q followed by at least 32 characters", postgres.KeyPrefix)
	}
	k, plan, err := a.lookup(ctx, token)
	if err != nil {
		return nil, err
	}
	now := a.now()
	switch k.Status(now) {
	case "revoked":
		return nil, unauthorized(ReasonRevoked, "API key %s was revoked", k.Prefix)
	case "expired":
		return nil, unauthorized(ReasonExpired, "API key %s expired at %s", k.Prefix, k.ExpiresAt.UTC().Format(time.RFC3339))
	}
	a.recordUse(k, now)
	return &nubiq.Caller{
		WorkspaceID: k.WorkspaceID, KeyID: k.ID, KeyPrefix: k.Prefix, Scopes: k.Scopes, ExpiresAt: k.ExpiresAt,
		Plan: plan.Name, PerMinute: plan.PerMinute, PerDay: plan.PerDay,
	}, nil
}

func (a *KeyAuthenticator) lookup(ctx context.Context, token string) (*nubiq.APIKey, *nubiq.Plan, error) {
	h := sha256.Sum256([]byte(token))
	a.mu.Lock()
	if c, ok := a.cache[h]; ok && time.Since(c.fetched) < a.ttl() {
		a.mu.Unlock()
		return c.key, c.plan, nil
	}
	a.mu.Unlock()

	k, plan, err := a.DB.KeyByHash(ctx, h[:])
	if nubiq.ErrorCode(err) == nubiq.ECodeNotFound {
		return nil, nil, unauthorized(ReasonUnknown, "unknown API key")
	} else if err != nil {
		return nil, nil, err
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cache == nil {
		a.cache = map[[sha256.Size]byte]cachedKey{}
	}
	size := a.CacheSize
	if size <= 0 {
		size = 10000
	}
	if len(a.cache) >= size {
		a.evict(size)
	}
	a.cache[h] = cachedKey{key: k, plan: plan, fetched: time.Now()}
	return k, plan, nil
}

// evict drops stale entries and, when that is not enough, arbitrary ones down to half the
// bound: entries are cheap to refetch, so nothing finer is worth its bookkeeping.
func (a *KeyAuthenticator) evict(size int) {
	for h, c := range a.cache {
		if time.Since(c.fetched) >= a.ttl() {
			delete(a.cache, h)
		}
	}
	for h := range a.cache {
		if len(a.cache) < size/2 {
			break
		}
		delete(a.cache, h)
	}
}

func (a *KeyAuthenticator) recordUse(k *nubiq.APIKey, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used == nil {
		a.used = map[int64]postgres.KeyUse{}
	}
	if u, ok := a.used[k.ID]; !ok || at.After(u.At) {
		a.used[k.ID] = postgres.KeyUse{KeyID: k.ID, WorkspaceID: k.WorkspaceID, At: at}
	}
}

// Flush writes the recorded key uses in one statement. Uses that could not be written are
// kept for the next flush.
func (a *KeyAuthenticator) Flush(ctx context.Context) error {
	a.mu.Lock()
	batch := make([]postgres.KeyUse, 0, len(a.used))
	for _, u := range a.used {
		batch = append(batch, u)
	}
	a.used = nil
	a.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := a.DB.TouchKeys(ctx, batch)
	if err != nil {
		a.mu.Lock()
		if a.used == nil {
			a.used = map[int64]postgres.KeyUse{}
		}
		for _, u := range batch {
			if cur, ok := a.used[u.KeyID]; !ok || u.At.After(cur.At) {
				a.used[u.KeyID] = u
			}
		}
		a.mu.Unlock()
	}
	return err
}

// Run flushes key uses every interval (default 10s) until ctx ends, then once more.
func (a *KeyAuthenticator) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	logger := a.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := a.Flush(ctx); err != nil {
				logger.Warn("record API key use", "err", err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := a.Flush(fctx); err != nil {
				logger.Warn("record API key use on shutdown", "err", err)
			}
			cancel()
			return
		}
	}
}
