package mcp_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/mcp/mcptest"
	"github.com/nubiq/hub/postgres"
)

type teamFixture struct {
	env                           *mcptest.Env
	ws, other                     int64
	support, billing, otherTeam   int64
	owner, admin, agent, disabled int64
	otherMember                   int64
}

func newTeamFixture(t *testing.T, opts ...mcptest.Option) *teamFixture {
	t.Helper()
	ctx := context.Background()
	env := mcptest.New(t, nil, opts...)
	f := &teamFixture{env: env, ws: env.Workspace(t, "Acme", "enterprise"), other: env.Workspace(t, "Globex", "enterprise")}
	team := func(ws int64, name string) int64 {
		tm, err := env.DB.CreateTeam(ctx, ws, name, "")
		require.NoError(t, err)
		return tm.ID
	}
	f.support, f.billing, f.otherTeam = team(f.ws, "Support"), team(f.ws, "Billing"), team(f.other, "Globex support")
	member := func(ws int64, email, role string, teams ...int64) int64 {
		m, err := env.DB.CreateMember(ctx, ws, postgres.CreateMemberParams{Email: email, Name: strings.Split(email, "@")[0], Role: role, TeamIDs: teams})
		require.NoError(t, err)
		return m.ID
	}
	f.owner = member(f.ws, "olga@acme.test", "owner")
	f.admin = member(f.ws, "adam@acme.test", "admin", f.support)
	f.agent = member(f.ws, "aisha@acme.test", "agent", f.support, f.billing)
	f.disabled = member(f.ws, "dan@acme.test", "agent")
	_, err := env.DB.Pool.Exec(ctx, `UPDATE members SET status = 'disabled' WHERE id = $1`, f.disabled)
	require.NoError(t, err)
	f.otherMember = member(f.other, "gina@globex.test", "admin", f.otherTeam)
	_, err = env.DB.CreateMember(ctx, f.ws, postgres.CreateMemberParams{Email: "x@acme.test", Role: "agent", TeamIDs: []int64{f.otherTeam}})
	require.Equal(t, nubiq.ECodeNotFound, nubiq.ErrorCode(err), "another workspace's team cannot be joined")
	return f
}

type membersOut struct {
	Members    []nubiq.Member `json:"members"`
	NextCursor string         `json:"next_cursor"`
}

