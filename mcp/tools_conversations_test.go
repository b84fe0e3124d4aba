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

type convListOut struct {
	Conversations []nubiq.Conversation `json:"conversations"`
	NextCursor    string               `json:"next_cursor"`
}

type convGetOut struct {
	Conversation       nubiq.Conversation `json:"conversation"`
	Messages           []nubiq.Message    `json:"messages"`
	MessagesNextCursor string             `json:"messages_next_cursor"`
}

type convChangeOut struct {
	Conversation nubiq.Conversation `json:"conversation"`
	Changed      bool               `json:"changed"`
}

// walkConversations lists every page of conversations.list with args, checking that pages
// are at most limit long, that no id repeats, and that the last page has no next_cursor.
func walkConversations(t *testing.T, cs *sdk.ClientSession, args map[string]any, limit int) []int64 {
	t.Helper()
	var ids []int64
	cursor := ""
	for page := 0; ; page++ {
		require.Less(t, page, 100, "paging does not end")
		a := map[string]any{"limit": limit}
		for k, v := range args {
			a[k] = v
		}
		if cursor != "" {
			a["cursor"] = cursor
		}
		var out convListOut
		mcptest.MustCall(t, cs, "conversations.list", a, &out)
		require.LessOrEqual(t, len(out.Conversations), limit)
		for _, c := range out.Conversations {
			require.NotContains(t, ids, c.ID, "conversation %d listed twice", c.ID)
			ids = append(ids, c.ID)
		}
		if out.NextCursor == "" {
			return ids
		}
		require.Len(t, out.Conversations, limit, "a page before the last must be full")
		cursor = out.NextCursor
	}
}

type convSpec struct {
	id       int64
	created  time.Time
	status   string
	priority string
	channel  int64
	contact  int64
	member   int64
	team     int64
	tags     []string
}

