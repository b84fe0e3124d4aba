package mcp

import "github.com/nubiq/hub"

func widgetTools(d *Deps) []*Tool {
	return []*Tool{
		placeholder(ToolSpec{Name: "widget.list", Title: "List chat widgets", Scope: nubiq.ScopeWidgetRead, ReadOnly: true,
			Description: "List the workspace's chat widget configurations."}),
		placeholder(ToolSpec{Name: "widget.get", Title: "Get a chat widget", Scope: nubiq.ScopeWidgetRead, ReadOnly: true,
			Description: "Get one chat widget's settings: colours, position, greeting, allowed domains, business hours and pre-chat fields."}),
		placeholder(ToolSpec{Name: "widget.update", Title: "Update a chat widget", Scope: nubiq.ScopeWidgetWrite, Idempotent: true,
			Description: "Update a chat widget's settings partially; only the given settings change. Returns the new configuration."}),
	}
}
