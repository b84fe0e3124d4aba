package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
)

const conversationSelect = `
SELECT c.id, coalesce(c.external_id, ''), c.subject, c.status, c.priority, c.tags,
       c.snoozed_until, c.first_response_at, c.resolved_at, c.closed_at, c.last_message_at,
       c.created_at, c.updated_at,
       ch.id, ch.kind, ch.name,
       ct.id, ct.name, ct.email,
       m.id, m.name, m.email,
       tm.id, tm.name
FROM conversations c
LEFT JOIN channels ch ON ch.id = c.channel_id AND ch.workspace_id = c.workspace_id
LEFT JOIN contacts ct ON ct.id = c.contact_id AND ct.workspace_id = c.workspace_id
LEFT JOIN members m ON m.id = c.assignee_member_id AND m.workspace_id = c.workspace_id
LEFT JOIN teams tm ON tm.id = c.assignee_team_id AND tm.workspace_id = c.workspace_id`

func scanConversation(row pgx.Row) (*nubiq.Conversation, error) {
	var c nubiq.Conversation
	var (
		chID, ctID, mID, tmID                          *int64
		chKind, chName, ctName, ctEmail, mName, mEmail *string
		tmName                                         *string
	)
	err := row.Scan(&c.ID, &c.ExternalID, &c.Subject, &c.Status, &c.Priority, &c.Tags,
		&c.SnoozedUntil, &c.FirstResponseAt, &c.ResolvedAt, &c.ClosedAt, &c.LastMessageAt,
		&c.CreatedAt, &c.UpdatedAt,
		&chID, &chKind, &chName, &ctID, &ctName, &ctEmail, &mID, &mName, &mEmail, &tmID, &tmName)
	if err != nil {
		return nil, err
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	c.SnoozedUntil, c.FirstResponseAt = utcOrNil(c.SnoozedUntil), utcOrNil(c.FirstResponseAt)
	c.ResolvedAt, c.ClosedAt, c.LastMessageAt = utcOrNil(c.ResolvedAt), utcOrNil(c.ClosedAt), utcOrNil(c.LastMessageAt)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if chID != nil {
		c.Channel = &nubiq.ChannelRef{ID: *chID, Kind: *chKind, Name: *chName}
	}
	if ctID != nil {
		c.Contact = &nubiq.ContactRef{ID: *ctID, Name: *ctName}
		if ctEmail != nil {
			c.Contact.Email = *ctEmail
		}
	}
	if mID != nil {
		c.AssigneeMember = &nubiq.MemberRef{ID: *mID, Name: *mName, Email: *mEmail}
	}
	if tmID != nil {
		c.AssigneeTeam = &nubiq.TeamRef{ID: *tmID, Name: *tmName}
	}
	return &c, nil
}

func getConversation(ctx context.Context, q supportQuerier, workspaceID, id int64) (*nubiq.Conversation, error) {
	c, err := scanConversation(q.QueryRow(ctx, conversationSelect+` WHERE c.workspace_id = $1 AND c.id = $2`, workspaceID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, refNotFound("id", "no conversation %d in this workspace", id)
	} else if err != nil {
		return nil, fmt.Errorf("get conversation %d: %w", id, unavailable(err))
	}
	return c, nil
}

// Conversation returns one conversation of the workspace, without its messages.
func (db *DB) Conversation(ctx context.Context, workspaceID, id int64) (*nubiq.Conversation, error) {
	if err := nubiq.CheckID("id", id); err != nil {
		return nil, err
	}
	return getConversation(ctx, db.Pool, workspaceID, id)
}

// checkConversationFilter validates a list filter, naming the input field at fault.
func checkConversationFilter(f *nubiq.ConversationFilter) error {
	if err := nubiq.CheckEnum("status", f.Status, nubiq.ConversationStatuses); err != nil {
		return err
	}
	if err := nubiq.CheckEnum("priority", f.Priority, nubiq.Priorities); err != nil {
		return err
	}
	if f.ChannelID < 0 {
		return nubiq.CheckID("channel_id", f.ChannelID)
	}
	if f.ContactID < 0 {
		return nubiq.CheckID("contact_id", f.ContactID)
	}
	if f.Tag != "" {
		t, err := nubiq.NormalizeTag("tag", f.Tag)
		if err != nil {
			return err
		}
		f.Tag = t
	}
	limit, err := nubiq.PageLimit(f.Limit)
	if err != nil {
		return err
	}
	f.Limit = limit
	return nil
}

// addAssigneeFilter adds the condition of an assignee filter on table alias t.
func addAssigneeFilter(l *supportFilter, t string, a nubiq.AssigneeFilter) {
	switch a.Kind {
	case nubiq.AssigneeMember:
		l.add(t+".assignee_member_id = ?", a.ID)
	case nubiq.AssigneeTeam:
		l.add(t+".assignee_team_id = ?", a.ID)
	case nubiq.AssigneeUnassigned:
		l.add(t + ".assignee_member_id IS NULL AND " + t + ".assignee_team_id IS NULL")
	}
}

func addTimeRange(l *supportFilter, column string, r nubiq.TimeRange) {
	if !r.From.IsZero() {
		l.add(column+" >= ?", r.From)
	}
	if !r.To.IsZero() {
		l.add(column+" < ?", r.To)
	}
}

// ListConversations lists the workspace's conversations matching f, newest-updated first,
// and returns the cursor of the next page ("" at the end).
func (db *DB) ListConversations(ctx context.Context, workspaceID int64, f nubiq.ConversationFilter) ([]nubiq.Conversation, string, error) {
	if err := checkConversationFilter(&f); err != nil {
		return nil, "", err
	}
	var l supportFilter
	l.add("c.workspace_id = ?", workspaceID)
	if f.Status != "" {
		l.add("c.status = ?", f.Status)
	}
	if f.Priority != "" {
		l.add("c.priority = ?", f.Priority)
	}
	if f.ChannelID != 0 {
		l.add("c.channel_id = ?", f.ChannelID)
	}
	if f.ContactID != 0 {
		l.add("c.contact_id = ?", f.ContactID)
	}
	if f.Tag != "" {
		l.add("c.tags @> ARRAY[?::text]", f.Tag)
	}
	addAssigneeFilter(&l, "c", f.Assignee)
	addTimeRange(&l, "c.created_at", f.Created)
	addTimeRange(&l, "c.updated_at", f.Updated)
	if f.After != nil {
		l.add("(c.updated_at, c.id) < (?, ?)", f.After.Time, f.After.ID)
	}
	l.args = append(l.args, f.Limit+1)
	sql := conversationSelect + " WHERE " + strings.Join(l.where, " AND ") +
		" ORDER BY c.updated_at DESC, c.id DESC LIMIT $" + strconv.Itoa(len(l.args))
	rows, err := db.Pool.Query(ctx, sql, l.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list conversations: %w", unavailable(err))
	}
	defer rows.Close()
	out := []nubiq.Conversation{}
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list conversations: %w", err)
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list conversations: %w", unavailable(err))
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = nubiq.Cursor{Kind: ConversationsCursor, Time: last.UpdatedAt, ID: last.ID}.Encode()
	}
	return out, next, nil
}

// ConversationsCursor is the cursor kind of conversation lists.
const ConversationsCursor = "conversations"

// MessagesCursor is the cursor kind of one conversation's message pages: a cursor is only
// good for the conversation it came from.
func MessagesCursor(conversationID int64) string {
	return "messages:" + strconv.FormatInt(conversationID, 10)
}

const messageSelect = `
SELECT msg.id, msg.conversation_id, msg.author_type, msg.body, msg.private, msg.created_at,
       m.id, m.name, m.email, ct.id, ct.name, ct.email
FROM messages msg
LEFT JOIN members m ON m.id = msg.author_member_id AND m.workspace_id = msg.workspace_id
LEFT JOIN contacts ct ON ct.id = msg.author_contact_id AND ct.workspace_id = msg.workspace_id`

func scanMessage(row pgx.Row) (*nubiq.Message, error) {
	var m nubiq.Message
	var mID, ctID *int64
	var mName, mEmail, ctName, ctEmail *string
	if err := row.Scan(&m.ID, &m.ConversationID, &m.AuthorType, &m.Body, &m.Private, &m.CreatedAt,
		&mID, &mName, &mEmail, &ctID, &ctName, &ctEmail); err != nil {
		return nil, err
	}
	m.CreatedAt = m.CreatedAt.UTC()
	if mID != nil {
		m.AuthorMember = &nubiq.MemberRef{ID: *mID, Name: *mName, Email: *mEmail}
	}
	if ctID != nil {
		m.AuthorContact = &nubiq.ContactRef{ID: *ctID, Name: *ctName}
		if ctEmail != nil {
			m.AuthorContact.Email = *ctEmail
		}
	}
	return &m, nil
}

// ConversationMessages returns a page of a conversation's messages, oldest first, starting
// after the cursor position, and the cursor of the next page ("" at the end). The
// conversation must belong to the workspace.
func (db *DB) ConversationMessages(ctx context.Context, workspaceID, conversationID int64, after *nubiq.Cursor, limit int) ([]nubiq.Message, string, error) {
	var l supportFilter
	l.add("msg.workspace_id = ?", workspaceID)
	l.add("msg.conversation_id = ?", conversationID)
	if after != nil {
		l.add("(msg.created_at, msg.id) > (?, ?)", after.Time, after.ID)
	}
	l.args = append(l.args, limit+1)
	rows, err := db.Pool.Query(ctx, messageSelect+" WHERE "+strings.Join(l.where, " AND ")+
		" ORDER BY msg.created_at, msg.id LIMIT $"+strconv.Itoa(len(l.args)), l.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list messages of conversation %d: %w", conversationID, unavailable(err))
	}
	out, next, err := collectPage(rows, limit, byValue(scanMessage),
		func(m nubiq.Message) nubiq.Cursor {
			return nubiq.Cursor{Kind: MessagesCursor(conversationID), Time: m.CreatedAt, ID: m.ID}
		})
	if err != nil {
		return nil, "", fmt.Errorf("list messages of conversation %d: %w", conversationID, err)
	}
	return out, next, nil
}

// lockedConversation is what the write paths need to know of a conversation before changing it.
type lockedConversation struct {
	Status       string
	SnoozedUntil *time.Time
	MemberID     *int64
	TeamID       *int64
	ChannelID    *int64
	ContactID    *int64
	Subject      string
}

// lockConversation reads a conversation for update, so that concurrent changes to the same
// conversation apply one after the other.
func lockConversation(ctx context.Context, tx pgx.Tx, workspaceID, id int64) (*lockedConversation, error) {
	var c lockedConversation
	err := tx.QueryRow(ctx, `
		SELECT status, snoozed_until, assignee_member_id, assignee_team_id, channel_id, contact_id, subject
		FROM conversations WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, workspaceID, id).
		Scan(&c.Status, &c.SnoozedUntil, &c.MemberID, &c.TeamID, &c.ChannelID, &c.ContactID, &c.Subject)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, refNotFound("id", "no conversation %d in this workspace", id)
	} else if err != nil {
		return nil, fmt.Errorf("lock conversation %d: %w", id, unavailable(err))
	}
	return &c, nil
}

// UpdateConversationStatus moves a conversation to status to, following the state machine of
// nubiq.CheckConversationTransition. snoozedUntil is required (and must be after now) for
// snoozed and refused for any other status. It reports whether anything changed.
func (db *DB) UpdateConversationStatus(ctx context.Context, workspaceID, id int64, to string, snoozedUntil time.Time, now time.Time) (*nubiq.Conversation, bool, error) {
	if err := nubiq.CheckID("id", id); err != nil {
		return nil, false, err
	}
	if err := nubiq.CheckEnum("status", to, nubiq.ConversationStatuses); err != nil || to == "" {
		return nil, false, nubiq.Invalidf("status", "must be one of %s, got %q", strings.Join(nubiq.ConversationStatuses, ", "), to)
	}
	if to == nubiq.ConversationSnoozed {
		if snoozedUntil.IsZero() {
			return nil, false, nubiq.Invalidf("snoozed_until", "is required with status snoozed: the RFC 3339 time at which the conversation wakes up")
		}
		if !snoozedUntil.After(now) {
			return nil, false, nubiq.Invalidf("snoozed_until", "must be in the future (now is %s), got %s", now.Format(time.RFC3339), snoozedUntil.UTC().Format(time.RFC3339))
		}
	} else if !snoozedUntil.IsZero() {
		return nil, false, nubiq.Invalidf("snoozed_until", "is only allowed with status snoozed")
	}
	var out *nubiq.Conversation
	changed := false
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := lockConversation(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		if err := nubiq.CheckConversationTransition(cur.Status, to); err != nil {
			return err
		}
		switch {
		case cur.Status != to:
			_, err = tx.Exec(ctx, `
				UPDATE conversations SET
					status = $3,
					snoozed_until = CASE WHEN $3 = 'snoozed' THEN $4::timestamptz END,
					resolved_at = CASE $3 WHEN 'resolved' THEN $5
					                      WHEN 'open' THEN NULL
					                      WHEN 'closed' THEN coalesce(resolved_at, $5)
					                      ELSE resolved_at END,
					closed_at = CASE WHEN $3 = 'closed' THEN $5 ELSE closed_at END,
					updated_at = $5
				WHERE workspace_id = $1 AND id = $2`,
				workspaceID, id, to, nullTime(snoozedUntil), now)
			changed = true
		case to == nubiq.ConversationSnoozed && (cur.SnoozedUntil == nil || !cur.SnoozedUntil.Equal(snoozedUntil)):
			_, err = tx.Exec(ctx, `UPDATE conversations SET snoozed_until = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2`,
				workspaceID, id, snoozedUntil, now)
			changed = true
		}
		if err != nil {
			return fmt.Errorf("update status of conversation %d: %w", id, unavailable(err))
		}
		if changed && cur.Status != to {
			if err := logSupportIndex(ctx, tx, workspaceID, "conversation", id, "upsert"); err != nil {
				return err
			}
		}
		out, err = getConversation(ctx, tx, workspaceID, id)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return out, changed, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// AssignConversation assigns a conversation to a member and/or a team of the workspace, or
// unassigns it. A side left at 0 keeps its current assignee. The member must be active. A
// change records a "conversation.assigned" notification event (with null ids when
// unassigned); assigning to the current assignees changes nothing and records nothing.
func (db *DB) AssignConversation(ctx context.Context, workspaceID, id int64, a nubiq.ConversationAssignment, now time.Time) (*nubiq.Conversation, bool, error) {
	if err := nubiq.CheckID("id", id); err != nil {
		return nil, false, err
	}
	switch {
	case a.Unassign && (a.MemberID != 0 || a.TeamID != 0):
		return nil, false, nubiq.Invalidf("unassign", "cannot be combined with member_id or team_id")
	case !a.Unassign && a.MemberID == 0 && a.TeamID == 0:
		return nil, false, nubiq.Invalidf("member_id", "give member_id and/or team_id, or unassign: true")
	case a.MemberID < 0:
		return nil, false, nubiq.CheckID("member_id", a.MemberID)
	case a.TeamID < 0:
		return nil, false, nubiq.CheckID("team_id", a.TeamID)
	}
	var out *nubiq.Conversation
	changed := false
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := lockConversation(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		member, team := cur.MemberID, cur.TeamID
		if a.Unassign {
			member, team = nil, nil
		}
		if a.MemberID != 0 {
			if err := requireActiveMember(ctx, tx, workspaceID, a.MemberID, "member_id"); err != nil {
				return err
			}
			member = &a.MemberID
		}
		if a.TeamID != 0 {
			if err := requireTeam(ctx, tx, workspaceID, a.TeamID, "team_id"); err != nil {
				return err
			}
			team = &a.TeamID
		}
		if !sameID(member, cur.MemberID) || !sameID(team, cur.TeamID) {
			changed = true
			if _, err := tx.Exec(ctx, `
				UPDATE conversations SET assignee_member_id = $3, assignee_team_id = $4, updated_at = $5
				WHERE workspace_id = $1 AND id = $2`, workspaceID, id, member, team, now); err != nil {
				return fmt.Errorf("assign conversation %d: %w", id, unavailable(err))
			}
			if err := emitSupportEvent(ctx, tx, workspaceID, "conversation.assigned", "conversation", id, map[string]any{
				"conversation_id":    id,
				"member_id":          member,
				"team_id":            team,
				"previous_member_id": cur.MemberID,
				"previous_team_id":   cur.TeamID,
			}, now); err != nil {
				return err
			}
			if err := logSupportIndex(ctx, tx, workspaceID, "conversation", id, "upsert"); err != nil {
				return err
			}
		}
		out, err = getConversation(ctx, tx, workspaceID, id)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return out, changed, nil
}

func sameID(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// ReplyToConversation appends an agent message (or, with Private, an internal note) to a
// conversation. A public reply sets first_response_at the first time, reopens a pending
// conversation and queues delivery through the conversation's channel: an outbound_messages
// row and its River job, in the same transaction as the message. When delivery is impossible
// (no channel, channel disabled, contact without the address the channel needs) the reply is
// still stored and the result says why delivery was skipped. Public replies to closed
// conversations are refused (closed is final); notes are still allowed there.
func (db *DB) ReplyToConversation(ctx context.Context, workspaceID, id int64, p nubiq.ReplyParams, now time.Time) (*nubiq.Reply, error) {
	if err := nubiq.CheckID("id", id); err != nil {
		return nil, err
	}
	if err := nubiq.CheckMessageBody("body", p.Body); err != nil {
		return nil, err
	}
	if p.AuthorMemberID < 0 {
		return nil, nubiq.CheckID("author_member_id", p.AuthorMemberID)
	}
	var out nubiq.Reply
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := lockConversation(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		if cur.Status == nubiq.ConversationClosed && !p.Private {
			return nubiq.Errorf(nubiq.ECodeConflict, "conversation %d is closed and closed is final: public replies are refused; a private note (private: true) is still allowed", id)
		}
		var author *int64
		if p.AuthorMemberID != 0 {
			if err := requireActiveMember(ctx, tx, workspaceID, p.AuthorMemberID, "author_member_id"); err != nil {
				return err
			}
			author = &p.AuthorMemberID
		}
		var msgID int64
		if err := tx.QueryRow(ctx, `
			INSERT INTO messages (workspace_id, conversation_id, author_type, author_member_id, body, private, created_at)
			VALUES ($1, $2, 'agent', $3, $4, $5, $6) RETURNING id`,
			workspaceID, id, author, p.Body, p.Private, now).Scan(&msgID); err != nil {
			return fmt.Errorf("add reply to conversation %d: %w", id, unavailable(err))
		}
		var newStatus string
		if err := tx.QueryRow(ctx, `
			UPDATE conversations SET
				first_response_at = CASE WHEN $3 THEN first_response_at ELSE coalesce(first_response_at, $4) END,
				status = CASE WHEN NOT $3 AND status = 'pending' THEN 'open' ELSE status END,
				last_message_at = $4,
				updated_at = $4
			WHERE workspace_id = $1 AND id = $2 RETURNING status`,
			workspaceID, id, p.Private, now).Scan(&newStatus); err != nil {
			return fmt.Errorf("update conversation %d after reply: %w", id, unavailable(err))
		}
		if err := logSupportIndex(ctx, tx, workspaceID, "message", msgID, "upsert"); err != nil {
			return err
		}
		if newStatus != cur.Status {
			if err := logSupportIndex(ctx, tx, workspaceID, "conversation", id, "upsert"); err != nil {
				return err
			}
		}
		if !p.Private {
			d, err := queueReplyDelivery(ctx, db, tx, workspaceID, id, msgID, cur, p.Body)
			if err != nil {
				return err
			}
			out.Delivery = d
		}
		m, err := scanMessage(tx.QueryRow(ctx, messageSelect+` WHERE msg.workspace_id = $1 AND msg.id = $2`, workspaceID, msgID))
		if err != nil {
			return fmt.Errorf("read reply %d: %w", msgID, unavailable(err))
		}
		out.Message = *m
		c, err := getConversation(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		out.Conversation = *c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// replyRecipient derives where a reply goes from the channel kind and the contact: an email
// address for email, a phone number for SMS and WhatsApp, and the conversation itself for the
// web widget and the API (their clients fetch replies by conversation). It returns "" and the
// reason when there is no usable recipient.
func replyRecipient(kind string, conversationID int64, email, phone *string) (string, string) {
	switch kind {
	case "email":
		if email == nil || strings.TrimSpace(*email) == "" {
			return "", "the conversation's contact has no email address"
		}
		return strings.TrimSpace(*email), ""
	case "sms", "whatsapp":
		if phone == nil || strings.TrimSpace(*phone) == "" {
			return "", "the conversation's contact has no phone number"
		}
		return strings.TrimSpace(*phone), ""
	case "web_widget", "api":
		return "conversation:" + strconv.FormatInt(conversationID, 10), ""
	}
	return "", fmt.Sprintf("channel kind %q cannot deliver replies", kind)
}

func queueReplyDelivery(ctx context.Context, db *DB, tx pgx.Tx, workspaceID, conversationID, messageID int64, cur *lockedConversation, body string) (*nubiq.Delivery, error) {
	if cur.ChannelID == nil {
		return &nubiq.Delivery{Status: nubiq.DeliverySkipped, Reason: "the conversation has no channel to deliver through"}, nil
	}
	d := &nubiq.Delivery{Status: nubiq.DeliverySkipped, ChannelID: *cur.ChannelID}
	var enabled bool
	var name string
	err := tx.QueryRow(ctx, `SELECT kind, name, enabled FROM channels WHERE workspace_id = $1 AND id = $2`,
		workspaceID, *cur.ChannelID).Scan(&d.ChannelKind, &name, &enabled)
	if errors.Is(err, pgx.ErrNoRows) {
		d.ChannelID = 0
		d.Reason = "the conversation has no channel to deliver through"
		return d, nil
	} else if err != nil {
		return nil, fmt.Errorf("look up channel of conversation %d: %w", conversationID, unavailable(err))
	}
	if !enabled {
		d.Reason = fmt.Sprintf("channel %d (%s) is disabled", *cur.ChannelID, name)
		return d, nil
	}
	var email, phone *string
	if cur.ContactID != nil {
		err := tx.QueryRow(ctx, `SELECT email, phone FROM contacts WHERE workspace_id = $1 AND id = $2`,
			workspaceID, *cur.ContactID).Scan(&email, &phone)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("look up contact of conversation %d: %w", conversationID, unavailable(err))
		}
	}
	recipient, reason := replyRecipient(d.ChannelKind, conversationID, email, phone)
	if recipient == "" {
		if cur.ContactID == nil && (d.ChannelKind == "email" || d.ChannelKind == "sms" || d.ChannelKind == "whatsapp") {
			reason = "the conversation has no contact to deliver to"
		}
		d.Reason = reason
		return d, nil
	}
	subject := ""
	if d.ChannelKind == "email" && cur.Subject != "" {
		subject = cur.Subject
		if !strings.HasPrefix(strings.ToLower(subject), "re:") {
			subject = "Re: " + subject
		}
	}
	if err := tx.QueryRow(ctx, `
		INSERT INTO outbound_messages (workspace_id, channel_id, conversation_id, message_id, recipient, subject, body, status)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued') RETURNING id`,
		workspaceID, *cur.ChannelID, conversationID, messageID, recipient, subject, body).Scan(&d.OutboundID); err != nil {
		return nil, fmt.Errorf("queue delivery of message %d: %w", messageID, unavailable(err))
	}
	if _, err := db.River.InsertTx(ctx, tx, nubiq.DeliverOutboundArgs{OutboundID: d.OutboundID, WorkspaceID: workspaceID}, nil); err != nil {
		return nil, fmt.Errorf("enqueue delivery of outbound message %d: %w", d.OutboundID, err)
	}
	d.Status, d.Recipient = nubiq.DeliveryQueued, recipient
	return d, nil
}

// CreateConversation records a conversation as imports and inbound channels do, checking
// every reference within the workspace.
func (db *DB) CreateConversation(ctx context.Context, workspaceID int64, n nubiq.NewConversation) (*nubiq.Conversation, error) {
	if n.Status == "" {
		n.Status = nubiq.ConversationOpen
	}
	if n.Priority == "" {
		n.Priority = "normal"
	}
	if err := nubiq.CheckEnum("status", n.Status, nubiq.ConversationStatuses); err != nil {
		return nil, err
	}
	if err := nubiq.CheckEnum("priority", n.Priority, nubiq.Priorities); err != nil {
		return nil, err
	}
	if err := nubiq.CheckTextLength("subject", n.Subject, nubiq.MaxTicketSubject); err != nil {
		return nil, err
	}
	tags, err := nubiq.NormalizeTags("tags", n.Tags)
	if err != nil {
		return nil, err
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = time.Now()
	}
	var out *nubiq.Conversation
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		refs := []struct {
			id    int64
			check func(context.Context, supportQuerier, int64, int64, string) error
			field string
		}{
			{n.ContactID, requireContact, "contact_id"},
			{n.ChannelID, requireChannel, "channel_id"},
			{n.AssigneeMemberID, requireActiveMember, "assignee_member_id"},
			{n.AssigneeTeamID, requireTeam, "assignee_team_id"},
		}
		for _, r := range refs {
			if r.id != 0 {
				if err := r.check(ctx, tx, workspaceID, r.id, r.field); err != nil {
					return err
				}
			}
		}
		var resolvedAt, closedAt *time.Time
		if n.Status == nubiq.ConversationResolved || n.Status == nubiq.ConversationClosed {
			resolvedAt = &n.CreatedAt
		}
		if n.Status == nubiq.ConversationClosed {
			closedAt = &n.CreatedAt
		}
		var id int64
		if err := tx.QueryRow(ctx, `
			INSERT INTO conversations (workspace_id, external_id, contact_id, channel_id, subject, status, priority,
				assignee_member_id, assignee_team_id, tags, resolved_at, closed_at, created_at, updated_at)
			VALUES ($1, nullif($2, ''), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id`,
			workspaceID, n.ExternalID, nullID(n.ContactID), nullID(n.ChannelID), n.Subject, n.Status, n.Priority,
			nullID(n.AssigneeMemberID), nullID(n.AssigneeTeamID), tags, resolvedAt, closedAt, n.CreatedAt).Scan(&id); err != nil {
			if isUniqueViolation(err) {
				return nubiq.Errorf(nubiq.ECodeConflict, "a conversation with external_id %q already exists", n.ExternalID)
			}
			return fmt.Errorf("create conversation: %w", unavailable(err))
		}
		if err := logSupportIndex(ctx, tx, workspaceID, "conversation", id, "upsert"); err != nil {
			return err
		}
		out, err = getConversation(ctx, tx, workspaceID, id)
		return err
	})
	return out, err
}