func TestConversationsList(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	wsA := env.Workspace(t, "Acme", "pro")
	wsB := env.Workspace(t, "Globex", "pro")
	a := newSupportFixture(t, env, wsA)
	b := newSupportFixture(t, env, wsB)
	csA := env.Client(t, env.Key(t, wsA, nubiq.ScopeConversationsRead))
	csB := env.Client(t, env.Key(t, wsB, nubiq.ScopeConversationsRead))

	email := a.channel("email", "Support inbox", true)
	widget := a.channel("web_widget", "Site widget", true)
	c1 := a.contact("Ada Lovelace", "ada@example.com", "")
	c2 := a.contact("Alan Turing", "alan@example.com", "")
	m1 := a.member("Grace", "grace@acme.test", "active")
	m2 := a.member("Linus", "linus@acme.test", "active")
	t1 := a.team("Billing")

	base := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	var specs []convSpec
	for i := range 25 {
		s := convSpec{
			created:  base.Add(time.Duration(i) * time.Hour),
			status:   nubiq.ConversationStatuses[i%5],
			priority: nubiq.Priorities[i%4],
			channel:  []int64{email, widget}[i%2],
		}
		switch i % 3 {
		case 0:
			s.contact = c1
		case 1:
			s.contact = c2
		}
		switch i % 4 {
		case 0:
			s.member = m1
		case 1:
			s.team = t1
		case 2:
			s.member, s.team = m2, t1
		}
		switch i % 5 {
		case 0:
			s.tags = []string{"Billing"}
		case 1:
			s.tags = []string{"billing", "VIP"}
		}
		s.id = a.conversation(nubiq.NewConversation{Subject: fmt.Sprintf("Question %d", i), Status: s.status, Priority: s.priority,
			ChannelID: s.channel, ContactID: s.contact, AssigneeMemberID: s.member, AssigneeTeamID: s.team, Tags: s.tags, CreatedAt: s.created})
		specs = append(specs, s)
	}
	// Another workspace's conversations never show in A's lists.
	bContact := b.contact("Other", "other@example.com", "")
	for i := range 3 {
		b.conversation(nubiq.NewConversation{Subject: "B", ContactID: bContact, Tags: []string{"billing"}, CreatedAt: base.Add(time.Duration(i) * time.Minute)})
	}

	// expect returns the ids matching keep, newest-updated first.
	expect := func(keep func(convSpec) bool) []int64 {
		var ids []int64
		for i := len(specs) - 1; i >= 0; i-- {
			if keep(specs[i]) {
				ids = append(ids, specs[i].id)
			}
		}
		return ids
	}

	t.Run("pages", func(t *testing.T) {
		all := expect(func(convSpec) bool { return true })
		require.Equal(t, all, walkConversations(t, csA, nil, 7))
		require.Equal(t, all, walkConversations(t, csA, nil, 25))
		// Default page size is 20.
		r := mcptest.Call(t, csA, "conversations.list", map[string]any{})
		require.Nil(t, r.Error)
		var out convListOut
		require.NoError(t, json.Unmarshal(r.JSON, &out))
		require.Len(t, out.Conversations, 20)
		require.NotEmpty(t, out.NextCursor)
		requireUTCTimestamps(t, r.JSON)
		first := out.Conversations[0]
		last := specs[len(specs)-1]
		require.Equal(t, last.id, first.ID)
		require.Equal(t, "Question 24", first.Subject)
		require.Equal(t, last.status, first.Status)
		require.Equal(t, &nubiq.ChannelRef{ID: last.channel, Kind: "email", Name: "Support inbox"}, first.Channel)
		require.Equal(t, &nubiq.ContactRef{ID: c1, Name: "Ada Lovelace", Email: "ada@example.com"}, first.Contact)
		require.Equal(t, &nubiq.MemberRef{ID: m1, Name: "Grace", Email: "grace@acme.test"}, first.AssigneeMember)
		require.Nil(t, first.AssigneeTeam)
		require.Equal(t, []string{}, first.Tags)
		require.Equal(t, specs[21].id, out.Conversations[3].ID)
		require.Equal(t, []string{"billing", "vip"}, out.Conversations[3].Tags, "tags are stored lowercase")
		require.True(t, first.CreatedAt.Equal(last.created))

		// B sees only its own three.
		require.Len(t, walkConversations(t, csB, nil, 2), 3)
	})

	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args map[string]any
			keep func(convSpec) bool
		}{
			{"status", map[string]any{"status": "snoozed"}, func(s convSpec) bool { return s.status == "snoozed" }},
			{"priority", map[string]any{"priority": "urgent"}, func(s convSpec) bool { return s.priority == "urgent" }},
			{"channel", map[string]any{"channel_id": widget}, func(s convSpec) bool { return s.channel == widget }},
			{"contact", map[string]any{"contact_id": c2}, func(s convSpec) bool { return s.contact == c2 }},
			{"tag", map[string]any{"tag": "BILLING"}, func(s convSpec) bool { return len(s.tags) > 0 }},
			{"tag vip", map[string]any{"tag": "vip"}, func(s convSpec) bool { return len(s.tags) == 2 }},
			{"member", map[string]any{"assignee": fmt.Sprintf("member:%d", m2)}, func(s convSpec) bool { return s.member == m2 }},
			{"team", map[string]any{"assignee": fmt.Sprintf("team:%d", t1)}, func(s convSpec) bool { return s.team == t1 }},
			{"unassigned", map[string]any{"assignee": "unassigned"}, func(s convSpec) bool { return s.member == 0 && s.team == 0 }},
			{"created range", map[string]any{"created_after": base.Add(5 * time.Hour).Format(time.RFC3339), "created_before": base.Add(12 * time.Hour).Format(time.RFC3339)},
				func(s convSpec) bool {
					return !s.created.Before(base.Add(5*time.Hour)) && s.created.Before(base.Add(12*time.Hour))
				}},
			{"updated after", map[string]any{"updated_after": base.Add(20 * time.Hour).Format(time.RFC3339)},
				func(s convSpec) bool { return !s.created.Before(base.Add(20 * time.Hour)) }},
			{"updated before", map[string]any{"updated_before": base.Add(3 * time.Hour).Format(time.RFC3339)},
				func(s convSpec) bool { return s.created.Before(base.Add(3 * time.Hour)) }},
			{"combined", map[string]any{"status": "open", "channel_id": email, "tag": "billing"},
				func(s convSpec) bool { return s.status == "open" && s.channel == email && len(s.tags) > 0 }},
			{"another workspace's contact", map[string]any{"contact_id": bContact}, func(convSpec) bool { return false }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				want := expect(tc.keep)
				got := walkConversations(t, csA, tc.args, 3)
				if len(want) == 0 {
					require.Empty(t, got)
				} else {
					require.Equal(t, want, got)
				}
			})
		}
	})

	t.Run("bad input", func(t *testing.T) {
		ticketsCursor := nubiq.Cursor{Kind: "tickets", ID: 1}.Encode()
		for _, tc := range []struct {
			args  map[string]any
			field string
		}{
			{map[string]any{"status": "archived"}, "status"},
			{map[string]any{"priority": "asap"}, "priority"},
			{map[string]any{"assignee": "grace"}, "assignee"},
			{map[string]any{"assignee": "member:x"}, "assignee"},
			{map[string]any{"tag": strings.Repeat("t", 51)}, "tag"},
			{map[string]any{"channel_id": "one"}, "channel_id"},
			{map[string]any{"contact_id": -4}, "contact_id"},
			{map[string]any{"created_after": "yesterday"}, "created_after"},
			{map[string]any{"updated_before": "2026-13-01"}, "updated_before"},
			{map[string]any{"created_after": "2026-02-01T00:00:00Z", "created_before": "2026-01-01T00:00:00Z"}, "created_before"},
			{map[string]any{"limit": 101}, "limit"},
			{map[string]any{"limit": -1}, "limit"},
			{map[string]any{"cursor": "not-a-cursor"}, "cursor"},
			{map[string]any{"cursor": ticketsCursor}, "cursor"},
			{map[string]any{"state": "open"}, "state"},
		} {
			mustFailField(t, csA, "conversations.list", tc.args, nubiq.ECodeInvalid, tc.field)
		}
	})
}

