package nubiq

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Conversation statuses.
const (
	ConversationOpen     = "open"
	ConversationPending  = "pending"
	ConversationSnoozed  = "snoozed"
	ConversationResolved = "resolved"
	ConversationClosed   = "closed"
)

// ConversationStatuses lists the statuses in the order clients see them.
var ConversationStatuses = []string{ConversationOpen, ConversationPending, ConversationSnoozed, ConversationResolved, ConversationClosed}

// Priorities shared by conversations and tickets.
var Priorities = []string{"low", "normal", "high", "urgent"}

// conversationMoves is the conversation state machine: from each status, the statuses it may
// move to. It is the only place transitions are decided.
//
//	open     → pending, snoozed, resolved, closed
//	pending  → open, snoozed, resolved, closed
//	snoozed  → open, pending, resolved, closed
//	resolved → open (reopen), closed
//	closed   → nothing: closed is final
//
// Side effects of a move (applied by the store):
//   - entering snoozed needs snoozed_until in the future; leaving snoozed clears it;
//   - entering resolved sets resolved_at; reopening (resolved → open) clears it;
//   - entering closed sets closed_at, and resolved_at when it was never set, so that a
//     conversation closed without passing through resolved still counts as resolved;
//   - asking for the current status is a no-op success, except snoozed → snoozed with a
//     different snoozed_until, which moves the wake-up time.
//
// A resolved conversation goes back to work only through open: pending and snoozed describe
// conversations still being handled, so a resolved one is reopened first.
var conversationMoves = map[string][]string{
	ConversationOpen:     {ConversationPending, ConversationSnoozed, ConversationResolved, ConversationClosed},
	ConversationPending:  {ConversationOpen, ConversationSnoozed, ConversationResolved, ConversationClosed},
	ConversationSnoozed:  {ConversationOpen, ConversationPending, ConversationResolved, ConversationClosed},
	ConversationResolved: {ConversationOpen, ConversationClosed},
	ConversationClosed:   {},
}

// CheckConversationTransition reports whether a conversation may move from status from to
// status to. Staying in the same status is allowed (a no-op). A refused move is a conflict
// whose message names the rule; an unknown target status is invalid input in field "status".
func CheckConversationTransition(from, to string) error {
	if !slices.Contains(ConversationStatuses, to) {
		return Invalidf("status", "unknown status %q; allowed: %s", to, strings.Join(ConversationStatuses, ", "))
	}
	if from == to {
		return nil
	}
	allowed, ok := conversationMoves[from]
	if !ok {
		return Errorf(ECodeConflict, "conversation has unknown status %q", from)
	}
	if slices.Contains(allowed, to) {
		return nil
	}
	switch from {
	case ConversationClosed:
		return Errorf(ECodeConflict, "cannot move a closed conversation to %s: closed is final", to)
	case ConversationResolved:
		return Errorf(ECodeConflict, "cannot move a resolved conversation to %s: a resolved conversation can only be reopened (status open) or closed", to)
	}
	return Errorf(ECodeConflict, "cannot move a conversation from %s to %s; allowed from %s: %s", from, to, from, strings.Join(allowed, ", "))
}

// ContactRef is the short form of a contact shown inside conversations and tickets.
type ContactRef struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

// MemberRef is the short form of a team member (an agent, admin or owner).
type MemberRef struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// TeamRef is the short form of a team.
type TeamRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// ChannelRef is the short form of a channel: where a conversation came in and replies go out.
type ChannelRef struct {
	ID   int64  `json:"id"`
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Conversation is a support conversation without its messages.
type Conversation struct {
	ID              int64       `json:"id"`
	ExternalID      string      `json:"external_id,omitempty"`
	Subject         string      `json:"subject"`
	Status          string      `json:"status"`
	Priority        string      `json:"priority"`
	Channel         *ChannelRef `json:"channel,omitempty"`
	Contact         *ContactRef `json:"contact,omitempty"`
	AssigneeMember  *MemberRef  `json:"assignee_member,omitempty"`
	AssigneeTeam    *TeamRef    `json:"assignee_team,omitempty"`
	Tags            []string    `json:"tags"`
	SnoozedUntil    *time.Time  `json:"snoozed_until,omitempty"`
	FirstResponseAt *time.Time  `json:"first_response_at,omitempty"`
	ResolvedAt      *time.Time  `json:"resolved_at,omitempty"`
	ClosedAt        *time.Time  `json:"closed_at,omitempty"`
	LastMessageAt   *time.Time  `json:"last_message_at,omitempty"`
	CreatedAt       time.Time   `json:"created_at"`
	UpdatedAt       time.Time   `json:"updated_at"`
}

// Message author types.
const (
	AuthorContact = "contact"
	AuthorAgent   = "agent"
	AuthorBot     = "bot"
	AuthorSystem  = "system"
)

// Message is one message of a conversation. Private messages are internal notes that the
// contact never sees.
type Message struct {
	ID             int64       `json:"id"`
	ConversationID int64       `json:"conversation_id"`
	AuthorType     string      `json:"author_type"`
	AuthorMember   *MemberRef  `json:"author_member,omitempty"`
	AuthorContact  *ContactRef `json:"author_contact,omitempty"`
	Body           string      `json:"body"`
	Private        bool        `json:"private"`
	CreatedAt      time.Time   `json:"created_at"`
}

// MaxMessageBody bounds the length of a message body, in characters.
const MaxMessageBody = 20000

// CheckMessageBody validates a message body in field: not blank and at most MaxMessageBody
// characters.
func CheckMessageBody(field, body string) error {
	if strings.TrimSpace(body) == "" {
		return Invalidf(field, "must not be empty")
	}
	if n := utf8.RuneCountInString(body); n > MaxMessageBody {
		return Invalidf(field, "is %d characters; at most %d allowed", n, MaxMessageBody)
	}
	if !utf8.ValidString(body) {
		return Invalidf(field, "must be valid UTF-8 text")
	}
	return nil
}

// Assignee kinds of an AssigneeFilter.
const (
	AssigneeAny        = ""
	AssigneeMember     = "member"
	AssigneeTeam       = "team"
	AssigneeUnassigned = "unassigned"
)

// AssigneeFilter selects conversations or tickets by assignee.
type AssigneeFilter struct {
	Kind string // AssigneeAny, AssigneeMember, AssigneeTeam or AssigneeUnassigned
	ID   int64
}

// AssigneeFilterHelp says how to write an assignee filter.
const AssigneeFilterHelp = `"member:<member id>", "team:<team id>" or "unassigned"`

// ParseAssigneeFilter parses an assignee filter input in field: "member:<id>", "team:<id>",
// "unassigned", or "" for no filter.
func ParseAssigneeFilter(field, s string) (AssigneeFilter, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return AssigneeFilter{}, nil
	}
	if s == AssigneeUnassigned {
		return AssigneeFilter{Kind: AssigneeUnassigned}, nil
	}
	kind, id, ok := strings.Cut(s, ":")
	if ok && (kind == AssigneeMember || kind == AssigneeTeam) {
		if n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64); err == nil && n > 0 {
			return AssigneeFilter{Kind: kind, ID: n}, nil
		}
	}
	return AssigneeFilter{}, Invalidf(field, "must be %s, got %q", AssigneeFilterHelp, s)
}

