package reliability_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/mcp/mcptest"
)

// hostileStrings go into every string argument of every tool.
var hostileStrings = map[string]string{
	"NUL":             "before\x00after",
	"SQL":             `'; DROP TABLE tickets; -- " OR 1=1 --`,
	"LIKE wildcards":  `%_\%\_\\`,
	"query syntax":    `title:"x"~2 +must -not (a OR b) /re.*/ * ? ^3 \ AND NOT`,
	"path":            "../../../../etc/passwd",
	"control chars":   "a\x01\x07\x1b[31mred\r\n\t\u2028\u202e",
	"lone surrogates": "\xed\xa0\x80 \xed\xbf\xbf",
	"invalid UTF-8":   "ok \xff\xfe\xc3( end",
	"huge":            strings.Repeat("long words ", 30_000), // 330 kB, past every field limit
	"HTML":            `<script>alert(1)</script><img src=x onerror=alert(1)>`,
	"emoji":           strings.Repeat("👩‍👩‍👧‍👦", 1000),
}

// TestHostileStringsInEveryArgument puts each hostile string into each string argument of
// each tool (the other arguments valid): every answer is a result or a clear tool error —
// never internal, never a transport failure or a 5xx — and results are valid UTF-8. After
// it all, the data is intact and the endpoint still serves.
func TestHostileStringsInEveryArgument(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sd := newSeeded(t, []mcptest.Option{mcptest.WithHandlerConfig(func(c *mcp.HandlerConfig) { c.MaxBodyBytes = 4 << 20 })}, "Alpha")
	env, wsID := sd.env, sd.ws["Alpha"]
	var doc int64
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT min(id) FROM documents WHERE workspace_id = $1`, wsID).Scan(&doc))
	_, err := env.DB.Reindex(ctx, nubiq.ReindexRequest{WorkspaceID: wsID, DocumentIDs: []int64{doc}})
	require.NoError(t, err)
	own := workspaceObjects(t, env.DB, wsID)
	rc := newRawClient(env.URL, env.Key(t, wsID))
	var tickets int
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM tickets`).Scan(&tickets))

	base := map[string]map[string]any{}
	for _, c := range isolationCases() {
		if _, ok := base[c.tool]; !ok && c.tool != "documents.delete" {
			base[c.tool] = c.args(own[c.kind], own)
		}
	}
	// The base arguments are valid: what the hostile strings change is all that is tested.
	for tool, args := range base {
		o := rc.call(ctx, tool, args)
		require.NotContains(t, []string{nubiq.ECodeInvalid, nubiq.ECodeNotFound, nubiq.ECodeInternal}, o.ToolCode, "%s with valid arguments: %s", tool, o)
	}
	calls, refused := 0, 0
	byValue := map[string]int{}
	for _, tl := range env.Registry.Tools() {
		if tl.Name == "documents.delete" {
			continue // would delete the fixtures; its only string argument is external_id, covered by documents.list
		}
		for prop, p := range tl.InputSchema.Properties {
			isString := p.Type == "string" || (p.Type == "array" && p.Items != nil && p.Items.Type == "string")
			if !isString {
				continue
			}
			for name, s := range hostileStrings {
				args := map[string]any{}
				for k, v := range base[tl.Name] {
					args[k] = v
				}
				if p.Type == "array" {
					args[prop] = []string{s}
				} else {
					args[prop] = s
				}
				o := rc.call(ctx, tl.Name, args)
				calls++
				what := fmt.Sprintf("%s.%s = %s", tl.Name, prop, name)
				require.Nil(t, o.Transport, "%s: %s", what, o)
				require.Equal(t, 200, o.Status, "%s: %s", what, o)
				require.Empty(t, o.RPCError, "%s: %s", what, o)
				require.NotEqual(t, nubiq.ECodeInternal, o.ToolCode, "%s: %s", what, o)
				require.NotEqual(t, nubiq.ECodeUnavailable, o.ToolCode, "%s: %s", what, o)
				require.True(t, utf8.Valid(o.Body), "%s: answer is not valid UTF-8", what)
				require.Less(t, o.Took, 10*time.Second, what)
				if o.ToolCode != "" {
					refused++
					byValue[name]++
					require.NotEmpty(t, o.ToolMsg, what)
				}
			}
		}
	}
	t.Logf("%d calls with hostile strings, %d refused with a clear error (by value: %v), the rest served", calls, refused, byValue)

	var after int
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM tickets`).Scan(&after))
	require.GreaterOrEqual(t, after, tickets)
	require.True(t, rc.call(ctx, "tickets.list", map[string]any{}).ok())
}

// TestHostileBodies sends malformed and oversized requests straight to the endpoint: each gets
// a clear answer below 500, and the endpoint keeps serving.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := mcptest.New(t, nil, mcptest.WithHandlerConfig(func(c *mcp.HandlerConfig) { c.MaxBodyBytes = 1 << 20 }))
	rc := newRawClient(env.URL, env.Key(t, env.Workspace(t, "Acme", "pro")))
	call := func(args string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"tickets.create","arguments":` + args + `}}`
	}
	deep := strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000)
	deepArr := strings.Repeat("[", 500_000) + strings.Repeat("]", 500_000)
	for name, tc := range map[string]struct {
		body   string
		status int // 0: 200 with an error of any kind
	}{
		"over the body limit":          {call(`{"subject":"` + strings.Repeat("x", 2<<20) + `"}`), 413},
		"deeply nested arguments":      {call(`{"subject":"s","custom_fields":` + deep + `}`), 0},
		"deeply nested envelope":       {deepArr, 0},
		"invalid UTF-8 in the body":    {call("{\"subject\":\"\xff\xfe\"}"), 0},
		"not JSON":                     {"\x00\x01garbage", 0},
		"truncated":                    {call(`{"subject":"s"`), 0},
		"arguments not an object":      {call(`[1,2,3]`), 0},
		"number overflow":              {call(`{"subject":"s","contact_id":1e999}`), 0},
		"duplicate keys":               {call(`{"subject":"a","subject":"b","subject":null}`), 0},
		"huge id":                      {call(`{"subject":"s","contact_id":99999999999999999999999}`), 0},
		"negative id":                  {call(`{"subject":"s","contact_id":-1}`), 0},
		"unknown method":               {`{"jsonrpc":"2.0","id":1,"method":"tools/destroy"}`, 0},
		"batch of many":                {"[" + strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"tools/list"},`, 2000) + `{"jsonrpc":"2.0","id":2,"method":"tools/list"}]`, 0},
		"many keys":                    {call("{" + strings.Repeat(`"k":1,`, 50_000) + `"subject":"s"}`), 0},
		"unknown tool name with NUL":   {`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"tickets.create\u0000x","arguments":{}}}`, 0},
		"empty body":                   {"", 0},
		"whitespace only":              {strings.Repeat(" ", 10000), 0},
		"string of a million escapes":  {call(`{"subject":"` + strings.Repeat(`\u0041`, 150_000) + `"}`), 0},
		"nested custom_fields 30 deep": {call(`{"subject":"s","custom_fields":` + strings.Repeat(`{"a":`, 30) + "1" + strings.Repeat("}", 30) + `}`), 0},
	} {
		o := rc.post(ctx, []byte(tc.body))
		require.Nil(t, o.Transport, "%s: %s", name, o)
		require.Less(t, o.Took, 10*time.Second, name)
		if tc.status != 0 {
			require.Equal(t, tc.status, o.Status, "%s: %s", name, o)
		} else {
			require.Less(t, o.Status, 500, "%s: %s", name, o)
			require.NotEqual(t, nubiq.ECodeInternal, o.ToolCode, "%s: %s", name, o)
		}
		require.True(t, utf8.Valid(o.Body), "%s: answer is not valid UTF-8: %q", name, o.Body)
	}
	require.True(t, rc.call(ctx, "tickets.list", map[string]any{}).ok(), "the endpoint stopped serving")
}
