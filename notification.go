package nubiq

import "time"

// Notification is an event an agent may want to react to, in the order it can be polled.
type Notification struct {
	ID          int64          `json:"id"`
	Kind        string         `json:"kind"`
	SubjectType string         `json:"subject_type" jsonschema:"what the event is about: conversation, ticket, document or member"`
	SubjectID   int64          `json:"subject_id"`
	Data        map[string]any `json:"data" jsonschema:"details that depend on the kind"`
	CreatedAt   time.Time      `json:"created_at"`
}

// Notification kinds.
const (
	NotificationConversationAssigned = "conversation.assigned"
	NotificationTicketCreated        = "ticket.created"
	NotificationTicketClosed         = "ticket.closed"
	NotificationDocumentFailed       = "document.failed"
	NotificationInvitationAccepted   = "invitation.accepted"
)

// NotificationKinds lists the kinds of notification events.
var NotificationKinds = []string{
	NotificationConversationAssigned,
	NotificationTicketCreated,
	NotificationTicketClosed,
	NotificationDocumentFailed,
	NotificationInvitationAccepted,
}

// NotificationCursorKind tags notification positions (the since cursor).
const NotificationCursorKind = "notifications"

// NotificationFilter selects events after a position.
type NotificationFilter struct {
	// After is the position of the last event already seen; nil is before the oldest.
	After *Cursor
	// Kinds keeps only these kinds; empty keeps all.
	Kinds []string
	Limit int
}
