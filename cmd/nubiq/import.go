package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nubiq/hub/importer"
)

func init() {
	register(&command{name: "import", summary: "import contacts, conversations or tickets from files", run: runImport})
}

const importHelp = `
Imports records into a workspace in batches. Safe to re-run: records are matched by
external_id (contacts also by email), so importing the same file again changes nothing and
a changed record is updated. Interrupted (Ctrl-C, crash), the same command resumes after
the last committed batch; --restart starts the file over.

  contacts       CSV with a header row (external_id, name or first_name/last_name, email,
                 phone, company; other columns become custom attributes) or JSONL
  conversations  JSONL, one conversation per line with its messages, contact, channel,
                 assignee, tags, timestamps and rating
  tickets        JSONL, one ticket per line

Bad records are reported as FILE:LINE: reason, skipped and counted; the exit status is 1
when any failed, unless --allow-errors. docs/IMPORT.md describes every field.`

type importFlags struct {
	db             dbFlags
	workspace      string
	batchSize      int
	maxRecordBytes int
	allowErrors    bool
	restart        bool
	quiet          bool
}

func runImport(ctx context.Context, args []string) error {
	var f importFlags
	fs := newFlags("import", "contacts|conversations|tickets FILE... --workspace ID|NAME [flags]", importHelp)
	f.db.register(fs)
	fs.StringVar(&f.workspace, "workspace", envOr("NUBIQ_WORKSPACE", ""), "workspace id or name (required; env NUBIQ_WORKSPACE)")
	fs.IntVar(&f.batchSize, "batch-size", 0, "records per transaction (default 5000; 2000 for conversations)")
	fs.IntVar(&f.maxRecordBytes, "max-record-bytes", importer.DefaultMaxRecordBytes, "longest record (line) accepted; longer ones are reported and skipped")
	fs.BoolVar(&f.allowErrors, "allow-errors", false, "exit 0 even when some records failed")
	fs.BoolVar(&f.restart, "restart", false, "ignore the saved progress of an interrupted import and start the file over")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress display")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		fmt.Fprintln(os.Stderr, "nubiq import: expected a kind and at least one file")
		fs.Usage()
		return errUsage
	}
	kind, files := pos[0], pos[1:]
	switch kind {
	case importer.KindContacts, importer.KindConversations, importer.KindTickets:
	case "documents":
		return errors.New("importing documents is not supported yet: import contacts, conversations or tickets")
	default:
		fmt.Fprintf(os.Stderr, "nubiq import: unknown kind %q: expected contacts, conversations or tickets\n", kind)
		return errUsage
	}
	if f.workspace == "" {
		fmt.Fprintln(os.Stderr, "nubiq import: --workspace is required (a workspace id or name)")
		return errUsage
	}
	if f.batchSize < 0 || f.maxRecordBytes < 1 {
		fmt.Fprintln(os.Stderr, "nubiq import: --batch-size and --max-record-bytes must be positive")
		return errUsage
	}
	for _, p := range files {
		if _, err := os.Stat(p); err != nil {
			return err
		}
	}

	logger := newLogger(f.db.LogLevel)
	db, err := openMigrated(ctx, &f.db, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	ws, err := db.FindWorkspace(ctx, f.workspace)
	if err != nil {
		return err
	}

	failed := int64(0)
	for _, p := range files {
		cfg := importer.Config{
			DB: db.DB, WorkspaceID: ws.ID, BatchSize: f.batchSize, MaxRecordBytes: f.maxRecordBytes,
			Restart: f.restart, Report: os.Stderr, Logger: logger,
		}
		if !f.quiet {
			cfg.Progress = importer.NewProgress(os.Stderr, importer.IsTerminal(os.Stderr), filepath.Base(p))
		}
		s, err := importer.Import(ctx, cfg, kind, p)
		if s != nil {
			printSummary(os.Stdout, s)
			failed += s.Counts.Failed
		}
		if err != nil {
			return err
		}
	}
	if failed > 0 && !f.allowErrors {
		return fmt.Errorf("%d record(s) failed (reported above); fix them and run again, or pass --allow-errors", failed)
	}
	return nil
}

func printSummary(w io.Writer, s *importer.Summary) {
	c := s.Counts
	rate := ""
	if secs := s.Elapsed.Seconds(); secs > 0 {
		rate = fmt.Sprintf(", %.0f records/s", float64(s.Processed)/secs)
	}
	fmt.Fprintf(w, "%s: %d %s in %s%s: %d created, %d updated, %d unchanged, %d failed\n",
		s.Path, c.Total(), s.Kind, s.Elapsed.Round(1e6), rate, c.Created, c.Updated, c.Unchanged, c.Failed)
	if s.ResumedAtLine > 0 {
		fmt.Fprintf(w, "  resumed an interrupted import after line %d (counts include the earlier run)\n", s.ResumedAtLine)
	}
	if m := s.Messages; m.Total() > 0 {
		fmt.Fprintf(w, "  messages: %d created, %d updated, %d unchanged\n", m.Created, m.Updated, m.Unchanged)
	}
	if s.ContactsCreated > 0 {
		fmt.Fprintf(w, "  contacts created for them: %d\n", s.ContactsCreated)
	}
	if s.Warnings > 0 {
		fmt.Fprintf(w, "  warnings: %d (reported above)\n", s.Warnings)
	}
}

// parseInterspersed parses flags that may come before, between or after positional
// arguments ("import contacts a.csv --workspace Acme"); "--" ends flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
