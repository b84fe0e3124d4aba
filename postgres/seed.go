package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nubiq/hub"
)

// Statements the demo seed needs beyond the bulk import: the workspace and its people,
// teams, channels, widget and help-center documents. They run in the seed's one transaction.

// SeedMember is a member to create. Invited members get an invitation token (only its hash
// is stored, and nobody holds the token: the demo invitation cannot be accepted).
type SeedMember struct {
	Email     string
	Name      string
	Role      string // owner, admin or agent
	Status    string // active or invited
	InvitedBy string // email of an earlier member
	CreatedAt time.Time
}

// SeedTeam is a team and the emails of its members.
type SeedTeam struct {
	Name        string
	Description string
	Members     []string
}

// SeedChannel is a channel with its public config and secrets.
type SeedChannel struct {
	Kind    string
	Name    string
	Config  map[string]any
	Secrets map[string]any
}

// SeedDocument is a help-center document to store and queue for ingestion.
type SeedDocument struct {
	ExternalID string
	Title      string
	MimeType   string
	SourceURL  string
	Metadata   map[string]string
	Raw        []byte
	CreatedAt  time.Time // zero: now
}

// SeedWorkspaceTx creates a workspace in tx; a taken name is a conflict error.
func (db *DB) SeedWorkspaceTx(ctx context.Context, tx pgx.Tx, name, plan string) (*nubiq.Workspace, error) {
	var w nubiq.Workspace
	err := tx.QueryRow(ctx, `INSERT INTO workspaces (name, plan) VALUES ($1, $2) RETURNING id, name, plan, created_at`,
		name, plan).Scan(&w.ID, &w.Name, &w.Plan, &w.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return nil, nubiq.Errorf(nubiq.ECodeConflict, "a workspace named %q already exists", name)
	} else if err != nil {
		return nil, fmt.Errorf("create workspace: %w", err)
	}
	return &w, nil
}

// SeedMembersTx creates members in order (an inviter must come before those it invites) and
// returns their ids by lowercased email.
func (db *DB) SeedMembersTx(ctx context.Context, tx pgx.Tx, workspaceID int64, members []SeedMember) (map[string]int64, error) {
	ids := map[string]int64{}
	for _, m := range members {
		var invitedBy *int64
		if m.InvitedBy != "" {
			id, ok := ids[strings.ToLower(m.InvitedBy)]
			if !ok {
				return nil, fmt.Errorf("member %s: inviter %s not created before", m.Email, m.InvitedBy)
			}
			invitedBy = &id
		}
		var tokenHash []byte
		var expires, joined, invitedAt *time.Time
		at := m.CreatedAt.UTC()
		if invitedBy != nil {
			invitedAt = &at
		}
		if m.Status == "invited" {
			token := make([]byte, 32)
			rand.Read(token)
			h := sha256.Sum256(token)
			tokenHash = h[:]
			e := at.Add(7 * 24 * time.Hour)
			expires = &e
		} else {
			joined = &at
		}
		var id int64
		err := tx.QueryRow(ctx, `
			INSERT INTO members (workspace_id, email, name, role, status, invitation_token_hash, invitation_expires_at,
				invited_by, invited_at, joined_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id`,
			workspaceID, m.Email, m.Name, m.Role, m.Status, tokenHash, expires, invitedBy, invitedAt, joined, at).Scan(&id)
		if err != nil {
			return nil, fmt.Errorf("create member %s: %w", m.Email, err)
		}
		ids[strings.ToLower(m.Email)] = id
	}
	return ids, nil
}

// SeedTeamsTx creates teams with their members (by email, among memberIDs).
func (db *DB) SeedTeamsTx(ctx context.Context, tx pgx.Tx, workspaceID int64, teams []SeedTeam, memberIDs map[string]int64) error {
	for _, t := range teams {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO teams (workspace_id, name, description) VALUES ($1, $2, $3) RETURNING id`,
			workspaceID, t.Name, t.Description).Scan(&id); err != nil {
			return fmt.Errorf("create team %s: %w", t.Name, err)
		}
		for _, e := range t.Members {
			mid, ok := memberIDs[strings.ToLower(e)]
			if !ok {
				return fmt.Errorf("team %s: no member %s", t.Name, e)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO team_members (workspace_id, team_id, member_id) VALUES ($1, $2, $3)`,
				workspaceID, id, mid); err != nil {
				return fmt.Errorf("add %s to team %s: %w", e, t.Name, err)
			}
		}
	}
	return nil
}

// SeedChannelsTx creates channels and returns their ids by name.
func (db *DB) SeedChannelsTx(ctx context.Context, tx pgx.Tx, workspaceID int64, channels []SeedChannel) (map[string]int64, error) {
	ids := map[string]int64{}
	for _, c := range channels {
		cfg, err := json.Marshal(c.Config)
		if err != nil {
			return nil, err
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO channels (workspace_id, kind, name, config) VALUES ($1, $2, $3, $4) RETURNING id`,
			workspaceID, c.Kind, c.Name, cfg).Scan(&id); err != nil {
			return nil, fmt.Errorf("create channel %s: %w", c.Name, err)
		}
		if len(c.Secrets) > 0 {
			sec, err := json.Marshal(c.Secrets)
			if err != nil {
				return nil, err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO channel_secrets (channel_id, workspace_id, secrets) VALUES ($1, $2, $3)`,
				id, workspaceID, sec); err != nil {
				return nil, fmt.Errorf("store secrets of channel %s: %w", c.Name, err)
			}
		}
		ids[c.Name] = id
	}
	return ids, nil
}

// SeedWidgetTx creates a widget configuration bound to a channel.
func (db *DB) SeedWidgetTx(ctx context.Context, tx pgx.Tx, workspaceID, channelID int64, name string, settings map[string]any) error {
	b, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO widget_configs (workspace_id, channel_id, name, settings) VALUES ($1, $2, $3, $4)`,
		workspaceID, channelID, name, b); err != nil {
		return fmt.Errorf("create widget %s: %w", name, err)
	}
	return nil
}

// SeedDocumentsTx uploads documents through UploadDocumentsTx, as documents.upload does: each
// is stored queued with its ingest job, enqueued in the same transaction, so that workers
// extract, chunk, embed and index them. Each then takes its CreatedAt.
func (db *DB) SeedDocumentsTx(ctx context.Context, tx pgx.Tx, workspaceID int64, docs []SeedDocument) error {
	if len(docs) == 0 {
		return nil
	}
	ups := make([]nubiq.DocumentUpload, len(docs))
	for i, d := range docs {
		ups[i] = nubiq.DocumentUpload{WorkspaceID: workspaceID, ExternalID: d.ExternalID, Title: d.Title,
			SourceURL: d.SourceURL, MIMEType: d.MimeType, Metadata: d.Metadata, Raw: d.Raw}
	}
	res, err := db.UploadDocumentsTx(ctx, tx, ups)
	if err != nil {
		return fmt.Errorf("upload documents: %w", err)
	}
	ids := make([]int64, len(res))
	at := make([]time.Time, len(res))
	for i, r := range res {
		ids[i], at[i] = r.DocumentID, docs[i].CreatedAt.UTC()
	}
	_, err = tx.Exec(ctx, `
		UPDATE documents d SET created_at = u.at, updated_at = u.at
		FROM unnest($2::bigint[], $3::timestamptz[]) AS u(id, at)
		WHERE d.workspace_id = $1 AND d.id = u.id AND u.at <> '0001-01-01T00:00:00Z'`, workspaceID, ids, at)
	if err != nil {
		return fmt.Errorf("date documents: %w", err)
	}
	return nil
}
