package search_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/search/searchtest"
)

func convIDs(res *nubiq.ConversationSearchResult) []int64 {
	var ids []int64
	for _, c := range res.Results {
		ids = append(ids, c.Conversation.ID)
	}
	return ids
}

func TestConversationSearch(t *testing.T) {
	env := searchtest.New(t, nil)
	db := env.DB
	ws := searchtest.Workspace(t, db, "acme")
	other := searchtest.Workspace(t, db, "globex")
	agent := searchtest.Member(t, db, ws, "agent@acme.test")
	team := searchtest.Team(t, db, ws, "Billing")
	email := searchtest.Channel(t, db, ws, "email", "Support inbox")
	chat := searchtest.Channel(t, db, ws, "web_widget", "Chat")
	contact := searchtest.AddContact(t, db, ws, searchtest.Contact{Name: "Ana"})
	old := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

	refund := searchtest.AddConversation(t, db, ws, searchtest.Conversation{Subject: "Refund for order 1234", ChannelID: email,
		AssigneeMemberID: agent, Tags: []string{"billing"}, Priority: "high", ContactID: contact, Metadata: map[string]any{"order": "A-99817"}})
	searchtest.AddMessage(t, db, ws, refund, searchtest.Message{Body: "I was charged twice, please refund one payment."})
	searchtest.AddMessage(t, db, ws, refund, searchtest.Message{AuthorType: "agent", Body: "Sorry about that, the refund is on its way."})
	note := searchtest.AddMessage(t, db, ws, refund, searchtest.Message{AuthorType: "agent", Private: true, Body: "Customer is a chargeback risk; escalate the refund."})

	resolved := searchtest.AddConversation(t, db, ws, searchtest.Conversation{Subject: "Login trouble", Status: "resolved", ChannelID: chat,
		AssigneeTeamID: team, CreatedAt: old})
	searchtest.AddMessage(t, db, ws, resolved, searchtest.Message{Body: "Can I get a refund if I cannot log in?"})

	unassigned := searchtest.AddConversation(t, db, ws, searchtest.Conversation{Subject: "Shipping", ChannelID: chat})
	searchtest.AddMessage(t, db, ws, unassigned, searchtest.Message{Body: "Where is my parcel?"})
	onlyNote := searchtest.AddConversation(t, db, ws, searchtest.Conversation{Subject: "Internal"})
	searchtest.AddMessage(t, db, ws, onlyNote, searchtest.Message{AuthorType: "agent", Private: true, Body: "chargeback follow-up"})

	foreign := searchtest.AddConversation(t, db, other, searchtest.Conversation{Subject: "Refund elsewhere"})
	searchtest.AddMessage(t, db, other, foreign, searchtest.Message{Body: "refund refund refund"})
	env.Sync(t)
	ctx := context.Background()
	search := func(p nubiq.ConversationSearch) *nubiq.ConversationSearchResult {
		t.Helper()
		res, err := env.Service.Conversations(ctx, ws, p)
		require.NoError(t, err)
		return res
	}

	t.Run("ranked with snippets", func(t *testing.T) {
		res := search(nubiq.ConversationSearch{Query: "refund"})
		require.Equal(t, []int64{refund, resolved}, convIDs(res), "the conversation matching in subject and two messages first; no foreign one")
		top := res.Results[0]
		require.Equal(t, "**Refund** for order 1234", top.SubjectSnippet)
		require.Len(t, top.Matches, 2, "public messages only")
		for _, m := range top.Matches {
			require.False(t, m.Private)
			require.Contains(t, m.Snippet, "**refund**")
		}
		require.Equal(t, "high", top.Conversation.Priority)
		require.Equal(t, []string{"billing"}, top.Conversation.Tags)
		require.Equal(t, email, top.Conversation.Channel.ID)
		require.Equal(t, agent, top.Conversation.AssigneeMember.ID)
	})
	t.Run("private notes only when asked", func(t *testing.T) {
		require.Empty(t, convIDs(search(nubiq.ConversationSearch{Query: "chargeback"})))
		res := search(nubiq.ConversationSearch{Query: "chargeback", IncludePrivate: true})
		require.ElementsMatch(t, []int64{refund, onlyNote}, convIDs(res))
		var found bool
		for _, c := range res.Results {
			for _, m := range c.Matches {
				if m.MessageID == note {
					found = true
					require.True(t, m.Private)
				}
			}
		}
		require.True(t, found)
	})
	t.Run("metadata", func(t *testing.T) {
		require.Equal(t, []int64{refund}, convIDs(search(nubiq.ConversationSearch{Query: "A-99817"})))
	})
	filters := []struct {
		name string
		f    nubiq.ConversationFilter
		want []int64
	}{
		{"status", nubiq.ConversationFilter{Status: "resolved"}, []int64{resolved}},
		{"priority", nubiq.ConversationFilter{Priority: "high"}, []int64{refund}},
		{"channel", nubiq.ConversationFilter{ChannelID: chat}, []int64{resolved}},
		{"contact", nubiq.ConversationFilter{ContactID: contact}, []int64{refund}},
		{"assignee agent", nubiq.ConversationFilter{Assignee: nubiq.AssigneeFilter{Kind: nubiq.AssigneeMember, ID: agent}}, []int64{refund}},
		{"assignee team", nubiq.ConversationFilter{Assignee: nubiq.AssigneeFilter{Kind: nubiq.AssigneeTeam, ID: team}}, []int64{resolved}},
		{"unassigned", nubiq.ConversationFilter{Assignee: nubiq.AssigneeFilter{Kind: nubiq.AssigneeUnassigned}}, nil},
		{"tag, any case", nubiq.ConversationFilter{Tag: "Billing"}, []int64{refund}},
		{"created before", nubiq.ConversationFilter{Created: nubiq.TimeRange{To: old.Add(time.Hour)}}, []int64{resolved}},
		{"created after", nubiq.ConversationFilter{Created: nubiq.TimeRange{From: old.Add(time.Hour)}}, []int64{refund}},
		{"updated after", nubiq.ConversationFilter{Updated: nubiq.TimeRange{From: old.Add(time.Hour)}}, []int64{refund}},
	}
	for _, tt := range filters {
		t.Run("filter "+tt.name, func(t *testing.T) {
			require.ElementsMatch(t, tt.want, convIDs(search(nubiq.ConversationSearch{Query: "refund", Filter: tt.f})))
		})
	}
	t.Run("unassigned with a match", func(t *testing.T) {
		require.Equal(t, []int64{unassigned}, convIDs(search(nubiq.ConversationSearch{Query: "parcel",
			Filter: nubiq.ConversationFilter{Assignee: nubiq.AssigneeFilter{Kind: nubiq.AssigneeUnassigned}}})))
	})
	t.Run("a status change reaches the filters", func(t *testing.T) {
		searchtest.Exec(t, db, `UPDATE conversations SET status = 'closed', updated_at = now() WHERE id = $1`, refund)
		searchtest.Log(t, db, ws, "conversation", refund, "upsert")
		env.Sync(t)
		require.Equal(t, []int64{refund}, convIDs(search(nubiq.ConversationSearch{Query: "refund", Filter: nubiq.ConversationFilter{Status: "closed"}})))
		require.Empty(t, convIDs(search(nubiq.ConversationSearch{Query: "refund", Filter: nubiq.ConversationFilter{Status: "open"}})))
	})
	t.Run("validation", func(t *testing.T) {
		for _, tt := range []struct {
			p     nubiq.ConversationSearch
			field string
		}{
			{nubiq.ConversationSearch{}, "query"},
			{nubiq.ConversationSearch{Query: "x", Filter: nubiq.ConversationFilter{Status: "done"}}, "status"},
			{nubiq.ConversationSearch{Query: "x", Filter: nubiq.ConversationFilter{Priority: "p1"}}, "priority"},
			{nubiq.ConversationSearch{Query: "x", Limit: 51}, "limit"},
			{nubiq.ConversationSearch{Query: "x", Filter: nubiq.ConversationFilter{ChannelID: -1}}, "channel_id"},
			{nubiq.ConversationSearch{Query: "x", Filter: nubiq.ConversationFilter{Tag: "  "}}, "tag"},
		} {
			_, err := env.Service.Conversations(ctx, ws, tt.p)
			require.Equal(t, nubiq.ECodeInvalid, nubiq.ErrorCode(err), "%+v", tt.p)
			require.Equal(t, tt.field, nubiq.ErrorField(err))
		}
	})
	t.Run("workspace isolation", func(t *testing.T) {
		res, err := env.Service.Conversations(ctx, other, nubiq.ConversationSearch{Query: "refund", IncludePrivate: true})
		require.NoError(t, err)
		require.Equal(t, []int64{foreign}, convIDs(res))
	})
}
