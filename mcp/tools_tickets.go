package mcp

import (
	"context"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

type ticketListIn struct {
	Status        string `json:"status,omitempty" jsonschema:"only tickets in this status"`
	Priority      string `json:"priority,omitempty" jsonschema:"only tickets with this priority"`
	Assignee      string `json:"assignee,omitempty" jsonschema:"only tickets with this assignee: member:<member id>, team:<team id>, or unassigned (neither member nor team)"`
	Tag           string `json:"tag,omitempty" jsonschema:"only tickets carrying this tag (case-insensitive)"`
	ContactID     int64  `json:"contact_id,omitempty" jsonschema:"only tickets of this contact id"`
	CreatedAfter  string `json:"created_after,omitempty" jsonschema:"RFC 3339 time; only tickets created at or after it"`
	CreatedBefore string `json:"created_before,omitempty" jsonschema:"RFC 3339 time; only tickets created before it"`
	Limit         int    `json:"limit,omitempty" jsonschema:"page size, 1 to 100; default 20"`
	Cursor        string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page; omit for the first page"`
}

type ticketListOut struct {
	Tickets    []nubiq.Ticket `json:"tickets"`
	NextCursor string         `json:"next_cursor" jsonschema:"pass back as cursor for the next page; empty when there are no more"`
}

type ticketIDIn struct {
	ID int64 `json:"id" jsonschema:"ticket id"`
}

type ticketCreateIn struct {
	Subject          string            `json:"subject" jsonschema:"short summary, 1 to 500 characters"`
	Description      string            `json:"description,omitempty" jsonschema:"the details, at most 50000 characters"`
	Priority         string            `json:"priority,omitempty" jsonschema:"default normal"`
	ContactID        int64             `json:"contact_id,omitempty" jsonschema:"the contact the ticket is for; defaults to the linked conversation's contact"`
	ConversationID   int64             `json:"conversation_id,omitempty" jsonschema:"a conversation the ticket comes from"`
	AssigneeMemberID int64             `json:"assignee_member_id,omitempty" jsonschema:"an active team member to assign"`
	AssigneeTeamID   int64             `json:"assignee_team_id,omitempty" jsonschema:"a team to assign"`
	Tags             []string          `json:"tags,omitempty" jsonschema:"at most 20 tags of at most 50 characters; stored lowercase"`
	CustomFields     map[string]string `json:"custom_fields,omitempty" jsonschema:"string to string map, at most 50 keys of at most 100 characters, values of at most 2000 characters"`
}

type ticketUpdateIn struct {
	ID               int64             `json:"id" jsonschema:"ticket id"`
	Subject          *string           `json:"subject,omitempty" jsonschema:"new summary, 1 to 500 characters"`
	Description      *string           `json:"description,omitempty" jsonschema:"new details, at most 50000 characters"`
	Status           *string           `json:"status,omitempty" jsonschema:"new status; to close a ticket use tickets.close"`
	Priority         *string           `json:"priority,omitempty" jsonschema:"new priority"`
	ContactID        *int64            `json:"contact_id,omitempty" jsonschema:"new contact id; 0 removes the contact"`
	ConversationID   *int64            `json:"conversation_id,omitempty" jsonschema:"new linked conversation id; 0 removes the link"`
	AssigneeMemberID *int64            `json:"assignee_member_id,omitempty" jsonschema:"new assigned active member id; 0 unassigns the member"`
	AssigneeTeamID   *int64            `json:"assignee_team_id,omitempty" jsonschema:"new assigned team id; 0 unassigns the team"`
	Tags             *[]string         `json:"tags,omitempty" jsonschema:"replaces all tags; [] removes them"`
	CustomFields     map[string]string `json:"custom_fields,omitempty" jsonschema:"merged into the ticket's custom fields; a key with an empty value is removed"`
}

type ticketCloseIn struct {
	ID         int64  `json:"id" jsonschema:"ticket id"`
	Resolution string `json:"resolution,omitempty" jsonschema:"how the ticket was resolved, at most 10000 characters; omitted keeps any earlier note"`
}

type ticketCloseOut struct {
	Ticket  nubiq.Ticket `json:"ticket"`
	Changed bool         `json:"changed" jsonschema:"false when the ticket was already closed"`
}

func ticketTools(d *Deps) []*Tool {
	return []*Tool{
		NewTool(ToolSpec{Name: "tickets.list", Title: "List tickets", Scope: nubiq.ScopeTicketsRead, ReadOnly: true,
			Description: "List support tickets, newest first. Filter by status, priority, assignee (member:<id>, team:<id> or unassigned), tag, contact and created time range. Returns a page of tickets and next_cursor (pass it back as cursor; empty at the end)."},
			func(ctx context.Context, in ticketListIn) (ticketListOut, error) {
				var out ticketListOut
				if err := requireSupportDB(d); err != nil {
					return out, err
				}
				f := nubiq.TicketFilter{Status: in.Status, Priority: in.Priority, Tag: in.Tag, ContactID: in.ContactID, Limit: in.Limit}
				var err error
				if f.Assignee, err = nubiq.ParseAssigneeFilter("assignee", in.Assignee); err != nil {
					return out, err
				}
				if f.Created, err = nubiq.ParseTimeRange("created_after", in.CreatedAfter, "created_before", in.CreatedBefore); err != nil {
					return out, err
				}
				if f.After, err = nubiq.DecodeCursor(postgres.TicketsCursor, in.Cursor); err != nil {
					return out, err
				}
				out.Tickets, out.NextCursor, err = d.DB.ListTickets(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, f)
				return out, err
			}).
			Enum("status", nubiq.TicketStatuses...).
			Enum("priority", nubiq.Priorities...),

		NewTool(ToolSpec{Name: "tickets.get", Title: "Get a ticket", Scope: nubiq.ScopeTicketsRead, ReadOnly: true,
			Description: "Get one ticket by id with all its fields, its contact (id, name, email), assignee and linked conversation id (read it with conversations.get)."},
			func(ctx context.Context, in ticketIDIn) (nubiq.Ticket, error) {
				if err := requireSupportDB(d); err != nil {
					return nubiq.Ticket{}, err
				}
				t, err := d.DB.Ticket(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, in.ID)
				if err != nil {
					return nubiq.Ticket{}, err
				}
				return *t, nil
			}),

		NewTool(ToolSpec{Name: "tickets.create", Title: "Create a ticket", Scope: nubiq.ScopeTicketsWrite,
			Description: "Create a support ticket with a subject, description, priority (low, normal, high, urgent; default normal), optional contact, linked conversation, assignee (member and/or team), tags and custom fields. Every id must exist in this workspace. Returns the new ticket, status open."},
			func(ctx context.Context, in ticketCreateIn) (nubiq.Ticket, error) {
				if err := requireSupportDB(d); err != nil {
					return nubiq.Ticket{}, err
				}
				t, err := d.DB.CreateTicket(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, nubiq.NewTicket{
					Subject: in.Subject, Description: in.Description, Priority: in.Priority,
					ContactID: in.ContactID, ConversationID: in.ConversationID,
					AssigneeMemberID: in.AssigneeMemberID, AssigneeTeamID: in.AssigneeTeamID,
					Tags: in.Tags, CustomFields: in.CustomFields,
				}, d.now())
				if err != nil {
					return nubiq.Ticket{}, err
				}
				return *t, nil
			}).
			Enum("priority", nubiq.Priorities...),

		NewTool(ToolSpec{Name: "tickets.update", Title: "Update a ticket", Scope: nubiq.ScopeTicketsWrite, Idempotent: true,
			Description: "Update a ticket's fields partially: only the fields given change; unknown fields are refused. Status may move among open, pending, on_hold and solved (close with tickets.close); a closed ticket cannot be updated. Ids set to 0 remove the link or assignee. Returns the updated ticket."},
			func(ctx context.Context, in ticketUpdateIn) (nubiq.Ticket, error) {
				if err := requireSupportDB(d); err != nil {
					return nubiq.Ticket{}, err
				}
				t, err := d.DB.UpdateTicket(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, in.ID, nubiq.TicketChanges{
					Subject: in.Subject, Description: in.Description, Status: in.Status, Priority: in.Priority,
					ContactID: in.ContactID, ConversationID: in.ConversationID,
					AssigneeMemberID: in.AssigneeMemberID, AssigneeTeamID: in.AssigneeTeamID,
					Tags: in.Tags, CustomFields: in.CustomFields,
				}, d.now())
				if err != nil {
					return nubiq.Ticket{}, err
				}
				return *t, nil
			}).
			Enum("status", nubiq.TicketUpdatableStatuses...).
			Enum("priority", nubiq.Priorities...),

		NewTool(ToolSpec{Name: "tickets.close", Title: "Close a ticket", Scope: nubiq.ScopeTicketsWrite, Idempotent: true,
			Description: "Close a ticket with an optional resolution note. Closing an already closed ticket changes nothing and returns it as it is (changed: false). Closed tickets cannot be updated afterwards."},
			func(ctx context.Context, in ticketCloseIn) (ticketCloseOut, error) {
				if err := requireSupportDB(d); err != nil {
					return ticketCloseOut{}, err
				}
				t, changed, err := d.DB.CloseTicket(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, in.ID, in.Resolution, d.now())
				if err != nil {
					return ticketCloseOut{}, err
				}
				return ticketCloseOut{Ticket: *t, Changed: changed}, nil
			}),
	}
}
