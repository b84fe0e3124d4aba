package mcp

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

type channelsListIn struct {
	Kind    string `json:"kind,omitempty" jsonschema:"only channels of this kind"`
	Enabled *bool  `json:"enabled,omitempty" jsonschema:"only enabled (true) or disabled (false) channels"`
	Cursor  string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page; omit for the first page"`
	Limit   int    `json:"limit,omitempty" jsonschema:"page size, 1 to 100 (default 20)"`
}

type channelsListOut struct {
	Channels   []*nubiq.Channel `json:"channels"`
	NextCursor string           `json:"next_cursor" jsonschema:"pass as cursor for the next page; empty on the last page"`
}

type channelsGetIn struct {
	ID int64 `json:"id" jsonschema:"channel id"`
}

type channelsGetOut struct {
	nubiq.Channel
	Delivery *nubiq.DeliveryStats `json:"delivery" jsonschema:"outbound messages of the last 7 days by status, and the latest failure"`
}

type channelsSendIn struct {
	ChannelID int64  `json:"channel_id" jsonschema:"channel to send through (see channels.list)"`
	Recipient string `json:"recipient" jsonschema:"email channel: one email address; sms and whatsapp: E.164 phone number such as +14155550100; web_widget and api: visitor:<visitor id> or conversation:<conversation id>"`
	Subject   string `json:"subject,omitempty" jsonschema:"email subject, one line, at most 255 characters; required for email channels and refused for others"`
	Body      string `json:"body" jsonschema:"message text, at most 20000 characters"`
}

type channelsSendOut struct {
	ID             int64     `json:"id" jsonschema:"outbound message id"`
	Status         string    `json:"status" jsonschema:"queued: a background job delivers it (see channels.get delivery counts)"`
	ChannelID      int64     `json:"channel_id"`
	ConversationID int64     `json:"conversation_id,omitempty"`
	Recipient      string    `json:"recipient" jsonschema:"the recipient as it will be delivered to (normalised)"`
	CreatedAt      time.Time `json:"created_at"`
}

func channelTools(d *Deps) []*Tool {
	return []*Tool{
		NewTool(ToolSpec{Name: "channels.list", Title: "List channels", Scope: nubiq.ScopeChannelsRead, ReadOnly: true,
			Description: "List the workspace's configured channels (email, web widget, WhatsApp, SMS, API) with their public " +
				"configuration, oldest first. Credentials are never returned. delivery_driver says how outbound messages " +
				"leave: smtp for email channels, a signed webhook for every other kind."},
			func(ctx context.Context, in channelsListIn) (channelsListOut, error) {
				if d.DB == nil {
					return channelsListOut{}, errNotAvailable("channels.list")
				}
				if in.Kind != "" && !slices.Contains(nubiq.ChannelKinds, in.Kind) {
					return channelsListOut{}, nubiq.Invalidf("kind", "must be one of %s, got %q", strings.Join(nubiq.ChannelKinds, ", "), in.Kind)
				}
				chs, next, err := d.DB.ListChannels(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, postgres.ChannelFilter{
					Kind: in.Kind, Enabled: in.Enabled, Cursor: in.Cursor, Limit: in.Limit,
				})
				if err != nil {
					return channelsListOut{}, err
				}
				return channelsListOut{Channels: chs, NextCursor: next}, nil
			}).Enum("kind", nubiq.ChannelKinds...),

		NewTool(ToolSpec{Name: "channels.get", Title: "Get a channel", Scope: nubiq.ScopeChannelsRead, ReadOnly: true,
			Description: "Get one channel's public configuration and how its outbound messages fared over the last 7 days " +
				"(queued, sent, failed, and the latest failure's reason). Credentials are never returned."},
			func(ctx context.Context, in channelsGetIn) (channelsGetOut, error) {
				if d.DB == nil {
					return channelsGetOut{}, errNotAvailable("channels.get")
				}
				ws := nubiq.CallerFromContext(ctx).WorkspaceID
				c, err := d.DB.Channel(ctx, ws, in.ID)
				if err != nil {
					return channelsGetOut{}, err
				}
				stats, err := d.DB.ChannelDeliveryStats(ctx, ws, c.ID, d.now().Add(-7*24*time.Hour).Truncate(time.Second))
				if err != nil {
					return channelsGetOut{}, err
				}
				return channelsGetOut{Channel: *c, Delivery: stats}, nil
			}),

		NewTool(ToolSpec{Name: "channels.send", Title: "Send an outbound message", Scope: nubiq.ScopeChannelsWrite, OpenWorld: true,
			Description: "Send a message out through a channel to a recipient valid for its kind: an email address (email, " +
				"with a subject), an E.164 phone number (sms, whatsapp), or visitor:<id> / conversation:<id> (web_widget, " +
				"api). The message is queued and delivered in the background, retried on temporary failures; the result " +
				"gives its id and status (queued). A disabled channel, or one without delivery configured, is a conflict. " +
				"Not idempotent: each call sends another message."},
			func(ctx context.Context, in channelsSendIn) (channelsSendOut, error) {
				if d.DB == nil {
					return channelsSendOut{}, errNotAvailable("channels.send")
				}
				m, err := d.DB.QueueOutbound(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, postgres.SendParams{
					ChannelID: in.ChannelID, Recipient: in.Recipient, Subject: in.Subject, Body: in.Body,
				})
				if err != nil {
					return channelsSendOut{}, err
				}
				return channelsSendOut{ID: m.ID, Status: m.Status, ChannelID: m.ChannelID, ConversationID: m.ConversationID,
					Recipient: m.Recipient, CreatedAt: m.CreatedAt}, nil
			}),
	}
}
