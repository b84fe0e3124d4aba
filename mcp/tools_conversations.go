package mcp

import (
	"context"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// conversationFilterIn holds the filters conversations.list and conversations.search share.
type conversationFilterIn struct {
	Status        string `json:"status,omitempty" jsonschema:"only conversations in this status"`
	ChannelID     int64  `json:"channel_id,omitempty" jsonschema:"only conversations that came in through this channel id"`
	Assignee      string `json:"assignee,omitempty" jsonschema:"only conversations with this assignee: member:<member id>, team:<team id>, or unassigned (neither member nor team)"`
	ContactID     int64  `json:"contact_id,omitempty" jsonschema:"only conversations with this contact id"`
	Tag           string `json:"tag,omitempty" jsonschema:"only conversations carrying this tag (case-insensitive)"`
	Priority      string `json:"priority,omitempty" jsonschema:"only conversations with this priority"`
	CreatedAfter  string `json:"created_after,omitempty" jsonschema:"RFC 3339 time; only conversations created at or after it"`
	CreatedBefore string `json:"created_before,omitempty" jsonschema:"RFC 3339 time; only conversations created before it"`
	UpdatedAfter  string `json:"updated_after,omitempty" jsonschema:"RFC 3339 time; only conversations updated at or after it"`
	UpdatedBefore string `json:"updated_before,omitempty" jsonschema:"RFC 3339 time; only conversations updated before it"`
}

func (in conversationFilterIn) filter() (nubiq.ConversationFilter, error) {
	f := nubiq.ConversationFilter{Status: in.Status, Priority: in.Priority, ChannelID: in.ChannelID, ContactID: in.ContactID, Tag: in.Tag}
	var err error
	if f.Assignee, err = nubiq.ParseAssigneeFilter("assignee", in.Assignee); err != nil {
		return f, err
	}
	if f.Created, err = nubiq.ParseTimeRange("created_after", in.CreatedAfter, "created_before", in.CreatedBefore); err != nil {
		return f, err
	}
	if f.Updated, err = nubiq.ParseTimeRange("updated_after", in.UpdatedAfter, "updated_before", in.UpdatedBefore); err != nil {
		return f, err
	}
	return f, nil
}

type conversationListIn struct {
	conversationFilterIn
	Limit  int    `json:"limit,omitempty" jsonschema:"page size, 1 to 100; default 20"`
	Cursor string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page; omit for the first page"`
}

type conversationListOut struct {
	Conversations []nubiq.Conversation `json:"conversations"`
	NextCursor    string               `json:"next_cursor" jsonschema:"pass back as cursor for the next page; empty when there are no more"`
}

type conversationGetIn struct {
	ID             int64  `json:"id" jsonschema:"conversation id"`
	MessagesCursor string `json:"messages_cursor,omitempty" jsonschema:"messages_next_cursor of the previous call, to read further into a long thread"`
	MessagesLimit  int    `json:"messages_limit,omitempty" jsonschema:"messages per page, 1 to 100; default 20"`
}

type conversationGetOut struct {
	Conversation       nubiq.Conversation `json:"conversation"`
	Messages           []nubiq.Message    `json:"messages" jsonschema:"messages oldest first; private: true marks internal notes the contact never sees"`
	MessagesNextCursor string             `json:"messages_next_cursor" jsonschema:"pass back as messages_cursor for the next messages; empty when the thread is complete"`
}

type conversationStatusIn struct {
	ID           int64  `json:"id" jsonschema:"conversation id"`
	Status       string `json:"status" jsonschema:"the new status"`
	SnoozedUntil string `json:"snoozed_until,omitempty" jsonschema:"RFC 3339 time in the future at which a snoozed conversation wakes up; required with status snoozed and refused otherwise"`
}

type conversationChangeOut struct {
	Conversation nubiq.Conversation `json:"conversation"`
	Changed      bool               `json:"changed" jsonschema:"false when the conversation already was in the requested state"`
}

type conversationAssignIn struct {
	ID       int64 `json:"id" jsonschema:"conversation id"`
	MemberID int64 `json:"member_id,omitempty" jsonschema:"active team member to assign (see team.members); omitted keeps the current agent"`
	TeamID   int64 `json:"team_id,omitempty" jsonschema:"team to assign; omitted keeps the current team"`
	Unassign bool  `json:"unassign,omitempty" jsonschema:"true removes both the agent and the team; not combinable with member_id or team_id"`
}

type conversationReplyIn struct {
	ID             int64  `json:"id" jsonschema:"conversation id"`
	Body           string `json:"body" jsonschema:"the message text, at most 20000 characters"`
	Private        bool   `json:"private,omitempty" jsonschema:"true adds an internal note that the contact never sees and that is not delivered"`
	AuthorMemberID int64  `json:"author_member_id,omitempty" jsonschema:"the active team member writing the reply; omitted, the reply is from the workspace's agents in general"`
}

// requireSupportDB answers "unavailable" when the tools run without a database.
func requireSupportDB(d *Deps) error {
	if d.DB == nil {
		return nubiq.Errorf(nubiq.ECodeUnavailable, "the database is not configured")
	}
	return nil
}

func conversationTools(d *Deps) []*Tool {
	return []*Tool{
		NewTool(ToolSpec{Name: "conversations.list", Title: "List conversations", Scope: nubiq.ScopeConversationsRead, ReadOnly: true,
			Description: "List support conversations, newest-updated first. Filter by status, channel, assignee (agent, team or unassigned), contact, tag, priority and created/updated time ranges. Returns a page of conversation summaries and next_cursor (pass it back as cursor; empty at the end)."},
			func(ctx context.Context, in conversationListIn) (conversationListOut, error) {
				var out conversationListOut
				if err := requireSupportDB(d); err != nil {
					return out, err
				}
				f, err := in.filter()
				if err != nil {
					return out, err
				}
				f.Limit = in.Limit
				if f.After, err = nubiq.DecodeCursor(postgres.ConversationsCursor, in.Cursor); err != nil {
					return out, err
				}
				caller := nubiq.CallerFromContext(ctx)
				out.Conversations, out.NextCursor, err = d.DB.ListConversations(ctx, caller.WorkspaceID, f)
				return out, err
			}).
			Enum("status", nubiq.ConversationStatuses...).
			Enum("priority", nubiq.Priorities...),

		NewTool(ToolSpec{Name: "conversations.get", Title: "Get a conversation", Scope: nubiq.ScopeConversationsRead, ReadOnly: true,
			Description: "Get one conversation by id with its contact, assignee, tags and messages (oldest first, paged when long: pass messages_next_cursor back as messages_cursor; private notes are marked private: true). Use after conversations.list or conversations.search to read the thread."},
			func(ctx context.Context, in conversationGetIn) (conversationGetOut, error) {
				var out conversationGetOut
				if err := requireSupportDB(d); err != nil {
					return out, err
				}
				if err := nubiq.CheckID("id", in.ID); err != nil {
					return out, err
				}
				limit, err := nubiq.PageLimit(in.MessagesLimit)
				if err != nil {
					return out, nubiq.Invalidf("messages_limit", "must be between 1 and %d, got %d", nubiq.MaxPageSize, in.MessagesLimit)
				}
				after, err := nubiq.DecodeCursor(postgres.MessagesCursor(in.ID), in.MessagesCursor)
				if err != nil {
					return out, nubiq.Invalidf("messages_cursor", "not a valid messages cursor for conversation %d; pass messages_next_cursor back unchanged with the same id, or omit it for the first messages", in.ID)
				}
				ws := nubiq.CallerFromContext(ctx).WorkspaceID
				c, err := d.DB.Conversation(ctx, ws, in.ID)
				if err != nil {
					return out, err
				}
				out.Conversation = *c
				out.Messages, out.MessagesNextCursor, err = d.DB.ConversationMessages(ctx, ws, in.ID, after, limit)
				return out, err
			}),

		NewTool(ToolSpec{Name: "conversations.update_status", Title: "Change a conversation's status", Scope: nubiq.ScopeConversationsWrite, Idempotent: true,
			Description: "Change a conversation's status: open, pending, snoozed (needs snoozed_until in the future), resolved or closed. " +
				"Allowed moves: open, pending and snoozed move freely among themselves and to resolved or closed; resolved can only be reopened (open, which clears resolved_at) or closed; closed is final. " +
				"Resolving sets resolved_at. Asking for the current status changes nothing. Returns the conversation and whether it changed."},
			func(ctx context.Context, in conversationStatusIn) (conversationChangeOut, error) {
				var out conversationChangeOut
				if err := requireSupportDB(d); err != nil {
					return out, err
				}
				until, err := nubiq.ParseTime("snoozed_until", in.SnoozedUntil)
				if err != nil {
					return out, err
				}
				c, changed, err := d.DB.UpdateConversationStatus(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, in.ID, in.Status, until, d.now())
				if err != nil {
					return out, err
				}
				return conversationChangeOut{Conversation: *c, Changed: changed}, nil
			}).
			Enum("status", nubiq.ConversationStatuses...),

		NewTool(ToolSpec{Name: "conversations.assign", Title: "Assign a conversation", Scope: nubiq.ScopeConversationsWrite, Idempotent: true,
			Description: "Assign a conversation to an agent (an active team member, see team.members) and/or a team, or unassign it (unassign: true). A side not given keeps its current assignee. Returns the conversation and whether the assignment changed."},
			func(ctx context.Context, in conversationAssignIn) (conversationChangeOut, error) {
				var out conversationChangeOut
				if err := requireSupportDB(d); err != nil {
					return out, err
				}
				c, changed, err := d.DB.AssignConversation(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, in.ID,
					nubiq.ConversationAssignment{MemberID: in.MemberID, TeamID: in.TeamID, Unassign: in.Unassign}, d.now())
				if err != nil {
					return out, err
				}
				return conversationChangeOut{Conversation: *c, Changed: changed}, nil
			}),

		NewTool(ToolSpec{Name: "conversations.reply", Title: "Reply to a conversation", Scope: nubiq.ScopeConversationsWrite, OpenWorld: true,
			Description: "Send an agent reply to a conversation's contact through its channel, or add a private note (private=true) visible only to the team. " +
				"A public reply reopens a pending conversation and is queued for delivery (email to the contact's address, SMS/WhatsApp to their phone, widget/API to the conversation); when it cannot be delivered it is still stored and delivery.reason says why. " +
				"Closed conversations accept notes only. Returns the new message, the conversation and, for public replies, the delivery."},
			func(ctx context.Context, in conversationReplyIn) (nubiq.Reply, error) {
				if err := requireSupportDB(d); err != nil {
					return nubiq.Reply{}, err
				}
				r, err := d.DB.ReplyToConversation(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, in.ID,
					nubiq.ReplyParams{Body: in.Body, Private: in.Private, AuthorMemberID: in.AuthorMemberID}, d.now())
				if err != nil {
					return nubiq.Reply{}, err
				}
				return *r, nil
			}),
	}
}
