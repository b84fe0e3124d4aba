package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/mcp/mcptest"
)

type ticketListOut struct {
	Tickets    []nubiq.Ticket `json:"tickets"`
	NextCursor string         `json:"next_cursor"`
}

type ticketCloseOut struct {
	Ticket  nubiq.Ticket `json:"ticket"`
	Changed bool         `json:"changed"`
}

// ticketEnv is a workspace A with a write+read client, a second workspace B, and fixtures in
// both. The clock is settable so that tickets get distinct, known creation times.
type ticketEnv struct {
	env      *mcptest.Env
	now      time.Time
	wsA, wsB int64
	a, b     *supportFixture
	cs       *sdk.ClientSession
}

func newTicketEnv(t *testing.T) *ticketEnv {
	te := &ticketEnv{now: time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)}
	te.env = mcptest.New(t, nil, mcptest.WithDeps(func(d *mcp.Deps) { d.Now = func() time.Time { return te.now } }))
	te.wsA = te.env.Workspace(t, "Acme", "pro")
	te.wsB = te.env.Workspace(t, "Globex", "pro")
	te.a = newSupportFixture(t, te.env, te.wsA)
	te.b = newSupportFixture(t, te.env, te.wsB)
	te.cs = te.env.Client(t, te.env.Key(t, te.wsA, nubiq.ScopeTicketsRead, nubiq.ScopeTicketsWrite))
	return te
}

func (te *ticketEnv) create(t *testing.T, args map[string]any) nubiq.Ticket {
	t.Helper()
	var out nubiq.Ticket
	mcptest.MustCall(t, te.cs, "tickets.create", args, &out)
	return out
}

