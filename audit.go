package nubiq

import "time"

// AuditEntry records one write tool call: who (key and its display prefix), what (the tool
// and the id it targeted), how it ended ("ok" or an error code) and when. It never holds
// secrets or the call's arguments.
type AuditEntry struct {
	ID          int64     `json:"id"`
	WorkspaceID int64     `json:"workspace_id"`
	KeyID       int64     `json:"key_id"`
	Actor       string    `json:"actor"`
	Action      string    `json:"action"`
	Target      string    `json:"target"`
	Outcome     string    `json:"outcome"`
	CreatedAt   time.Time `json:"created_at"`
}
