package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/nubiq/hub"
)

func init() {
	register(&command{name: "plans", summary: "list plans and set their rate limits", run: runPlans})
}

const plansHelp = `
Plans set each workspace's rate limits: requests per minute and per day, counted per
workspace across every server. "pro" (60/min, 10,000/day) and "enterprise" (300/min,
100,000/day) exist from the start; any other can be added, e.g. for load tests.`

func runPlans(ctx context.Context, args []string) error {
	return runGroup(ctx, "plans", plansHelp, []subcommand{
		{"list", "list plans and their limits", plansList},
		{"set", "create a plan or change its limits", plansSet},
	}, args)
}

func plansList(ctx context.Context, args []string) error {
	var db dbFlags
	fs := newFlags("plans list", "[flags]", `Lists plans and their limits.`)
	db.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := openAdmin(ctx, &db)
	if err != nil {
		return err
	}
	defer d.Close()
	plans, err := d.Plans(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLAN\tPER MINUTE\tPER DAY")
	for _, p := range plans {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", p.Name, p.PerMinute, p.PerDay)
	}
	return tw.Flush()
}

func plansSet(ctx context.Context, args []string) error {
	var (
		db     dbFlags
		p      nubiq.Plan
		perMin int
		perDay int
	)
	fs := newFlags("plans set", "NAME --per-minute N --per-day N [flags]", `
Creates a plan or changes its limits; the new limits apply on every server within 2 seconds.

Example (a plan for load tests, then a workspace on it):
  nubiq plans set bench --per-minute 1000000 --per-day 1000000000
  nubiq workspaces set-plan --workspace acme --plan bench`)
	fs.IntVar(&perMin, "per-minute", 0, "requests per minute per workspace (required)")
	fs.IntVar(&perDay, "per-day", 0, "requests per day per workspace (required)")
	db.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return usageErrorf(fs, "expected one plan name")
	}
	if perMin == 0 || perDay == 0 {
		return usageErrorf(fs, "--per-minute and --per-day are required")
	}
	d, err := openAdmin(ctx, &db)
	if err != nil {
		return err
	}
	defer d.Close()
	p = nubiq.Plan{Name: pos[0], PerMinute: perMin, PerDay: perDay}
	got, err := d.SetPlan(ctx, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Plan %s: %d requests/min, %d requests/day.\n", got.Name, got.PerMinute, got.PerDay)
	return nil
}
