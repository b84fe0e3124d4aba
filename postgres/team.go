package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"

	"github.com/nubiq/hub"
)

// memberColumns select a member with its teams, as JSON, in name order.
const memberColumns = `m.id, m.email, m.name, m.role, m.status, m.invited_at, m.invitation_expires_at, m.joined_at, m.created_at,
	(SELECT coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name) ORDER BY lower(t.name), t.id), '[]'::jsonb)
	 FROM team_members tm JOIN teams t ON t.id = tm.team_id AND t.workspace_id = tm.workspace_id
	 WHERE tm.workspace_id = m.workspace_id AND tm.member_id = m.id)`

func scanMember(row pgx.Row, extra ...any) (*nubiq.Member, error) {
	var (
		m     nubiq.Member
		teams []byte
	)
	dest := append([]any{&m.ID, &m.Email, &m.Name, &m.Role, &m.Status, &m.InvitedAt, &m.InvitationExpiresAt, &m.JoinedAt, &m.CreatedAt, &teams}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(teams, &m.Teams); err != nil {
		return nil, fmt.Errorf("decode teams of member %d: %w", m.ID, err)
	}
	if m.Teams == nil {
		m.Teams = []nubiq.TeamRef{}
	}
	for _, t := range []**time.Time{&m.InvitedAt, &m.InvitationExpiresAt, &m.JoinedAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	m.CreatedAt = m.CreatedAt.UTC()
	return &m, nil
}

// MemberFilter selects members for ListMembers.
type MemberFilter struct {
	Role   string
	Status string
	TeamID int64
	Cursor string
	Limit  int
}

// ListMembers lists the workspace's members with their teams, oldest first, a page at a time.
func (db *DB) ListMembers(ctx context.Context, workspaceID int64, f MemberFilter) ([]*nubiq.Member, string, error) {
	limit, err := nubiq.PageLimit(f.Limit)
	if err != nil {
		return nil, "", err
	}
	cur, err := nubiq.DecodeCursor("members", f.Cursor)
	if err != nil {
		return nil, "", err
	}
	var after int64
	if cur != nil {
		after = cur.ID
	}
	if f.TeamID != 0 {
		if err := db.teamExists(ctx, db.Pool, workspaceID, f.TeamID); err != nil {
			return nil, "", err
		}
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT `+memberColumns+` FROM members m
		WHERE m.workspace_id = $1 AND m.id > $2
		  AND ($3 = '' OR m.role = $3) AND ($4 = '' OR m.status = $4)
		  AND ($5 = 0 OR EXISTS (SELECT 1 FROM team_members tm WHERE tm.workspace_id = $1 AND tm.team_id = $5 AND tm.member_id = m.id))
		ORDER BY m.id LIMIT $6`, workspaceID, after, f.Role, f.Status, f.TeamID, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list members: %w", unavailable(err))
	}
	out, next, err := collectPage(rows, limit, func(r pgx.Row) (*nubiq.Member, error) { return scanMember(r) },
		func(m *nubiq.Member) nubiq.Cursor { return nubiq.Cursor{Kind: "members", ID: m.ID} })
	if err != nil {
		return nil, "", fmt.Errorf("list members: %w", err)
	}
	return out, next, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (db *DB) teamExists(ctx context.Context, q querier, workspaceID, teamID int64) error {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM teams WHERE workspace_id = $1 AND id = $2)`, workspaceID, teamID).Scan(&ok); err != nil {
		return fmt.Errorf("find team %d: %w", teamID, unavailable(err))
	}
	if !ok {
		return nubiq.NotFoundf("no team %d in this workspace", teamID)
	}
	return nil
}

// Member returns one member of the workspace with its teams.
func (db *DB) Member(ctx context.Context, workspaceID, id int64) (*nubiq.Member, error) {
	m, err := scanMember(db.Pool.QueryRow(ctx, `SELECT `+memberColumns+` FROM members m WHERE m.workspace_id = $1 AND m.id = $2`, workspaceID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("no member %d in this workspace", id)
	} else if err != nil {
		return nil, fmt.Errorf("get member %d: %w", id, unavailable(err))
	}
	return m, nil
}

// CreateTeam creates a team.
func (db *DB) CreateTeam(ctx context.Context, workspaceID int64, name, description string) (*nubiq.Team, error) {
	t := nubiq.Team{Name: name, Description: description}
	err := db.Pool.QueryRow(ctx, `
		INSERT INTO teams (workspace_id, name, description) VALUES ($1, $2, $3) RETURNING id, created_at`,
		workspaceID, name, description).Scan(&t.ID, &t.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return nil, nubiq.Errorf(nubiq.ECodeConflict, "a team named %q already exists", name)
	} else if err != nil {
		return nil, fmt.Errorf("create team: %w", unavailable(err))
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return &t, nil
}

// CreateMemberParams describes an active member created directly (workspace setup, imports,
// demo data); people joining later come through InviteMember.
type CreateMemberParams struct {
	Email   string
	Name    string
	Role    string
	TeamIDs []int64
}

// CreateMember creates an active member, in the given teams.
func (db *DB) CreateMember(ctx context.Context, workspaceID int64, p CreateMemberParams) (*nubiq.Member, error) {
	email, err := nubiq.ParseEmail(p.Email)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(nubiq.MemberRoles, p.Role) {
		return nil, nubiq.Invalidf("role", "must be one of %s, got %q", strings.Join(nubiq.MemberRoles, ", "), p.Role)
	}
	var m *nubiq.Member
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `
			INSERT INTO members (workspace_id, email, name, role, status, joined_at) VALUES ($1, $2, $3, $4, 'active', now())
			RETURNING id`, workspaceID, email, p.Name, p.Role).Scan(&id)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return nubiq.Errorf(nubiq.ECodeConflict, "%s is already a member", email)
		} else if err != nil {
			return err
		}
		if err := db.setTeams(ctx, tx, workspaceID, id, p.TeamIDs); err != nil {
			return err
		}
		m, err = scanMember(tx.QueryRow(ctx, `SELECT `+memberColumns+` FROM members m WHERE m.workspace_id = $1 AND m.id = $2`, workspaceID, id))
		return err
	})
	if err != nil {
		if nubiq.ErrorCode(err) != nubiq.ECodeInternal {
			return nil, err
		}
		return nil, fmt.Errorf("create member: %w", unavailable(err))
	}
	return m, nil
}