func TestConversationsGet(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	wsA := env.Workspace(t, "Acme", "pro")
	wsB := env.Workspace(t, "Globex", "pro")
	a := newSupportFixture(t, env, wsA)
	b := newSupportFixture(t, env, wsB)
	csA := env.Client(t, env.Key(t, wsA, nubiq.ScopeConversationsRead))

	contact := a.contact("Ada Lovelace", "ada@example.com", "+14155550100")
	member := a.member("Grace", "grace@acme.test", "active")
	team := a.team("Tier 2")
	ch := a.channel("email", "Support inbox", true)
	base := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
	conv := a.conversation(nubiq.NewConversation{Subject: "Card declined", Status: "pending", Priority: "high", ChannelID: ch,
		ContactID: contact, AssigneeMemberID: member, AssigneeTeamID: team, Tags: []string{"Payments", "card"}, CreatedAt: base})
	var msgIDs []int64
	for i := range 8 {
		n := nubiq.NewMessage{AuthorType: "contact", AuthorContactID: contact, Body: fmt.Sprintf("message %d", i), CreatedAt: base.Add(time.Duration(i) * time.Minute)}
		if i%2 == 1 {
			n = nubiq.NewMessage{AuthorType: "agent", AuthorMemberID: member, Body: fmt.Sprintf("message %d", i), CreatedAt: n.CreatedAt}
		}
		if i == 3 {
			n.Private = true
		}
		msgIDs = append(msgIDs, a.message(conv, n))
	}
	other := a.conversation(nubiq.NewConversation{Subject: "Other", CreatedAt: base})
	a.message(other, nubiq.NewMessage{AuthorType: "contact", Body: "hello", CreatedAt: base})
	bConv := b.conversation(nubiq.NewConversation{Subject: "Secret", CreatedAt: base})

	t.Run("whole thread", func(t *testing.T) {
		r := mcptest.Call(t, csA, "conversations.get", map[string]any{"id": conv, "messages_limit": 100})
		require.Nil(t, r.Error)
		requireUTCTimestamps(t, r.JSON)
		var out convGetOut
		require.NoError(t, json.Unmarshal(r.JSON, &out))
		c := out.Conversation
		require.Equal(t, conv, c.ID)
		require.Equal(t, "Card declined", c.Subject)
		require.Equal(t, "pending", c.Status)
		require.Equal(t, "high", c.Priority)
		require.Equal(t, []string{"payments", "card"}, c.Tags)
		require.Equal(t, &nubiq.ContactRef{ID: contact, Name: "Ada Lovelace", Email: "ada@example.com"}, c.Contact)
		require.Equal(t, &nubiq.MemberRef{ID: member, Name: "Grace", Email: "grace@acme.test"}, c.AssigneeMember)
		require.Equal(t, &nubiq.TeamRef{ID: team, Name: "Tier 2"}, c.AssigneeTeam)
		require.NotNil(t, c.FirstResponseAt)
		require.True(t, c.FirstResponseAt.Equal(base.Add(time.Minute)), "first public agent message")
		require.True(t, c.LastMessageAt.Equal(base.Add(7*time.Minute)))
		require.Empty(t, out.MessagesNextCursor)
		require.Len(t, out.Messages, 8)
		for i, m := range out.Messages {
			require.Equal(t, msgIDs[i], m.ID, "oldest first")
			require.Equal(t, conv, m.ConversationID)
			require.Equal(t, i == 3, m.Private, "message %d", i)
			if i%2 == 1 {
				require.Equal(t, "agent", m.AuthorType)
				require.Equal(t, member, m.AuthorMember.ID)
			} else {
				require.Equal(t, "contact", m.AuthorType)
				require.Equal(t, contact, m.AuthorContact.ID)
			}
		}
		require.Contains(t, string(r.JSON), `"private":true`)
	})

	t.Run("message pages", func(t *testing.T) {
		var got []int64
		cursor := ""
		for page := 0; ; page++ {
			require.Less(t, page, 10)
			args := map[string]any{"id": conv, "messages_limit": 3}
			if cursor != "" {
				args["messages_cursor"] = cursor
			}
			var out convGetOut
			mcptest.MustCall(t, csA, "conversations.get", args, &out)
			require.Equal(t, conv, out.Conversation.ID)
			for _, m := range out.Messages {
				got = append(got, m.ID)
			}
			if out.MessagesNextCursor == "" {
				break
			}
			cursor = out.MessagesNextCursor
		}
		require.Equal(t, msgIDs, got)

		// Default page is 20 messages, enough for this thread.
		var out convGetOut
		mcptest.MustCall(t, csA, "conversations.get", map[string]any{"id": conv}, &out)
		require.Len(t, out.Messages, 8)

		// A cursor of this conversation is refused for another.
		var first convGetOut
		mcptest.MustCall(t, csA, "conversations.get", map[string]any{"id": conv, "messages_limit": 2}, &first)
		require.NotEmpty(t, first.MessagesNextCursor)
		mustFailField(t, csA, "conversations.get", map[string]any{"id": other, "messages_cursor": first.MessagesNextCursor}, nubiq.ECodeInvalid, "messages_cursor")
	})

	t.Run("errors", func(t *testing.T) {
		mustFailField(t, csA, "conversations.get", map[string]any{"id": 999999}, nubiq.ECodeNotFound, "id")
		mustFailField(t, csA, "conversations.get", map[string]any{"id": bConv}, nubiq.ECodeNotFound, "id")
		mustFailField(t, csA, "conversations.get", map[string]any{}, nubiq.ECodeInvalid, "id")
		mustFailField(t, csA, "conversations.get", map[string]any{"id": 0}, nubiq.ECodeInvalid, "id")
		mustFailField(t, csA, "conversations.get", map[string]any{"id": "abc"}, nubiq.ECodeInvalid, "id")
		mustFailField(t, csA, "conversations.get", map[string]any{"id": conv, "messages_limit": 101}, nubiq.ECodeInvalid, "messages_limit")
		mustFailField(t, csA, "conversations.get", map[string]any{"id": conv, "messages_cursor": "zzz"}, nubiq.ECodeInvalid, "messages_cursor")
		mustFailField(t, csA, "conversations.get", map[string]any{"id": conv, "with": "messages"}, nubiq.ECodeInvalid, "with")
	})
}

