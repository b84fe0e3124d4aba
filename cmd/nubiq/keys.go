package main

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

func init() {
	register(&command{name: "keys", summary: "create, list and revoke API keys", run: runKeys})
}

const keysHelp = `
API keys let MCP clients into a workspace: "Authorization: Bearer nbq_…". Each key has scopes
(what it may do), an expiry (always), and can be revoked at any time; a revoked or expired key
stops working on every server within 2 seconds. Only a hash of each key is stored: the
secret is printed once, at creation, and can never be shown again.`

func runKeys(ctx context.Context, args []string) error {
	return runGroup(ctx, "keys", keysHelp, []subcommand{
		{"create", "create a key and print its secret, once", keysCreate},
		{"list", "list a workspace's keys (never their secrets)", keysList},
		{"revoke", "revoke a key", keysRevoke},
	}, args)
}

// expiryFlags are the key lifetime policy: a default when --expires is not given, and a
// maximum that no key may exceed.
type expiryFlags struct {
	def, max string
}

func (f *expiryFlags) register(fs interface {
	StringVar(p *string, name, value, usage string)
}) {
	fs.StringVar(&f.def, "default-expiry", envOr("NUBIQ_KEY_DEFAULT_EXPIRY", "90d"), "lifetime of keys created without --expires (env NUBIQ_KEY_DEFAULT_EXPIRY)")
	fs.StringVar(&f.max, "max-expiry", envOr("NUBIQ_KEY_MAX_EXPIRY", "365d"), "longest lifetime a key may have (env NUBIQ_KEY_MAX_EXPIRY)")
}

func (f *expiryFlags) policy() (nubiq.KeyExpiryPolicy, error) {
	var p nubiq.KeyExpiryPolicy
	var err error
	if p.Default, err = nubiq.ParseLifetime(f.def); err != nil {
		return p, fmt.Errorf("--default-expiry (NUBIQ_KEY_DEFAULT_EXPIRY) %s", strings.TrimPrefix(nubiq.ErrorMessage(err), "expires: "))
	}
	if p.Max, err = nubiq.ParseLifetime(f.max); err != nil {
		return p, fmt.Errorf("--max-expiry (NUBIQ_KEY_MAX_EXPIRY) %s", strings.TrimPrefix(nubiq.ErrorMessage(err), "expires: "))
	}
	if p.Default > p.Max {
		return p, fmt.Errorf("the default key lifetime %s (NUBIQ_KEY_DEFAULT_EXPIRY) exceeds the maximum %s (NUBIQ_KEY_MAX_EXPIRY)",
			nubiq.FormatLifetime(p.Default), nubiq.FormatLifetime(p.Max))
	}
	return p, nil
}

func keysCreate(ctx context.Context, args []string) error {
	var (
		db                            dbFlags
		exp                           expiryFlags
		workspace, name, scopes, when string
		quiet                         bool
	)
	fs := newFlags("keys create", "--workspace ID|NAME --name NAME --scopes SCOPES [--expires 90d] [flags]", `
Creates an API key and prints its secret. The secret is shown only this once: it is not
stored anywhere (only its SHA-256 is), so copy it into your MCP client's configuration now.

--scopes is a comma-separated list, or "all":
`+scopeTable()+`
--expires is a lifetime (30d, 2w, 12h, 90m) or an RFC 3339 time or date (2027-01-31,
2027-01-31T12:00:00Z); without it the key lives for --default-expiry. No key may live longer
than --max-expiry.

Examples:
  nubiq keys create --workspace acme --name claude-code --scopes all --expires 30d
  nubiq keys create --workspace 1 --name kb-sync --scopes documents:read,documents:write
  KEY=$(nubiq keys create --workspace acme --name ci --scopes tickets:read --quiet)`)
	fs.StringVar(&workspace, "workspace", "", "workspace id or name (required)")
	fs.StringVar(&name, "name", "", "what the key is for, e.g. the client or person using it (required)")
	fs.StringVar(&scopes, "scopes", "", `comma-separated scopes, or "all" (required)`)
	fs.StringVar(&when, "expires", "", "lifetime (90d, 12h) or RFC 3339 date; default --default-expiry")
	fs.BoolVar(&quiet, "quiet", false, "print only the secret, for scripts")
	exp.register(fs)
	db.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	var missing []string
	for _, f := range []struct{ flag, v string }{{"--workspace", workspace}, {"--name", name}, {"--scopes", scopes}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		return usageErrorf(fs, "%s required", strings.Join(missing, ", ")+map[bool]string{true: " is", false: " are"}[len(missing) == 1])
	}
	sc, err := nubiq.ParseScopes(scopes)
	if err != nil {
		return err
	}
	policy, err := exp.policy()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	expiresAt, err := policy.ExpiresAt(when, now)
	if err != nil {
		return err
	}

	d, err := openAdmin(ctx, &db)
	if err != nil {
		return err
	}
	defer d.Close()
	w, err := d.FindWorkspace(ctx, workspace)
	if err != nil {
		return err
	}
	k, secret, err := d.CreateAPIKey(ctx, postgres.CreateKeyParams{
		WorkspaceID: w.ID, Name: name, Scopes: sc, ExpiresAt: expiresAt, CreatedBy: createdBy(),
	})
	if err != nil {
		return err
	}
	if quiet {
		fmt.Fprintln(stdout, secret)
		return nil
	}
	fmt.Fprintf(stdout, `Created API key %d %q in workspace %d %q.
  scopes:  %s
  expires: %s (in %s)

    %s

This is the only time this key is shown: Nubiq Hub keeps only its hash. Copy it now; if it is
lost, create a new key and revoke this one (nubiq keys revoke --workspace %d %d).
`, k.ID, k.Name, w.ID, w.Name, describeScopes(k.Scopes), k.ExpiresAt.UTC().Format(time.RFC3339),
		roughDuration(k.ExpiresAt.Sub(now)), secret, w.ID, k.ID)
	return nil
}

