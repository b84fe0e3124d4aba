package mcp_test

import (
	"context"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp/mcptest"
)

type notificationsPage struct {
	Events    []nubiq.Notification `json:"events"`
	NextSince string               `json:"next_since"`
	HasMore   bool                 `json:"has_more"`
}

func (f rowsFx) event(kind, subjectType string, subjectID int64, data map[string]any) int64 {
	f.t.Helper()
	if data == nil {
		data = map[string]any{}
	}
	return f.id(`INSERT INTO notification_events (workspace_id, kind, subject_type, subject_id, data)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, f.ws, kind, subjectType, subjectID, data)
}

func eventIDs(events []nubiq.Notification) []int64 {
	out := []int64{}
	for _, e := range events {
		out = append(out, e.ID)
	}
	return out
}

// waitVisible polls until want events are ready: an event is handed out only once every
// transaction older than its own has ended, and the test cluster is shared with other
// packages' tests, whose transactions can hold that back for a moment.
func waitVisible(t *testing.T, env *mcptest.Env, cs *sdk.ClientSession, args map[string]any, want int) notificationsPage {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var p notificationsPage
		mustCallSchema(t, env, cs, "notifications.list", args, &p)
		if len(p.Events) >= want || time.Now().After(deadline) {
			require.Len(t, p.Events, want)
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNotificationsList(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	ws := env.Workspace(t, "Acme Support", "pro")
	otherWS := env.Workspace(t, "Globex Support", "pro")
	a := rowsFx{t, env, ws}
	b := rowsFx{t, env, otherWS}

	e1 := a.event(nubiq.NotificationTicketCreated, "ticket", 11, map[string]any{"subject": "Invoice wrong"})
	b.event(nubiq.NotificationTicketCreated, "ticket", 99, map[string]any{"subject": "Globex secret"})
	e2 := a.event(nubiq.NotificationConversationAssigned, "conversation", 21, map[string]any{"member_id": 3})
	e3 := a.event(nubiq.NotificationTicketClosed, "ticket", 11, nil)
	e4 := a.event(nubiq.NotificationDocumentFailed, "document", 31, map[string]any{"error": "not a PDF"})
	e5 := a.event(nubiq.NotificationInvitationAccepted, "member", 41, nil)

	cs := env.Client(t, env.Key(t, ws, nubiq.ScopeNotificationsRead))
	all := waitVisible(t, env, cs, map[string]any{"limit": 100}, 5)
	require.Equal(t, []int64{e1, e2, e3, e4, e5}, eventIDs(all.Events), "oldest first, this workspace only")
	require.False(t, all.HasMore)
	require.Equal(t, "ticket.created", all.Events[0].Kind)
	require.Equal(t, "ticket", all.Events[0].SubjectType)
	require.Equal(t, int64(11), all.Events[0].SubjectID)
	require.Equal(t, map[string]any{"subject": "Invoice wrong"}, all.Events[0].Data)
	require.Equal(t, map[string]any{}, all.Events[2].Data)
	require.WithinDuration(t, time.Now(), all.Events[0].CreatedAt, time.Minute)

	list := func(args map[string]any) notificationsPage {
		t.Helper()
		var p notificationsPage
		mustCallSchema(t, env, cs, "notifications.list", args, &p)
		return p
	}

	t.Run("paging with since", func(t *testing.T) {
		p := list(map[string]any{"limit": 2})
		require.Equal(t, []int64{e1, e2}, eventIDs(p.Events))
		require.True(t, p.HasMore)
		p = list(map[string]any{"limit": 2, "since": p.NextSince})
		require.Equal(t, []int64{e3, e4}, eventIDs(p.Events))
		require.True(t, p.HasMore)
		p = list(map[string]any{"limit": 2, "since": p.NextSince})
		require.Equal(t, []int64{e5}, eventIDs(p.Events))
		require.False(t, p.HasMore)

		// Nothing new: the same position comes back to poll with.
		last := p.NextSince
		p = list(map[string]any{"since": last})
		require.Empty(t, p.Events)
		require.False(t, p.HasMore)
		require.Equal(t, last, p.NextSince)

		e6 := a.event(nubiq.NotificationTicketCreated, "ticket", 12, nil)
		p = waitVisible(t, env, cs, map[string]any{"since": last}, 1)
		require.Equal(t, []int64{e6}, eventIDs(p.Events))
		require.NotEqual(t, last, p.NextSince)
	})

	t.Run("kinds filter", func(t *testing.T) {
		p := list(map[string]any{"kinds": []string{"ticket.closed", "ticket.created", "ticket.created"}})
		for _, e := range p.Events {
			require.Contains(t, []string{"ticket.created", "ticket.closed"}, e.Kind)
		}
		require.Equal(t, []int64{e1, e3}, eventIDs(p.Events)[:2])
		p = list(map[string]any{"kinds": []string{"document.failed"}, "since": p.NextSince})
		require.Empty(t, p.Events, "a position past the last document event")
		p = list(map[string]any{"kinds": []string{"document.failed"}})
		require.Equal(t, []int64{e4}, eventIDs(p.Events))
	})

	t.Run("an empty workspace starts with an empty position", func(t *testing.T) {
		empty := env.Workspace(t, "Empty", "pro")
		var p notificationsPage
		mustCallSchema(t, env, env.Client(t, env.Key(t, empty, nubiq.ScopeNotificationsRead)), "notifications.list", map[string]any{}, &p)
		require.Empty(t, p.Events)
		require.Empty(t, p.NextSince)
	})

	t.Run("another workspace's events never show, whatever the position", func(t *testing.T) {
		ocs := env.Client(t, env.Key(t, otherWS, nubiq.ScopeNotificationsRead))
		var p notificationsPage
		mustCallSchema(t, env, ocs, "notifications.list", map[string]any{"since": all.NextSince}, &p)
		require.Empty(t, p.Events, "a position from another workspace is only a position")
		mustCallSchema(t, env, ocs, "notifications.list", map[string]any{}, &p)
		require.Len(t, p.Events, 1)
		require.Equal(t, "Globex secret", p.Events[0].Data["subject"])
	})

	t.Run("bad input names the field", func(t *testing.T) {
		mustFailField(t, cs, "notifications.list", map[string]any{"limit": 101}, "invalid", "limit")
		mustFailField(t, cs, "notifications.list", map[string]any{"limit": 0.5}, "invalid", "limit")
		mustFailField(t, cs, "notifications.list", map[string]any{"since": "42"}, "invalid", "since")
		mustFailField(t, cs, "notifications.list", map[string]any{"since": nubiq.Cursor{Kind: nubiq.ContactCursorKind, ID: 4}.Encode()}, "invalid", "since")
		mustFailField(t, cs, "notifications.list", map[string]any{"since": nubiq.Cursor{Kind: nubiq.NotificationCursorKind, Str: "x", ID: 4}.Encode()}, "invalid", "since")
		mustFailField(t, cs, "notifications.list", map[string]any{"kinds": []string{"ticket.deleted"}}, "invalid", "kinds")
		mustFailField(t, cs, "notifications.list", map[string]any{"kinds": "ticket.created"}, "invalid", "kinds")
		mustFailField(t, cs, "notifications.list", map[string]any{"cursor": all.NextSince}, "invalid", "cursor")
		mcptest.MustFail(t, env.Client(t, env.Key(t, ws, nubiq.ScopeTicketsRead)), "notifications.list", map[string]any{}, "forbidden")
	})
}

// An event whose transaction commits after a later event must not be skipped by a poller
// that has already read the later one: it is held back until the older transaction ends.
func TestNotificationsListNeverSkipsLateCommits(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	ws := env.Workspace(t, "Acme Support", "pro")
	a := rowsFx{t, env, ws}
	cs := env.Client(t, env.Key(t, ws, nubiq.ScopeNotificationsRead))
	ctx := context.Background()

	first := a.event(nubiq.NotificationTicketCreated, "ticket", 1, nil)
	start := waitVisible(t, env, cs, map[string]any{}, 1)
	require.Equal(t, []int64{first}, eventIDs(start.Events))

	slow, err := env.DB.Pool.Begin(ctx)
	require.NoError(t, err)
	defer slow.Rollback(ctx) //nolint:errcheck
	var late int64
	require.NoError(t, slow.QueryRow(ctx, `INSERT INTO notification_events (workspace_id, kind, subject_type, subject_id)
		VALUES ($1, 'ticket.closed', 'ticket', 2) RETURNING id`, ws).Scan(&late))
	quick := a.event(nubiq.NotificationTicketCreated, "ticket", 3, nil)
	require.Greater(t, quick, late, "the late event took the smaller id")

	// While the slow transaction is open, the committed quick event is held back too: handing
	// it out would move the position past the late one.
	for range 3 {
		var p notificationsPage
		mustCallSchema(t, env, cs, "notifications.list", map[string]any{"since": start.NextSince}, &p)
		require.Empty(t, p.Events)
		require.Equal(t, start.NextSince, p.NextSince)
		time.Sleep(20 * time.Millisecond)
	}

	require.NoError(t, slow.Commit(ctx))
	p := waitVisible(t, env, cs, map[string]any{"since": start.NextSince}, 2)
	require.Equal(t, []int64{late, quick}, eventIDs(p.Events))
}
