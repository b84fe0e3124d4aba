package mcp_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub/mcp/mcptest"
)

// rowsFx inserts fixture rows straight into a workspace's tables, so that read tools are
// tested against data whose expected figures are worked out by hand.
type rowsFx struct {
	t   *testing.T
	env *mcptest.Env
	ws  int64
}

func (f rowsFx) id(q string, args ...any) int64 {
	f.t.Helper()
	var id int64
	require.NoError(f.t, f.env.DB.Pool.QueryRow(context.Background(), q, args...).Scan(&id), q)
	return id
}

func (f rowsFx) exec(q string, args ...any) {
	f.t.Helper()
	_, err := f.env.DB.Pool.Exec(context.Background(), q, args...)
	require.NoError(f.t, err, q)
}

// ts parses an RFC 3339 fixture time.
func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// nullable turns "" into SQL NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type contactRow struct {
	Name, Email, Phone, Company string
	Attrs                       map[string]any
	Created                     string
}

func (f rowsFx) contact(c contactRow) int64 {
	f.t.Helper()
	if c.Attrs == nil {
		c.Attrs = map[string]any{}
	}
	return f.id(`INSERT INTO contacts (workspace_id, name, email, phone, company, custom_attributes, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id`,
		f.ws, c.Name, nullable(c.Email), nullable(c.Phone), c.Company, c.Attrs, ts(c.Created))
}

func (f rowsFx) channel(kind, name string) int64 {
	f.t.Helper()
	return f.id(`INSERT INTO channels (workspace_id, kind, name) VALUES ($1, $2, $3) RETURNING id`, f.ws, kind, name)
}

type conversationRow struct {
	Contact, Channel int64
	Subject, Status  string
	Created, Updated string
	// FirstResponse and Resolved are delays after Created; 0 leaves the column NULL.
	FirstResponse, Resolved time.Duration
}

func (f rowsFx) conversation(c conversationRow) int64 {
	f.t.Helper()
	created := ts(c.Created)
	updated := created
	if c.Updated != "" {
		updated = ts(c.Updated)
	}
	var first, resolved any
	if c.FirstResponse > 0 {
		first = created.Add(c.FirstResponse)
	}
	if c.Resolved > 0 {
		resolved = created.Add(c.Resolved)
	}
	if c.Status == "" {
		c.Status = "open"
	}
	var contact, channel any
	if c.Contact != 0 {
		contact = c.Contact
	}
	if c.Channel != 0 {
		channel = c.Channel
	}
	return f.id(`INSERT INTO conversations (workspace_id, contact_id, channel_id, subject, status, first_response_at, resolved_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		f.ws, contact, channel, c.Subject, c.Status, first, resolved, created, updated)
}

func (f rowsFx) ticket(contact int64, subject, status, priority, created string) int64 {
	f.t.Helper()
	return f.id(`INSERT INTO tickets (workspace_id, contact_id, subject, status, priority, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`, f.ws, contact, subject, status, priority, ts(created))
}

func (f rowsFx) rating(conversation, contact int64, score int, comment, created string) int64 {
	f.t.Helper()
	var ct any
	if contact != 0 {
		ct = contact
	}
	return f.id(`INSERT INTO satisfaction_ratings (workspace_id, conversation_id, contact_id, score, comment, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, f.ws, conversation, ct, score, comment, ts(created))
}

// mustCallSchema calls a tool like mcptest.MustCall and also checks the structured result
// against the tool's declared output schema, which strict clients validate.
func mustCallSchema(t *testing.T, env *mcptest.Env, cs *sdk.ClientSession, tool string, args any, out any) {
	t.Helper()
	r := mcptest.Call(t, cs, tool, args)
	if r.Error != nil {
		t.Fatalf("call %s: %s: %s (field %q)", tool, r.Error.Code, r.Error.Message, r.Error.Field)
	}
	resolved, err := env.Registry.Lookup(tool).OutputSchema.Resolve(nil)
	require.NoError(t, err)
	var instance any
	require.NoError(t, json.Unmarshal(r.JSON, &instance))
	require.NoError(t, resolved.Validate(instance), "%s result %s does not match its output schema", tool, r.JSON)
	require.NoError(t, json.Unmarshal(r.JSON, out))
}
