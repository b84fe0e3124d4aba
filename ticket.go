package nubiq

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Ticket statuses. Closing goes through its own operation (a resolution note, an event), so
// TicketUpdatableStatuses leaves closed out.
const (
	TicketOpen    = "open"
	TicketPending = "pending"
	TicketOnHold  = "on_hold"
	TicketSolved  = "solved"
	TicketClosed  = "closed"
)

// TicketStatuses lists every ticket status.
var TicketStatuses = []string{TicketOpen, TicketPending, TicketOnHold, TicketSolved, TicketClosed}

// TicketUpdatableStatuses are the statuses an update may set.
var TicketUpdatableStatuses = []string{TicketOpen, TicketPending, TicketOnHold, TicketSolved}

// Ticket limits.
const (
	MaxTicketSubject     = 500
	MaxTicketDescription = 50000
	MaxTicketResolution  = 10000
	MaxCustomFields      = 50
	MaxCustomFieldKey    = 100
	MaxCustomFieldValue  = 2000
)

// Ticket is a support ticket.
type Ticket struct {
	ID             int64             `json:"id"`
	ExternalID     string            `json:"external_id,omitempty"`
	Subject        string            `json:"subject"`
	Description    string            `json:"description"`
	Status         string            `json:"status"`
	Priority       string            `json:"priority"`
	Contact        *ContactRef       `json:"contact,omitempty"`
	ConversationID int64             `json:"conversation_id,omitempty"`
	AssigneeMember *MemberRef        `json:"assignee_member,omitempty"`
	AssigneeTeam   *TeamRef          `json:"assignee_team,omitempty"`
	Tags           []string          `json:"tags"`
	CustomFields   map[string]string `json:"custom_fields"`
	Resolution     string            `json:"resolution,omitempty"`
	ClosedAt       *time.Time        `json:"closed_at,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
}

// TicketFilter selects tickets for a list. Zero fields do not filter.
type TicketFilter struct {
	Status    string
	Priority  string
	ContactID int64
	Tag       string
	Assignee  AssigneeFilter
	Created   TimeRange
	Limit     int
	After     *Cursor // position after which the page starts, newest first
}

// NewTicket describes a ticket to create. Zero ids mean no link.
type NewTicket struct {
	Subject          string
	Description      string
	Priority         string // "" is normal
	ContactID        int64
	ConversationID   int64
	AssigneeMemberID int64
	AssigneeTeamID   int64
	Tags             []string
	CustomFields     map[string]string
}

// TicketChanges is a partial update: nil fields stay as they are. For the links, a pointer to
// 0 removes the link. CustomFields are merged: a key with an empty value is removed.
type TicketChanges struct {
	Subject          *string
	Description      *string
	Status           *string
	Priority         *string
	ContactID        *int64
	ConversationID   *int64
	AssigneeMemberID *int64
	AssigneeTeamID   *int64
	Tags             *[]string
	CustomFields     map[string]string
}

// Empty reports whether the update changes nothing.
func (c *TicketChanges) Empty() bool {
	return c.Subject == nil && c.Description == nil && c.Status == nil && c.Priority == nil &&
		c.ContactID == nil && c.ConversationID == nil && c.AssigneeMemberID == nil &&
		c.AssigneeTeamID == nil && c.Tags == nil && c.CustomFields == nil
}

// NormalizeTicketSubject trims a subject and checks it is 1 to MaxTicketSubject characters.
func NormalizeTicketSubject(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Invalidf(field, "must not be empty")
	}
	if n := utf8.RuneCountInString(s); n > MaxTicketSubject {
		return "", Invalidf(field, "is %d characters; at most %d allowed", n, MaxTicketSubject)
	}
	return s, nil
}

// CheckTextLength checks that s has at most max characters.
func CheckTextLength(field, s string, max int) error {
	if n := utf8.RuneCountInString(s); n > max {
		return Invalidf(field, "is %d characters; at most %d allowed", n, max)
	}
	return nil
}

// CheckCustomFields checks custom fields: at most MaxCustomFields keys of 1 to
// MaxCustomFieldKey characters (no surrounding spaces), values of at most MaxCustomFieldValue
// characters. With allowEmpty, empty values pass (an update uses them to remove keys).
func CheckCustomFields(field string, m map[string]string, allowEmpty bool) error {
	if len(m) > MaxCustomFields {
		return Invalidf(field, "%d keys given; at most %d allowed", len(m), MaxCustomFields)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // report the same offending key every time
	for _, k := range keys {
		if k == "" || strings.TrimSpace(k) != k || utf8.RuneCountInString(k) > MaxCustomFieldKey {
			return Invalidf(field, "key %q must be 1 to %d characters without surrounding spaces", k, MaxCustomFieldKey)
		}
		v := m[k]
		if v == "" && !allowEmpty {
			return Invalidf(field, "value of %q must not be empty", k)
		}
		if n := utf8.RuneCountInString(v); n > MaxCustomFieldValue {
			return Invalidf(field, "value of %q is %d characters; at most %d allowed", k, n, MaxCustomFieldValue)
		}
	}
	return nil
}
