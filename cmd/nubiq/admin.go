package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// stdout is where admin commands write their results; tests replace it.
var stdout io.Writer = os.Stdout

// subcommand is one verb of a command group such as "keys create".
type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

// runGroup dispatches "nubiq <group> <verb> …" and prints the group's help.
func runGroup(ctx context.Context, group, description string, subs []subcommand, args []string) error {
	help := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: nubiq %s <command> [flags]\n\n%s\n\nCommands:\n", group, strings.TrimSpace(description))
		for _, s := range subs {
			fmt.Fprintf(w, "  %-10s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(w, "\nRun \"nubiq %s <command> --help\" for a command's flags.\n", group)
	}
	if len(args) == 0 {
		help(os.Stderr)
		return errUsage
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		help(stdout)
		return flag.ErrHelp
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, args[1:])
		}
	}
	fmt.Fprintf(os.Stderr, "nubiq %s: unknown command %q\n\n", group, args[0])
	help(os.Stderr)
	return errUsage
}

// parseInterleaved parses flags that may come before or after positional arguments
// ("keys revoke 12 --workspace acme" as well as "keys revoke --workspace acme 12").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// openAdmin opens the database for an admin command, which never migrates: it says how to.
func openAdmin(ctx context.Context, f *dbFlags) (*database, error) {
	level := f.LogLevel
	if level == "info" && os.Getenv("NUBIQ_LOG_LEVEL") == "" {
		level = "warn" // the cluster's start-up chatter is noise around a command's output
	}
	logger := newLogger(level)
	db, err := openDatabase(ctx, f, logger)
	if err != nil {
		return nil, err
	}
	ok, err := db.Migrated(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	if !ok {
		db.Close()
		return nil, errors.New(`the database schema is missing or out of date: run "nubiq migrate up" first (nubiq serve also migrates on start)`)
	}
	return db, nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
