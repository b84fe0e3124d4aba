package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nubiq/hub"
)

func init() {
	register(&command{name: "workspaces", summary: "create and list workspaces, change their plan", run: runWorkspaces})
}

const workspacesHelp = `
Workspaces are the tenants of Nubiq Hub: every conversation, ticket, document and API key
belongs to exactly one. A workspace's plan sets its rate limits (see "nubiq plans").`

func runWorkspaces(ctx context.Context, args []string) error {
	return runGroup(ctx, "workspaces", workspacesHelp, []subcommand{
		{"create", "create a workspace on a plan", workspacesCreate},
		{"list", "list workspaces with their plan", workspacesList},
		{"set-plan", "move a workspace to another plan", workspacesSetPlan},
	}, args)
}

func workspacesCreate(ctx context.Context, args []string) error {
	var (
		db         dbFlags
		name, plan string
		asJSON     bool
	)
	fs := newFlags("workspaces create", "--name NAME [--plan pro|enterprise] [flags]", `
Creates a workspace and prints its id. Names are unique, case-insensitively. Then create an
API key for it with "nubiq keys create --workspace NAME".

Example:
  nubiq workspaces create --name "Acme Support" --plan enterprise`)
	fs.StringVar(&name, "name", "", "workspace name, 1 to 200 characters (required)")
	fs.StringVar(&plan, "plan", "pro", `plan: "pro" (60 requests/min, 10,000/day), "enterprise" (300/min, 100,000/day) or one made with "nubiq plans set"`)
	fs.BoolVar(&asJSON, "json", false, "print the workspace as JSON")
	db.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q (did you mean --name %q?)", fs.Arg(0), fs.Arg(0))
	}
	if strings.TrimSpace(name) == "" {
		return usageErrorf(fs, "--name is required")
	}
	d, err := openAdmin(ctx, &db)
	if err != nil {
		return err
	}
	defer d.Close()
	w, err := d.CreateWorkspace(ctx, name, plan)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(w)
	}
	fmt.Fprintf(stdout, "Created workspace %d %q on plan %s.\nNext: nubiq keys create --workspace %d --name NAME --scopes all\n", w.ID, w.Name, w.Plan, w.ID)
	return nil
}

func workspacesList(ctx context.Context, args []string) error {
	var (
		db     dbFlags
		asJSON bool
	)
	fs := newFlags("workspaces list", "[flags]", `Lists every workspace with its id, name, plan and creation time.`)
	fs.BoolVar(&asJSON, "json", false, "print a JSON array")
	db.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := openAdmin(ctx, &db)
	if err != nil {
		return err
	}
	defer d.Close()
	ws, err := d.ListWorkspaces(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		if ws == nil {
			ws = []nubiq.Workspace{}
		}
		return printJSON(ws)
	}
	if len(ws) == 0 {
		fmt.Fprintln(stdout, `No workspaces yet. Create one with: nubiq workspaces create --name NAME --plan pro`)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPLAN\tCREATED")
	for _, w := range ws {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", w.ID, w.Name, w.Plan, w.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func workspacesSetPlan(ctx context.Context, args []string) error {
	var (
		db              dbFlags
		workspace, plan string
	)
	fs := newFlags("workspaces set-plan", "--workspace ID|NAME --plan PLAN [flags]", `
Moves a workspace to another plan. The new limits apply on every server within 2 seconds.`)
	fs.StringVar(&workspace, "workspace", "", "workspace id or name (required)")
	fs.StringVar(&plan, "plan", "", "plan name (required; see nubiq plans list)")
	db.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if workspace == "" || plan == "" {
		return usageErrorf(fs, "--workspace and --plan are required")
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
	w, err = d.SetWorkspacePlan(ctx, w.ID, plan)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Workspace %d %q is now on plan %s.\n", w.ID, w.Name, w.Plan)
	return nil
}

// usageErrorf reports a usage error and where to find the command's help.
func usageErrorf(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(os.Stderr, "%s: %s\nRun \"%s --help\" for usage.\n", fs.Name(), fmt.Sprintf(format, args...), fs.Name())
	return errUsage
}