// AddMessage records a message in a conversation as it happened (imports, inbound channels):
// it moves last_message_at and updated_at forward, and for a public agent message sets
// first_response_at the first time, but changes no status.
func (db *DB) AddMessage(ctx context.Context, workspaceID, conversationID int64, n nubiq.NewMessage) (*nubiq.Message, error) {
	if err := nubiq.CheckMessageBody("body", n.Body); err != nil {
		return nil, err
	}
	authors := []string{nubiq.AuthorContact, nubiq.AuthorAgent, nubiq.AuthorBot, nubiq.AuthorSystem}
	if !slices.Contains(authors, n.AuthorType) {
		return nil, nubiq.Invalidf("author_type", "must be one of %s, got %q", strings.Join(authors, ", "), n.AuthorType)
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = time.Now()
	}
	var out *nubiq.Message
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockConversation(ctx, tx, workspaceID, conversationID); err != nil {
			return err
		}
		if n.AuthorMemberID != 0 {
			if err := requireActiveMember(ctx, tx, workspaceID, n.AuthorMemberID, "author_member_id"); err != nil {
				return err
			}
		}
		if n.AuthorContactID != 0 {
			if err := requireContact(ctx, tx, workspaceID, n.AuthorContactID, "author_contact_id"); err != nil {
				return err
			}
		}
		var id int64
		if err := tx.QueryRow(ctx, `
			INSERT INTO messages (workspace_id, conversation_id, external_id, author_type, author_member_id,
				author_contact_id, body, private, created_at)
			VALUES ($1, $2, nullif($3, ''), $4, $5, $6, $7, $8, $9) RETURNING id`,
			workspaceID, conversationID, n.ExternalID, n.AuthorType, nullID(n.AuthorMemberID), nullID(n.AuthorContactID),
			n.Body, n.Private, n.CreatedAt).Scan(&id); err != nil {
			if isUniqueViolation(err) {
				return nubiq.Errorf(nubiq.ECodeConflict, "conversation %d already has a message with external_id %q", conversationID, n.ExternalID)
			}
			return fmt.Errorf("add message to conversation %d: %w", conversationID, unavailable(err))
		}
		firstResponse := n.AuthorType == nubiq.AuthorAgent && !n.Private
		if _, err := tx.Exec(ctx, `
			UPDATE conversations SET
				last_message_at = greatest(last_message_at, $3),
				updated_at = greatest(updated_at, $3),
				first_response_at = CASE WHEN $4 AND (first_response_at IS NULL OR first_response_at > $3) THEN $3 ELSE first_response_at END
			WHERE workspace_id = $1 AND id = $2`, workspaceID, conversationID, n.CreatedAt, firstResponse); err != nil {
			return fmt.Errorf("update conversation %d after message: %w", conversationID, unavailable(err))
		}
		if err := logSupportIndex(ctx, tx, workspaceID, "message", id, "upsert"); err != nil {
			return err
		}
		m, err := scanMessage(tx.QueryRow(ctx, messageSelect+` WHERE msg.workspace_id = $1 AND msg.id = $2`, workspaceID, id))
		if err != nil {
			return fmt.Errorf("read message %d: %w", id, unavailable(err))
		}
		out = m
		return nil
	})
	return out, err
}

// nullID maps an absent id (0) to NULL.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func isUniqueViolation(err error) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr) && pgErr.SQLState() == "23505"
}
