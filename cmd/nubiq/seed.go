package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nubiq/hub/importer"
)

func init() {
	register(&command{name: "seed", summary: "create the demo workspace (seed demo)", run: runSeed})
}

func runSeed(ctx context.Context, args []string) error {
	var db dbFlags
	var name string
	fs := newFlags("seed", "demo [--workspace-name Demo] [flags]", `
Creates a demo workspace on the pro plan: the support team of Tandem, a fictional
shift-scheduling product, with members (owner, admins, agents, one pending invitation),
teams, email, chat, SMS and API channels, a chat widget, 200 customers, about 300
conversations over the last 90 days with ratings, tickets, and a help center of 16 articles
uploaded as documents.upload does and queued for indexing (a running server's workers
extract, chunk and embed them). Everything is generated; run it again and it does nothing.`)
	db.register(fs)
	fs.StringVar(&name, "workspace-name", "Demo", "name of the demo workspace")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "demo" {
		fmt.Fprintln(os.Stderr, `nubiq seed: expected "demo"`)
		fs.Usage()
		return errUsage
	}
	logger := newLogger(db.LogLevel)
	d, err := openMigrated(ctx, &db, logger)
	if err != nil {
		return err
	}
	defer d.Close()
	res, err := importer.SeedDemo(ctx, d.DB, name, time.Now())
	if err != nil {
		return err
	}
	if !res.Created {
		fmt.Printf("workspace %q (id %d) already exists: nothing to do\n", res.Workspace.Name, res.Workspace.ID)
		return nil
	}
	fmt.Printf("created demo workspace %q (id %d, plan %s): %d members, %d teams, %d channels, %d contacts, "+
		"%d conversations with %d messages, %d ratings, %d tickets, %d help-center articles queued for indexing\n",
		res.Workspace.Name, res.Workspace.ID, res.Workspace.Plan, res.Members, res.Teams, res.Channels, res.Contacts,
		res.Conversations, res.Messages, res.Ratings, res.Tickets, res.Articles)
	return nil
}
