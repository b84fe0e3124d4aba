package mcp

import (
	"context"
	"strings"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// KeyAuthenticator verifies API keys against the database by the hash of the secret.
type KeyAuthenticator struct {
	DB  *postgres.DB
	Now func() time.Time
}

// Authenticate implements Authenticator.
func (a *KeyAuthenticator) Authenticate(ctx context.Context, token string) (*nubiq.Caller, error) {
	if !strings.HasPrefix(token, postgres.KeyPrefix) || len(token) < len(postgres.KeyPrefix)+32 || len(token) > 128 {
		return nil, nubiq.Errorf(nubiq.ECodeUnauthorized, "malformed API key: Nubiq Hub keys start with %q", postgres.KeyPrefix)
	}
	k, plan, err := a.DB.KeyByHash(ctx, postgres.HashKey(token))
	if nubiq.ErrorCode(err) == nubiq.ECodeNotFound {
		return nil, nubiq.Errorf(nubiq.ECodeUnauthorized, "unknown API key")
	} else if err != nil {
		return nil, err
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	switch k.Status(now) {
	case "revoked":
		return nil, nubiq.Errorf(nubiq.ECodeUnauthorized, "API key %s was revoked", k.Prefix)
	case "expired":
		return nil, nubiq.Errorf(nubiq.ECodeUnauthorized, "API key %s expired at %s", k.Prefix, k.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return &nubiq.Caller{WorkspaceID: k.WorkspaceID, KeyID: k.ID, KeyPrefix: k.Prefix, Plan: plan.Name, Scopes: k.Scopes, ExpiresAt: k.ExpiresAt}, nil
}
