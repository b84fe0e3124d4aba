package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp/mcptest"
	"github.com/nubiq/hub/postgres"
)

// channelFixture is a workspace with one channel of each kind (and an extra disabled one), and
// a second workspace with its own channel and conversation.
type channelFixture struct {
	env                                         *mcptest.Env
	cs                                          *sdk.ClientSession
	ws, other                                   int64
	email, sms, whatsapp, widget, api, disabled int64
	noSecret, otherChannel, conv, otherConv     int64
	secrets                                     []string
}

func newChannelFixture(t *testing.T) *channelFixture {
	t.Helper()
	ctx := context.Background()
	env := mcptest.New(t, nil)
	f := &channelFixture{env: env, ws: env.Workspace(t, "Acme", "enterprise"), other: env.Workspace(t, "Globex", "enterprise")}
	f.cs = env.Client(t, env.Key(t, f.ws))
	f.secrets = []string{"smtp-pass-Zq81", "whsec-sms-Kd02", "whsec-wa-Lp33", "whsec-widget-Mm44", "whsec-api-Nn55", "whsec-other-Oo66", "raw-token-Pp77"}
	mk := func(ws int64, kind, name string, config map[string]any, secrets map[string]string, disabled bool) int64 {
		c, err := env.DB.CreateChannel(ctx, ws, postgres.CreateChannelParams{Kind: kind, Name: name, Config: config, Secrets: secrets, Disabled: disabled})
		require.NoError(t, err)
		return c.ID
	}
	hook := func(s string) map[string]string { return map[string]string{"webhook_secret": s} }
	f.email = mk(f.ws, "email", "Support email", map[string]any{"host": "smtp.example.com", "port": 587, "from": "Acme Support <support@acme.test>"},
		map[string]string{"username": "support@acme.test", "password": f.secrets[0]}, false)
	f.sms = mk(f.ws, "sms", "SMS", map[string]any{"webhook_url": "https://sms-bridge.example.com/out", "provider": "twilio"}, hook(f.secrets[1]), false)
	f.whatsapp = mk(f.ws, "whatsapp", "WhatsApp", map[string]any{"webhook_url": "https://wa.example.com/out"}, hook(f.secrets[2]), false)
	f.widget = mk(f.ws, "web_widget", "Website chat", map[string]any{"webhook_url": "https://chat.example.com/out"}, hook(f.secrets[3]), false)
	f.api = mk(f.ws, "api", "Custom API", map[string]any{"webhook_url": "https://api.example.com/out"}, hook(f.secrets[4]), false)
	f.disabled = mk(f.ws, "sms", "Old SMS", map[string]any{"webhook_url": "https://old.example.com/out"}, hook("whsec-old"), true)
	f.noSecret = mk(f.ws, "api", "Unsigned API", map[string]any{"webhook_url": "https://unsigned.example.com/out"}, nil, false)
	f.otherChannel = mk(f.other, "sms", "Globex SMS", map[string]any{"webhook_url": "https://globex.example.com/out"}, hook(f.secrets[5]), false)
	// A credential left in the public config by hand must still never be shown.
	_, err := env.DB.Pool.Exec(ctx, `UPDATE channels SET config = config || jsonb_build_object('api_token', $2::text) WHERE id = $1`, f.api, f.secrets[6])
	require.NoError(t, err)
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `INSERT INTO conversations (workspace_id, channel_id, subject) VALUES ($1, $2, 'Hello') RETURNING id`, f.ws, f.widget).Scan(&f.conv))
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `INSERT INTO conversations (workspace_id, subject) VALUES ($1, 'Theirs') RETURNING id`, f.other).Scan(&f.otherConv))
	return f
}

// call calls a tool and returns its raw JSON (result or error), failing on protocol errors.
func (f *channelFixture) raw(t *testing.T, tool string, args any) string {
	t.Helper()
	r := mcptest.Call(t, f.cs, tool, args)
	if r.Error != nil {
		b, _ := json.Marshal(r.Error)
		return string(b)
	}
	return string(r.JSON)
}