func memberIDs(ms []nubiq.Member) []int64 {
	out := []int64{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestTeamMembers(t *testing.T) {
	t.Parallel()
	f := newTeamFixture(t)
	cs := f.env.Client(t, f.env.Key(t, f.ws, nubiq.ScopeTeamRead))

	var all membersOut
	mcptest.MustCall(t, cs, "team.members", map[string]any{}, &all)
	require.Equal(t, []int64{f.owner, f.admin, f.agent, f.disabled}, memberIDs(all.Members))
	require.Empty(t, all.NextCursor)
	agent := all.Members[2]
	require.Equal(t, "aisha@acme.test", agent.Email)
	require.Equal(t, "agent", agent.Role)
	require.Equal(t, "active", agent.Status)
	require.Equal(t, []nubiq.TeamRef{{ID: f.billing, Name: "Billing"}, {ID: f.support, Name: "Support"}}, agent.Teams)
	require.NotNil(t, agent.JoinedAt)
	require.Equal(t, time.UTC, agent.CreatedAt.Location())
	require.Equal(t, []nubiq.TeamRef{}, all.Members[0].Teams)
	require.Equal(t, "disabled", all.Members[3].Status)

	var p1, p2 membersOut
	mcptest.MustCall(t, cs, "team.members", map[string]any{"limit": 3}, &p1)
	require.Equal(t, []int64{f.owner, f.admin, f.agent}, memberIDs(p1.Members))
	mcptest.MustCall(t, cs, "team.members", map[string]any{"limit": 3, "cursor": p1.NextCursor}, &p2)
	require.Equal(t, []int64{f.disabled}, memberIDs(p2.Members))
	require.Empty(t, p2.NextCursor)

	var filtered membersOut
	mcptest.MustCall(t, cs, "team.members", map[string]any{"role": "agent"}, &filtered)
	require.Equal(t, []int64{f.agent, f.disabled}, memberIDs(filtered.Members))
	mcptest.MustCall(t, cs, "team.members", map[string]any{"status": "active", "team_id": f.support}, &filtered)
	require.Equal(t, []int64{f.admin, f.agent}, memberIDs(filtered.Members))
	mcptest.MustCall(t, cs, "team.members", map[string]any{"team_id": f.billing}, &filtered)
	require.Equal(t, []int64{f.agent}, memberIDs(filtered.Members))

	for _, bad := range []struct {
		args  map[string]any
		field string
	}{
		{map[string]any{"role": "superuser"}, "role"},
		{map[string]any{"status": "gone"}, "status"},
		{map[string]any{"limit": 101}, "limit"},
		{map[string]any{"cursor": "xyz"}, "cursor"},
		{map[string]any{"team_id": "support"}, "team_id"},
		{map[string]any{"email": "a@b.c"}, "email"},
	} {
		e := mcptest.MustFail(t, cs, "team.members", bad.args, nubiq.ECodeInvalid)
		require.Equal(t, bad.field, e.Field, "%v: %s", bad.args, e.Message)
	}
	mcptest.MustFail(t, cs, "team.members", map[string]any{"team_id": 987654}, nubiq.ECodeNotFound)
	mcptest.MustFail(t, cs, "team.members", map[string]any{"team_id": f.otherTeam}, nubiq.ECodeNotFound)

	// The other workspace sees only its own.
	otherCS := f.env.Client(t, f.env.Key(t, f.other, nubiq.ScopeTeamRead))
	mcptest.MustCall(t, otherCS, "team.members", map[string]any{}, &all)
	require.Equal(t, []int64{f.otherMember}, memberIDs(all.Members))
}

func TestTeamInvite(t *testing.T) {
	t.Parallel()
	f := newTeamFixture(t)
	ctx := context.Background()
	cs := f.env.Client(t, f.env.Key(t, f.ws, nubiq.ScopeTeamRead, nubiq.ScopeTeamWrite))
	var outputs []string
	invite := func(args map[string]any) nubiq.Invitation {
		t.Helper()
		r := mcptest.Call(t, cs, "team.invite", args)
		require.Nil(t, r.Error, "%v", r.Error)
		outputs = append(outputs, string(r.JSON))
		var inv nubiq.Invitation
		require.NoError(t, json.Unmarshal(r.JSON, &inv))
		return inv
	}

	start := time.Now()
	inv := invite(map[string]any{"email": "Nina <nina@acme.test>", "role": "agent", "name": "Nina", "team_ids": []int64{f.support}})
	require.Equal(t, "created", inv.Outcome)
	require.Equal(t, "not_configured", inv.EmailDelivery, "no SMTP in this environment")
	require.Equal(t, "nina@acme.test", inv.Member.Email)
	require.Equal(t, "invited", inv.Member.Status)
	require.Equal(t, "agent", inv.Member.Role)
	require.Equal(t, []nubiq.TeamRef{{ID: f.support, Name: "Support"}}, inv.Member.Teams)
	require.WithinDuration(t, start.Add(7*24*time.Hour), inv.ExpiresAt, time.Minute)
	require.Equal(t, inv.ExpiresAt, *inv.Member.InvitationExpiresAt)
	require.Nil(t, inv.Member.JoinedAt)

	// The same address again (any case): the same pending invitation, role and teams updated.
	again := invite(map[string]any{"email": "NINA@acme.test", "role": "admin", "team_ids": []int64{f.billing}})
	require.Equal(t, "existing", again.Outcome)
	require.Equal(t, inv.Member.ID, again.Member.ID)
	require.Equal(t, inv.ExpiresAt, again.ExpiresAt, "a pending invitation is not extended")
	require.Equal(t, "admin", again.Member.Role)
	require.Equal(t, "Nina", again.Member.Name)
	require.Equal(t, []nubiq.TeamRef{{ID: f.billing, Name: "Billing"}}, again.Member.Teams)
	same := invite(map[string]any{"email": "nina@acme.test", "role": "admin"})
	require.Equal(t, "existing", same.Outcome)
	require.Equal(t, again.Member.Teams, same.Member.Teams, "teams left out stay")

	// Expired: renewed with a new expiry.
	_, err := f.env.DB.Pool.Exec(ctx, `UPDATE members SET invitation_expires_at = now() - interval '1 hour', invited_at = now() - interval '8 days' WHERE id = $1`, inv.Member.ID)
	require.NoError(t, err)
	renewed := invite(map[string]any{"email": "nina@acme.test", "role": "agent"})
	require.Equal(t, "renewed", renewed.Outcome)
	require.Equal(t, inv.Member.ID, renewed.Member.ID)
	require.True(t, renewed.ExpiresAt.After(time.Now().Add(6*24*time.Hour)))

	var listed membersOut
	mcptest.MustCall(t, cs, "team.members", map[string]any{"status": "invited"}, &listed)
	require.Equal(t, []int64{inv.Member.ID}, memberIDs(listed.Members))
	require.NotNil(t, listed.Members[0].InvitationExpiresAt)

	// Existing members are a conflict, whatever their status and the address's case.
	mcptest.MustFail(t, cs, "team.invite", map[string]any{"email": "Aisha@Acme.test", "role": "agent"}, nubiq.ECodeConflict)
	mcptest.MustFail(t, cs, "team.invite", map[string]any{"email": "dan@acme.test", "role": "agent"}, nubiq.ECodeConflict)

	bad := []struct {
		name  string
		args  map[string]any
		field string
	}{
		{"missing email", map[string]any{"role": "agent"}, "email"},
		{"missing role", map[string]any{"email": "x@acme.test"}, "role"},
		{"bad email", map[string]any{"email": "not-an-email", "role": "agent"}, "email"},
		{"two emails", map[string]any{"email": "a@acme.test, b@acme.test", "role": "agent"}, "email"},
		{"owner", map[string]any{"email": "x@acme.test", "role": "owner"}, "role"},
		{"unknown role", map[string]any{"email": "x@acme.test", "role": "root"}, "role"},
		{"team ids type", map[string]any{"email": "x@acme.test", "role": "agent", "team_ids": []string{"support"}}, "team_ids"},
		{"name newline", map[string]any{"email": "x@acme.test", "role": "agent", "name": "X\nBcc: y"}, "name"},
		{"unknown field", map[string]any{"email": "x@acme.test", "role": "agent", "password": "hunter2"}, "password"},
	}
	for _, b := range bad {
		e := mcptest.MustFail(t, cs, "team.invite", b.args, nubiq.ECodeInvalid)
		require.Equal(t, b.field, e.Field, "%s: %s", b.name, e.Message)
	}
	mcptest.MustFail(t, cs, "team.invite", map[string]any{"email": "x@acme.test", "role": "agent", "team_ids": []int64{987654}}, nubiq.ECodeNotFound)
	mcptest.MustFail(t, cs, "team.invite", map[string]any{"email": "x@acme.test", "role": "agent", "team_ids": []int64{f.otherTeam}}, nubiq.ECodeNotFound)
	var n int
	require.NoError(t, f.env.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM members WHERE lower(email) = 'x@acme.test'`).Scan(&n))
	require.Zero(t, n, "refused invitations created nobody")

	// Per workspace: the other workspace's member's address can be invited here.
	g := invite(map[string]any{"email": "gina@globex.test", "role": "agent"})
	require.Equal(t, "created", g.Outcome)
	require.NotEqual(t, f.otherMember, g.Member.ID)

	// Without email, no token exists yet; no output carries anything token-like.
	var tokens int
	require.NoError(t, f.env.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM members WHERE invitation_token_hash IS NOT NULL`).Scan(&tokens))
	require.Zero(t, tokens)
	require.NotContains(t, strings.Join(outputs, "\n"), postgres.InvitationTokenPrefix)
	require.NotContains(t, strings.Join(outputs, "\n"), "token")

	readOnly := f.env.Client(t, f.env.Key(t, f.ws, nubiq.ScopeTeamRead))
	mcptest.MustFail(t, readOnly, "team.invite", map[string]any{"email": "y@acme.test", "role": "agent"}, nubiq.ECodeForbidden)
}

func TestTeamInviteQueuesEmailWhenConfigured(t *testing.T) {
	t.Parallel()
	f := newTeamFixture(t, mcptest.WithDeps(func(d *mcp.Deps) { d.SendInvitations = true }))
	ctx := context.Background()
	cs := f.env.Client(t, f.env.Key(t, f.ws, nubiq.ScopeTeamWrite))
	jobs := func() int {
		var n int
		require.NoError(t, f.env.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'send_invitation'`).Scan(&n))
		return n
	}

	var inv nubiq.Invitation
	mcptest.MustCall(t, cs, "team.invite", map[string]any{"email": "nina@acme.test", "role": "agent"}, &inv)
	require.Equal(t, "queued", inv.EmailDelivery)
	require.Equal(t, 1, jobs())
	var memberID int64
	require.NoError(t, f.env.DB.Pool.QueryRow(ctx, `SELECT (args->>'member_id')::bigint FROM river_job WHERE kind = 'send_invitation'`).Scan(&memberID))
	require.Equal(t, inv.Member.ID, memberID)

	// Asking again while the email is pending queues nothing more.
	mcptest.MustCall(t, cs, "team.invite", map[string]any{"email": "nina@acme.test", "role": "agent"}, &inv)
	require.Equal(t, "existing", inv.Outcome)
	require.Equal(t, "queued", inv.EmailDelivery)
	require.Equal(t, 1, jobs())

	// Once a token has gone out, a repeat neither re-sends nor rotates it.
	_, err := f.env.DB.Pool.Exec(ctx, `UPDATE members SET invitation_token_hash = sha256('sent'::bytea) WHERE id = $1`, inv.Member.ID)
	require.NoError(t, err)
	mcptest.MustCall(t, cs, "team.invite", map[string]any{"email": "nina@acme.test", "role": "agent"}, &inv)
	require.Equal(t, "already_sent", inv.EmailDelivery)
	require.Equal(t, 1, jobs())
	var same bool
	require.NoError(t, f.env.DB.Pool.QueryRow(ctx, `SELECT invitation_token_hash = sha256('sent'::bytea) FROM members WHERE id = $1`, inv.Member.ID).Scan(&same))
	require.True(t, same)

	// Renewal queues a new email for the new invitation.
	_, err = f.env.DB.Pool.Exec(ctx, `UPDATE members SET invitation_expires_at = now() - interval '1 second' WHERE id = $1`, inv.Member.ID)
	require.NoError(t, err)
	mcptest.MustCall(t, cs, "team.invite", map[string]any{"email": "nina@acme.test", "role": "agent"}, &inv)
	require.Equal(t, "renewed", inv.Outcome)
	require.Equal(t, "queued", inv.EmailDelivery)
	require.Equal(t, 2, jobs())
	require.NoError(t, f.env.DB.Pool.QueryRow(ctx, `SELECT invitation_token_hash IS NULL FROM members WHERE id = $1`, inv.Member.ID).Scan(&same))
	require.True(t, same, "renewal drops the old token")
}
