package mcp

import "github.com/nubiq/hub"

func conversationTools(d *Deps) []*Tool {
	return []*Tool{
		placeholder(ToolSpec{Name: "conversations.list", Title: "List conversations", Scope: nubiq.ScopeConversationsRead, ReadOnly: true,
			Description: "List support conversations, newest-updated first. Filter by status, channel, assignee (agent, team or unassigned), contact, tag, priority and created/updated time ranges. Returns a page of conversation summaries and next_cursor (pass it back as cursor; empty at the end)."}),
		placeholder(ToolSpec{Name: "conversations.get", Title: "Get a conversation", Scope: nubiq.ScopeConversationsRead, ReadOnly: true,
			Description: "Get one conversation by id with its contact, assignee, tags and messages (oldest first, paged when long; private notes are marked). Use after conversations.list or conversations.search to read the thread."}),
		placeholder(ToolSpec{Name: "conversations.update_status", Title: "Change a conversation's status", Scope: nubiq.ScopeConversationsWrite,
			Description: "Change a conversation's status: open, pending, snoozed (needs snoozed_until in the future), resolved or closed. Closed is final; resolved can be reopened. Returns the updated conversation."}),
		placeholder(ToolSpec{Name: "conversations.assign", Title: "Assign a conversation", Scope: nubiq.ScopeConversationsWrite, Idempotent: true,
			Description: "Assign a conversation to an agent (an active team member) and/or a team, or unassign it. Returns the updated conversation."}),
		placeholder(ToolSpec{Name: "conversations.reply", Title: "Reply to a conversation", Scope: nubiq.ScopeConversationsWrite, OpenWorld: true,
			Description: "Send an agent reply to a conversation's contact through its channel, or add a private note (private=true) visible only to the team. Returns the new message and, for public replies, the queued delivery."}),
	}
}
