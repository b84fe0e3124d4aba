package mcp

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

type teamMembersIn struct {
	Role   string `json:"role,omitempty" jsonschema:"only members with this role"`
	Status string `json:"status,omitempty" jsonschema:"only members with this status"`
	TeamID int64  `json:"team_id,omitempty" jsonschema:"only members of this team"`
	Cursor string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page; omit for the first page"`
	Limit  int    `json:"limit,omitempty" jsonschema:"page size, 1 to 100 (default 20)"`
}

type teamMembersOut struct {
	Members    []*nubiq.Member `json:"members"`
	NextCursor string          `json:"next_cursor" jsonschema:"pass as cursor for the next page; empty on the last page"`
}

type teamInviteIn struct {
	Email   string  `json:"email" jsonschema:"the person's email address"`
	Role    string  `json:"role" jsonschema:"admin or agent; owners are not invited"`
	Name    string  `json:"name,omitempty" jsonschema:"the person's name, for the invitation email"`
	TeamIDs []int64 `json:"team_ids,omitempty" jsonschema:"teams to join; on a repeated invitation these replace the teams asked for before"`
}

func teamTools(d *Deps) []*Tool {
	return []*Tool{
		NewTool(ToolSpec{Name: "team.members", Title: "List team members", Scope: nubiq.ScopeTeamRead, ReadOnly: true,
			Description: "List the workspace's members, oldest first, with their role (owner, admin, agent), status (active, " +
				"invited, disabled) and teams; invited members show when their invitation expires."},
			func(ctx context.Context, in teamMembersIn) (teamMembersOut, error) {
				if d.DB == nil {
					return teamMembersOut{}, errNotAvailable("team.members")
				}
				if in.Role != "" && !slices.Contains(nubiq.MemberRoles, in.Role) {
					return teamMembersOut{}, nubiq.Invalidf("role", "must be one of %s, got %q", strings.Join(nubiq.MemberRoles, ", "), in.Role)
				}
				if in.Status != "" && !slices.Contains(nubiq.MemberStatuses, in.Status) {
					return teamMembersOut{}, nubiq.Invalidf("status", "must be one of %s, got %q", strings.Join(nubiq.MemberStatuses, ", "), in.Status)
				}
				ms, next, err := d.DB.ListMembers(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, postgres.MemberFilter{
					Role: in.Role, Status: in.Status, TeamID: in.TeamID, Cursor: in.Cursor, Limit: in.Limit,
				})
				if err != nil {
					return teamMembersOut{}, err
				}
				return teamMembersOut{Members: ms, NextCursor: next}, nil
			}).Enum("role", nubiq.MemberRoles...).Enum("status", nubiq.MemberStatuses...),

		NewTool(ToolSpec{Name: "team.invite", Title: "Invite a team member", Scope: nubiq.ScopeTeamWrite, Idempotent: true, OpenWorld: true,
			Description: "Invite a person by email as admin or agent, optionally into teams. The invitation expires after 7 days " +
				"and is accepted through a single-use link sent by email when email is configured (email_delivery says " +
				"whether it was queued). Inviting an address with a pending invitation returns that invitation (outcome " +
				"existing; its link is not re-sent, its role and teams are updated); an expired one is renewed with a new " +
				"link (outcome renewed). Inviting an existing member is a conflict."},
			func(ctx context.Context, in teamInviteIn) (nubiq.Invitation, error) {
				if d.DB == nil {
					return nubiq.Invitation{}, errNotAvailable("team.invite")
				}
				if len(in.TeamIDs) > 50 {
					return nubiq.Invitation{}, nubiq.Invalidf("team_ids", "at most 50 teams, got %d", len(in.TeamIDs))
				}
				if utf8.RuneCountInString(in.Name) > 200 || strings.ContainsAny(in.Name, "\r\n\x00") {
					return nubiq.Invitation{}, nubiq.Invalidf("name", "must be one line of at most 200 characters")
				}
				inv, err := d.DB.InviteMember(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, postgres.InviteParams{
					Email: in.Email, Name: strings.TrimSpace(in.Name), Role: in.Role, TeamIDs: in.TeamIDs,
					SendEmail: d.SendInvitations, Now: d.now(),
				})
				if err != nil {
					return nubiq.Invitation{}, err
				}
				return *inv, nil
			}).Enum("role", nubiq.InvitableRoles...),
	}
}