// setTeams makes the member's teams exactly teamIDs, which must all be teams of the workspace.
func (db *DB) setTeams(ctx context.Context, tx pgx.Tx, workspaceID, memberID int64, teamIDs []int64) error {
	for _, id := range teamIDs {
		if err := db.teamExists(ctx, tx, workspaceID, id); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM team_members WHERE workspace_id = $1 AND member_id = $2 AND NOT (team_id = ANY($3))`,
		workspaceID, memberID, teamIDs); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO team_members (workspace_id, team_id, member_id)
		SELECT $1, t, $2 FROM unnest($3::bigint[]) AS t ON CONFLICT DO NOTHING`, workspaceID, memberID, teamIDs)
	return err
}

// InviteParams describes an invitation.
type InviteParams struct {
	Email   string
	Name    string
	Role    string
	TeamIDs []int64
	// SendEmail queues the invitation email (SMTP is configured).
	SendEmail bool
	// Now is the current time; zero means the database's clock is not used and time.Now is.
	Now time.Time
}

// InviteMember invites an email address into the workspace, idempotently per address:
//   - a new address becomes an invited member whose invitation expires after InvitationTTL;
//   - an address with a pending, unexpired invitation gets that same invitation back: its
//     token is not rotated (so a link already sent keeps working) and its email is not sent
//     again, but its role and teams become the ones asked for now;
//   - an address whose invitation expired gets it renewed: a new expiry and, when email is
//     configured, a new token sent by email (the old one stops working);
//   - an active or disabled member's address is a conflict.
//
// The token is minted by the job that emails it (MintInvitationToken), so it exists nowhere but
// in that email; only its SHA-256 is stored. Without email configured, the invitation exists
// with no token until an invitation is sent.
func (db *DB) InviteMember(ctx context.Context, workspaceID int64, p InviteParams) (*nubiq.Invitation, error) {
	email, err := nubiq.ParseEmail(p.Email)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(nubiq.InvitableRoles, p.Role) {
		if p.Role == nubiq.RoleOwner {
			return nil, nubiq.Invalidf("role", "owners are not invited; invite as admin or agent")
		}
		return nil, nubiq.Invalidf("role", "must be one of %s, got %q", strings.Join(nubiq.InvitableRoles, ", "), p.Role)
	}
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Microsecond) // the precision Postgres keeps
	inv := &nubiq.Invitation{}
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		var (
			id        int64
			status    string
			expires   *time.Time
			invitedAt *time.Time
			hasToken  bool
		)
		err := tx.QueryRow(ctx, `
			SELECT id, status, invitation_expires_at, invited_at, invitation_token_hash IS NOT NULL
			FROM members WHERE workspace_id = $1 AND lower(email) = lower($2) FOR UPDATE`, workspaceID, email,
		).Scan(&id, &status, &expires, &invitedAt, &hasToken)
		queue := false
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			err = tx.QueryRow(ctx, `
				INSERT INTO members (workspace_id, email, name, role, status, invited_at, invitation_expires_at)
				VALUES ($1, $2, $3, $4, 'invited', $5, $6)
				ON CONFLICT (workspace_id, lower(email)) DO NOTHING
				RETURNING id`, workspaceID, email, p.Name, p.Role, now, now.Add(nubiq.InvitationTTL)).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				// Invited by a concurrent call between our SELECT and INSERT.
				return nubiq.Errorf(nubiq.ECodeConflict, "%s is being invited by another request; retry", email)
			} else if err != nil {
				return err
			}
			inv.Outcome, queue = nubiq.InviteCreated, p.SendEmail
		case err != nil:
			return err
		case status != nubiq.MemberInvited:
			return nubiq.Errorf(nubiq.ECodeConflict, "%s is already a member of this workspace (status %s)", email, status)
		case expires == nil || !expires.After(now):
			// Expired: a fresh invitation; any token sent before stops working.
			if _, err := tx.Exec(ctx, `
				UPDATE members SET role = $3, name = CASE WHEN $4 = '' THEN name ELSE $4 END, invited_at = $5,
				       invitation_expires_at = $6, invitation_token_hash = NULL, updated_at = now()
				WHERE workspace_id = $1 AND id = $2`, workspaceID, id, p.Role, p.Name, now, now.Add(nubiq.InvitationTTL)); err != nil {
				return err
			}
			inv.Outcome, queue = nubiq.InviteRenewed, p.SendEmail
		default:
			if _, err := tx.Exec(ctx, `
				UPDATE members SET role = $3, name = CASE WHEN $4 = '' THEN name ELSE $4 END, updated_at = now()
				WHERE workspace_id = $1 AND id = $2`, workspaceID, id, p.Role, p.Name); err != nil {
				return err
			}
			inv.Outcome = nubiq.InviteExisting
			// Never sent (email was not configured then, or its job failed for good): send now.
			queue = p.SendEmail && !hasToken
		}
		if p.TeamIDs != nil {
			if err := db.setTeams(ctx, tx, workspaceID, id, p.TeamIDs); err != nil {
				return err
			}
		}
		m, err := scanMember(tx.QueryRow(ctx, `SELECT `+memberColumns+`, m.invitation_token_hash IS NOT NULL FROM members m WHERE m.workspace_id = $1 AND m.id = $2`,
			workspaceID, id), &hasToken)
		if err != nil {
			return err
		}
		inv.Member = *m
		inv.ExpiresAt = *m.InvitationExpiresAt
		switch {
		case queue:
			// Unique per invitation, so that repeated invites while the email is pending
			// queue it once.
			_, err = db.River.InsertTx(ctx, tx, nubiq.SendInvitationArgs{WorkspaceID: workspaceID, MemberID: id, InvitedAt: *m.InvitedAt},
				&river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}})
			if err != nil {
				return err
			}
			inv.EmailDelivery = nubiq.InviteEmailQueued
		case hasToken:
			inv.EmailDelivery = nubiq.InviteEmailAlreadySent
		default:
			inv.EmailDelivery = nubiq.InviteEmailNotConfigured
		}
		return nil
	})
	if err != nil {
		if nubiq.ErrorCode(err) != nubiq.ECodeInternal {
			return nil, err
		}
		return nil, fmt.Errorf("invite %s: %w", email, unavailable(err))
	}
	return inv, nil
}

