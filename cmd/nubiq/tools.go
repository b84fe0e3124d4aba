package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nubiq/hub/mcp"
)

func init() {
	register(&command{name: "tools", summary: "list the MCP tools with their scopes (--markdown for the README table)", run: runTools})
}

func runTools(ctx context.Context, args []string) error {
	fs := newFlags("tools", "[--markdown]", `
Lists every MCP tool the server offers, with the scope a key needs to see and call it and a
one-line purpose. --markdown prints the table the README carries.`)
	md := fs.Bool("markdown", false, "print a Markdown table")
	if err := parse(fs, args); err != nil {
		return err
	}
	reg := mcp.NewRegistry(&mcp.Deps{})
	if *md {
		writeToolTable(os.Stdout, reg)
		return nil
	}
	for _, t := range reg.Tools() {
		fmt.Printf("%-28s %-22s %s\n", t.Name, t.Scope, firstSentence(t.Description))
	}
	return nil
}

// writeToolTable writes the Markdown tool reference from the registry, so the README can
// never drift from what the server offers (a test compares them).
func writeToolTable(w io.Writer, reg *mcp.Registry) {
	fmt.Fprintln(w, "| tool | scope | kind | purpose |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, t := range reg.Tools() {
		kind := "read"
		switch {
		case t.Destructive:
			kind = "write, destructive"
		case !t.ReadOnly:
			kind = "write"
		}
		fmt.Fprintf(w, "| `%s` | `%s` | %s | %s |\n", t.Name, t.Scope, kind, strings.ReplaceAll(firstSentence(t.Description), "|", `\|`))
	}
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}
