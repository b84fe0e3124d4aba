package mcp

import "github.com/nubiq/hub"

func ticketTools(d *Deps) []*Tool {
	return []*Tool{
		placeholder(ToolSpec{Name: "tickets.list", Title: "List tickets", Scope: nubiq.ScopeTicketsRead, ReadOnly: true,
			Description: "List support tickets, newest first. Filter by status, priority, assignee, tag, contact and created time range. Returns a page of tickets and next_cursor."}),
		placeholder(ToolSpec{Name: "tickets.get", Title: "Get a ticket", Scope: nubiq.ScopeTicketsRead, ReadOnly: true,
			Description: "Get one ticket by id with all its fields, contact and linked conversation."}),
		placeholder(ToolSpec{Name: "tickets.create", Title: "Create a ticket", Scope: nubiq.ScopeTicketsWrite,
			Description: "Create a support ticket with a subject, description, priority (low, normal, high, urgent), optional contact, linked conversation, tags and custom fields. Returns the new ticket."}),
		placeholder(ToolSpec{Name: "tickets.update", Title: "Update a ticket", Scope: nubiq.ScopeTicketsWrite, Idempotent: true,
			Description: "Update a ticket's fields partially: only the fields given change; unknown fields are refused. Returns the updated ticket."}),
		placeholder(ToolSpec{Name: "tickets.close", Title: "Close a ticket", Scope: nubiq.ScopeTicketsWrite, Idempotent: true,
			Description: "Close a ticket with an optional resolution note. Closing an already closed ticket changes nothing. Returns the ticket."}),
	}
}
