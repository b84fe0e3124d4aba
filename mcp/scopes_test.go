package mcp_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp/mcptest"
)

// Every tool of the registry × (a key holding only the tool's scope, a key holding every scope
// but that one), over real HTTP with the official Go client.
func TestEveryToolListedAndCallableOnlyWithItsScope(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	ws := env.Workspace(t, "Acme", "pro")
	tools := env.Registry.Tools()
	if len(tools) < 30 {
		t.Fatalf("registry has %d tools, want the 30 of the contract and more", len(tools))
	}

	type keys struct {
		only, allBut string
		onlyList     []string
		allButList   []string
	}
	byScope := map[nubiq.Scope]*keys{}
	for _, s := range nubiq.AllScopes {
		k := &keys{only: env.Key(t, ws, s), allBut: env.Key(t, ws, without(nubiq.AllScopes, s)...)}
		k.onlyList, k.allButList = listNames(t, env, k.only), listNames(t, env, k.allBut)
		byScope[s] = k
		// tools/list holds exactly the tools of the key's scopes.
		var want []string
		for _, tl := range tools {
			if tl.Scope == s {
				want = append(want, tl.Name)
			}
		}
		if !slices.Equal(k.onlyList, want) {
			t.Errorf("key with only %s lists %v, want %v", s, k.onlyList, want)
		}
	}

	for _, tl := range tools {
		k := byScope[tl.Scope]
		t.Run(tl.Name+"/with "+string(tl.Scope), func(t *testing.T) {
			if !slices.Contains(k.onlyList, tl.Name) {
				t.Errorf("%s not listed for a key with %s", tl.Name, tl.Scope)
			}
			cs := env.Client(t, k.only)
			if r := mcptest.Call(t, cs, tl.Name, map[string]any{}); r.Error != nil && r.Error.Code == nubiq.ECodeForbidden {
				t.Errorf("%s refused to a key with %s: %s", tl.Name, tl.Scope, r.Error.Message)
			}
		})
		t.Run(tl.Name+"/without "+string(tl.Scope), func(t *testing.T) {
			if slices.Contains(k.allButList, tl.Name) {
				t.Errorf("%s listed for a key without %s", tl.Name, tl.Scope)
			}
			cs := env.Client(t, k.allBut)
			e := mcptest.MustFail(t, cs, tl.Name, map[string]any{}, nubiq.ECodeForbidden)
			if !strings.Contains(e.Message, tl.Name) || !strings.Contains(e.Message, string(tl.Scope)) {
				t.Errorf("refusal of %s does not name the tool and the scope %s: %q", tl.Name, tl.Scope, e.Message)
			}
		})
	}
}

// tools/list follows the catalogue, not the SDK's alphabetical order.
func TestToolsListedInCatalogueOrder(t *testing.T) {
	t.Parallel()
	env := mcptest.New(t, nil)
	ws := env.Workspace(t, "Acme", "pro")
	got := listNames(t, env, env.Key(t, ws))
	var want []string
	for _, tl := range env.Registry.Tools() {
		want = append(want, tl.Name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("tools/list order\n got %v\nwant %v", got, want)
	}
	// The public contract's 30 tools, in its order, grouped by domain; extras come after.
	contract := strings.Fields(`conversations.list conversations.get conversations.search
		conversations.update_status conversations.assign conversations.reply
		tickets.list tickets.get tickets.create tickets.update tickets.close
		documents.list documents.search documents.upload documents.delete documents.reindex
		contacts.list contacts.get contacts.search
		analytics.overview analytics.conversations analytics.satisfaction
		channels.list channels.get channels.send widget.list widget.get widget.update
		team.members team.invite`)
	if !slices.Equal(want[:len(contract)], contract) {
		t.Fatalf("catalogue does not start with the contract's tools in order:\n got %v\nwant %v", want[:len(contract)], contract)
	}
}