func (te *ticketEnv) events(t *testing.T, kind string, ticketID int64) []map[string]any {
	t.Helper()
	rows, err := te.env.DB.Pool.Query(context.Background(), `
		SELECT data FROM notification_events WHERE workspace_id = $1 AND kind = $2 AND subject_type = 'ticket' AND subject_id = $3 ORDER BY id`,
		te.wsA, kind, ticketID)
	require.NoError(t, err)
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var m map[string]any
		require.NoError(t, rows.Scan(&m))
		out = append(out, m)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestTicketsCreateAndGet(t *testing.T) {
	t.Parallel()
	te := newTicketEnv(t)
	a, b := te.a, te.b
	ada := a.contact("Ada Lovelace", "ada@example.com", "")
	alan := a.contact("Alan Turing", "alan@example.com", "")
	grace := a.member("Grace", "grace@acme.test", "active")
	invited := a.member("New", "new@acme.test", "invited")
	billing := a.team("Billing")
	conv := a.conversation(nubiq.NewConversation{Subject: "Refund", ContactID: alan})
	bContact := b.contact("Other", "other@example.com", "")
	bMember := b.member("Bob", "bob@globex.test", "active")
	bTeam := b.team("Billing")
	bConv := b.conversation(nubiq.NewConversation{Subject: "Secret"})

	t.Run("full", func(t *testing.T) {
		r := mcptest.Call(t, te.cs, "tickets.create", map[string]any{
			"subject": "  Refund the duplicate charge  ", "description": "Charged twice on 2026-03-30.",
			"priority": "urgent", "contact_id": ada, "conversation_id": conv,
			"assignee_member_id": grace, "assignee_team_id": billing,
			"tags": []string{"Billing", " refund", "billing"}, "custom_fields": map[string]string{"order": "A-1009", "plan": "pro"},
		})
		require.Nil(t, r.Error)
		requireUTCTimestamps(t, r.JSON)
		var tk nubiq.Ticket
		require.NoError(t, json.Unmarshal(r.JSON, &tk))
		require.Positive(t, tk.ID)
		require.Equal(t, "Refund the duplicate charge", tk.Subject)
		require.Equal(t, "Charged twice on 2026-03-30.", tk.Description)
		require.Equal(t, "open", tk.Status)
		require.Equal(t, "urgent", tk.Priority)
		require.Equal(t, &nubiq.ContactRef{ID: ada, Name: "Ada Lovelace", Email: "ada@example.com"}, tk.Contact)
		require.Equal(t, conv, tk.ConversationID)
		require.Equal(t, &nubiq.MemberRef{ID: grace, Name: "Grace", Email: "grace@acme.test"}, tk.AssigneeMember)
		require.Equal(t, &nubiq.TeamRef{ID: billing, Name: "Billing"}, tk.AssigneeTeam)
		require.Equal(t, []string{"billing", "refund"}, tk.Tags)
		require.Equal(t, map[string]string{"order": "A-1009", "plan": "pro"}, tk.CustomFields)
		require.True(t, tk.CreatedAt.Equal(te.now))
		require.Nil(t, tk.ClosedAt)

		ev := te.events(t, "ticket.created", tk.ID)
		require.Len(t, ev, 1)
		require.Equal(t, "Refund the duplicate charge", ev[0]["subject"])

		var got nubiq.Ticket
		mcptest.MustCall(t, te.cs, "tickets.get", map[string]any{"id": tk.ID}, &got)
		require.Equal(t, tk, got)
	})

	t.Run("defaults", func(t *testing.T) {
		tk := te.create(t, map[string]any{"subject": "Password reset"})
		require.Equal(t, "normal", tk.Priority)
		require.Equal(t, "open", tk.Status)
		require.Equal(t, []string{}, tk.Tags)
		require.Equal(t, map[string]string{}, tk.CustomFields)
		require.Nil(t, tk.Contact)
		require.Zero(t, tk.ConversationID)
		require.Nil(t, tk.AssigneeMember)

		// A ticket from a conversation takes the conversation's contact.
		tk = te.create(t, map[string]any{"subject": "From chat", "conversation_id": conv})
		require.Equal(t, alan, tk.Contact.ID)
		require.Equal(t, conv, tk.ConversationID)
	})

	t.Run("bad input", func(t *testing.T) {
		before := a.count(`SELECT count(*) FROM tickets WHERE workspace_id = $1`, te.wsA)
		manyTags := make([]string, 21)
		for i := range manyTags {
			manyTags[i] = fmt.Sprintf("t%d", i)
		}
		manyFields := map[string]string{}
		for i := range 51 {
			manyFields[fmt.Sprintf("k%d", i)] = "v"
		}
		for _, tc := range []struct {
			args        map[string]any
			code, field string
		}{
			{map[string]any{}, nubiq.ECodeInvalid, "subject"},
			{map[string]any{"subject": "   "}, nubiq.ECodeInvalid, "subject"},
			{map[string]any{"subject": strings.Repeat("s", 501)}, nubiq.ECodeInvalid, "subject"},
			{map[string]any{"subject": 42}, nubiq.ECodeInvalid, "subject"},
			{map[string]any{"subject": "x", "description": strings.Repeat("d", nubiq.MaxTicketDescription+1)}, nubiq.ECodeInvalid, "description"},
			{map[string]any{"subject": "x", "priority": "critical"}, nubiq.ECodeInvalid, "priority"},
			{map[string]any{"subject": "x", "tags": manyTags}, nubiq.ECodeInvalid, "tags"},
			{map[string]any{"subject": "x", "tags": []string{strings.Repeat("t", 51)}}, nubiq.ECodeInvalid, "tags"},
			{map[string]any{"subject": "x", "tags": []string{""}}, nubiq.ECodeInvalid, "tags"},
			{map[string]any{"subject": "x", "tags": "billing"}, nubiq.ECodeInvalid, "tags"},
			{map[string]any{"subject": "x", "custom_fields": manyFields}, nubiq.ECodeInvalid, "custom_fields"},
			{map[string]any{"subject": "x", "custom_fields": map[string]any{"k": strings.Repeat("v", 2001)}}, nubiq.ECodeInvalid, "custom_fields"},
			{map[string]any{"subject": "x", "custom_fields": map[string]any{"k": 5}}, nubiq.ECodeInvalid, "custom_fields"},
			{map[string]any{"subject": "x", "status": "closed"}, nubiq.ECodeInvalid, "status"},
			{map[string]any{"subject": "x", "contact_id": 999999}, nubiq.ECodeNotFound, "contact_id"},
			{map[string]any{"subject": "x", "contact_id": bContact}, nubiq.ECodeNotFound, "contact_id"},
			{map[string]any{"subject": "x", "conversation_id": bConv}, nubiq.ECodeNotFound, "conversation_id"},
			{map[string]any{"subject": "x", "assignee_member_id": bMember}, nubiq.ECodeNotFound, "assignee_member_id"},
			{map[string]any{"subject": "x", "assignee_member_id": invited}, nubiq.ECodeInvalid, "assignee_member_id"},
			{map[string]any{"subject": "x", "assignee_team_id": bTeam}, nubiq.ECodeNotFound, "assignee_team_id"},
			{map[string]any{"subject": "x", "contact_id": -1}, nubiq.ECodeInvalid, "contact_id"},
		} {
			mustFailField(t, te.cs, "tickets.create", tc.args, tc.code, tc.field)
		}
		require.Equal(t, before, a.count(`SELECT count(*) FROM tickets WHERE workspace_id = $1`, te.wsA), "refused creates store nothing")
		require.Equal(t, 0, a.count(`SELECT count(*) FROM notification_events WHERE workspace_id = $1 AND kind = 'ticket.created' AND subject_id NOT IN (SELECT id FROM tickets)`, te.wsA))
		// The limits themselves are accepted.
		tk := te.create(t, map[string]any{"subject": strings.Repeat("é", 500), "tags": manyTags[:20]})
		require.Len(t, tk.Tags, 20)
	})

	t.Run("get errors", func(t *testing.T) {
		bTicket, err := te.env.DB.CreateTicket(context.Background(), te.wsB, nubiq.NewTicket{Subject: "Secret"}, te.now)
		require.NoError(t, err)
		mustFailField(t, te.cs, "tickets.get", map[string]any{"id": 999999}, nubiq.ECodeNotFound, "id")
		mustFailField(t, te.cs, "tickets.get", map[string]any{"id": bTicket.ID}, nubiq.ECodeNotFound, "id")
		mustFailField(t, te.cs, "tickets.get", map[string]any{}, nubiq.ECodeInvalid, "id")
		mustFailField(t, te.cs, "tickets.get", map[string]any{"id": 0}, nubiq.ECodeInvalid, "id")
		mustFailField(t, te.cs, "tickets.get", map[string]any{"id": 1, "full": true}, nubiq.ECodeInvalid, "full")
	})
}

type ticketSpec struct {
	id       int64
	created  time.Time
	status   string
	priority string
	contact  int64
	member   int64
	team     int64
	tags     []string
}

func TestTicketsList(t *testing.T) {
	t.Parallel()
	te := newTicketEnv(t)
	a, b := te.a, te.b
	ada := a.contact("Ada", "ada@example.com", "")
	alan := a.contact("Alan", "alan@example.com", "")
	grace := a.member("Grace", "grace@acme.test", "active")
	billing := a.team("Billing")
	base := te.now
	var specs []ticketSpec
	for i := range 25 {
		s := ticketSpec{created: base.Add(time.Duration(i) * time.Hour), status: "open", priority: nubiq.Priorities[i%4]}
		te.now = s.created
		args := map[string]any{"subject": fmt.Sprintf("Ticket %d", i), "priority": s.priority}
		switch i % 3 {
		case 0:
			s.contact = ada
		case 1:
			s.contact = alan
		}
		if s.contact != 0 {
			args["contact_id"] = s.contact
		}
		switch i % 4 {
		case 0:
			s.member = grace
			args["assignee_member_id"] = grace
		case 1:
			s.team = billing
			args["assignee_team_id"] = billing
		}
		if i%2 == 0 {
			s.tags = []string{"refund"}
			args["tags"] = []string{"Refund"}
		}
		s.id = te.create(t, args).ID
		switch i % 5 {
		case 1:
			s.status = "pending"
		case 2:
			s.status = "solved"
		}
		if s.status != "open" {
			mcptest.MustCall(t, te.cs, "tickets.update", map[string]any{"id": s.id, "status": s.status}, nil)
		}
		if i%5 == 3 {
			s.status = "closed"
			mcptest.MustCall(t, te.cs, "tickets.close", map[string]any{"id": s.id}, nil)
		}
		specs = append(specs, s)
	}
	for i := range 3 {
		_, err := te.env.DB.CreateTicket(context.Background(), te.wsB, nubiq.NewTicket{Subject: fmt.Sprintf("B %d", i), Tags: []string{"refund"}}, base)
		require.NoError(t, err)
	}
	bContact := b.contact("Other", "other@example.com", "")

	expect := func(keep func(ticketSpec) bool) []int64 {
		var ids []int64
		for i := len(specs) - 1; i >= 0; i-- {
			if keep(specs[i]) {
				ids = append(ids, specs[i].id)
			}
		}
		return ids
	}
	walk := func(t *testing.T, args map[string]any, limit int) []int64 {
		t.Helper()
		var ids []int64
		cursor := ""
		for page := 0; ; page++ {
			require.Less(t, page, 100)
			a := map[string]any{"limit": limit}
			for k, v := range args {
				a[k] = v
			}
			if cursor != "" {
				a["cursor"] = cursor
			}
			var out ticketListOut
			mcptest.MustCall(t, te.cs, "tickets.list", a, &out)
			require.LessOrEqual(t, len(out.Tickets), limit)
			for _, tk := range out.Tickets {
				require.NotContains(t, ids, tk.ID)
				ids = append(ids, tk.ID)
			}
			if out.NextCursor == "" {
				return ids
			}
			require.Len(t, out.Tickets, limit)
			cursor = out.NextCursor
		}
	}

	t.Run("pages", func(t *testing.T) {
		all := expect(func(ticketSpec) bool { return true })
		require.Equal(t, all, walk(t, nil, 10))
		require.Equal(t, all, walk(t, nil, 1))
		var out ticketListOut
		mcptest.MustCall(t, te.cs, "tickets.list", map[string]any{}, &out)
		require.Len(t, out.Tickets, 20)
		require.NotEmpty(t, out.NextCursor)
		require.Equal(t, "Ticket 24", out.Tickets[0].Subject)
	})

	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args map[string]any
			keep func(ticketSpec) bool
		}{
			{"status", map[string]any{"status": "pending"}, func(s ticketSpec) bool { return s.status == "pending" }},
			{"closed", map[string]any{"status": "closed"}, func(s ticketSpec) bool { return s.status == "closed" }},
			{"priority", map[string]any{"priority": "high"}, func(s ticketSpec) bool { return s.priority == "high" }},
			{"member", map[string]any{"assignee": fmt.Sprintf("member:%d", grace)}, func(s ticketSpec) bool { return s.member == grace }},
			{"team", map[string]any{"assignee": fmt.Sprintf("team:%d", billing)}, func(s ticketSpec) bool { return s.team == billing }},
			{"unassigned", map[string]any{"assignee": "unassigned"}, func(s ticketSpec) bool { return s.member == 0 && s.team == 0 }},
			{"tag", map[string]any{"tag": "REFUND"}, func(s ticketSpec) bool { return len(s.tags) > 0 }},
			{"contact", map[string]any{"contact_id": alan}, func(s ticketSpec) bool { return s.contact == alan }},
			{"created range", map[string]any{"created_after": base.Add(3 * time.Hour).Format(time.RFC3339), "created_before": base.Add(9 * time.Hour).Format(time.RFC3339)},
				func(s ticketSpec) bool {
					return !s.created.Before(base.Add(3*time.Hour)) && s.created.Before(base.Add(9*time.Hour))
				}},
			{"combined", map[string]any{"status": "open", "tag": "refund", "contact_id": ada},
				func(s ticketSpec) bool { return s.status == "open" && len(s.tags) > 0 && s.contact == ada }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				want := expect(tc.keep)
				require.NotEmpty(t, want, "fixture should cover the filter")
				require.Equal(t, want, walk(t, tc.args, 4))
			})
		}
		require.Empty(t, walk(t, map[string]any{"contact_id": bContact}, 4))
	})

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			args  map[string]any
			field string
		}{
			{map[string]any{"status": "done"}, "status"},
			{map[string]any{"priority": "p1"}, "priority"},
			{map[string]any{"assignee": "team"}, "assignee"},
			{map[string]any{"tag": " "}, "tag"},
			{map[string]any{"contact_id": -2}, "contact_id"},
			{map[string]any{"created_after": "2026-04-01"}, "created_after"},
			{map[string]any{"created_after": "2026-04-02T00:00:00Z", "created_before": "2026-04-01T00:00:00Z"}, "created_before"},
			{map[string]any{"limit": 0.5}, "limit"},
			{map[string]any{"limit": 1000}, "limit"},
			{map[string]any{"cursor": nubiq.Cursor{Kind: "conversations", ID: 3}.Encode()}, "cursor"},
			{map[string]any{"sort": "oldest"}, "sort"},
		} {
			mustFailField(t, te.cs, "tickets.list", tc.args, nubiq.ECodeInvalid, tc.field)
		}
	})
}

