package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
)

// TicketsCursor is the cursor kind of ticket lists.
const TicketsCursor = "tickets"

const ticketSelect = `
SELECT t.id, coalesce(t.external_id, ''), t.subject, t.description, t.status, t.priority,
       t.conversation_id, t.tags, t.custom_fields, t.resolution, t.closed_at, t.created_at, t.updated_at,
       ct.id, ct.name, ct.email,
       m.id, m.name, m.email,
       tm.id, tm.name
FROM tickets t
LEFT JOIN contacts ct ON ct.id = t.contact_id AND ct.workspace_id = t.workspace_id
LEFT JOIN members m ON m.id = t.assignee_member_id AND m.workspace_id = t.workspace_id
LEFT JOIN teams tm ON tm.id = t.assignee_team_id AND tm.workspace_id = t.workspace_id`

func scanTicket(row pgx.Row) (*nubiq.Ticket, error) {
	var t nubiq.Ticket
	var (
		convID, ctID, mID, tmID               *int64
		ctName, ctEmail, mName, mEmail, tmNam *string
		custom                                []byte
	)
	if err := row.Scan(&t.ID, &t.ExternalID, &t.Subject, &t.Description, &t.Status, &t.Priority,
		&convID, &t.Tags, &custom, &t.Resolution, &t.ClosedAt, &t.CreatedAt, &t.UpdatedAt,
		&ctID, &ctName, &ctEmail, &mID, &mName, &mEmail, &tmID, &tmNam); err != nil {
		return nil, err
	}
	if t.Tags == nil {
		t.Tags = []string{}
	}
	t.ClosedAt = utcOrNil(t.ClosedAt)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	if convID != nil {
		t.ConversationID = *convID
	}
	var err error
	if t.CustomFields, err = decodeCustomFields(custom); err != nil {
		return nil, fmt.Errorf("ticket %d: %w", t.ID, err)
	}
	if ctID != nil {
		t.Contact = &nubiq.ContactRef{ID: *ctID, Name: *ctName}
		if ctEmail != nil {
			t.Contact.Email = *ctEmail
		}
	}
	if mID != nil {
		t.AssigneeMember = &nubiq.MemberRef{ID: *mID, Name: *mName, Email: *mEmail}
	}
	if tmID != nil {
		t.AssigneeTeam = &nubiq.TeamRef{ID: *tmID, Name: *tmNam}
	}
	return &t, nil
}

// decodeCustomFields reads the custom_fields column. Imported rows may hold values of any
// JSON type; they are shown as their JSON text so the map stays string to string.
func decodeCustomFields(b []byte) (map[string]string, error) {
	out := map[string]string{}
	if len(b) == 0 {
		return out, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("decode custom fields: %w", err)
	}
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out, nil
}

