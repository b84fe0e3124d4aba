package mcp

import "github.com/nubiq/hub"

func contactTools(d *Deps) []*Tool {
	return []*Tool{
		placeholder(ToolSpec{Name: "contacts.list", Title: "List contacts", Scope: nubiq.ScopeContactsRead, ReadOnly: true,
			Description: "List contact profiles, newest first. Filter by company, created range and whether they have an email or phone. Returns a page and next_cursor."}),
		placeholder(ToolSpec{Name: "contacts.get", Title: "Get a contact", Scope: nubiq.ScopeContactsRead, ReadOnly: true,
			Description: "Get one contact by id with custom attributes, recent conversations and open tickets."}),
	}
}