// InvitationToSend is what the invitation email needs.
type InvitationToSend struct {
	Token         string
	Email         string
	Name          string
	Role          string
	WorkspaceName string
	ExpiresAt     time.Time
}

// MintInvitationToken creates the single-use token of an invitation and stores its SHA-256,
// replacing any earlier token. It reports ok=false when the invitation no longer stands (the
// member accepted, was removed, or was invited again since), in which case nothing is sent.
func (db *DB) MintInvitationToken(ctx context.Context, a nubiq.SendInvitationArgs) (*InvitationToSend, bool, error) {
	token := newInvitationToken()
	s := InvitationToSend{Token: token}
	err := db.Pool.QueryRow(ctx, `
		UPDATE members m SET invitation_token_hash = $4, updated_at = now()
		FROM workspaces w
		WHERE m.workspace_id = $1 AND m.id = $2 AND w.id = m.workspace_id
		  AND m.status = 'invited' AND m.invited_at = $3 AND m.invitation_expires_at > now()
		RETURNING m.email, m.name, m.role, w.name, m.invitation_expires_at`,
		a.WorkspaceID, a.MemberID, a.InvitedAt, HashKey(token),
	).Scan(&s.Email, &s.Name, &s.Role, &s.WorkspaceName, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("mint invitation token for member %d: %w", a.MemberID, unavailable(err))
	}
	s.ExpiresAt = s.ExpiresAt.UTC()
	return &s, true, nil
}

