package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nubiq/hub"
)

// KeyPrefix starts every API key.
const KeyPrefix = "nbq_"

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewKeySecret returns a new API key: "nbq_" and 43 base62 characters (256 random bits).
func NewKeySecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	n := new(big.Int).SetBytes(b)
	var sb strings.Builder
	sb.WriteString(KeyPrefix)
	digits := make([]byte, 0, 43)
	base := big.NewInt(62)
	mod := new(big.Int)
	for range 43 {
		n.DivMod(n, base, mod)
		digits = append(digits, base62[mod.Int64()])
	}
	sb.Write(digits)
	return sb.String()
}

// HashKey returns the SHA-256 of a key secret, the only form in which keys are stored.
func HashKey(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// displayPrefix is the non-secret part of a key shown in lists: "nbq_" and 8 characters
// (48 bits of the key's 256, too few to help guess the rest).
func displayPrefix(secret string) string { return secret[:len(KeyPrefix)+8] }

// CreateWorkspace creates a workspace on a plan.
func (db *DB) CreateWorkspace(ctx context.Context, name, plan string) (*nubiq.Workspace, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return nil, nubiq.Invalidf("name", "must be 1 to 200 characters")
	}
	var w nubiq.Workspace
	err := db.Pool.QueryRow(ctx, `
		INSERT INTO workspaces (name, plan) VALUES ($1, $2)
		RETURNING id, name, plan, created_at`, name, plan).Scan(&w.ID, &w.Name, &w.Plan, &w.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23503":
			return nil, db.unknownPlan(ctx, plan)
		case "23505":
			return nil, nubiq.Errorf(nubiq.ECodeConflict, "a workspace named %q already exists", name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("create workspace: %w", unavailable(err))
	}
	return &w, nil
}

// Plans lists the configured plans.
func (db *DB) Plans(ctx context.Context) ([]nubiq.Plan, error) {
	rows, err := db.Pool.Query(ctx, `SELECT name, per_minute, per_day FROM plans ORDER BY per_minute, name`)
	if err != nil {
		return nil, unavailable(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (nubiq.Plan, error) {
		var p nubiq.Plan
		err := r.Scan(&p.Name, &p.PerMinute, &p.PerDay)
		return p, err
	})
}

// FindWorkspace finds a workspace by id or by name (case-insensitive).
func (db *DB) FindWorkspace(ctx context.Context, idOrName string) (*nubiq.Workspace, error) {
	var w nubiq.Workspace
	err := db.Pool.QueryRow(ctx, `
		SELECT id, name, plan, created_at FROM workspaces
		WHERE id::text = $1 OR lower(name) = lower($1)
		ORDER BY (id::text = $1) DESC LIMIT 1`, idOrName).Scan(&w.ID, &w.Name, &w.Plan, &w.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("no workspace %q", idOrName)
	} else if err != nil {
		return nil, unavailable(err)
	}
	return &w, nil
}

// ListWorkspaces lists every workspace.
func (db *DB) ListWorkspaces(ctx context.Context) ([]nubiq.Workspace, error) {
	rows, err := db.Pool.Query(ctx, `SELECT id, name, plan, created_at FROM workspaces ORDER BY id`)
	if err != nil {
		return nil, unavailable(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (nubiq.Workspace, error) {
		var w nubiq.Workspace
		err := r.Scan(&w.ID, &w.Name, &w.Plan, &w.CreatedAt)
		return w, err
	})
}

// CreateKeyParams describes a new API key.
type CreateKeyParams struct {
	WorkspaceID int64
	Name        string
	Scopes      []nubiq.Scope
	ExpiresAt   time.Time
	CreatedBy   string
}

// CreateAPIKey creates a key and returns it with its secret, which exists nowhere else: the
// caller must show it once and forget it.
func (db *DB) CreateAPIKey(ctx context.Context, p CreateKeyParams) (*nubiq.APIKey, string, error) {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || len(p.Name) > 200 {
		return nil, "", nubiq.Invalidf("name", "must be 1 to 200 characters")
	}
	if len(p.Scopes) == 0 {
		return nil, "", nubiq.Invalidf("scopes", "at least one scope is required")
	}
	for _, s := range p.Scopes {
		if !s.Valid() {
			return nil, "", nubiq.Invalidf("scopes", "unknown scope %q", s)
		}
	}
	if p.ExpiresAt.IsZero() {
		return nil, "", nubiq.Invalidf("expires_at", "an expiry is required")
	}
	if !p.ExpiresAt.After(time.Now()) {
		return nil, "", nubiq.Invalidf("expires_at", "must be in the future")
	}
	secret := NewKeySecret()
	k := &nubiq.APIKey{WorkspaceID: p.WorkspaceID, Name: p.Name, Prefix: displayPrefix(secret), Scopes: p.Scopes, CreatedBy: p.CreatedBy}
	err := db.Pool.QueryRow(ctx, `
		INSERT INTO api_keys (workspace_id, name, prefix, hash, scopes, expires_at, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING id, expires_at, created_at`,
		p.WorkspaceID, p.Name, k.Prefix, HashKey(secret), nubiq.ScopeStrings(p.Scopes), p.ExpiresAt.UTC(), p.CreatedBy,
	).Scan(&k.ID, &k.ExpiresAt, &k.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return nil, "", nubiq.NotFoundf("no workspace %d", p.WorkspaceID)
	} else if err != nil {
		return nil, "", fmt.Errorf("create api key: %w", unavailable(err))
	}
	return k, secret, nil
}

const keyColumns = `k.id, k.workspace_id, k.name, k.prefix, k.scopes, k.expires_at, k.revoked_at, k.last_used_at, k.created_by, k.created_at`

func scanKey(row pgx.Row, extra ...any) (*nubiq.APIKey, error) {
	var k nubiq.APIKey
	var scopes []string
	dest := append([]any{&k.ID, &k.WorkspaceID, &k.Name, &k.Prefix, &scopes, &k.ExpiresAt, &k.RevokedAt, &k.LastUsedAt, &k.CreatedBy, &k.CreatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	for _, s := range scopes {
		k.Scopes = append(k.Scopes, nubiq.Scope(s))
	}
	return &k, nil
}

// KeyByHash finds a key by the hash of its secret, with its workspace's plan limits.
func (db *DB) KeyByHash(ctx context.Context, hash []byte) (*nubiq.APIKey, *nubiq.Plan, error) {
	var plan nubiq.Plan
	k, err := scanKey(db.Pool.QueryRow(ctx, `
		SELECT `+keyColumns+`, p.name, p.per_minute, p.per_day
		FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id JOIN plans p ON p.name = w.plan
		WHERE k.hash = $1`, hash), &plan.Name, &plan.PerMinute, &plan.PerDay)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, nubiq.NotFoundf("no such key")
	} else if err != nil {
		return nil, nil, unavailable(err)
	}
	return k, &plan, nil
}

// ListAPIKeys lists a workspace's keys, newest first. Secrets are not stored, so never shown.
func (db *DB) ListAPIKeys(ctx context.Context, workspaceID int64) ([]*nubiq.APIKey, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys k WHERE k.workspace_id = $1 ORDER BY k.created_at DESC, k.id DESC`, workspaceID)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []*nubiq.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey revokes a key of the workspace; revoking a revoked key changes nothing.
func (db *DB) RevokeAPIKey(ctx context.Context, workspaceID, keyID int64) (*nubiq.APIKey, error) {
	k, err := scanKey(db.Pool.QueryRow(ctx, `
		UPDATE api_keys k SET revoked_at = coalesce(revoked_at, now())
		WHERE k.workspace_id = $1 AND k.id = $2
		RETURNING `+keyColumns, workspaceID, keyID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("no API key %d in this workspace", keyID)
	} else if err != nil {
		return nil, unavailable(err)
	}
	return k, nil
}

// SetPlan creates a plan or changes its limits. Limits are read when a key is verified, so a
// change reaches every replica within the key cache's lifetime.
func (db *DB) SetPlan(ctx context.Context, p nubiq.Plan) (*nubiq.Plan, error) {
	if p.PerMinute <= 0 {
		return nil, nubiq.Invalidf("per_minute", "must be a positive number of requests")
	}
	if p.PerDay <= 0 {
		return nil, nubiq.Invalidf("per_day", "must be a positive number of requests")
	}
	err := db.Pool.QueryRow(ctx, `
		INSERT INTO plans (name, per_minute, per_day) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET per_minute = excluded.per_minute, per_day = excluded.per_day
		RETURNING name, per_minute, per_day`, p.Name, p.PerMinute, p.PerDay).Scan(&p.Name, &p.PerMinute, &p.PerDay)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23514" {
		return nil, nubiq.Invalidf("name", "%q is not a plan name: lower-case letters, digits, - and _, starting with a letter, at most 40", p.Name)
	} else if err != nil {
		return nil, fmt.Errorf("set plan %s: %w", p.Name, unavailable(err))
	}
	return &p, nil
}

// SetWorkspacePlan moves a workspace to another plan.
func (db *DB) SetWorkspacePlan(ctx context.Context, workspaceID int64, plan string) (*nubiq.Workspace, error) {
	var w nubiq.Workspace
	err := db.Pool.QueryRow(ctx, `
		UPDATE workspaces SET plan = $2, updated_at = now() WHERE id = $1
		RETURNING id, name, plan, created_at`, workspaceID, plan).Scan(&w.ID, &w.Name, &w.Plan, &w.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return nil, db.unknownPlan(ctx, plan)
	} else if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("no workspace %d", workspaceID)
	} else if err != nil {
		return nil, fmt.Errorf("set plan of workspace %d: %w", workspaceID, unavailable(err))
	}
	return &w, nil
}

func (db *DB) unknownPlan(ctx context.Context, plan string) error {
	plans, _ := db.Plans(ctx)
	names := make([]string, len(plans))
	for i, p := range plans {
		names[i] = p.Name
	}
	return nubiq.Invalidf("plan", "unknown plan %q; allowed: %s", plan, strings.Join(names, ", "))
}