func keysList(ctx context.Context, args []string) error {
	var (
		db        dbFlags
		workspace string
		asJSON    bool
	)
	fs := newFlags("keys list", "--workspace ID|NAME [flags]", `
Lists a workspace's API keys, newest first: id, display prefix, name, scopes, expiry, last use
and status (active, expired or revoked). Secrets are never stored, so never shown. Last use
is written every 10 seconds by each server, so it may lag a little.`)
	fs.StringVar(&workspace, "workspace", "", "workspace id or name (required)")
	fs.BoolVar(&asJSON, "json", false, "print a JSON array")
	db.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if workspace == "" {
		return usageErrorf(fs, "--workspace is required")
	}
	d, err := openAdmin(ctx, &db)
	if err != nil {
		return err
	}
	defer d.Close()
	w, err := d.FindWorkspace(ctx, workspace)
	if err != nil {
		return err
	}
	keys, err := d.ListAPIKeys(ctx, w.ID)
	if err != nil {
		return err
	}
	now := time.Now()
	if asJSON {
		type listed struct {
			*nubiq.APIKey
			Status string `json:"status"`
		}
		out := make([]listed, 0, len(keys))
		for _, k := range keys {
			out = append(out, listed{k, k.Status(now)})
		}
		return printJSON(out)
	}
	if len(keys) == 0 {
		fmt.Fprintf(stdout, "Workspace %q has no API keys. Create one with: nubiq keys create --workspace %d --name NAME --scopes all\n", w.Name, w.ID)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPREFIX\tNAME\tSCOPES\tEXPIRES\tLAST USED\tSTATUS")
	for _, k := range keys {
		last := "never"
		if k.LastUsedAt != nil {
			last = k.LastUsedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s…\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Name, describeScopes(k.Scopes),
			k.ExpiresAt.UTC().Format(time.RFC3339), last, k.Status(now))
	}
	return tw.Flush()
}

func keysRevoke(ctx context.Context, args []string) error {
	var (
		db        dbFlags
		workspace string
	)
	fs := newFlags("keys revoke", "--workspace ID|NAME KEY_ID [flags]", `
Revokes an API key (its id is in "nubiq keys list"). Requests with it are refused with 401 on
every server within 2 seconds. Revoking is final; revoking a revoked key changes nothing.`)
	fs.StringVar(&workspace, "workspace", "", "workspace id or name (required)")
	db.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if workspace == "" {
		return usageErrorf(fs, "--workspace is required")
	}
	if len(pos) != 1 {
		return usageErrorf(fs, "expected one key id, got %d arguments", len(pos))
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return usageErrorf(fs, "key id %q is not a number; see nubiq keys list --workspace %s", pos[0], workspace)
	}
	d, err := openAdmin(ctx, &db)
	if err != nil {
		return err
	}
	defer d.Close()
	w, err := d.FindWorkspace(ctx, workspace)
	if err != nil {
		return err
	}
	k, err := d.RevokeAPIKey(ctx, w.ID, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Revoked API key %d %q (%s…) of workspace %q at %s; it stops working on every server within 2 seconds.\n",
		k.ID, k.Name, k.Prefix, w.Name, k.RevokedAt.UTC().Format(time.RFC3339))
	return nil
}

func describeScopes(s []nubiq.Scope) string {
	if len(s) == len(nubiq.AllScopes) && !slices.ContainsFunc(nubiq.AllScopes, func(x nubiq.Scope) bool { return !slices.Contains(s, x) }) {
		return "all"
	}
	return strings.Join(nubiq.ScopeStrings(s), ",")
}

func scopeTable() string {
	var b strings.Builder
	for _, s := range nubiq.AllScopes {
		fmt.Fprintf(&b, "  %-22s %s\n", s, nubiq.ScopeDescriptions[s])
	}
	return b.String()
}

// roughDuration says how far away a time is in the largest sensible unit.
func roughDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int((d+time.Hour)/(24*time.Hour)))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int((d+time.Minute)/time.Hour))
	default:
		return fmt.Sprintf("%d minutes", int((d+30*time.Second)/time.Minute))
	}
}

func createdBy() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	if h, err := os.Hostname(); err == nil {
		return "cli@" + h
	}
	return "cli"
}