func TestConversationsUpdateStatus(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	env := mcptest.New(t, nil, mcptest.WithDeps(func(d *mcp.Deps) { d.Now = func() time.Time { return now } }))
	wsA := env.Workspace(t, "Acme", "pro")
	wsB := env.Workspace(t, "Globex", "pro")
	a := newSupportFixture(t, env, wsA)
	b := newSupportFixture(t, env, wsB)
	csA := env.Client(t, env.Key(t, wsA, nubiq.ScopeConversationsWrite))
	csRead := env.Client(t, env.Key(t, wsA, nubiq.ScopeConversationsRead))
	created := now.Add(-48 * time.Hour)
	conv := a.conversation(nubiq.NewConversation{Subject: "Refund", CreatedAt: created})
	bConv := b.conversation(nubiq.NewConversation{Subject: "Secret", CreatedAt: created})

	set := func(args map[string]any) convChangeOut {
		t.Helper()
		args["id"] = conv
		var out convChangeOut
		mcptest.MustCall(t, csA, "conversations.update_status", args, &out)
		return out
	}
	indexRows := func() int {
		return a.count(`SELECT count(*) FROM index_log WHERE workspace_id = $1 AND kind = 'conversation' AND entity_id = $2`, wsA, conv)
	}
	startIndex := indexRows()

	out := set(map[string]any{"status": "pending"})
	require.True(t, out.Changed)
	require.Equal(t, "pending", out.Conversation.Status)
	require.True(t, out.Conversation.UpdatedAt.Equal(now))
	require.Equal(t, startIndex+1, indexRows(), "a status change is logged for the search index")

	out = set(map[string]any{"status": "pending"})
	require.False(t, out.Changed, "same status is a no-op")
	require.Equal(t, startIndex+1, indexRows())

	// Snoozing needs a future snoozed_until.
	mustFailField(t, csA, "conversations.update_status", map[string]any{"id": conv, "status": "snoozed"}, nubiq.ECodeInvalid, "snoozed_until")
	mustFailField(t, csA, "conversations.update_status", map[string]any{"id": conv, "status": "snoozed", "snoozed_until": now.Add(-time.Minute).Format(time.RFC3339)}, nubiq.ECodeInvalid, "snoozed_until")
	mustFailField(t, csA, "conversations.update_status", map[string]any{"id": conv, "status": "snoozed", "snoozed_until": "tomorrow"}, nubiq.ECodeInvalid, "snoozed_until")
	mustFailField(t, csA, "conversations.update_status", map[string]any{"id": conv, "status": "open", "snoozed_until": now.Add(time.Hour).Format(time.RFC3339)}, nubiq.ECodeInvalid, "snoozed_until")
	wake := now.Add(24 * time.Hour)
	out = set(map[string]any{"status": "snoozed", "snoozed_until": wake.Format(time.RFC3339)})
	require.True(t, out.Changed)
	require.Equal(t, "snoozed", out.Conversation.Status)
	require.True(t, out.Conversation.SnoozedUntil.Equal(wake))
	// Snoozing again with a new time moves the wake-up; with the same time changes nothing.
	later := wake.Add(time.Hour)
	out = set(map[string]any{"status": "snoozed", "snoozed_until": later.Format(time.RFC3339)})
	require.True(t, out.Changed)
	require.True(t, out.Conversation.SnoozedUntil.Equal(later))
	out = set(map[string]any{"status": "snoozed", "snoozed_until": later.Format(time.RFC3339)})
	require.False(t, out.Changed)

	out = set(map[string]any{"status": "resolved"})
	require.Equal(t, "resolved", out.Conversation.Status)
	require.Nil(t, out.Conversation.SnoozedUntil, "leaving snoozed clears snoozed_until")
	require.NotNil(t, out.Conversation.ResolvedAt)
	require.True(t, out.Conversation.ResolvedAt.Equal(now))

	// Resolved only reopens or closes.
	e := mcptest.MustFail(t, csA, "conversations.update_status", map[string]any{"id": conv, "status": "pending"}, nubiq.ECodeConflict)
	require.Contains(t, e.Message, "can only be reopened")

	out = set(map[string]any{"status": "open"})
	require.Equal(t, "open", out.Conversation.Status)
	require.Nil(t, out.Conversation.ResolvedAt, "reopening clears resolved_at")

	out = set(map[string]any{"status": "closed"})
	require.Equal(t, "closed", out.Conversation.Status)
	require.True(t, out.Conversation.ClosedAt.Equal(now))
	require.True(t, out.Conversation.ResolvedAt.Equal(now), "closing an unresolved conversation resolves it")

	for _, to := range []string{"open", "pending", "resolved"} {
		e := mcptest.MustFail(t, csA, "conversations.update_status", map[string]any{"id": conv, "status": to}, nubiq.ECodeConflict)
		require.Contains(t, e.Message, "closed is final")
	}
	e = mcptest.MustFail(t, csA, "conversations.update_status", map[string]any{"id": conv, "status": "snoozed", "snoozed_until": wake.Format(time.RFC3339)}, nubiq.ECodeConflict)
	require.Contains(t, e.Message, "closed is final")
	require.False(t, set(map[string]any{"status": "closed"}).Changed)

	// The change is visible to readers.
	var got convGetOut
	mcptest.MustCall(t, csRead, "conversations.get", map[string]any{"id": conv}, &got)
	require.Equal(t, "closed", got.Conversation.Status)

	mustFailField(t, csA, "conversations.update_status", map[string]any{"id": conv, "status": "archived"}, nubiq.ECodeInvalid, "status")
	mustFailField(t, csA, "conversations.update_status", map[string]any{"id": conv}, nubiq.ECodeInvalid, "status")
	mustFailField(t, csA, "conversations.update_status", map[string]any{"id": 999999, "status": "open"}, nubiq.ECodeNotFound, "id")
	mustFailField(t, csA, "conversations.update_status", map[string]any{"id": bConv, "status": "resolved"}, nubiq.ECodeNotFound, "id")
	// The other workspace's conversation is untouched.
	require.Equal(t, 1, b.count(`SELECT count(*) FROM conversations WHERE id = $1 AND status = 'open' AND resolved_at IS NULL`, bConv))
	mcptest.MustFail(t, csRead, "conversations.update_status", map[string]any{"id": conv, "status": "open"}, nubiq.ECodeForbidden)
}