func TestTicketsUpdate(t *testing.T) {
	t.Parallel()
	te := newTicketEnv(t)
	a, b := te.a, te.b
	ada := a.contact("Ada", "ada@example.com", "")
	grace := a.member("Grace", "grace@acme.test", "active")
	disabled := a.member("Gone", "gone@acme.test", "disabled")
	billing := a.team("Billing")
	conv := a.conversation(nubiq.NewConversation{Subject: "Chat"})
	bContact := b.contact("Other", "other@example.com", "")
	bMember := b.member("Bob", "bob@globex.test", "active")
	bConv := b.conversation(nubiq.NewConversation{Subject: "Secret"})
	bTicket, err := te.env.DB.CreateTicket(context.Background(), te.wsB, nubiq.NewTicket{Subject: "Secret"}, te.now)
	require.NoError(t, err)

	orig := te.create(t, map[string]any{"subject": "Export fails", "description": "CSV export times out", "priority": "high",
		"contact_id": ada, "assignee_member_id": grace, "tags": []string{"export"}, "custom_fields": map[string]string{"browser": "firefox", "plan": "pro"}})
	update := func(args map[string]any) nubiq.Ticket {
		t.Helper()
		args["id"] = orig.ID
		var out nubiq.Ticket
		mcptest.MustCall(t, te.cs, "tickets.update", args, &out)
		return out
	}

	te.now = te.now.Add(time.Hour)
	got := update(map[string]any{"subject": "Export of large CSVs fails"})
	want := orig
	want.Subject = "Export of large CSVs fails"
	want.UpdatedAt = te.now
	require.Equal(t, want, got, "only the subject (and updated_at) changed")

	got = update(map[string]any{"status": "on_hold", "priority": "low", "tags": []string{"Export", "CSV"}})
	want.Status, want.Priority, want.Tags = "on_hold", "low", []string{"export", "csv"}
	require.Equal(t, want, got)

	got = update(map[string]any{"custom_fields": map[string]string{"browser": "", "os": "linux"}})
	require.Equal(t, map[string]string{"plan": "pro", "os": "linux"}, got.CustomFields, "custom fields merge; an empty value removes a key")

	got = update(map[string]any{"contact_id": 0, "assignee_member_id": 0, "assignee_team_id": billing, "conversation_id": conv, "description": ""})
	require.Nil(t, got.Contact)
	require.Nil(t, got.AssigneeMember)
	require.Equal(t, billing, got.AssigneeTeam.ID)
	require.Equal(t, conv, got.ConversationID)
	require.Empty(t, got.Description)
	require.Equal(t, "Export of large CSVs fails", got.Subject)

	got = update(map[string]any{"tags": []string{}, "status": "solved"})
	require.Equal(t, []string{}, got.Tags)
	require.Equal(t, "solved", got.Status)
	got = update(map[string]any{"status": "open"})
	require.Equal(t, "open", got.Status, "solved can reopen")

	stored := got
	for _, tc := range []struct {
		args        map[string]any
		code, field string
	}{
		{map[string]any{}, nubiq.ECodeInvalid, "arguments"},
		{map[string]any{"status": "closed"}, nubiq.ECodeInvalid, "status"},
		{map[string]any{"status": "archived"}, nubiq.ECodeInvalid, "status"},
		{map[string]any{"priority": ""}, nubiq.ECodeInvalid, "priority"},
		{map[string]any{"subject": ""}, nubiq.ECodeInvalid, "subject"},
		{map[string]any{"subject": strings.Repeat("s", 501)}, nubiq.ECodeInvalid, "subject"},
		{map[string]any{"tags": []string{strings.Repeat("t", 51)}}, nubiq.ECodeInvalid, "tags"},
		{map[string]any{"custom_fields": map[string]string{" k": "v"}}, nubiq.ECodeInvalid, "custom_fields"},
		{map[string]any{"resolution": "done"}, nubiq.ECodeInvalid, "resolution"},
		{map[string]any{"contact_id": bContact}, nubiq.ECodeNotFound, "contact_id"},
		{map[string]any{"conversation_id": bConv}, nubiq.ECodeNotFound, "conversation_id"},
		{map[string]any{"assignee_member_id": bMember}, nubiq.ECodeNotFound, "assignee_member_id"},
		{map[string]any{"assignee_member_id": disabled}, nubiq.ECodeInvalid, "assignee_member_id"},
		{map[string]any{"assignee_team_id": 999999}, nubiq.ECodeNotFound, "assignee_team_id"},
		{map[string]any{"contact_id": -1}, nubiq.ECodeInvalid, "contact_id"},
	} {
		tc.args["id"] = orig.ID
		mustFailField(t, te.cs, "tickets.update", tc.args, tc.code, tc.field)
	}
	// A refused update with a valid first field changed nothing.
	mustFailField(t, te.cs, "tickets.update", map[string]any{"id": orig.ID, "subject": "New", "contact_id": bContact}, nubiq.ECodeNotFound, "contact_id")
	var now nubiq.Ticket
	mcptest.MustCall(t, te.cs, "tickets.get", map[string]any{"id": orig.ID}, &now)
	require.Equal(t, stored, now)

	mustFailField(t, te.cs, "tickets.update", map[string]any{"id": 999999, "subject": "x"}, nubiq.ECodeNotFound, "id")
	mustFailField(t, te.cs, "tickets.update", map[string]any{"id": bTicket.ID, "subject": "x"}, nubiq.ECodeNotFound, "id")
	bGot, err := te.env.DB.Ticket(context.Background(), te.wsB, bTicket.ID)
	require.NoError(t, err)
	require.Equal(t, "Secret", bGot.Subject)

	// Closed tickets are final for updates.
	mcptest.MustCall(t, te.cs, "tickets.close", map[string]any{"id": orig.ID}, nil)
	e := mcptest.MustFail(t, te.cs, "tickets.update", map[string]any{"id": orig.ID, "priority": "urgent"}, nubiq.ECodeConflict)
	require.Contains(t, e.Message, "closed ticket cannot be updated")
}

