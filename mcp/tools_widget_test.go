package mcp_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp/mcptest"
	"github.com/nubiq/hub/postgres"
)

type widgetListOut struct {
	Widgets    []nubiq.Widget `json:"widgets"`
	NextCursor string         `json:"next_cursor"`
}

func TestWidgetListAndGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := mcptest.New(t, nil)
	ws, other := env.Workspace(t, "Acme", "enterprise"), env.Workspace(t, "Globex", "enterprise")
	cs := env.Client(t, env.Key(t, ws, nubiq.ScopeWidgetRead))
	ch, err := env.DB.CreateChannel(ctx, ws, postgres.CreateChannelParams{Kind: "web_widget", Name: "Chat"})
	require.NoError(t, err)
	var ids []int64
	for i, name := range []string{"Main site", "Docs", "Shop"} {
		s := nubiq.WidgetSettings{}
		if i == 0 {
			s = nubiq.WidgetSettings{Colour: "#112233", Position: "bottom-left", Greeting: "Hi!", AllowedDomains: []string{"acme.test"},
				BusinessHours: &nubiq.BusinessHours{Timezone: "Europe/Paris", Days: &nubiq.WeekDays{Mon: &nubiq.OpeningHours{Open: "09:00", Close: "18:00"}}},
				PreChatFields: []nubiq.PreChatField{{Name: "email", Label: "Email", Type: "email", Required: true}}}
		}
		w, err := env.DB.CreateWidget(ctx, ws, name, ch.ID, s)
		require.NoError(t, err)
		ids = append(ids, w.ID)
	}
	theirs, err := env.DB.CreateWidget(ctx, other, "Globex site", 0, nubiq.WidgetSettings{})
	require.NoError(t, err)
	_, err = env.DB.CreateWidget(ctx, ws, "Wrong channel", ch.ID+1000, nubiq.WidgetSettings{})
	require.Equal(t, nubiq.ECodeNotFound, nubiq.ErrorCode(err))

	var all widgetListOut
	mcptest.MustCall(t, cs, "widget.list", map[string]any{}, &all)
	require.Len(t, all.Widgets, 3)
	require.Empty(t, all.NextCursor)
	require.Equal(t, "Main site", all.Widgets[0].Name)
	require.Equal(t, ch.ID, all.Widgets[0].ChannelID)
	require.Equal(t, "#112233", all.Widgets[0].Settings.Colour)
	// Defaults fill what a stored configuration leaves out.
	require.Equal(t, nubiq.DefaultColour, all.Widgets[1].Settings.Colour)
	require.Equal(t, "bottom-right", all.Widgets[1].Settings.Position)
	require.NotNil(t, all.Widgets[1].Settings.AllowedDomains)

	var p1, p2 widgetListOut
	mcptest.MustCall(t, cs, "widget.list", map[string]any{"limit": 2}, &p1)
	require.Len(t, p1.Widgets, 2)
	require.NotEmpty(t, p1.NextCursor)
	mcptest.MustCall(t, cs, "widget.list", map[string]any{"limit": 2, "cursor": p1.NextCursor}, &p2)
	require.Len(t, p2.Widgets, 1)
	require.Equal(t, ids[2], p2.Widgets[0].ID)
	require.Empty(t, p2.NextCursor)
	for _, bad := range []struct {
		args  map[string]any
		field string
	}{
		{map[string]any{"limit": 0.5}, "limit"},
		{map[string]any{"limit": 1000}, "limit"},
		{map[string]any{"cursor": nubiq.Cursor{Kind: "channels", ID: 1}.Encode()}, "cursor"},
		{map[string]any{"name": "x"}, "name"},
	} {
		e := mcptest.MustFail(t, cs, "widget.list", bad.args, nubiq.ECodeInvalid)
		require.Equal(t, bad.field, e.Field, "%v: %s", bad.args, e.Message)
	}

	var w nubiq.Widget
	mcptest.MustCall(t, cs, "widget.get", map[string]any{"id": ids[0]}, &w)
	require.Equal(t, "Hi!", w.Settings.Greeting)
	require.Equal(t, []string{"acme.test"}, w.Settings.AllowedDomains)
	require.Equal(t, "Europe/Paris", w.Settings.BusinessHours.Timezone)
	require.Equal(t, "18:00", w.Settings.BusinessHours.Days.Mon.Close)
	require.Nil(t, w.Settings.BusinessHours.Days.Tue)
	require.Len(t, w.Settings.PreChatFields, 1)
	mcptest.MustFail(t, cs, "widget.get", map[string]any{"id": 987654}, nubiq.ECodeNotFound)
	mcptest.MustFail(t, cs, "widget.get", map[string]any{"id": theirs.ID}, nubiq.ECodeNotFound)
	e := mcptest.MustFail(t, cs, "widget.get", map[string]any{}, nubiq.ECodeInvalid)
	require.Equal(t, "id", e.Field)
}

func TestWidgetUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := mcptest.New(t, nil)
	ws, other := env.Workspace(t, "Acme", "enterprise"), env.Workspace(t, "Globex", "enterprise")
	cs := env.Client(t, env.Key(t, ws, nubiq.ScopeWidgetRead, nubiq.ScopeWidgetWrite))
	w, err := env.DB.CreateWidget(ctx, ws, "Main site", 0, nubiq.WidgetSettings{Greeting: "Hello", Colour: "#000000", LauncherText: "Chat"})
	require.NoError(t, err)
	theirs, err := env.DB.CreateWidget(ctx, other, "Globex site", 0, nubiq.WidgetSettings{Greeting: "Theirs"})
	require.NoError(t, err)
	// A setting this version does not model survives updates.
	_, err = env.DB.Pool.Exec(ctx, `UPDATE widget_configs SET settings = settings || '{"sound": "chime"}' WHERE id = $1`, w.ID)
	require.NoError(t, err)

	var got nubiq.Widget
	mcptest.MustCall(t, cs, "widget.update", map[string]any{"id": w.ID, "colour": "#FF8800"}, &got)
	require.Equal(t, "#ff8800", got.Settings.Colour)
	require.Equal(t, "Hello", got.Settings.Greeting, "settings not given stay")
	require.Equal(t, "Chat", got.Settings.LauncherText)
	require.True(t, got.UpdatedAt.After(w.UpdatedAt) || got.UpdatedAt.Equal(w.UpdatedAt))

	mcptest.MustCall(t, cs, "widget.update", map[string]any{
		"id": w.ID, "name": "Storefront", "position": "bottom-left", "greeting": "Bonjour 👋", "launcher_text": "",
		"allowed_domains": []string{"Acme.test", "*.acme.test", "acme.test"},
		"business_hours": map[string]any{"timezone": "America/New_York", "days": map[string]any{
			"mon": map[string]any{"open": "09:00", "close": "17:00"}, "sat": map[string]any{"open": "10:00", "close": "24:00"}}},
		"pre_chat_fields": []map[string]any{
			{"name": "email", "label": "Your email", "type": "email", "required": true},
			{"name": "topic", "label": "Topic", "type": "select", "options": []string{"Billing", "Orders"}},
		},
	}, &got)
	require.Equal(t, "Storefront", got.Name)
	require.Equal(t, "bottom-left", got.Settings.Position)
	require.Equal(t, "Bonjour 👋", got.Settings.Greeting)
	require.Equal(t, "", got.Settings.LauncherText)
	require.Equal(t, []string{"acme.test", "*.acme.test"}, got.Settings.AllowedDomains)
	require.Equal(t, "America/New_York", got.Settings.BusinessHours.Timezone)
	require.Equal(t, "24:00", got.Settings.BusinessHours.Days.Sat.Close)
	require.Equal(t, []string{"Billing", "Orders"}, got.Settings.PreChatFields[1].Options)
	require.Equal(t, "#ff8800", got.Settings.Colour)

	// The returned configuration is what is stored.
	var again nubiq.Widget
	mcptest.MustCall(t, cs, "widget.get", map[string]any{"id": w.ID}, &again)
	require.Equal(t, got, again)

	// {} removes business hours, [] clears lists.
	got = nubiq.Widget{}
	mcptest.MustCall(t, cs, "widget.update", map[string]any{"id": w.ID, "business_hours": map[string]any{}, "allowed_domains": []string{}, "pre_chat_fields": []any{}}, &got)
	require.Nil(t, got.Settings.BusinessHours)
	require.Empty(t, got.Settings.AllowedDomains)
	require.Empty(t, got.Settings.PreChatFields)
	require.Equal(t, "Bonjour 👋", got.Settings.Greeting)

	var sound string
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT settings->>'sound' FROM widget_configs WHERE id = $1`, w.ID).Scan(&sound))
	require.Equal(t, "chime", sound)

	before := got
	bad := []struct {
		name  string
		args  map[string]any
		field string
	}{
		{"nothing to change", map[string]any{"id": w.ID}, "arguments"},
		{"missing id", map[string]any{"colour": "#ffffff"}, "id"},
		{"unknown setting", map[string]any{"id": w.ID, "font": "Comic Sans"}, "font"},
		{"colour", map[string]any{"id": w.ID, "colour": "orange"}, "colour"},
		{"colour type", map[string]any{"id": w.ID, "colour": 123}, "colour"},
		{"position", map[string]any{"id": w.ID, "position": "top-right"}, "position"},
		{"greeting", map[string]any{"id": w.ID, "greeting": strings.Repeat("g", 281)}, "greeting"},
		{"launcher_text", map[string]any{"id": w.ID, "launcher_text": strings.Repeat("l", 41)}, "launcher_text"},
		{"domain with scheme", map[string]any{"id": w.ID, "allowed_domains": []string{"https://acme.test"}}, "allowed_domains[0]"},
		{"domain with path", map[string]any{"id": w.ID, "allowed_domains": []string{"ok.test", "acme.test/shop"}}, "allowed_domains[1]"},
		{"too many domains", map[string]any{"id": w.ID, "allowed_domains": manyDomains(51)}, "allowed_domains"},
		{"domains not a list", map[string]any{"id": w.ID, "allowed_domains": "acme.test"}, "allowed_domains"},
		{"timezone", map[string]any{"id": w.ID, "business_hours": map[string]any{"timezone": "Europe/Atlantis", "days": map[string]any{"mon": map[string]any{"open": "09:00", "close": "17:00"}}}}, "business_hours.timezone"},
		{"open after close", map[string]any{"id": w.ID, "business_hours": map[string]any{"timezone": "UTC", "days": map[string]any{"fri": map[string]any{"open": "18:00", "close": "09:00"}}}}, "business_hours.days.fri.close"},
		{"bad time", map[string]any{"id": w.ID, "business_hours": map[string]any{"timezone": "UTC", "days": map[string]any{"mon": map[string]any{"open": "9am", "close": "17:00"}}}}, "business_hours.days.mon.open"},
		{"unknown day", map[string]any{"id": w.ID, "business_hours": map[string]any{"timezone": "UTC", "days": map[string]any{"funday": map[string]any{"open": "09:00", "close": "17:00"}}}}, "business_hours.days.funday"},
		{"field type", map[string]any{"id": w.ID, "pre_chat_fields": []map[string]any{{"name": "dob", "label": "Birthday", "type": "date"}}}, "pre_chat_fields[0].type"},
		{"select without options", map[string]any{"id": w.ID, "pre_chat_fields": []map[string]any{{"name": "topic", "label": "Topic", "type": "select"}}}, "pre_chat_fields[0].options"},
		{"field name", map[string]any{"id": w.ID, "pre_chat_fields": []map[string]any{{"name": "E mail", "label": "Email", "type": "email"}}}, "pre_chat_fields[0].name"},
		{"name", map[string]any{"id": w.ID, "name": ""}, "name"},
	}
	for _, b := range bad {
		e := mcptest.MustFail(t, cs, "widget.update", b.args, nubiq.ECodeInvalid)
		require.Equal(t, b.field, e.Field, "%s: %s", b.name, e.Message)
	}
	var after nubiq.Widget
	mcptest.MustCall(t, cs, "widget.get", map[string]any{"id": w.ID}, &after)
	require.Equal(t, before.Settings, after.Settings, "refused updates changed nothing")

	mcptest.MustFail(t, cs, "widget.update", map[string]any{"id": 987654, "colour": "#ffffff"}, nubiq.ECodeNotFound)
	mcptest.MustFail(t, cs, "widget.update", map[string]any{"id": theirs.ID, "greeting": "Mine now"}, nubiq.ECodeNotFound)
	tw, err := env.DB.Widget(ctx, other, theirs.ID)
	require.NoError(t, err)
	require.Equal(t, "Theirs", tw.Settings.Greeting, "another workspace's widget is untouched")

	readOnly := env.Client(t, env.Key(t, ws, nubiq.ScopeWidgetRead))
	mcptest.MustFail(t, readOnly, "widget.update", map[string]any{"id": w.ID, "colour": "#ffffff"}, nubiq.ECodeForbidden)
}

func manyDomains(n int) []string {
	out := make([]string, n)
	for i := range out {
		b, _ := json.Marshal(i)
		out[i] = "d" + string(b) + ".acme.test"
	}
	return out
}
