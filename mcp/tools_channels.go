package mcp

import "github.com/nubiq/hub"

func channelTools(d *Deps) []*Tool {
	return []*Tool{
		placeholder(ToolSpec{Name: "channels.list", Title: "List channels", Scope: nubiq.ScopeChannelsRead, ReadOnly: true,
			Description: "List the workspace's configured channels (email, web widget, WhatsApp, SMS, API) with their public configuration."}),
		placeholder(ToolSpec{Name: "channels.get", Title: "Get a channel", Scope: nubiq.ScopeChannelsRead, ReadOnly: true,
			Description: "Get one channel's configuration. Credentials are never returned."}),
		placeholder(ToolSpec{Name: "channels.send", Title: "Send an outbound message", Scope: nubiq.ScopeChannelsWrite, OpenWorld: true,
			Description: "Send a message out through a channel to a recipient valid for its kind (email address, E.164 phone number, widget visitor or conversation). Delivery is queued; the result gives the message id and status."}),
	}
}