func TestTicketsClose(t *testing.T) {
	t.Parallel()
	te := newTicketEnv(t)
	bTicket, err := te.env.DB.CreateTicket(context.Background(), te.wsB, nubiq.NewTicket{Subject: "Secret"}, te.now)
	require.NoError(t, err)
	tk := te.create(t, map[string]any{"subject": "Broken login"})

	te.now = te.now.Add(2 * time.Hour)
	closedAt := te.now
	var out ticketCloseOut
	mcptest.MustCall(t, te.cs, "tickets.close", map[string]any{"id": tk.ID, "resolution": "Reset the SSO session"}, &out)
	require.True(t, out.Changed)
	require.Equal(t, "closed", out.Ticket.Status)
	require.Equal(t, "Reset the SSO session", out.Ticket.Resolution)
	require.True(t, out.Ticket.ClosedAt.Equal(closedAt))
	ev := te.events(t, "ticket.closed", tk.ID)
	require.Len(t, ev, 1)
	require.Equal(t, "open", ev[0]["previous_status"])

	// Closing again is idempotent: the ticket comes back unchanged and nobody is notified.
	te.now = te.now.Add(time.Hour)
	var again ticketCloseOut
	mcptest.MustCall(t, te.cs, "tickets.close", map[string]any{"id": tk.ID, "resolution": "something else"}, &again)
	require.False(t, again.Changed)
	require.Equal(t, out.Ticket, again.Ticket)
	require.Len(t, te.events(t, "ticket.closed", tk.ID), 1)

	// Closing without a note leaves the resolution empty.
	tk2 := te.create(t, map[string]any{"subject": "Slow dashboard"})
	var out2 ticketCloseOut
	mcptest.MustCall(t, te.cs, "tickets.close", map[string]any{"id": tk2.ID}, &out2)
	require.True(t, out2.Changed)
	require.Empty(t, out2.Ticket.Resolution)

	mustFailField(t, te.cs, "tickets.close", map[string]any{"id": tk2.ID, "resolution": strings.Repeat("r", nubiq.MaxTicketResolution+1)}, nubiq.ECodeInvalid, "resolution")
	mustFailField(t, te.cs, "tickets.close", map[string]any{"id": 999999}, nubiq.ECodeNotFound, "id")
	mustFailField(t, te.cs, "tickets.close", map[string]any{"id": bTicket.ID}, nubiq.ECodeNotFound, "id")
	mustFailField(t, te.cs, "tickets.close", map[string]any{}, nubiq.ECodeInvalid, "id")
	mustFailField(t, te.cs, "tickets.close", map[string]any{"id": tk2.ID, "reason": "x"}, nubiq.ECodeInvalid, "reason")
	got, err := te.env.DB.Ticket(context.Background(), te.wsB, bTicket.ID)
	require.NoError(t, err)
	require.Equal(t, "open", got.Status, "another workspace's ticket stays open")

	// A key without tickets:write cannot close.
	ro := te.env.Client(t, te.env.Key(t, te.wsA, nubiq.ScopeTicketsRead))
	mcptest.MustFail(t, ro, "tickets.close", map[string]any{"id": tk2.ID}, nubiq.ECodeForbidden)
}