func (f *channelFixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, f.env.DB.Pool.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

type channelList struct {
	Channels   []nubiq.Channel `json:"channels"`
	NextCursor string          `json:"next_cursor"`
}

func TestChannelsList(t *testing.T) {
	t.Parallel()
	f := newChannelFixture(t)
	var all channelList
	mcptest.MustCall(t, f.cs, "channels.list", map[string]any{}, &all)
	require.Len(t, all.Channels, 7)
	require.Empty(t, all.NextCursor)
	ids := []int64{}
	for _, c := range all.Channels {
		ids = append(ids, c.ID)
		require.NotEqual(t, f.otherChannel, c.ID, "another workspace's channel listed")
	}
	require.Equal(t, []int64{f.email, f.sms, f.whatsapp, f.widget, f.api, f.disabled, f.noSecret}, ids)
	require.Equal(t, "smtp", all.Channels[0].DeliveryDriver)
	require.Equal(t, "webhook", all.Channels[1].DeliveryDriver)
	require.Equal(t, "smtp.example.com", all.Channels[0].Config["host"])
	require.Equal(t, "twilio", all.Channels[1].Config["provider"])

	// Paging: 3 + 3 + 1, no overlap, empty cursor at the end.
	var seen []int64
	cursor := ""
	for page := 0; ; page++ {
		var p channelList
		mcptest.MustCall(t, f.cs, "channels.list", map[string]any{"limit": 3, "cursor": cursor}, &p)
		for _, c := range p.Channels {
			seen = append(seen, c.ID)
		}
		if p.NextCursor == "" {
			require.Equal(t, 2, page)
			break
		}
		cursor = p.NextCursor
	}
	require.Equal(t, ids, seen)

	var sms channelList
	mcptest.MustCall(t, f.cs, "channels.list", map[string]any{"kind": "sms"}, &sms)
	require.Len(t, sms.Channels, 2)
	var off channelList
	mcptest.MustCall(t, f.cs, "channels.list", map[string]any{"enabled": false}, &off)
	require.Len(t, off.Channels, 1)
	require.Equal(t, f.disabled, off.Channels[0].ID)

	for _, bad := range []struct {
		args  map[string]any
		field string
	}{
		{map[string]any{"kind": "fax"}, "kind"},
		{map[string]any{"limit": 101}, "limit"},
		{map[string]any{"limit": -1}, "limit"},
		{map[string]any{"cursor": "garbage"}, "cursor"},
		{map[string]any{"enabled": "yes"}, "enabled"},
		{map[string]any{"colour": "red"}, "colour"},
	} {
		e := mcptest.MustFail(t, f.cs, "channels.list", bad.args, nubiq.ECodeInvalid)
		require.Equal(t, bad.field, e.Field, "args %v: %s", bad.args, e.Message)
	}
	// A cursor from another list is refused.
	e := mcptest.MustFail(t, f.cs, "channels.list", map[string]any{"cursor": nubiq.Cursor{Kind: "widgets", ID: 1}.Encode()}, nubiq.ECodeInvalid)
	require.Equal(t, "cursor", e.Field)
}

func TestChannelsGet(t *testing.T) {
	t.Parallel()
	f := newChannelFixture(t)
	var got struct {
		nubiq.Channel
		Delivery nubiq.DeliveryStats `json:"delivery"`
	}
	mcptest.MustCall(t, f.cs, "channels.get", map[string]any{"id": f.email}, &got)
	require.Equal(t, f.email, got.ID)
	require.Equal(t, "email", got.Kind)
	require.Equal(t, "Support email", got.Name)
	require.True(t, got.Enabled)
	require.Equal(t, "Acme Support <support@acme.test>", got.Config["from"])
	require.Equal(t, 0, got.Delivery.Queued+got.Delivery.Sent+got.Delivery.Failed)

	// Delivery counts reflect the channel's messages.
	mcptest.MustCall(t, f.cs, "channels.send", map[string]any{"channel_id": f.email, "recipient": "ada@example.com", "subject": "Hi", "body": "Hello"}, nil)
	_, err := f.env.DB.Pool.Exec(context.Background(), `
		INSERT INTO outbound_messages (workspace_id, channel_id, recipient, body, status, error)
		VALUES ($1, $2, 'bob@example.com', 'x', 'failed', 'SMTP RCPT TO refused: 550 no such user')`, f.ws, f.email)
	require.NoError(t, err)
	mcptest.MustCall(t, f.cs, "channels.get", map[string]any{"id": f.email}, &got)
	require.Equal(t, 1, got.Delivery.Queued)
	require.Equal(t, 1, got.Delivery.Failed)
	require.Contains(t, got.Delivery.LastError, "550")
	require.NotNil(t, got.Delivery.LastFailedAt)

	mcptest.MustFail(t, f.cs, "channels.get", map[string]any{"id": 987654}, nubiq.ECodeNotFound)
	theirs := mcptest.MustFail(t, f.cs, "channels.get", map[string]any{"id": f.otherChannel}, nubiq.ECodeNotFound)
	missing := mcptest.MustFail(t, f.cs, "channels.get", map[string]any{"id": f.otherChannel + 1000}, nubiq.ECodeNotFound)
	require.Equal(t, strings.Replace(missing.Message, fmt.Sprint(f.otherChannel+1000), "N", 1), strings.Replace(theirs.Message, fmt.Sprint(f.otherChannel), "N", 1),
		"another workspace's channel answers exactly like a missing one")
	e := mcptest.MustFail(t, f.cs, "channels.get", map[string]any{}, nubiq.ECodeInvalid)
	require.Equal(t, "id", e.Field)
	e = mcptest.MustFail(t, f.cs, "channels.get", map[string]any{"id": "one"}, nubiq.ECodeInvalid)
	require.Equal(t, "id", e.Field)
}

func TestChannelSecretsNeverInToolOutput(t *testing.T) {
	t.Parallel()
	f := newChannelFixture(t)
	var outputs []string
	outputs = append(outputs, f.raw(t, "channels.list", map[string]any{}))
	outputs = append(outputs, f.raw(t, "channels.list", map[string]any{"limit": 1}))
	for _, id := range []int64{f.email, f.sms, f.whatsapp, f.widget, f.api, f.disabled, f.noSecret, f.otherChannel} {
		outputs = append(outputs, f.raw(t, "channels.get", map[string]any{"id": id}))
	}
	outputs = append(outputs,
		f.raw(t, "channels.send", map[string]any{"channel_id": f.email, "recipient": "ada@example.com", "subject": "s", "body": "b"}),
		f.raw(t, "channels.send", map[string]any{"channel_id": f.sms, "recipient": "+14155550100", "body": "b"}),
		f.raw(t, "channels.send", map[string]any{"channel_id": f.api, "recipient": "nobody", "body": "b"}),
		f.raw(t, "channels.send", map[string]any{"channel_id": f.disabled, "recipient": "+14155550100", "body": "b"}),
	)
	joined := strings.Join(outputs, "\n")
	require.Contains(t, joined, "smtp.example.com", "the outputs are real channel outputs")
	for _, s := range append(f.secrets, "whsec-old", "webhook_secret", "password", "api_token") {
		require.NotContains(t, joined, s)
	}
}

type sendOut struct {
	ID             int64  `json:"id"`
	Status         string `json:"status"`
	ChannelID      int64  `json:"channel_id"`
	ConversationID int64  `json:"conversation_id"`
	Recipient      string `json:"recipient"`
	CreatedAt      string `json:"created_at"`
}

func TestChannelsSend(t *testing.T) {
	t.Parallel()
	f := newChannelFixture(t)
	ctx := context.Background()

	var email sendOut
	mcptest.MustCall(t, f.cs, "channels.send", map[string]any{
		"channel_id": f.email, "recipient": "Ada <ada@example.com>", "subject": "Your order", "body": "It shipped.",
	}, &email)
	require.Equal(t, "queued", email.Status)
	require.Equal(t, "ada@example.com", email.Recipient)
	require.Equal(t, f.email, email.ChannelID)
	require.True(t, strings.HasSuffix(email.CreatedAt, "Z"), "created_at is UTC: %s", email.CreatedAt)
	m, err := f.env.DB.OutboundMessage(ctx, f.ws, email.ID)
	require.NoError(t, err)
	require.Equal(t, "Your order", m.Subject)
	require.Equal(t, "It shipped.", m.Body)
	require.Equal(t, "queued", m.Status)

	var sms sendOut
	mcptest.MustCall(t, f.cs, "channels.send", map[string]any{"channel_id": f.sms, "recipient": "+1 (415) 555-0100", "body": "Code 1234"}, &sms)
	require.Equal(t, "+14155550100", sms.Recipient)
	var wa sendOut
	mcptest.MustCall(t, f.cs, "channels.send", map[string]any{"channel_id": f.whatsapp, "recipient": "+33612345678", "body": "Bonjour"}, &wa)
	var conv sendOut
	mcptest.MustCall(t, f.cs, "channels.send", map[string]any{"channel_id": f.widget, "recipient": fmt.Sprintf("conversation:%d", f.conv), "body": "Hi there"}, &conv)
	require.Equal(t, f.conv, conv.ConversationID)
	var visitor sendOut
	mcptest.MustCall(t, f.cs, "channels.send", map[string]any{"channel_id": f.api, "recipient": "visitor:v-42", "body": "Ping"}, &visitor)
	require.Zero(t, visitor.ConversationID)

	// Each queued message has exactly one delivery job, carrying its id and workspace.
	sent := []int64{email.ID, sms.ID, wa.ID, conv.ID, visitor.ID}
	for _, id := range sent {
		require.Equal(t, 1, f.count(t, `SELECT count(*) FROM river_job WHERE kind = 'deliver_outbound' AND (args->>'outbound_id')::bigint = $1 AND (args->>'workspace_id')::bigint = $2`, id, f.ws), "job for %d", id)
	}

	bad := []struct {
		name  string
		args  map[string]any
		code  string
		field string
	}{
		{"missing channel", map[string]any{"recipient": "ada@example.com", "body": "x"}, nubiq.ECodeInvalid, "channel_id"},
		{"missing recipient", map[string]any{"channel_id": f.email, "subject": "s", "body": "x"}, nubiq.ECodeInvalid, "recipient"},
		{"missing body", map[string]any{"channel_id": f.email, "recipient": "ada@example.com", "subject": "s"}, nubiq.ECodeInvalid, "body"},
		{"blank body", map[string]any{"channel_id": f.email, "recipient": "ada@example.com", "subject": "s", "body": "  "}, nubiq.ECodeInvalid, "body"},
		{"long body", map[string]any{"channel_id": f.sms, "recipient": "+14155550100", "body": strings.Repeat("é", nubiq.MaxOutboundBody+1)}, nubiq.ECodeInvalid, "body"},
		{"unknown field", map[string]any{"channel_id": f.sms, "recipient": "+14155550100", "body": "x", "cc": "bob@example.com"}, nubiq.ECodeInvalid, "cc"},
		{"email list", map[string]any{"channel_id": f.email, "recipient": "a@example.com, b@example.com", "subject": "s", "body": "x"}, nubiq.ECodeInvalid, "recipient"},
		{"email phone", map[string]any{"channel_id": f.email, "recipient": "+14155550100", "subject": "s", "body": "x"}, nubiq.ECodeInvalid, "recipient"},
		{"email no subject", map[string]any{"channel_id": f.email, "recipient": "ada@example.com", "body": "x"}, nubiq.ECodeInvalid, "subject"},
		{"email subject newline", map[string]any{"channel_id": f.email, "recipient": "ada@example.com", "subject": "a\r\nBcc: eve@example.com", "body": "x"}, nubiq.ECodeInvalid, "subject"},
		{"email subject long", map[string]any{"channel_id": f.email, "recipient": "ada@example.com", "subject": strings.Repeat("s", 256), "body": "x"}, nubiq.ECodeInvalid, "subject"},
		{"sms subject", map[string]any{"channel_id": f.sms, "recipient": "+14155550100", "subject": "s", "body": "x"}, nubiq.ECodeInvalid, "subject"},
		{"sms not e164", map[string]any{"channel_id": f.sms, "recipient": "4155550100", "body": "x"}, nubiq.ECodeInvalid, "recipient"},
		{"whatsapp email", map[string]any{"channel_id": f.whatsapp, "recipient": "ada@example.com", "body": "x"}, nubiq.ECodeInvalid, "recipient"},
		{"widget bare id", map[string]any{"channel_id": f.widget, "recipient": "v-42", "body": "x"}, nubiq.ECodeInvalid, "recipient"},
		{"missing conversation", map[string]any{"channel_id": f.widget, "recipient": "conversation:987654", "body": "x"}, nubiq.ECodeNotFound, ""},
		{"other workspace conversation", map[string]any{"channel_id": f.api, "recipient": fmt.Sprintf("conversation:%d", f.otherConv), "body": "x"}, nubiq.ECodeNotFound, ""},
		{"missing channel id", map[string]any{"channel_id": 987654, "recipient": "+14155550100", "body": "x"}, nubiq.ECodeNotFound, ""},
		{"other workspace channel", map[string]any{"channel_id": f.otherChannel, "recipient": "+14155550100", "body": "x"}, nubiq.ECodeNotFound, ""},
		{"disabled channel", map[string]any{"channel_id": f.disabled, "recipient": "+14155550100", "body": "x"}, nubiq.ECodeConflict, ""},
		{"channel without secret", map[string]any{"channel_id": f.noSecret, "recipient": "visitor:v1", "body": "x"}, nubiq.ECodeConflict, ""},
	}
	for _, b := range bad {
		e := mcptest.MustFail(t, f.cs, "channels.send", b.args, b.code)
		require.Equal(t, b.field, e.Field, "%s: %s", b.name, e.Message)
	}
	// Refused sends left neither a message nor a job behind.
	require.Equal(t, len(sent), f.count(t, `SELECT count(*) FROM outbound_messages`))
	require.Equal(t, len(sent), f.count(t, `SELECT count(*) FROM river_job WHERE kind = 'deliver_outbound'`))

	// Another workspace's key cannot reach this workspace's messages either way.
	otherCS := f.env.Client(t, f.env.Key(t, f.other, nubiq.ScopeChannelsWrite))
	mcptest.MustFail(t, otherCS, "channels.send", map[string]any{"channel_id": f.sms, "recipient": "+14155550100", "body": "x"}, nubiq.ECodeNotFound)
	var theirs sendOut
	mcptest.MustCall(t, otherCS, "channels.send", map[string]any{"channel_id": f.otherChannel, "recipient": "+14155550100", "body": "x"}, &theirs)
	_, err = f.env.DB.OutboundMessage(ctx, f.ws, theirs.ID)
	require.Equal(t, nubiq.ECodeNotFound, nubiq.ErrorCode(err))

	// Scope: channels:read cannot send.
	readCS := f.env.Client(t, f.env.Key(t, f.ws, nubiq.ScopeChannelsRead))
	mcptest.MustFail(t, readCS, "channels.send", map[string]any{"channel_id": f.sms, "recipient": "+14155550100", "body": "x"}, nubiq.ECodeForbidden)
}
