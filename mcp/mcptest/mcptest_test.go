package mcptest_test

import (
	"testing"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp/mcptest"
)

func TestRealKeyReachesTools(t *testing.T) {
	env := mcptest.New(t, nil)
	ws := env.Workspace(t, "Acme", "pro")
	cs := env.Client(t, env.Key(t, ws, nubiq.ScopeTicketsRead))
	// tickets.create needs tickets:write: refused by scope, with the scope named.
	e := mcptest.MustFail(t, cs, "tickets.create", map[string]any{}, nubiq.ECodeForbidden)
	if e.Message == "" {
		t.Fatal("empty message")
	}
}
