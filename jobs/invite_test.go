package jobs_test

import (
	"context"
	"crypto/sha256"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/mcp/mcptest"
	"github.com/nubiq/hub/postgres"
)

var tokenRe = regexp.MustCompile(`#token=(` + postgres.InvitationTokenPrefix + `[A-Za-z0-9_-]+)`)

// waitMessages waits until the SMTP server has recorded n messages.
func waitMessages(t *testing.T, srv *smtpServer, n int) []smtpMessage {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if msgs := srv.Messages(); len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages after 15s", len(srv.Messages()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInvitationEmailCarriesASingleUseToken(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	ctx := context.Background()
	srv := newSMTPServer(t, nil)
	env := mcptest.New(t, e.db, mcptest.WithDeps(func(d *mcp.Deps) { d.SendInvitations = true }))
	startDeliveryRunner(t, e.db, jobs.Deps{Mail: jobs.MailConfig{
		SMTPConfig: jobs.SMTPConfig{Host: srv.Host, Port: srv.Port, From: "Nubiq Hub <hub@acme.test>"},
		PublicURL:  "https://hub.acme.test/",
	}})
	cs := env.Client(t, env.Key(t, e.ws, nubiq.ScopeTeamWrite, nubiq.ScopeTeamRead))

	r := mcptest.Call(t, cs, "team.invite", map[string]any{"email": "nina@example.com", "name": "Nina", "role": "admin"})
	require.Nil(t, r.Error)
	require.Contains(t, string(r.JSON), `"email_delivery":"queued"`)

	msgs := waitMessages(t, srv, 1)
	require.Equal(t, "hub@acme.test", msgs[0].From)
	require.Equal(t, []string{"nina@example.com"}, msgs[0].To)
	msg, text := parseMail(t, msgs[0].Data)
	require.Contains(t, msg.Header.Get("Subject"), "Acme")
	require.Contains(t, text, "Hello Nina,")
	require.Contains(t, text, "as an admin")
	m := tokenRe.FindStringSubmatch(text)
	require.NotNil(t, m, "no invitation link in:\n%s", text)
	token := m[1]
	require.Contains(t, text, "https://hub.acme.test/accept-invitation#token="+token)

	// Only the token's SHA-256 is stored; the token is in no tool output and nowhere in the
	// database, job arguments included.
	var member nubiq.Member
	var stored []byte
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT id, invitation_token_hash FROM members WHERE email = 'nina@example.com'`).Scan(&member.ID, &stored))
	sum := sha256.Sum256([]byte(token))
	require.Equal(t, sum[:], stored)
	require.NotContains(t, string(r.JSON), token)
	var leaks int
	require.NoError(t, e.db.Pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM river_job WHERE args::text LIKE '%' || $1 || '%')
		     + (SELECT count(*) FROM members WHERE row_to_json(members)::text LIKE '%' || $1 || '%')`, token).Scan(&leaks))
	require.Zero(t, leaks)
	listed := mcptest.Call(t, cs, "team.members", map[string]any{})
	require.NotContains(t, string(listed.JSON), token)

	// A repeat invitation neither re-sends nor rotates a token that went out.
	r = mcptest.Call(t, cs, "team.invite", map[string]any{"email": "nina@example.com", "role": "admin"})
	require.Contains(t, string(r.JSON), `"email_delivery":"already_sent"`)
	waitJobsFinal(t, e.db, "send_invitation")
	require.Len(t, srv.Messages(), 1)

	// Accepting works once.
	accepted, err := e.db.AcceptInvitation(ctx, token, "")
	require.NoError(t, err)
	require.Equal(t, member.ID, accepted.ID)
	require.Equal(t, "active", accepted.Status)
	require.Equal(t, "Nina", accepted.Name)
	require.NotNil(t, accepted.JoinedAt)
	require.Nil(t, accepted.InvitationExpiresAt)
	_, err = e.db.AcceptInvitation(ctx, token, "")
	require.Equal(t, nubiq.ECodeNotFound, nubiq.ErrorCode(err), "a token works once")
	var events int
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM notification_events WHERE workspace_id = $1 AND kind = 'invitation.accepted' AND subject_id = $2`, e.ws, member.ID).Scan(&events))
	require.Equal(t, 1, events)

	// Now a member: inviting again is a conflict.
	require.Equal(t, "conflict", mcptest.Call(t, cs, "team.invite", map[string]any{"email": "nina@example.com", "role": "agent"}).Error.Code)
}

func TestInvitationRenewalRevokesTheOldLink(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	ctx := context.Background()
	srv := newSMTPServer(t, nil)
	env := mcptest.New(t, e.db, mcptest.WithDeps(func(d *mcp.Deps) { d.SendInvitations = true }))
	startDeliveryRunner(t, e.db, jobs.Deps{Mail: jobs.MailConfig{SMTPConfig: jobs.SMTPConfig{Host: srv.Host, Port: srv.Port, From: "hub@acme.test"}}})
	cs := env.Client(t, env.Key(t, e.ws, nubiq.ScopeTeamWrite))

	mcptest.MustCall(t, cs, "team.invite", map[string]any{"email": "omar@example.com", "role": "agent"}, nil)
	_, text := parseMail(t, waitMessages(t, srv, 1)[0].Data)
	first := tokenRe.FindStringSubmatch(text)[1]
	_, err := e.db.Pool.Exec(ctx, `UPDATE members SET invitation_expires_at = now() - interval '1 minute' WHERE email = 'omar@example.com'`)
	require.NoError(t, err)
	_, err = e.db.AcceptInvitation(ctx, first, "")
	require.Equal(t, nubiq.ECodeNotFound, nubiq.ErrorCode(err), "an expired link does not work")

	var inv nubiq.Invitation
	mcptest.MustCall(t, cs, "team.invite", map[string]any{"email": "omar@example.com", "role": "agent"}, &inv)
	require.Equal(t, "renewed", inv.Outcome)
	msgs := waitMessages(t, srv, 2)
	_, text = parseMail(t, msgs[1].Data)
	second := tokenRe.FindStringSubmatch(text)[1]
	require.NotEqual(t, first, second)
	require.True(t, strings.Contains(text, "http://localhost:8080/accept-invitation#token="), "default public URL")

	_, err = e.db.AcceptInvitation(ctx, first, "")
	require.Equal(t, nubiq.ECodeNotFound, nubiq.ErrorCode(err), "the old link stays dead after renewal")
	m, err := e.db.AcceptInvitation(ctx, second, "Omar K")
	require.NoError(t, err)
	require.Equal(t, "Omar K", m.Name)
}

func TestInvitationEmailFailureForgetsTheToken(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t)
	ctx := context.Background()
	srv := newSMTPServer(t, func(s *smtpServer) { s.RcptReply = "550 5.1.1 mailbox unavailable" })
	env := mcptest.New(t, e.db, mcptest.WithDeps(func(d *mcp.Deps) { d.SendInvitations = true }))
	startDeliveryRunner(t, e.db, jobs.Deps{Mail: jobs.MailConfig{SMTPConfig: jobs.SMTPConfig{Host: srv.Host, Port: srv.Port, From: "hub@acme.test"}}})
	cs := env.Client(t, env.Key(t, e.ws, nubiq.ScopeTeamWrite))

	mcptest.MustCall(t, cs, "team.invite", map[string]any{"email": "gone@example.com", "role": "agent"}, nil)
	waitJobsFinal(t, e.db, "send_invitation")
	var hasToken bool
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT invitation_token_hash IS NOT NULL FROM members WHERE email = 'gone@example.com'`).Scan(&hasToken))
	require.False(t, hasToken, "a token whose email was refused is forgotten")
	var state string
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT state FROM river_job WHERE kind = 'send_invitation'`).Scan(&state))
	require.Equal(t, "cancelled", state, "a 5xx refusal is not retried")

	// Inviting again queues a new email rather than claiming one was sent.
	var inv nubiq.Invitation
	mcptest.MustCall(t, cs, "team.invite", map[string]any{"email": "gone@example.com", "role": "agent"}, &inv)
	require.Equal(t, "queued", inv.EmailDelivery)
}