// Tag limits shared by conversations and tickets.
const (
	MaxTags   = 20
	MaxTagLen = 50
)

// NormalizeTag trims and lowercases a tag, checking its length, for field.
func NormalizeTag(field, tag string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(tag))
	if t == "" {
		return "", Invalidf(field, "tags must not be empty")
	}
	if n := utf8.RuneCountInString(t); n > MaxTagLen {
		return "", Invalidf(field, "tag %q is %d characters; at most %d allowed", t, n, MaxTagLen)
	}
	return t, nil
}

// NormalizeTags trims and lowercases tags, drops duplicates (keeping first occurrences in
// order) and checks the limits: at most MaxTags tags of at most MaxTagLen characters each.
func NormalizeTags(field string, tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for _, tag := range tags {
		t, err := NormalizeTag(field, tag)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		return nil, Invalidf(field, "%d tags given; at most %d allowed", len(out), MaxTags)
	}
	return out, nil
}

// ConversationFilter selects conversations for a list. Zero fields do not filter.
type ConversationFilter struct {
	Status    string
	Priority  string
	ChannelID int64
	ContactID int64
	Tag       string
	Assignee  AssigneeFilter
	Created   TimeRange
	Updated   TimeRange
	Limit     int
	After     *Cursor // position after which the page starts, newest-updated first
}

// CheckEnum validates an optional enumerated input in field.
func CheckEnum(field, value string, allowed []string) error {
	if value == "" || slices.Contains(allowed, value) {
		return nil
	}
	return Invalidf(field, "unknown value %q; allowed: %s", value, strings.Join(allowed, ", "))
}

// CheckID validates an id input in field: ids are positive.
func CheckID(field string, id int64) error {
	if id <= 0 {
		return Invalidf(field, "must be a positive id, got %d", id)
	}
	return nil
}

// ConversationAssignment is the input of an assignment: a member and/or a team (0 leaves that
// side as it is), or Unassign to clear both.
type ConversationAssignment struct {
	MemberID int64
	TeamID   int64
	Unassign bool
}

// ReplyParams is an agent reply or, with Private, an internal note.
type ReplyParams struct {
	Body           string
	Private        bool
	AuthorMemberID int64 // optional; must be an active member
}

// Delivery statuses of a public reply.
const (
	DeliveryQueued  = "queued"
	DeliverySkipped = "skipped"
)

// Delivery says what became of a public reply's delivery: queued as an outbound message for
// the conversation's channel, or skipped with the reason.
type Delivery struct {
	Status      string `json:"status"`
	OutboundID  int64  `json:"outbound_id,omitempty"`
	ChannelID   int64  `json:"channel_id,omitempty"`
	ChannelKind string `json:"channel_kind,omitempty"`
	Recipient   string `json:"recipient,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// Reply is the outcome of a reply: the stored message, the conversation after it, and for
// public replies the delivery.
type Reply struct {
	Message      Message      `json:"message"`
	Conversation Conversation `json:"conversation"`
	Delivery     *Delivery    `json:"delivery,omitempty"`
}

// NewConversation describes a conversation to record, as imports and inbound channels do.
// Zero ids mean no link; zero CreatedAt means now.
type NewConversation struct {
	ExternalID       string
	ContactID        int64
	ChannelID        int64
	Subject          string
	Status           string // "" is open
	Priority         string // "" is normal
	AssigneeMemberID int64
	AssigneeTeamID   int64
	Tags             []string
	CreatedAt        time.Time
}

// NewMessage describes a message to record in a conversation as it happened.
type NewMessage struct {
	ExternalID      string
	AuthorType      string
	AuthorMemberID  int64
	AuthorContactID int64
	Body            string
	Private         bool
	CreatedAt       time.Time // zero means now
}
