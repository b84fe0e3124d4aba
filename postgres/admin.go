package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nubiq/hub"
)

// Dashboard store: sign-in, sessions, bootstrap of the first admin, and the read models of the
// dashboard's pages. Sessions are found by the SHA-256 of their token, like API keys.

// Member roles that may sign in to the dashboard.
const (
	RoleOwner = "owner"
	RoleAdmin = "admin"
	RoleAgent = "agent"
)

// AdminMember is a member as sign-in sees it.
type AdminMember struct {
	ID                     int64
	WorkspaceID            int64
	WorkspaceName          string
	Email                  string
	Name                   string
	Role                   string
	Status                 string
	PasswordHash           string
	PasswordChangeRequired bool
}

// SignInCandidates returns the active owners and admins with a password whose email matches,
// in the workspace named (by id or name) or, when workspace is empty, in any workspace. This
// is the one lookup that spans workspaces: whoever signs in has not chosen one yet.
func (db *DB) SignInCandidates(ctx context.Context, email, workspace string) ([]AdminMember, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT m.id, m.workspace_id, w.name, m.email, m.name, m.role, m.status, m.password_hash, m.password_change_required
		FROM members m JOIN workspaces w ON w.id = m.workspace_id
		WHERE lower(m.email) = lower($1) AND m.status = 'active' AND m.role IN ('owner', 'admin')
		  AND m.password_hash IS NOT NULL
		  AND ($2 = '' OR w.id::text = $2 OR lower(w.name) = lower($2))
		ORDER BY m.workspace_id
		LIMIT 20`, strings.TrimSpace(email), strings.TrimSpace(workspace))
	if err != nil {
		return nil, fmt.Errorf("find sign-in candidates: %w", unavailable(err))
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AdminMember, error) {
		var m AdminMember
		err := r.Scan(&m.ID, &m.WorkspaceID, &m.WorkspaceName, &m.Email, &m.Name, &m.Role, &m.Status, &m.PasswordHash, &m.PasswordChangeRequired)
		return m, err
	})
}

// AdminSession is a signed-in dashboard session with its member and workspace.
type AdminSession struct {
	WorkspaceID            int64
	WorkspaceName          string
	Plan                   string
	MemberID               int64
	Email                  string
	Name                   string
	Role                   string
	CSRFToken              string
	PasswordChangeRequired bool
	CreatedAt              time.Time
	ExpiresAt              time.Time
}

// CreateAdminSession stores a session by the hash of its token, and drops the workspace's
// sessions that expired before now so that the table does not grow without bound.
func (db *DB) CreateAdminSession(ctx context.Context, workspaceID, memberID int64, tokenHash []byte, csrf string, now, expires time.Time) error {
	return db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE workspace_id = $1 AND expires_at <= $2`, workspaceID, now.UTC()); err != nil {
			return fmt.Errorf("delete expired sessions: %w", err)
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO admin_sessions (token_hash, workspace_id, member_id, csrf_token, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, tokenHash, workspaceID, memberID, csrf, now.UTC(), expires.UTC())
		if err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return nil
	})
}

// AdminSessionByToken returns the session whose token hashes to tokenHash, if it has not
// expired at now and its member may still sign in (active owner or admin); not_found otherwise.
func (db *DB) AdminSessionByToken(ctx context.Context, tokenHash []byte, now time.Time) (*AdminSession, error) {
	var s AdminSession
	err := db.Pool.QueryRow(ctx, `
		SELECT s.workspace_id, w.name, w.plan, m.id, m.email, m.name, m.role, s.csrf_token,
		       m.password_change_required, s.created_at, s.expires_at
		FROM admin_sessions s
		JOIN members m ON m.id = s.member_id AND m.workspace_id = s.workspace_id
		JOIN workspaces w ON w.id = s.workspace_id
		WHERE s.token_hash = $1 AND s.expires_at > $2
		  AND m.status = 'active' AND m.role IN ('owner', 'admin')`, tokenHash, now.UTC()).Scan(
		&s.WorkspaceID, &s.WorkspaceName, &s.Plan, &s.MemberID, &s.Email, &s.Name, &s.Role, &s.CSRFToken,
		&s.PasswordChangeRequired, &s.CreatedAt, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("no such session")
	} else if err != nil {
		return nil, fmt.Errorf("read session: %w", unavailable(err))
	}
	return &s, nil
}

// DeleteAdminSession ends a session; ending one that is gone changes nothing.
func (db *DB) DeleteAdminSession(ctx context.Context, workspaceID int64, tokenHash []byte) error {
	if _, err := db.Pool.Exec(ctx, `DELETE FROM admin_sessions WHERE workspace_id = $1 AND token_hash = $2`, workspaceID, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", unavailable(err))
	}
	return nil
}

