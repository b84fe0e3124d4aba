package mcp_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp/mcptest"
)

// Every write tool call leaves one audit row — done, failed or refused — and read tools none.
func TestAuditRowsForWriteToolCallsOnly(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	ctx := context.Background()
	ws := env.Workspace(t, "Acme", "pro")
	full := env.Key(t, ws)
	readOnly := env.Key(t, ws, nubiq.ScopeTicketsRead)
	keys, _ := env.DB.ListAPIKeys(ctx, ws) // newest first
	readOnlyKey, fullKey := keys[0], keys[1]

	var writes, reads []string
	for _, tl := range env.Registry.Tools() {
		if tl.ReadOnly {
			reads = append(reads, tl.Name)
		} else {
			writes = append(writes, tl.Name)
		}
	}
	if len(writes) == 0 || len(reads) == 0 {
		t.Fatalf("catalogue has %d write and %d read tools", len(writes), len(reads))
	}

	cs := env.Client(t, full)
	for _, name := range reads {
		mcptest.Call(t, cs, name, map[string]any{})
	}
	if got, _ := env.DB.ListAudit(ctx, ws, 100); len(got) != 0 {
		t.Fatalf("read tools wrote %d audit rows: %+v", len(got), got)
	}

	// Each write tool once, with an id argument; the outcome recorded is the one the client saw.
	start := time.Now().Add(-time.Second)
	outcomes := map[string]string{}
	for _, name := range writes {
		r := mcptest.Call(t, cs, name, map[string]any{"id": 424242})
		outcomes[name] = "ok"
		if r.Error != nil {
			outcomes[name] = r.Error.Code
		}
	}
	// A refused write: the key lacks tickets:write.
	mcptest.MustFail(t, env.Client(t, readOnly), "tickets.create", map[string]any{"subject": "x"}, nubiq.ECodeForbidden)

	// A create that succeeds: the target is what it made.
	var created struct {
		ID int64 `json:"id"`
	}
	mcptest.MustCall(t, cs, "tickets.create", map[string]any{"subject": "Printer on fire"}, &created)

	rows, err := env.DB.ListAudit(ctx, ws, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(writes)+2 {
		t.Fatalf("%d audit rows for %d write calls", len(rows), len(writes)+2)
	}
	if c := rows[0]; c.Action != "tickets.create" || c.Outcome != "ok" || c.Target != strconv.FormatInt(created.ID, 10) || c.KeyID != fullKey.ID {
		t.Errorf("successful create audited as %+v, want target %d", c, created.ID)
	}
	refused := rows[1]
	if refused.Action != "tickets.create" || refused.Outcome != nubiq.ECodeForbidden || refused.KeyID != readOnlyKey.ID || refused.Actor != readOnlyKey.Prefix {
		t.Errorf("refused call audited as %+v", refused)
	}
	seen := map[string]bool{}
	for _, e := range rows[2:] {
		seen[e.Action] = true
		if e.WorkspaceID != ws || e.KeyID != fullKey.ID || e.Actor != fullKey.Prefix {
			t.Errorf("%s: audited for workspace %d key %d actor %q", e.Action, e.WorkspaceID, e.KeyID, e.Actor)
		}
		if e.Target != "424242" {
			t.Errorf("%s: target %q, want the id argument 424242", e.Action, e.Target)
		}
		if e.Outcome != outcomes[e.Action] {
			t.Errorf("%s: outcome %q, the client saw %q", e.Action, e.Outcome, outcomes[e.Action])
		}
		if e.CreatedAt.Before(start) || e.CreatedAt.After(time.Now().Add(time.Second)) {
			t.Errorf("%s: time %v", e.Action, e.CreatedAt)
		}
	}
	for _, name := range writes {
		if !seen[name] {
			t.Errorf("no audit row for %s", name)
		}
	}
	// Nothing but the columns above is stored: no arguments, no secrets.
	var detail int
	if err := env.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE workspace_id = $1 AND detail <> '{}'::jsonb`, ws).Scan(&detail); err != nil || detail != 0 {
		t.Errorf("%d audit rows carry detail (%v)", detail, err)
	}
}
