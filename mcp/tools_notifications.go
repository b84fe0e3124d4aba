package mcp

import "github.com/nubiq/hub"

func notificationTools(d *Deps) []*Tool {
	return []*Tool{
		placeholder(ToolSpec{Name: "notifications.list", Title: "List notification events", Scope: nubiq.ScopeNotificationsRead, ReadOnly: true,
			Description: "Notification events (conversation assigned, ticket created or closed, document failed to index, invitation accepted), oldest first after the since cursor: poll with the returned next_since to get what is new."}),
	}
}