func TestConversationsAssign(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	wsA := env.Workspace(t, "Acme", "pro")
	wsB := env.Workspace(t, "Globex", "pro")
	a := newSupportFixture(t, env, wsA)
	b := newSupportFixture(t, env, wsB)
	csA := env.Client(t, env.Key(t, wsA, nubiq.ScopeConversationsWrite))

	grace := a.member("Grace", "grace@acme.test", "active")
	linus := a.member("Linus", "linus@acme.test", "active")
	invited := a.member("New", "new@acme.test", "invited")
	disabled := a.member("Gone", "gone@acme.test", "disabled")
	billing := a.team("Billing")
	bMember := b.member("Bob", "bob@globex.test", "active")
	bTeam := b.team("Billing")
	conv := a.conversation(nubiq.NewConversation{Subject: "Invoice"})
	bConv := b.conversation(nubiq.NewConversation{Subject: "Secret"})

	events := func() []map[string]any {
		rows, err := env.DB.Pool.Query(context.Background(), `
			SELECT data FROM notification_events WHERE workspace_id = $1 AND kind = 'conversation.assigned'
			AND subject_type = 'conversation' AND subject_id = $2 ORDER BY id`, wsA, conv)
		require.NoError(t, err)
		defer rows.Close()
		var out []map[string]any
		for rows.Next() {
			var m map[string]any
			require.NoError(t, rows.Scan(&m))
			out = append(out, m)
		}
		return out
	}
	assign := func(args map[string]any) convChangeOut {
		t.Helper()
		args["id"] = conv
		var out convChangeOut
		mcptest.MustCall(t, csA, "conversations.assign", args, &out)
		return out
	}

	out := assign(map[string]any{"member_id": grace})
	require.True(t, out.Changed)
	require.Equal(t, grace, out.Conversation.AssigneeMember.ID)
	require.Nil(t, out.Conversation.AssigneeTeam)
	ev := events()
	require.Len(t, ev, 1)
	require.EqualValues(t, grace, ev[0]["member_id"])
	require.Nil(t, ev[0]["previous_member_id"])

	// Giving only the team keeps the agent.
	out = assign(map[string]any{"team_id": billing})
	require.Equal(t, grace, out.Conversation.AssigneeMember.ID)
	require.Equal(t, &nubiq.TeamRef{ID: billing, Name: "Billing"}, out.Conversation.AssigneeTeam)
	require.Len(t, events(), 2)

	// The same assignment again changes nothing and notifies nobody.
	out = assign(map[string]any{"member_id": grace, "team_id": billing})
	require.False(t, out.Changed)
	require.Len(t, events(), 2)

	out = assign(map[string]any{"member_id": linus})
	require.Equal(t, linus, out.Conversation.AssigneeMember.ID)
	require.Equal(t, billing, out.Conversation.AssigneeTeam.ID)
	ev = events()
	require.Len(t, ev, 3)
	require.EqualValues(t, linus, ev[2]["member_id"])
	require.EqualValues(t, grace, ev[2]["previous_member_id"])

	out = assign(map[string]any{"unassign": true})
	require.True(t, out.Changed)
	require.Nil(t, out.Conversation.AssigneeMember)
	require.Nil(t, out.Conversation.AssigneeTeam)
	ev = events()
	require.Len(t, ev, 4)
	require.Nil(t, ev[3]["member_id"])
	require.Nil(t, ev[3]["team_id"])
	require.Equal(t, 5, a.count(`SELECT count(*) FROM index_log WHERE workspace_id = $1 AND kind = 'conversation' AND entity_id = $2 AND op = 'upsert'`, wsA, conv),
		"one index_log row at creation and one per assignment change")

	// Bad input names the field; nothing changes.
	mustFailField(t, csA, "conversations.assign", map[string]any{"id": conv}, nubiq.ECodeInvalid, "member_id")
	mustFailField(t, csA, "conversations.assign", map[string]any{"id": conv, "unassign": true, "team_id": billing}, nubiq.ECodeInvalid, "unassign")
	mustFailField(t, csA, "conversations.assign", map[string]any{"id": conv, "member_id": invited}, nubiq.ECodeInvalid, "member_id")
	mustFailField(t, csA, "conversations.assign", map[string]any{"id": conv, "member_id": disabled}, nubiq.ECodeInvalid, "member_id")
	mustFailField(t, csA, "conversations.assign", map[string]any{"id": conv, "member_id": 999999}, nubiq.ECodeNotFound, "member_id")
	mustFailField(t, csA, "conversations.assign", map[string]any{"id": conv, "member_id": bMember}, nubiq.ECodeNotFound, "member_id")
	mustFailField(t, csA, "conversations.assign", map[string]any{"id": conv, "team_id": bTeam}, nubiq.ECodeNotFound, "team_id")
	mustFailField(t, csA, "conversations.assign", map[string]any{"id": conv, "member_id": grace, "team_id": 999999}, nubiq.ECodeNotFound, "team_id")
	mustFailField(t, csA, "conversations.assign", map[string]any{"id": conv, "member_id": "grace"}, nubiq.ECodeInvalid, "member_id")
	mustFailField(t, csA, "conversations.assign", map[string]any{"id": 999999, "member_id": grace}, nubiq.ECodeNotFound, "id")
	mustFailField(t, csA, "conversations.assign", map[string]any{"id": bConv, "member_id": grace}, nubiq.ECodeNotFound, "id")
	require.Len(t, events(), 4)
	c, err := env.DB.Conversation(context.Background(), wsA, conv)
	require.NoError(t, err)
	require.Nil(t, c.AssigneeMember, "a refused assignment (team not found) left no half-change")
	require.Equal(t, 1, b.count(`SELECT count(*) FROM conversations WHERE id = $1 AND assignee_member_id IS NULL`, bConv))
}