// ChangeMemberPassword sets a member's password hash, clears the one-time flag, and ends the
// member's other sessions: whoever knew the old password is signed out everywhere but here.
func (db *DB) ChangeMemberPassword(ctx context.Context, workspaceID, memberID int64, hash string, keepTokenHash []byte) error {
	return db.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE members SET password_hash = $3, password_change_required = false,
			       password_changed_at = now(), updated_at = now()
			WHERE workspace_id = $1 AND id = $2`, workspaceID, memberID, hash)
		if err != nil {
			return fmt.Errorf("change password of member %d: %w", memberID, err)
		}
		if tag.RowsAffected() == 0 {
			return nubiq.NotFoundf("no member %d in this workspace", memberID)
		}
		if _, err := tx.Exec(ctx, `
			DELETE FROM admin_sessions WHERE workspace_id = $1 AND member_id = $2 AND token_hash <> $3`,
			workspaceID, memberID, keepTokenHash); err != nil {
			return fmt.Errorf("end other sessions of member %d: %w", memberID, err)
		}
		return nil
	})
}

// BootstrapAdminParams describes `nubiq admin create`.
type BootstrapAdminParams struct {
	WorkspaceID int64
	Email       string
	Name        string
	// Role is owner or admin; empty means owner when the workspace has no owner yet, else admin.
	Role string
	// PasswordHash is the hash of a one-time password: the member must change it on first
	// sign-in.
	PasswordHash string
	// Reset gives an existing member a new one-time password instead of creating one.
	Reset bool
}

// BootstrapAdmin creates an active owner or admin with a one-time password, or with Reset
// gives an existing member a new one and ends their sessions. It reports whether a member was
// created.
func (db *DB) BootstrapAdmin(ctx context.Context, p BootstrapAdminParams) (*AdminMember, bool, error) {
	p.Email = strings.TrimSpace(p.Email)
	p.Name = strings.TrimSpace(p.Name)
	if len(p.Email) < 3 || len(p.Email) > 320 || !strings.Contains(p.Email, "@") || strings.ContainsAny(p.Email, " \t\r\n") {
		return nil, false, nubiq.Invalidf("email", "must be an email address (3 to 320 characters with an @), got %q", p.Email)
	}
	if len(p.Name) > 200 {
		return nil, false, nubiq.Invalidf("name", "must be at most 200 characters")
	}
	if p.Role != "" && p.Role != RoleOwner && p.Role != RoleAdmin {
		return nil, false, nubiq.Invalidf("role", "must be owner or admin, got %q", p.Role)
	}
	if p.PasswordHash == "" {
		return nil, false, nubiq.Invalidf("password", "a password hash is required")
	}
	var m AdminMember
	created := false
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			SELECT m.id, m.workspace_id, w.name, m.email, m.name, m.role, m.status
			FROM members m JOIN workspaces w ON w.id = m.workspace_id
			WHERE m.workspace_id = $1 AND lower(m.email) = lower($2)
			FOR UPDATE OF m`, p.WorkspaceID, p.Email).Scan(&m.ID, &m.WorkspaceID, &m.WorkspaceName, &m.Email, &m.Name, &m.Role, &m.Status)
		switch {
		case err == nil && !p.Reset:
			return nubiq.Errorf(nubiq.ECodeConflict, "%s is already a member (%s, %s) of this workspace; pass --reset to give them a new one-time password", m.Email, m.Role, m.Status)
		case err == nil:
			if _, err := tx.Exec(ctx, `
				UPDATE members SET password_hash = $3, password_change_required = true, updated_at = now()
				WHERE workspace_id = $1 AND id = $2`, p.WorkspaceID, m.ID, p.PasswordHash); err != nil {
				return fmt.Errorf("reset password: %w", err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE workspace_id = $1 AND member_id = $2`, p.WorkspaceID, m.ID); err != nil {
				return fmt.Errorf("end sessions: %w", err)
			}
			m.PasswordChangeRequired = true
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("find member: %w", err)
		case p.Reset:
			return nubiq.NotFoundf("%s is not a member of this workspace; run without --reset to create them", p.Email)
		}
		role := p.Role
		if role == "" {
			var hasOwner bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM members WHERE workspace_id = $1 AND role = 'owner')`, p.WorkspaceID).Scan(&hasOwner); err != nil {
				return fmt.Errorf("find owner: %w", err)
			}
			role = RoleOwner
			if hasOwner {
				role = RoleAdmin
			}
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO members (workspace_id, email, name, role, status, password_hash, password_change_required, joined_at)
			VALUES ($1, $2, $3, $4, 'active', $5, true, now())
			RETURNING id, workspace_id, email, name, role, status`,
			p.WorkspaceID, p.Email, p.Name, role, p.PasswordHash).Scan(&m.ID, &m.WorkspaceID, &m.Email, &m.Name, &m.Role, &m.Status)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" {
			return nubiq.NotFoundf("no workspace %d", p.WorkspaceID)
		} else if err != nil {
			return fmt.Errorf("create member: %w", err)
		}
		m.PasswordChangeRequired = true
		created = true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return &m, created, nil
}

// DocumentStatusCounts counts the workspace's documents by status.
func (db *DB) DocumentStatusCounts(ctx context.Context, workspaceID int64) (map[string]int, error) {
	rows, err := db.Pool.Query(ctx, `SELECT status, count(*) FROM documents WHERE workspace_id = $1 GROUP BY status`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("count documents: %w", unavailable(err))
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count documents: %w", err)
		}
		counts[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count documents: %w", unavailable(err))
	}
	return counts, nil
}

// RecentReindexRuns lists the workspace's latest reindex runs, newest first.
func (db *DB) RecentReindexRuns(ctx context.Context, workspaceID int64, limit int) ([]nubiq.ReindexRun, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+reindexRunColumns+` FROM reindex_runs WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2`, workspaceID, limit)
	if err != nil {
		return nil, fmt.Errorf("list reindex runs: %w", unavailable(err))
	}
	runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (nubiq.ReindexRun, error) {
		var run nubiq.ReindexRun
		err := scanRun(r, &run)
		return run, err
	})
	if err != nil {
		return nil, fmt.Errorf("list reindex runs: %w", unavailable(err))
	}
	return runs, nil
}

// MoreThanOneWorkspace reports whether the server holds several workspaces. The job queue is
// shared by all of them, so what the dashboard shows of it depends on this; like sign-in, it
// is a question about the server, not about one workspace.
func (db *DB) MoreThanOneWorkspace(ctx context.Context) (bool, error) {
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM workspaces LIMIT 2) w`).Scan(&n); err != nil {
		return false, fmt.Errorf("count workspaces: %w", unavailable(err))
	}
	return n > 1, nil
}
