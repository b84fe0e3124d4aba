package mcp

import (
	"context"

	"github.com/nubiq/hub"
)

type widgetListIn struct {
	Cursor string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page; omit for the first page"`
	Limit  int    `json:"limit,omitempty" jsonschema:"page size, 1 to 100 (default 20)"`
}

type widgetListOut struct {
	Widgets    []*nubiq.Widget `json:"widgets"`
	NextCursor string          `json:"next_cursor" jsonschema:"pass as cursor for the next page; empty on the last page"`
}

type widgetGetIn struct {
	ID int64 `json:"id" jsonschema:"widget id"`
}

type widgetUpdateIn struct {
	ID             int64                `json:"id" jsonschema:"widget id"`
	Name           *string              `json:"name,omitempty" jsonschema:"widget name, 1 to 200 characters"`
	Colour         *string              `json:"colour,omitempty" jsonschema:"accent colour as hex #RRGGBB, such as #2563eb"`
	Position       *string              `json:"position,omitempty" jsonschema:"corner of the page"`
	Greeting       *string              `json:"greeting,omitempty" jsonschema:"first message shown to visitors, at most 280 characters"`
	LauncherText   *string              `json:"launcher_text,omitempty" jsonschema:"launcher button label, one line of at most 40 characters; empty shows the icon only"`
	AllowedDomains []string             `json:"allowed_domains,omitempty" jsonschema:"replaces the list of host names the widget may load on (at most 50; bare names such as example.com or *.example.com, no scheme, port or path); [] allows any site"`
	BusinessHours  *nubiq.BusinessHours `json:"business_hours,omitempty" jsonschema:"replaces the opening hours: an IANA timezone and days mon..sun with open and close as HH:MM, open before close; days left out are closed; {} removes business hours (always open)"`
	PreChatFields  []nubiq.PreChatField `json:"pre_chat_fields,omitempty" jsonschema:"replaces the pre-chat form (at most 10 fields; name unique; type text, email, phone or select; options only and always for select); [] removes it"`
}

func widgetTools(d *Deps) []*Tool {
	return []*Tool{
		NewTool(ToolSpec{Name: "widget.list", Title: "List chat widgets", Scope: nubiq.ScopeWidgetRead, ReadOnly: true,
			Description: "List the workspace's chat widget configurations with their settings, oldest first."},
			func(ctx context.Context, in widgetListIn) (widgetListOut, error) {
				if d.DB == nil {
					return widgetListOut{}, errNotAvailable("widget.list")
				}
				ws, next, err := d.DB.ListWidgets(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, in.Cursor, in.Limit)
				if err != nil {
					return widgetListOut{}, err
				}
				return widgetListOut{Widgets: ws, NextCursor: next}, nil
			}),

		NewTool(ToolSpec{Name: "widget.get", Title: "Get a chat widget", Scope: nubiq.ScopeWidgetRead, ReadOnly: true,
			Description: "Get one chat widget's settings: colour, position, greeting, launcher text, allowed domains, business hours and pre-chat fields."},
			func(ctx context.Context, in widgetGetIn) (nubiq.Widget, error) {
				if d.DB == nil {
					return nubiq.Widget{}, errNotAvailable("widget.get")
				}
				w, err := d.DB.Widget(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, in.ID)
				if err != nil {
					return nubiq.Widget{}, err
				}
				return *w, nil
			}),

		NewTool(ToolSpec{Name: "widget.update", Title: "Update a chat widget", Scope: nubiq.ScopeWidgetWrite, Idempotent: true,
			Description: "Update a chat widget's settings partially: only the settings given change; lists and business hours " +
				"given replace the old ones whole. Returns the new configuration."},
			func(ctx context.Context, in widgetUpdateIn) (nubiq.Widget, error) {
				if d.DB == nil {
					return nubiq.Widget{}, errNotAvailable("widget.update")
				}
				p := &nubiq.WidgetPatch{
					Name: in.Name, Colour: in.Colour, Position: in.Position, Greeting: in.Greeting, LauncherText: in.LauncherText,
					AllowedDomains: in.AllowedDomains, BusinessHours: in.BusinessHours, PreChatFields: in.PreChatFields,
				}
				if p.Empty() {
					return nubiq.Widget{}, nubiq.Invalidf("arguments", "give at least one setting to change: name, colour, position, greeting, launcher_text, allowed_domains, business_hours or pre_chat_fields")
				}
				if err := p.Validate(); err != nil {
					return nubiq.Widget{}, err
				}
				w, err := d.DB.UpdateWidget(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, in.ID, p)
				if err != nil {
					return nubiq.Widget{}, err
				}
				return *w, nil
			}).Enum("position", nubiq.WidgetPositions...),
	}
}
