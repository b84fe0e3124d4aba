package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
)

func init() {
	register(&command{name: "migrate", summary: "apply schema migrations (up) or show them (status)", run: runMigrate})
}

func runMigrate(ctx context.Context, args []string) error {
	var db dbFlags
	fs := newFlags("migrate", "up|status [flags]", `
Applies pending schema migrations (River's and Nubiq Hub's) with "up", or lists every
migration and when it was applied with "status". Safe to run from several nodes at once:
migrations run under an advisory lock, each once, each in its own transaction.`)
	db.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	sub := fs.Arg(0)
	if sub != "up" && sub != "status" {
		fmt.Fprintf(os.Stderr, "nubiq migrate: expected \"up\" or \"status\", got %q\n\n", sub)
		fs.Usage()
		return errUsage
	}
	logger := newLogger(db.LogLevel)
	d, err := openDatabase(ctx, &db, logger)
	if err != nil {
		return err
	}
	defer d.Close()
	if sub == "up" {
		applied, err := d.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("applied %d migration(s)\n", len(applied))
		return nil
	}
	st, err := d.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	for _, m := range st {
		at := "pending"
		if !m.AppliedAt.IsZero() {
			at = m.AppliedAt.UTC().Format("2006-01-02T15:04:05Z")
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\n", m.Version, m.Name, at)
	}
	return tw.Flush()
}
