package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
)

// InsertAudit records a write tool call.
func (db *DB) InsertAudit(ctx context.Context, e nubiq.AuditEntry) error {
	var keyID *int64
	if e.KeyID != 0 {
		keyID = &e.KeyID
	}
	_, err := db.Pool.Exec(ctx, `
		INSERT INTO audit_log (workspace_id, key_id, actor, action, target, outcome, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.WorkspaceID, keyID, e.Actor, e.Action, e.Target, e.Outcome, e.CreatedAt.UTC())
	if err != nil {
		return fmt.Errorf("record audit entry for %s: %w", e.Action, unavailable(err))
	}
	return nil
}

// ListAudit returns a workspace's most recent audit entries, newest first.
func (db *DB) ListAudit(ctx context.Context, workspaceID int64, limit int) ([]nubiq.AuditEntry, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT id, workspace_id, coalesce(key_id, 0), actor, action, target, outcome, created_at
		FROM audit_log WHERE workspace_id = $1
		ORDER BY created_at DESC, id DESC LIMIT $2`, workspaceID, limit)
	if err != nil {
		return nil, unavailable(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (nubiq.AuditEntry, error) {
		var e nubiq.AuditEntry
		err := r.Scan(&e.ID, &e.WorkspaceID, &e.KeyID, &e.Actor, &e.Action, &e.Target, &e.Outcome, &e.CreatedAt)
		e.CreatedAt = e.CreatedAt.UTC()
		return e, err
	})
}
