package reliability_test

import (
	"cmp"
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// marker is written into workspace B's text so that any answer given to A that carries it
// shows a leak.
const marker = "ZQXB"

// objects are the ids of one workspace's objects, by kind.
type objects map[string]int64

func workspaceObjects(t *testing.T, db *postgres.DB, ws int64) objects {
	t.Helper()
	o := objects{}
	for kind, q := range map[string]string{
		"conversation": `SELECT min(id) FROM conversations WHERE workspace_id = $1`,
		"ticket":       `SELECT min(id) FROM tickets WHERE workspace_id = $1`,
		"contact":      `SELECT min(id) FROM contacts WHERE workspace_id = $1`,
		"document":     `SELECT min(id) FROM documents WHERE workspace_id = $1`,
		"channel":      `SELECT min(id) FROM channels WHERE workspace_id = $1 AND kind = 'sms'`,
		"widget":       `SELECT min(id) FROM widget_configs WHERE workspace_id = $1`,
		"member":       `SELECT min(id) FROM members WHERE workspace_id = $1 AND status = 'active'`,
		"team":         `SELECT min(id) FROM teams WHERE workspace_id = $1`,
		"run":          `SELECT min(id) FROM reindex_runs WHERE workspace_id = $1`,
	} {
		var id *int64
		require.NoError(t, db.Pool.QueryRow(context.Background(), q, ws).Scan(&id))
		require.NotNil(t, id, "workspace %d has no %s", ws, kind)
		o[kind] = *id
	}
	return o
}

// fingerprint digests every row of the workspace, in every table that has a workspace_id,
// plus its River jobs.
func fingerprint(t *testing.T, db *postgres.DB, ws int64) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Pool.Query(ctx, `SELECT table_name FROM information_schema.columns
		WHERE table_schema = 'public' AND column_name = 'workspace_id' ORDER BY table_name`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(t, rows.Err())
	require.Greater(t, len(tables), 15)
	fp := map[string]string{}
	for _, tb := range tables {
		var d *string
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM `+tb+` x WHERE workspace_id = $1`, ws).Scan(&d))
		if d != nil {
			fp[tb] = *d
		}
	}
	var d *string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT md5(string_agg(x::text, '|' ORDER BY x.id)) FROM river_job x WHERE args->>'workspace_id' = $1::bigint::text`, ws).Scan(&d))
	if d != nil {
		fp["river_job"] = *d
	}
	return fp
}

// isolationCase calls tool with args(x, a): x is an object id of the kind in the position
// under test, a the caller's own objects for the other arguments. kind "" means the call
// carries no foreign id: only the content of the answer is checked.
type isolationCase struct {
	tool string
	kind string
	args func(x int64, a objects) map[string]any
}

