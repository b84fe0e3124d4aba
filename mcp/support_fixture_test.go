package mcp_test

import (
	"context"
	"regexp"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp/mcptest"
)

// supportFixture writes the rows support tools read (members, teams, contacts, channels,
// conversations, messages) straight into a workspace of a test environment. Rows that have no
// tool to create them are inserted with SQL; conversations and messages go through the store.
type supportFixture struct {
	t   *testing.T
	env *mcptest.Env
	ws  int64
}

func newSupportFixture(t *testing.T, env *mcptest.Env, ws int64) *supportFixture {
	return &supportFixture{t: t, env: env, ws: ws}
}

func (f *supportFixture) insert(sql string, args ...any) int64 {
	f.t.Helper()
	var id int64
	if err := f.env.DB.Pool.QueryRow(context.Background(), sql, args...).Scan(&id); err != nil {
		f.t.Fatalf("fixture %q: %v", sql, err)
	}
	return id
}

func (f *supportFixture) member(name, email, status string) int64 {
	f.t.Helper()
	return f.insert(`INSERT INTO members (workspace_id, email, name, role, status) VALUES ($1, $2, $3, 'agent', $4) RETURNING id`,
		f.ws, email, name, status)
}

func (f *supportFixture) team(name string) int64 {
	f.t.Helper()
	return f.insert(`INSERT INTO teams (workspace_id, name) VALUES ($1, $2) RETURNING id`, f.ws, name)
}

// contact creates a contact; empty email or phone are stored as NULL.
func (f *supportFixture) contact(name, email, phone string) int64 {
	f.t.Helper()
	return f.insert(`INSERT INTO contacts (workspace_id, name, email, phone) VALUES ($1, $2, nullif($3, ''), nullif($4, '')) RETURNING id`,
		f.ws, name, email, phone)
}

func (f *supportFixture) channel(kind, name string, enabled bool) int64 {
	f.t.Helper()
	return f.insert(`INSERT INTO channels (workspace_id, kind, name, enabled) VALUES ($1, $2, $3, $4) RETURNING id`,
		f.ws, kind, name, enabled)
}

func (f *supportFixture) conversation(n nubiq.NewConversation) int64 {
	f.t.Helper()
	c, err := f.env.DB.CreateConversation(context.Background(), f.ws, n)
	if err != nil {
		f.t.Fatalf("fixture conversation: %v", err)
	}
	return c.ID
}

func (f *supportFixture) message(conversationID int64, n nubiq.NewMessage) int64 {
	f.t.Helper()
	m, err := f.env.DB.AddMessage(context.Background(), f.ws, conversationID, n)
	if err != nil {
		f.t.Fatalf("fixture message: %v", err)
	}
	return m.ID
}

// count runs a COUNT query.
func (f *supportFixture) count(sql string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.env.DB.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		f.t.Fatalf("count %q: %v", sql, err)
	}
	return n
}

// mustFailField asserts a tool error with code and the offending field.
func mustFailField(t *testing.T, cs *sdk.ClientSession, tool string, args map[string]any, code, field string) {
	t.Helper()
	e := mcptest.MustFail(t, cs, tool, args, code)
	if e.Field != field {
		t.Fatalf("%s %v: error field = %q (%s), want %q", tool, args, e.Field, e.Message, field)
	}
	if e.Message == "" {
		t.Fatalf("%s %v: empty error message", tool, args)
	}
}

var rfc3339UTC = regexp.MustCompile(`"(created_at|updated_at|closed_at|resolved_at|last_message_at|first_response_at|snoozed_until)":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"`)
var anyTimestamp = regexp.MustCompile(`"(created_at|updated_at|closed_at|resolved_at|last_message_at|first_response_at|snoozed_until)":"[^"]*"`)

// requireUTCTimestamps checks that every timestamp in a raw result is RFC 3339 in UTC.
func requireUTCTimestamps(t *testing.T, raw []byte) {
	t.Helper()
	all := anyTimestamp.FindAll(raw, -1)
	if len(all) == 0 {
		t.Fatalf("no timestamps in %s", raw)
	}
	for _, ts := range all {
		if !rfc3339UTC.Match(ts) {
			t.Fatalf("timestamp %s is not RFC 3339 UTC", ts)
		}
	}
}