func getTicket(ctx context.Context, q supportQuerier, workspaceID, id int64) (*nubiq.Ticket, error) {
	t, err := scanTicket(q.QueryRow(ctx, ticketSelect+` WHERE t.workspace_id = $1 AND t.id = $2`, workspaceID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, refNotFound("id", "no ticket %d in this workspace", id)
	} else if err != nil {
		return nil, fmt.Errorf("get ticket %d: %w", id, unavailable(err))
	}
	return t, nil
}

// Ticket returns one ticket of the workspace.
func (db *DB) Ticket(ctx context.Context, workspaceID, id int64) (*nubiq.Ticket, error) {
	if err := nubiq.CheckID("id", id); err != nil {
		return nil, err
	}
	return getTicket(ctx, db.Pool, workspaceID, id)
}

// ListTickets lists the workspace's tickets matching f, newest first, and returns the cursor
// of the next page ("" at the end).
func (db *DB) ListTickets(ctx context.Context, workspaceID int64, f nubiq.TicketFilter) ([]nubiq.Ticket, string, error) {
	if err := nubiq.CheckEnum("status", f.Status, nubiq.TicketStatuses); err != nil {
		return nil, "", err
	}
	if err := nubiq.CheckEnum("priority", f.Priority, nubiq.Priorities); err != nil {
		return nil, "", err
	}
	if f.ContactID < 0 {
		return nil, "", nubiq.CheckID("contact_id", f.ContactID)
	}
	if f.Tag != "" {
		tag, err := nubiq.NormalizeTag("tag", f.Tag)
		if err != nil {
			return nil, "", err
		}
		f.Tag = tag
	}
	limit, err := nubiq.PageLimit(f.Limit)
	if err != nil {
		return nil, "", err
	}
	var l supportFilter
	l.add("t.workspace_id = ?", workspaceID)
	if f.Status != "" {
		l.add("t.status = ?", f.Status)
	}
	if f.Priority != "" {
		l.add("t.priority = ?", f.Priority)
	}
	if f.ContactID != 0 {
		l.add("t.contact_id = ?", f.ContactID)
	}
	if f.Tag != "" {
		l.add("t.tags @> ARRAY[?::text]", f.Tag)
	}
	addAssigneeFilter(&l, "t", f.Assignee)
	addTimeRange(&l, "t.created_at", f.Created)
	if f.After != nil {
		l.add("(t.created_at, t.id) < (?, ?)", f.After.Time, f.After.ID)
	}
	l.args = append(l.args, limit+1)
	rows, err := db.Pool.Query(ctx, ticketSelect+" WHERE "+strings.Join(l.where, " AND ")+
		" ORDER BY t.created_at DESC, t.id DESC LIMIT $"+strconv.Itoa(len(l.args)), l.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list tickets: %w", unavailable(err))
	}
	out, next, err := collectPage(rows, limit, byValue(scanTicket),
		func(t nubiq.Ticket) nubiq.Cursor {
			return nubiq.Cursor{Kind: TicketsCursor, Time: t.CreatedAt, ID: t.ID}
		})
	if err != nil {
		return nil, "", fmt.Errorf("list tickets: %w", err)
	}
	return out, next, nil
}

// CreateTicket creates a ticket, checking every reference within the workspace (a missing or
// foreign id is not_found naming its field), and records a "ticket.created" event. A ticket
// linked to a conversation without a contact of its own takes the conversation's contact.
func (db *DB) CreateTicket(ctx context.Context, workspaceID int64, n nubiq.NewTicket, now time.Time) (*nubiq.Ticket, error) {
	subject, err := nubiq.NormalizeTicketSubject("subject", n.Subject)
	if err != nil {
		return nil, err
	}
	if err := nubiq.CheckTextLength("description", n.Description, nubiq.MaxTicketDescription); err != nil {
		return nil, err
	}
	if n.Priority == "" {
		n.Priority = "normal"
	}
	if err := nubiq.CheckEnum("priority", n.Priority, nubiq.Priorities); err != nil {
		return nil, err
	}
	tags, err := nubiq.NormalizeTags("tags", n.Tags)
	if err != nil {
		return nil, err
	}
	if err := nubiq.CheckCustomFields("custom_fields", n.CustomFields, false); err != nil {
		return nil, err
	}
	for _, r := range []struct {
		field string
		id    int64
	}{{"contact_id", n.ContactID}, {"conversation_id", n.ConversationID},
		{"assignee_member_id", n.AssigneeMemberID}, {"assignee_team_id", n.AssigneeTeamID}} {
		if r.id < 0 {
			return nil, nubiq.CheckID(r.field, r.id)
		}
	}
	custom := n.CustomFields
	if custom == nil {
		custom = map[string]string{}
	}
	var out *nubiq.Ticket
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		convContact, err := checkTicketRefs(ctx, tx, workspaceID, n.ContactID, n.ConversationID, n.AssigneeMemberID, n.AssigneeTeamID)
		if err != nil {
			return err
		}
		if n.ContactID == 0 {
			n.ContactID = convContact
		}
		var id int64
		if err := tx.QueryRow(ctx, `
			INSERT INTO tickets (workspace_id, subject, description, priority, contact_id, conversation_id,
				assignee_member_id, assignee_team_id, tags, custom_fields, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id`,
			workspaceID, subject, n.Description, n.Priority, nullID(n.ContactID), nullID(n.ConversationID),
			nullID(n.AssigneeMemberID), nullID(n.AssigneeTeamID), tags, custom, now).Scan(&id); err != nil {
			return fmt.Errorf("create ticket: %w", unavailable(err))
		}
		if err := emitSupportEvent(ctx, tx, workspaceID, "ticket.created", "ticket", id, map[string]any{
			"ticket_id": id, "subject": subject, "priority": n.Priority,
			"assignee_member_id": nullID(n.AssigneeMemberID), "assignee_team_id": nullID(n.AssigneeTeamID),
		}, now); err != nil {
			return err
		}
		out, err = getTicket(ctx, tx, workspaceID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkTicketRefs checks the ids a ticket links to (0 means no link) and returns the linked
// conversation's contact id (0 when none).
func checkTicketRefs(ctx context.Context, q supportQuerier, workspaceID, contactID, conversationID, memberID, teamID int64) (int64, error) {
	if contactID != 0 {
		if err := requireContact(ctx, q, workspaceID, contactID, "contact_id"); err != nil {
			return 0, err
		}
	}
	var convContact int64
	if conversationID != 0 {
		var err error
		if convContact, err = requireConversationRef(ctx, q, workspaceID, conversationID, "conversation_id"); err != nil {
			return 0, err
		}
	}
	if memberID != 0 {
		if err := requireActiveMember(ctx, q, workspaceID, memberID, "assignee_member_id"); err != nil {
			return 0, err
		}
	}
	if teamID != 0 {
		if err := requireTeam(ctx, q, workspaceID, teamID, "assignee_team_id"); err != nil {
			return 0, err
		}
	}
	return convContact, nil
}

// checkTicketChanges validates a partial update's fields, normalising them in place.
func checkTicketChanges(c *nubiq.TicketChanges) error {
	if c.Empty() {
		return nubiq.Invalidf("arguments", "nothing to change: give at least one of subject, description, status, priority, contact_id, conversation_id, assignee_member_id, assignee_team_id, tags, custom_fields")
	}
	if c.Subject != nil {
		s, err := nubiq.NormalizeTicketSubject("subject", *c.Subject)
		if err != nil {
			return err
		}
		c.Subject = &s
	}
	if c.Description != nil {
		if err := nubiq.CheckTextLength("description", *c.Description, nubiq.MaxTicketDescription); err != nil {
			return err
		}
	}
	if c.Status != nil {
		switch *c.Status {
		case nubiq.TicketClosed:
			return nubiq.Invalidf("status", "a ticket is closed with tickets.close, not tickets.update; allowed here: %s", strings.Join(nubiq.TicketUpdatableStatuses, ", "))
		case "":
			return nubiq.Invalidf("status", "must be one of %s", strings.Join(nubiq.TicketUpdatableStatuses, ", "))
		}
		if err := nubiq.CheckEnum("status", *c.Status, nubiq.TicketUpdatableStatuses); err != nil {
			return err
		}
	}
	if c.Priority != nil {
		if err := nubiq.CheckEnum("priority", *c.Priority, nubiq.Priorities); err != nil || *c.Priority == "" {
			return nubiq.Invalidf("priority", "must be one of %s, got %q", strings.Join(nubiq.Priorities, ", "), *c.Priority)
		}
	}
	for _, r := range []struct {
		field string
		id    *int64
	}{{"contact_id", c.ContactID}, {"conversation_id", c.ConversationID},
		{"assignee_member_id", c.AssigneeMemberID}, {"assignee_team_id", c.AssigneeTeamID}} {
		if r.id != nil && *r.id < 0 {
			return nubiq.Invalidf(r.field, "must be a positive id, or 0 to remove it, got %d", *r.id)
		}
	}
	if c.Tags != nil {
		tags, err := nubiq.NormalizeTags("tags", *c.Tags)
		if err != nil {
			return err
		}
		c.Tags = &tags
	}
	if c.CustomFields != nil {
		if err := nubiq.CheckCustomFields("custom_fields", c.CustomFields, true); err != nil {
			return err
		}
	}
	return nil
}

// UpdateTicket changes the given fields of a ticket and leaves the others. Closed tickets
// cannot be updated (conflict), and closing goes through CloseTicket.
func (db *DB) UpdateTicket(ctx context.Context, workspaceID, id int64, c nubiq.TicketChanges, now time.Time) (*nubiq.Ticket, error) {
	if err := nubiq.CheckID("id", id); err != nil {
		return nil, err
	}
	if err := checkTicketChanges(&c); err != nil {
		return nil, err
	}
	var out *nubiq.Ticket
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		var status string
		var custom []byte
		err := tx.QueryRow(ctx, `SELECT status, custom_fields FROM tickets WHERE workspace_id = $1 AND id = $2 FOR UPDATE`,
			workspaceID, id).Scan(&status, &custom)
		if errors.Is(err, pgx.ErrNoRows) {
			return refNotFound("id", "no ticket %d in this workspace", id)
		} else if err != nil {
			return fmt.Errorf("lock ticket %d: %w", id, unavailable(err))
		}
		if status == nubiq.TicketClosed {
			return nubiq.Errorf(nubiq.ECodeConflict, "ticket %d is closed, and a closed ticket cannot be updated", id)
		}
		var contactID, conversationID, memberID, teamID int64
		if c.ContactID != nil {
			contactID = *c.ContactID
		}
		if c.ConversationID != nil {
			conversationID = *c.ConversationID
		}
		if c.AssigneeMemberID != nil {
			memberID = *c.AssigneeMemberID
		}
		if c.AssigneeTeamID != nil {
			teamID = *c.AssigneeTeamID
		}
		if _, err := checkTicketRefs(ctx, tx, workspaceID, contactID, conversationID, memberID, teamID); err != nil {
			return err
		}

		var l supportFilter // reused for the SET list: one "column = ?" per given field
		set := func(col string, v any) { l.add(col+" = ?", v) }
		if c.Subject != nil {
			set("subject", *c.Subject)
		}
		if c.Description != nil {
			set("description", *c.Description)
		}
		if c.Status != nil {
			set("status", *c.Status)
		}
		if c.Priority != nil {
			set("priority", *c.Priority)
		}
		if c.ContactID != nil {
			set("contact_id", nullID(*c.ContactID))
		}
		if c.ConversationID != nil {
			set("conversation_id", nullID(*c.ConversationID))
		}
		if c.AssigneeMemberID != nil {
			set("assignee_member_id", nullID(*c.AssigneeMemberID))
		}
		if c.AssigneeTeamID != nil {
			set("assignee_team_id", nullID(*c.AssigneeTeamID))
		}
		if c.Tags != nil {
			set("tags", *c.Tags)
		}
		if c.CustomFields != nil {
			merged, err := decodeCustomFields(custom)
			if err != nil {
				return fmt.Errorf("ticket %d: %w", id, err)
			}
			for k, v := range c.CustomFields {
				if v == "" {
					delete(merged, k)
				} else {
					merged[k] = v
				}
			}
			if len(merged) > nubiq.MaxCustomFields {
				return nubiq.Invalidf("custom_fields", "the ticket would have %d custom fields; at most %d allowed", len(merged), nubiq.MaxCustomFields)
			}
			set("custom_fields", merged)
		}
		set("updated_at", now)
		l.args = append(l.args, workspaceID, id)
		n := len(l.args)
		if _, err := tx.Exec(ctx, "UPDATE tickets SET "+strings.Join(l.where, ", ")+
			" WHERE workspace_id = $"+strconv.Itoa(n-1)+" AND id = $"+strconv.Itoa(n), l.args...); err != nil {
			return fmt.Errorf("update ticket %d: %w", id, unavailable(err))
		}
		out, err = getTicket(ctx, tx, workspaceID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CloseTicket closes a ticket with an optional resolution note and records a "ticket.closed"
// event. Closing a closed ticket returns it unchanged (changed is false) and records nothing.
func (db *DB) CloseTicket(ctx context.Context, workspaceID, id int64, resolution string, now time.Time) (*nubiq.Ticket, bool, error) {
	if err := nubiq.CheckID("id", id); err != nil {
		return nil, false, err
	}
	resolution = strings.TrimSpace(resolution)
	if err := nubiq.CheckTextLength("resolution", resolution, nubiq.MaxTicketResolution); err != nil {
		return nil, false, err
	}
	var out *nubiq.Ticket
	changed := false
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM tickets WHERE workspace_id = $1 AND id = $2 FOR UPDATE`,
			workspaceID, id).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return refNotFound("id", "no ticket %d in this workspace", id)
		} else if err != nil {
			return fmt.Errorf("lock ticket %d: %w", id, unavailable(err))
		}
		if status != nubiq.TicketClosed {
			changed = true
			if _, err := tx.Exec(ctx, `
				UPDATE tickets SET status = 'closed', closed_at = $3, updated_at = $3,
					resolution = CASE WHEN $4 = '' THEN resolution ELSE $4 END
				WHERE workspace_id = $1 AND id = $2`, workspaceID, id, now, resolution); err != nil {
				return fmt.Errorf("close ticket %d: %w", id, unavailable(err))
			}
			if err := emitSupportEvent(ctx, tx, workspaceID, "ticket.closed", "ticket", id, map[string]any{
				"ticket_id": id, "previous_status": status, "resolution": resolution,
			}, now); err != nil {
				return err
			}
		}
		out, err = getTicket(ctx, tx, workspaceID, id)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return out, changed, nil
}