func isolationCases() []isolationCase {
	id := func(field string) func(int64, objects) map[string]any {
		return func(x int64, _ objects) map[string]any { return map[string]any{field: x} }
	}
	with := func(m map[string]any) func(int64, objects) map[string]any {
		return func(int64, objects) map[string]any { return m }
	}
	return []isolationCase{
		{"conversations.list", "", with(map[string]any{})},
		{"conversations.list", "contact", id("contact_id")},
		{"conversations.list", "channel", id("channel_id")},
		{"conversations.get", "conversation", id("id")},
		{"conversations.search", "", with(map[string]any{"query": marker})},
		{"conversations.search", "channel", func(x int64, _ objects) map[string]any { return map[string]any{"query": "shift", "channel_id": x} }},
		{"conversations.search", "contact", func(x int64, _ objects) map[string]any { return map[string]any{"query": "shift", "contact_id": x} }},
		{"search", "", with(map[string]any{"query": marker})},
		{"fetch", "document", func(x int64, _ objects) map[string]any { return map[string]any{"id": strconv.FormatInt(x, 10)} }},
		{"conversations.update_status", "conversation", func(x int64, _ objects) map[string]any { return map[string]any{"id": x, "status": "pending"} }},
		{"conversations.assign", "conversation", func(x int64, a objects) map[string]any { return map[string]any{"id": x, "member_id": a["member"]} }},
		{"conversations.assign", "member", func(x int64, a objects) map[string]any {
			return map[string]any{"id": a["conversation"], "member_id": x}
		}},
		{"conversations.assign", "team", func(x int64, a objects) map[string]any { return map[string]any{"id": a["conversation"], "team_id": x} }},
		{"conversations.reply", "conversation", func(x int64, _ objects) map[string]any { return map[string]any{"id": x, "body": "hi"} }},
		{"conversations.reply", "member", func(x int64, a objects) map[string]any {
			return map[string]any{"id": a["conversation"], "body": "hi", "author_member_id": x}
		}},
		{"tickets.list", "", with(map[string]any{})},
		{"tickets.list", "contact", id("contact_id")},
		{"tickets.get", "ticket", id("id")},
		{"tickets.create", "contact", func(x int64, _ objects) map[string]any { return map[string]any{"subject": "s", "contact_id": x} }},
		{"tickets.create", "conversation", func(x int64, _ objects) map[string]any { return map[string]any{"subject": "s", "conversation_id": x} }},
		{"tickets.create", "member", func(x int64, _ objects) map[string]any {
			return map[string]any{"subject": "s", "assignee_member_id": x}
		}},
		{"tickets.create", "team", func(x int64, _ objects) map[string]any { return map[string]any{"subject": "s", "assignee_team_id": x} }},
		{"tickets.update", "ticket", func(x int64, _ objects) map[string]any { return map[string]any{"id": x, "subject": "s"} }},
		{"tickets.update", "contact", func(x int64, a objects) map[string]any { return map[string]any{"id": a["ticket"], "contact_id": x} }},
		{"tickets.update", "conversation", func(x int64, a objects) map[string]any {
			return map[string]any{"id": a["ticket"], "conversation_id": x}
		}},
		{"tickets.update", "member", func(x int64, a objects) map[string]any {
			return map[string]any{"id": a["ticket"], "assignee_member_id": x}
		}},
		{"tickets.update", "team", func(x int64, a objects) map[string]any {
			return map[string]any{"id": a["ticket"], "assignee_team_id": x}
		}},
		{"tickets.close", "ticket", id("id")},
		{"documents.list", "", with(map[string]any{})},
		{"documents.list", "", with(map[string]any{"external_id": marker + "-doc"})},
		{"documents.list", "run", id("reindex_run_id")},
		{"documents.search", "", with(map[string]any{"query": marker})},
		{"documents.search", "document", func(x int64, _ objects) map[string]any {
			return map[string]any{"query": "shift", "document_ids": []int64{x}}
		}},
		{"documents.upload", "", with(map[string]any{"title": "Mine", "content": "my text", "external_id": marker + "-doc"})},
		{"documents.delete", "document", id("document_id")},
		{"documents.delete", "", with(map[string]any{"external_id": marker + "-only"})},
		{"documents.reindex", "document", id("document_id")},
		{"documents.reindex", "document", func(x int64, _ objects) map[string]any { return map[string]any{"document_ids": []int64{x}} }},
		{"contacts.list", "", with(map[string]any{})},
		{"contacts.list", "", with(map[string]any{"company": marker})},
		{"contacts.get", "contact", id("id")},
		{"contacts.search", "", with(map[string]any{"query": marker})},
		{"contacts.search", "", with(map[string]any{"company": marker, "email": "zqxb"})},
		{"analytics.overview", "", with(map[string]any{})},
		{"analytics.conversations", "", with(map[string]any{"split_by": "channel"})},
		{"analytics.satisfaction", "", with(map[string]any{"comments": 50})},
		{"channels.list", "", with(map[string]any{})},
		{"channels.get", "channel", id("id")},
		{"channels.send", "channel", func(x int64, _ objects) map[string]any {
			return map[string]any{"channel_id": x, "recipient": "+14155550100", "body": "hi"}
		}},
		{"widget.list", "", with(map[string]any{})},
		{"widget.get", "widget", id("id")},
		{"widget.update", "widget", func(x int64, _ objects) map[string]any { return map[string]any{"id": x, "greeting": "hello"} }},
		{"team.members", "", with(map[string]any{})},
		{"team.members", "team", id("team_id")},
		{"team.invite", "team", func(x int64, _ objects) map[string]any {
			return map[string]any{"email": "new@alpha.test", "role": "agent", "team_ids": []int64{x}}
		}},
		{"billing.usage", "", with(map[string]any{})},
		{"notifications.list", "", with(map[string]any{})},
	}
}

