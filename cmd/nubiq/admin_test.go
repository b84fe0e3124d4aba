package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"regexp"
	"strings"
	"testing"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres/pgtest"
)

func TestWorkspacesAndKeysCommands(t *testing.T) {
	db := pgtest.URL(t)
	at := []string{"--database-url", db}

	if out := cli(t, append([]string{"workspaces", "list"}, at...)...); !strings.Contains(out, "No workspaces yet") {
		t.Errorf("empty list: %q", out)
	}
	if out := cli(t, append([]string{"workspaces", "list", "--json"}, at...)...); strings.TrimSpace(out) != "[]" {
		t.Errorf("empty JSON list: %q", out)
	}
	out := cli(t, append([]string{"workspaces", "create", "--name", "Acme Support", "--plan", "enterprise"}, at...)...)
	if !strings.Contains(out, `Created workspace 1 "Acme Support" on plan enterprise`) {
		t.Errorf("create: %q", out)
	}
	if out := cli(t, append([]string{"workspaces", "list"}, at...)...); !regexp.MustCompile(`(?m)^1\s+Acme Support\s+enterprise\s`).MatchString(out) {
		t.Errorf("list: %q", out)
	}

	out = cli(t, append([]string{"keys", "create", "--workspace", "acme support", "--name", "claude", "--scopes", "tickets:read, documents:write", "--expires", "30d"}, at...)...)
	secret := regexp.MustCompile(`nbq_[0-9A-Za-z]{43}`).FindString(out)
	if secret == "" || strings.Count(out, secret) != 1 || !strings.Contains(out, "only time this key is shown") ||
		!strings.Contains(out, "scopes:  tickets:read,documents:write") {
		t.Fatalf("keys create output: %q", out)
	}
	cli(t, append([]string{"keys", "create", "--workspace", "1", "--name", "all", "--scopes", "all", "--quiet"}, at...)...)

	out = cli(t, append([]string{"keys", "list", "--workspace", "Acme Support"}, at...)...)
	if strings.Contains(out, secret) || strings.Contains(out, secret[12:]) {
		t.Fatalf("keys list shows the secret: %q", out)
	}
	for _, want := range []string{"PREFIX", "LAST USED", secret[:12] + "…", "claude", "tickets:read,documents:write", "never", "active", " all "} {
		if !strings.Contains(out, want) {
			t.Errorf("keys list lacks %q:\n%s", want, out)
		}
	}

	// Revoke, flags after the id as well as before.
	out = cli(t, append([]string{"keys", "revoke", "1", "--workspace", "Acme Support"}, at...)...)
	if !strings.Contains(out, "Revoked API key 1") {
		t.Errorf("revoke: %q", out)
	}
	var listed []struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
		Prefix string `json:"prefix"`
	}
	if err := json.Unmarshal([]byte(cli(t, append([]string{"keys", "list", "--workspace", "1", "--json"}, at...)...)), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed[1].ID != 1 || listed[1].Status != "revoked" || listed[0].Status != "active" {
		t.Errorf("after revoke: %+v", listed)
	}

	// Errors say what is wrong and what is allowed.
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		says string
	}{
		{args: []string{"--workspace", "1", "--name", "x", "--scopes", "all", "--expires", "400d"}, says: "maximum key lifetime of 365d"},
		{args: []string{"--workspace", "1", "--name", "x", "--scopes", "all", "--expires", "soon"}, says: "use e.g. 90d"},
		{args: []string{"--workspace", "1", "--name", "x", "--scopes", "all", "--expires", "2001-01-01"}, says: "not in the future"},
		{args: []string{"--workspace", "1", "--name", "x", "--scopes", "tickets:delete"}, says: `unknown scope "tickets:delete"; allowed: conversations:read`},
		{args: []string{"--workspace", "nope", "--name", "x", "--scopes", "all"}, says: `no workspace "nope"`},
		{args: []string{"--workspace", "1", "--name", "x", "--scopes", "all"}, env: map[string]string{"NUBIQ_KEY_MAX_EXPIRY": "30d"}, says: "default key lifetime 90d (NUBIQ_KEY_DEFAULT_EXPIRY) exceeds the maximum 30d"},
		{args: []string{"--workspace", "1", "--name", "x", "--scopes", "all"}, env: map[string]string{"NUBIQ_KEY_DEFAULT_EXPIRY": "forever"}, says: "NUBIQ_KEY_DEFAULT_EXPIRY"},
		{args: []string{"--workspace", "1", "--name", "x", "--scopes", "all", "--expires", "60d"}, env: map[string]string{"NUBIQ_KEY_MAX_EXPIRY": "30d", "NUBIQ_KEY_DEFAULT_EXPIRY": "7d"}, says: "maximum key lifetime of 30d"},
	} {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		err := keysCreate(ctx, append(tc.args, at...))
		if err == nil || !strings.Contains(nubiq.ErrorMessage(err)+err.Error(), tc.says) {
			t.Errorf("keys create %v (env %v): %v, want an error saying %q", tc.args, tc.env, err, tc.says)
		}
		for k := range tc.env {
			t.Setenv(k, "")
		}
	}
	if err := workspacesCreate(ctx, append([]string{"--name", "Other", "--plan", "gold"}, at...)); err == nil || !strings.Contains(nubiq.ErrorMessage(err), `unknown plan "gold"; allowed: pro, enterprise`) {
		t.Errorf("unknown plan: %v", err)
	}
	if err := workspacesCreate(ctx, append([]string{"--name", "acme support"}, at...)); nubiq.ErrorCode(err) != nubiq.ECodeConflict {
		t.Errorf("duplicate name: %v", err)
	}
	if err := keysRevoke(ctx, append([]string{"--workspace", "1", "99"}, at...)); nubiq.ErrorCode(err) != nubiq.ECodeNotFound {
		t.Errorf("revoke unknown key: %v", err)
	}

	// Plans for load tests.
	cli(t, append([]string{"plans", "set", "bench", "--per-minute", "1000000", "--per-day", "1000000000"}, at...)...)
	cli(t, append([]string{"workspaces", "set-plan", "--workspace", "1", "--plan", "bench"}, at...)...)
	if out := cli(t, append([]string{"plans", "list"}, at...)...); !regexp.MustCompile(`(?m)^bench\s+1000000\s+1000000000$`).MatchString(out) {
		t.Errorf("plans list: %q", out)
	}
}

func TestAdminCommandsHaveHelp(t *testing.T) {
	for _, args := range [][]string{
		{"workspaces", "--help"}, {"workspaces", "create", "--help"}, {"workspaces", "list", "--help"},
		{"keys", "--help"}, {"keys", "create", "--help"}, {"keys", "list", "--help"}, {"keys", "revoke", "--help"},
		{"plans", "--help"}, {"plans", "set", "--help"},
	} {
		err := commands[args[0]].run(context.Background(), args[1:])
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v, want help", args, err)
		}
	}
	// keys create --help documents every scope and the expiry forms.
	help := keysHelp + scopeTable()
	for _, s := range nubiq.AllScopes {
		if !strings.Contains(help, string(s)) {
			t.Errorf("keys help lacks scope %s", s)
		}
	}
}
