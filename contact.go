package nubiq

import "time"

// Contact is a customer profile: someone who wrote in through a channel or was imported.
type Contact struct {
	ID               int64          `json:"id"`
	ExternalID       string         `json:"external_id,omitempty"`
	Name             string         `json:"name"`
	Email            string         `json:"email,omitempty"`
	Phone            string         `json:"phone,omitempty"`
	Company          string         `json:"company"`
	CustomAttributes map[string]any `json:"custom_attributes"`
	LastSeenAt       *time.Time     `json:"last_seen_at,omitempty"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
}

// ContactFilter selects contacts for a list, newest first. Zero fields do not filter.
type ContactFilter struct {
	// Company matches the company name exactly, ignoring case.
	Company  string
	Created  TimeRange
	HasEmail *bool
	HasPhone *bool
	// After is the position of the last contact of the previous page.
	After *Cursor
	Limit int
}

// ContactCursorKind tags cursors of contact lists.
const ContactCursorKind = "contacts"

// ContactDetail is a contact with what an agent needs at a glance: recent conversations and
// the tickets still open.
type ContactDetail struct {
	Contact
	RecentConversations []ContactConversation `json:"recent_conversations"`
	OpenTickets         []ContactTicket       `json:"open_tickets"`
	// OpenTicketsTotal counts every open ticket; OpenTickets holds the newest of them.
	OpenTicketsTotal int `json:"open_tickets_total"`
}

// ContactConversation is a conversation as listed on a contact.
type ContactConversation struct {
	ID        int64     `json:"id"`
	Subject   string    `json:"subject"`
	Status    string    `json:"status"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ContactTicket is a ticket as listed on a contact.
type ContactTicket struct {
	ID        int64     `json:"id"`
	Subject   string    `json:"subject"`
	Status    string    `json:"status"`
	Priority  string    `json:"priority"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// How much of a contact's history ContactDetail carries.
const (
	ContactRecentConversations = 5
	ContactOpenTickets         = 20
)