// missingID is an id no object has.
const missingID = 987654321

// TestWorkspaceIsolationMatrix: for every tool, a key of workspace A given workspace B's ids
// gets exactly the answer it gets for ids that exist nowhere (the same error, field and
// message, or the same empty result), never sees B's content in any answer, and changes
// nothing of B. With A's own ids the same calls succeed or fail for another reason than
// not_found, so the ids in play are real. Refusal without the tool's scope is covered for
// every tool by mcp's TestEveryToolListedAndCallableOnlyWithItsScope.
func TestWorkspaceIsolationMatrix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sd := newSeeded(t, nil, "Alpha", "Beta")
	env, db := sd.env, sd.env.DB
	wsA, wsB := sd.ws["Alpha"], sd.ws["Beta"]
	for _, ws := range []int64{wsA, wsB} {
		var doc int64
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT min(id) FROM documents WHERE workspace_id = $1`, ws).Scan(&doc))
		_, err := db.Reindex(ctx, nubiq.ReindexRequest{WorkspaceID: ws, DocumentIDs: []int64{doc}})
		require.NoError(t, err)
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		require.NoError(t, db.WaitDocuments(wctx, ws, 20*time.Millisecond))
		cancel()
	}
	for _, q := range []string{
		`UPDATE members SET name = '` + marker + ` ' || name WHERE workspace_id = $1`,
		`UPDATE teams SET name = '` + marker + ` ' || name, description = '` + marker + `' WHERE workspace_id = $1`,
		`UPDATE contacts SET name = '` + marker + ` ' || name, company = '` + marker + `', email = lower('` + marker + `.') || email WHERE workspace_id = $1`,
		`UPDATE conversations SET subject = '` + marker + ` ' || subject, tags = tags || '{zqxb}' WHERE workspace_id = $1`,
		`UPDATE messages SET body = '` + marker + ` ' || body WHERE workspace_id = $1`,
		`UPDATE tickets SET description = '` + marker + ` ' || description, tags = tags || '{zqxb}' WHERE workspace_id = $1`,
		`UPDATE documents SET title = '` + marker + ` ' || title, external_id = '` + marker + `-' || coalesce(external_id, id::text) WHERE workspace_id = $1`,
		`UPDATE documents SET external_id = '` + marker + `-only' WHERE id = (SELECT min(id) FROM documents WHERE workspace_id = $1)`,
		`UPDATE documents SET external_id = '` + marker + `-doc' WHERE id = (SELECT max(id) FROM documents WHERE workspace_id = $1)`,
		`UPDATE document_chunks SET text = '` + marker + ` ' || text WHERE workspace_id = $1`,
		`UPDATE channels SET name = '` + marker + ` ' || name WHERE workspace_id = $1`,
		`UPDATE widget_configs SET name = '` + marker + ` ' || name WHERE workspace_id = $1`,
		`INSERT INTO notification_events (workspace_id, kind, subject_type, subject_id, data) VALUES ($1, 'ticket.created', 'ticket', 1, '{"subject":"` + marker + `"}')`,
		// The search node re-reads what the log names: the marked rows are indexed too.
		`INSERT INTO index_log (workspace_id, kind, entity_id, op)
			SELECT $1, 'conversation', id, 'upsert' FROM conversations WHERE workspace_id = $1
			UNION ALL SELECT $1, 'message', id, 'upsert' FROM messages WHERE workspace_id = $1
			UNION ALL SELECT $1, 'contact', id, 'upsert' FROM contacts WHERE workspace_id = $1
			UNION ALL SELECT $1, 'document', id, 'upsert' FROM documents WHERE workspace_id = $1
			UNION ALL SELECT $1, 'chunk', id, 'upsert' FROM document_chunks WHERE workspace_id = $1`,
	} {
		_, err := db.Pool.Exec(ctx, q, wsB)
		require.NoError(t, err, q)
	}
	sd.node.Sync(t)
	// B's marked content is searchable by B: the leak checks below are not vacuous.
	for _, tool := range []string{"documents.search", "conversations.search", "contacts.search", "search"} {
		o := newRawClient(env.URL, env.Key(t, wsB)).call(ctx, tool, map[string]any{"query": marker})
		require.True(t, o.ok(), "%s: %s", tool, o)
		require.Contains(t, string(o.Result), marker, "%s by B itself", tool)
	}
	a, b := workspaceObjects(t, db, wsA), workspaceObjects(t, db, wsB)
	keyA := env.Key(t, wsA)
	rc := newRawClient(env.URL, keyA)

	// Every tool has at least one case, and every id-carrying argument of the catalogue is
	// one a case covers.
	cases := isolationCases()
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.tool] = true
		for arg := range c.args(1, a) {
			covered[c.tool+"."+arg] = true
		}
	}
	for _, tl := range env.Registry.Tools() {
		require.True(t, covered[tl.Name], "tool %s has no isolation case: add one", tl.Name)
		for prop := range tl.InputSchema.Properties {
			if prop == "id" || strings.HasSuffix(prop, "_id") || strings.HasSuffix(prop, "_ids") {
				if prop == "external_id" && covered[tl.Name+".external_id"] {
					continue
				}
				require.True(t, covered[tl.Name+"."+prop], "argument %s of %s takes an id but no isolation case passes one", prop, tl.Name)
			}
		}
	}

	before := fingerprint(t, db, wsB)
	type pending struct {
		c   isolationCase
		own outcome
	}
	for _, c := range cases {
		name := c.tool
		if c.kind != "" {
			name += "/" + c.kind
		}
		foreign := rc.call(ctx, c.tool, c.args(b[c.kind], a))
		require.NotContains(t, string(foreign.Body), marker, "%s: B's content in A's answer", name)
		require.NotEqual(t, nubiq.ECodeInternal, foreign.ToolCode, "%s: %s", name, foreign)
		require.Equal(t, 200, foreign.Status, "%s: %s", name, foreign)
		if c.kind == "" {
			continue
		}
		missing := rc.call(ctx, c.tool, c.args(missingID, a))
		require.Equal(t, normalise(missing, missingID), normalise(foreign, b[c.kind]),
			"%s: B's id %d answered differently from a missing id", name, b[c.kind])
	}
	require.Equal(t, before, fingerprint(t, db, wsB), "workspace B changed by calls with A's key")

	// The same calls with A's own ids find their objects (the delete last).
	slices.SortStableFunc(cases, func(x, y isolationCase) int {
		return cmp.Compare(boolInt(x.tool == "documents.delete"), boolInt(y.tool == "documents.delete"))
	})
	for _, c := range cases {
		if c.kind == "" {
			continue
		}
		own := rc.call(ctx, c.tool, c.args(a[c.kind], a))
		require.NotEqual(t, nubiq.ECodeNotFound, own.ToolCode, "%s/%s with A's own id: %s", c.tool, c.kind, own)
		require.NotEqual(t, nubiq.ECodeInternal, own.ToolCode, "%s/%s with A's own id: %s", c.tool, c.kind, own)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

var jsonRPCID = regexp.MustCompile(`"id":\d+,"result"`)

// normalise makes two answers comparable: the id in play and the JSON-RPC id replaced, and
// volatile fields (timestamps) dropped from results.
func normalise(o outcome, id int64) string {
	s := o.ToolCode + "|" + o.ToolField + "|" + o.ToolMsg + "|" + o.RPCError + "|" + strconv.Itoa(o.Status)
	if o.ToolCode == "" && o.Result != nil {
		var v any
		if json.Unmarshal(o.Result, &v) == nil {
			b, _ := json.Marshal(v)
			s += "|" + string(b)
		}
	}
	s = jsonRPCID.ReplaceAllString(s, "")
	return regexp.MustCompile(`\b`+strconv.FormatInt(id, 10)+`\b`).ReplaceAllString(s, "<id>")
}
