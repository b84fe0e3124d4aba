// Command nubiq is Nubiq Hub's one binary: the server and every admin command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/nubiq/hub"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

// commands is filled by each command's file, so adding one touches only that file.
var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

const usageHeader = `nubiq — Nubiq Hub, a self-hostable knowledge and support service with an MCP server.

Usage:
  nubiq <command> [flags]
  nubiq <command> --help

Commands:
`

const usageFooter = `
Configuration comes from flags and NUBIQ_* environment variables (flags win). Without
NUBIQ_DATABASE_URL, nubiq runs a private PostgreSQL cluster under the data directory
(--data-dir, NUBIQ_DATA_DIR, default ./.nubiq).
`

func usage(w io.Writer) {
	fmt.Fprint(w, usageHeader)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, usageFooter)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(os.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "nubiq: unknown command %q\n\n", args[0])
		usage(os.Stderr)
		return 2
	}
	err := c.run(ctx, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	var e *nubiq.Error
	if errors.As(err, &e) {
		fmt.Fprintf(os.Stderr, "nubiq %s: %s\n", c.name, nubiq.ErrorMessage(err))
	} else {
		fmt.Fprintf(os.Stderr, "nubiq %s: %v\n", c.name, err)
	}
	return 1
}

// errUsage marks a usage error already reported to the user.
var errUsage = errors.New("usage error")

// newFlags returns a flag set whose --help prints the command's description and flags.
func newFlags(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("nubiq "+name, flag.ContinueOnError)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: nubiq %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(description))
		fmt.Fprintln(out, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning flag errors into errUsage (the flag package already printed them).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

func newLogger(level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if st, err := os.Stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}