func TestConversationsReply(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC)
	env := mcptest.New(t, nil, mcptest.WithDeps(func(d *mcp.Deps) { d.Now = func() time.Time { return now } }))
	wsA := env.Workspace(t, "Acme", "pro")
	wsB := env.Workspace(t, "Globex", "pro")
	a := newSupportFixture(t, env, wsA)
	b := newSupportFixture(t, env, wsB)
	csA := env.Client(t, env.Key(t, wsA, nubiq.ScopeConversationsWrite, nubiq.ScopeConversationsRead))

	grace := a.member("Grace", "grace@acme.test", "active")
	invited := a.member("New", "new@acme.test", "invited")
	bMember := b.member("Bob", "bob@globex.test", "active")
	ada := a.contact("Ada", "ada@example.com", "+14155550100")
	noPhone := a.contact("Nophone", "np@example.com", "")
	noEmail := a.contact("Noemail", "", "+14155550111")
	email := a.channel("email", "Support inbox", true)
	sms := a.channel("sms", "SMS", true)
	whatsapp := a.channel("whatsapp", "WhatsApp", true)
	widget := a.channel("web_widget", "Widget", true)
	api := a.channel("api", "API", true)
	off := a.channel("email", "Old inbox", false)
	created := now.Add(-time.Hour)
	conv := func(n nubiq.NewConversation) int64 {
		n.CreatedAt = created
		id := a.conversation(n)
		a.message(id, nubiq.NewMessage{AuthorType: "contact", Body: "Help please", CreatedAt: created})
		return id
	}

	type replyOut struct {
		Message      nubiq.Message      `json:"message"`
		Conversation nubiq.Conversation `json:"conversation"`
		Delivery     *nubiq.Delivery    `json:"delivery"`
	}
	reply := func(args map[string]any) replyOut {
		t.Helper()
		var out replyOut
		mcptest.MustCall(t, csA, "conversations.reply", args, &out)
		return out
	}
	outbound := func(convID int64) int {
		return a.count(`SELECT count(*) FROM outbound_messages WHERE workspace_id = $1 AND conversation_id = $2`, wsA, convID)
	}

	t.Run("email reply queues delivery", func(t *testing.T) {
		id := conv(nubiq.NewConversation{Subject: "Card declined", Status: "pending", ChannelID: email, ContactID: ada})
		out := reply(map[string]any{"id": id, "body": "We have refunded the charge.", "author_member_id": grace})
		require.Equal(t, "agent", out.Message.AuthorType)
		require.Equal(t, grace, out.Message.AuthorMember.ID)
		require.False(t, out.Message.Private)
		require.Equal(t, "We have refunded the charge.", out.Message.Body)
		require.Equal(t, "open", out.Conversation.Status, "a public reply reopens a pending conversation")
		require.True(t, out.Conversation.FirstResponseAt.Equal(now))
		require.True(t, out.Conversation.LastMessageAt.Equal(now))
		require.True(t, out.Conversation.UpdatedAt.Equal(now))
		require.NotNil(t, out.Delivery)
		require.Equal(t, nubiq.DeliveryQueued, out.Delivery.Status)
		require.Equal(t, "ada@example.com", out.Delivery.Recipient)
		require.Equal(t, email, out.Delivery.ChannelID)
		require.Equal(t, "email", out.Delivery.ChannelKind)

		var (
			recipient, subject, body, status string
			msgID, channelID                 int64
		)
		require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `
			SELECT recipient, subject, body, status, message_id, channel_id FROM outbound_messages
			WHERE workspace_id = $1 AND id = $2`, wsA, out.Delivery.OutboundID).
			Scan(&recipient, &subject, &body, &status, &msgID, &channelID))
		require.Equal(t, "ada@example.com", recipient)
		require.Equal(t, "Re: Card declined", subject)
		require.Equal(t, "We have refunded the charge.", body)
		require.Equal(t, "queued", status)
		require.Equal(t, out.Message.ID, msgID)
		require.Equal(t, email, channelID)

		var args []byte
		require.NoError(t, env.DB.Pool.QueryRow(context.Background(),
			`SELECT args FROM river_job WHERE kind = $1 AND (args->>'outbound_id')::bigint = $2`,
			nubiq.DeliverOutboundArgs{}.Kind(), out.Delivery.OutboundID).Scan(&args))
		var job nubiq.DeliverOutboundArgs
		require.NoError(t, json.Unmarshal(args, &job))
		require.Equal(t, nubiq.DeliverOutboundArgs{OutboundID: out.Delivery.OutboundID, WorkspaceID: wsA}, job)

		require.Equal(t, 1, a.count(`SELECT count(*) FROM index_log WHERE workspace_id = $1 AND kind = 'message' AND entity_id = $2 AND op = 'upsert'`, wsA, out.Message.ID))
		require.Equal(t, 2, a.count(`SELECT count(*) FROM index_log WHERE workspace_id = $1 AND kind = 'conversation' AND entity_id = $2`, wsA, id),
			"created, then reopened by the reply")

		// A second reply keeps the first response time.
		now2 := out.Conversation.FirstResponseAt
		out = reply(map[string]any{"id": id, "body": "Anything else?"})
		require.True(t, out.Conversation.FirstResponseAt.Equal(*now2))
		require.Nil(t, out.Message.AuthorMember)
		require.Equal(t, 2, outbound(id))
		require.Equal(t, 2, a.count(`SELECT count(*) FROM index_log WHERE workspace_id = $1 AND kind = 'conversation' AND entity_id = $2`, wsA, id),
			"no searchable field changed")

		var got convGetOut
		mcptest.MustCall(t, csA, "conversations.get", map[string]any{"id": id}, &got)
		require.Len(t, got.Messages, 3)
		require.Equal(t, "Anything else?", got.Messages[2].Body)
	})

	t.Run("private note", func(t *testing.T) {
		id := conv(nubiq.NewConversation{Subject: "Note", Status: "pending", ChannelID: email, ContactID: ada})
		out := reply(map[string]any{"id": id, "body": "Customer is on the legacy plan", "private": true})
		require.True(t, out.Message.Private)
		require.Nil(t, out.Delivery)
		require.Equal(t, "pending", out.Conversation.Status, "a note does not reopen")
		require.Nil(t, out.Conversation.FirstResponseAt, "a note is not a response")
		require.True(t, out.Conversation.LastMessageAt.Equal(now))
		require.Equal(t, 0, outbound(id))
		require.Equal(t, 1, a.count(`SELECT count(*) FROM index_log WHERE workspace_id = $1 AND kind = 'message' AND entity_id = $2`, wsA, out.Message.ID))
	})

	t.Run("recipients by channel kind", func(t *testing.T) {
		for _, tc := range []struct {
			channel, contact int64
			want             string
		}{
			{sms, ada, "+14155550100"},
			{whatsapp, noEmail, "+14155550111"},
			{widget, 0, "conversation:%d"},
			{api, ada, "conversation:%d"},
		} {
			id := conv(nubiq.NewConversation{Subject: "Hi", ChannelID: tc.channel, ContactID: tc.contact})
			out := reply(map[string]any{"id": id, "body": "Hello!"})
			want := tc.want
			if strings.Contains(want, "%d") {
				want = fmt.Sprintf(want, id)
			}
			require.Equal(t, nubiq.DeliveryQueued, out.Delivery.Status)
			require.Equal(t, want, out.Delivery.Recipient)
			require.Equal(t, 1, outbound(id))
			var subject string
			require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT subject FROM outbound_messages WHERE id = $1`, out.Delivery.OutboundID).Scan(&subject))
			require.Empty(t, subject, "only email has a subject")
		}
	})

	t.Run("delivery skipped", func(t *testing.T) {
		for _, tc := range []struct {
			name             string
			channel, contact int64
			reason           string
		}{
			{"no channel", 0, ada, "no channel"},
			{"disabled channel", off, ada, "disabled"},
			{"sms without phone", sms, noPhone, "no phone number"},
			{"email without address", email, noEmail, "no email address"},
			{"email without contact", email, 0, "no contact"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := conv(nubiq.NewConversation{Subject: "Hi", Status: "pending", ChannelID: tc.channel, ContactID: tc.contact})
				out := reply(map[string]any{"id": id, "body": "Hello!"})
				require.Equal(t, nubiq.DeliverySkipped, out.Delivery.Status)
				require.Contains(t, out.Delivery.Reason, tc.reason)
				require.Zero(t, out.Delivery.OutboundID)
				require.Equal(t, 0, outbound(id))
				// The reply itself is stored and counts as a response.
				require.Equal(t, "open", out.Conversation.Status)
				require.NotNil(t, out.Conversation.FirstResponseAt)
				require.Equal(t, 1, a.count(`SELECT count(*) FROM messages WHERE id = $1 AND conversation_id = $2`, out.Message.ID, id))
			})
		}
	})

	t.Run("closed conversation takes notes only", func(t *testing.T) {
		id := conv(nubiq.NewConversation{Subject: "Done", Status: "closed", ChannelID: email, ContactID: ada})
		e := mcptest.MustFail(t, csA, "conversations.reply", map[string]any{"id": id, "body": "Hello?"}, nubiq.ECodeConflict)
		require.Contains(t, e.Message, "closed is final")
		out := reply(map[string]any{"id": id, "body": "Post-mortem: duplicate charge", "private": true})
		require.True(t, out.Message.Private)
		require.Equal(t, "closed", out.Conversation.Status)
		require.Equal(t, 0, outbound(id))
	})

	t.Run("bad input", func(t *testing.T) {
		id := conv(nubiq.NewConversation{Subject: "Hi", ChannelID: email, ContactID: ada})
		bConv := b.conversation(nubiq.NewConversation{Subject: "Secret"})
		before := a.count(`SELECT count(*) FROM messages WHERE workspace_id = $1`, wsA)
		mustFailField(t, csA, "conversations.reply", map[string]any{"id": id}, nubiq.ECodeInvalid, "body")
		mustFailField(t, csA, "conversations.reply", map[string]any{"id": id, "body": "   \n"}, nubiq.ECodeInvalid, "body")
		mustFailField(t, csA, "conversations.reply", map[string]any{"id": id, "body": strings.Repeat("é", nubiq.MaxMessageBody+1)}, nubiq.ECodeInvalid, "body")
		mustFailField(t, csA, "conversations.reply", map[string]any{"id": id, "body": "hi", "private": "yes"}, nubiq.ECodeInvalid, "private")
		mustFailField(t, csA, "conversations.reply", map[string]any{"id": id, "body": "hi", "author_member_id": invited}, nubiq.ECodeInvalid, "author_member_id")
		mustFailField(t, csA, "conversations.reply", map[string]any{"id": id, "body": "hi", "author_member_id": bMember}, nubiq.ECodeNotFound, "author_member_id")
		mustFailField(t, csA, "conversations.reply", map[string]any{"id": id, "body": "hi", "cc": "x@example.com"}, nubiq.ECodeInvalid, "cc")
		mustFailField(t, csA, "conversations.reply", map[string]any{"id": 999999, "body": "hi"}, nubiq.ECodeNotFound, "id")
		mustFailField(t, csA, "conversations.reply", map[string]any{"id": bConv, "body": "hi"}, nubiq.ECodeNotFound, "id")
		require.Equal(t, before, a.count(`SELECT count(*) FROM messages WHERE workspace_id = $1`, wsA), "refused replies store nothing")
		require.Equal(t, 0, b.count(`SELECT count(*) FROM messages WHERE workspace_id = $1`, wsB))
		// The longest allowed body is accepted.
		out := reply(map[string]any{"id": id, "body": strings.Repeat("é", nubiq.MaxMessageBody)})
		require.Equal(t, nubiq.DeliveryQueued, out.Delivery.Status)
	})

	require.Equal(t,
		a.count(`SELECT count(*) FROM outbound_messages WHERE workspace_id = $1`, wsA),
		a.count(`SELECT count(*) FROM river_job WHERE kind = 'deliver_outbound' AND (args->>'workspace_id')::bigint = $1`, wsA),
		"one delivery job per queued outbound message")
}