// ForgetInvitationToken clears an invitation's token when its email could not be sent, so that
// the invitation reads as not sent and inviting the address again sends it. It changes nothing
// if the token has been replaced or used since.
func (db *DB) ForgetInvitationToken(ctx context.Context, a nubiq.SendInvitationArgs, token string) error {
	_, err := db.Pool.Exec(ctx, `
		UPDATE members SET invitation_token_hash = NULL, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND invitation_token_hash = $3`, a.WorkspaceID, a.MemberID, HashKey(token))
	if err != nil {
		return fmt.Errorf("forget invitation token of member %d: %w", a.MemberID, unavailable(err))
	}
	return nil
}

// InvitationTokenPrefix starts every invitation token.
const InvitationTokenPrefix = "nbqi_"

func newInvitationToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return InvitationTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// AcceptInvitation turns the invited member holding token into an active member. The token
// works once: accepting clears it. An unknown, used or expired token is not_found, the same
// answer for each so that tokens cannot be probed. It records an invitation.accepted
// notification event.
func (db *DB) AcceptInvitation(ctx context.Context, token, name string) (*nubiq.Member, error) {
	var m *nubiq.Member
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		var workspaceID, id int64
		err := tx.QueryRow(ctx, `
			UPDATE members SET status = 'active', joined_at = now(), invitation_token_hash = NULL,
			       invitation_expires_at = NULL, name = CASE WHEN $2 = '' THEN name ELSE $2 END, updated_at = now()
			WHERE invitation_token_hash = $1 AND status = 'invited' AND invitation_expires_at > now()
			RETURNING workspace_id, id`, HashKey(token), strings.TrimSpace(name)).Scan(&workspaceID, &id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nubiq.NotFoundf("this invitation is unknown, already used or expired; ask for a new one")
		} else if err != nil {
			return err
		}
		if m, err = scanMember(tx.QueryRow(ctx, `SELECT `+memberColumns+` FROM members m WHERE m.workspace_id = $1 AND m.id = $2`, workspaceID, id)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO notification_events (workspace_id, kind, subject_type, subject_id, data)
			VALUES ($1, 'invitation.accepted', 'member', $2, $3)`,
			workspaceID, id, map[string]any{"email": m.Email, "name": m.Name, "role": m.Role})
		return err
	})
	if err != nil {
		if nubiq.ErrorCode(err) != nubiq.ECodeInternal {
			return nil, err
		}
		return nil, fmt.Errorf("accept invitation: %w", unavailable(err))
	}
	return m, nil
}
