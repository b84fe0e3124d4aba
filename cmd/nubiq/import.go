package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/importer"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/postgres"
)

func init() {
	register(&command{name: "import", summary: "import documents, contacts, conversations or tickets from files", run: runImport})
}

const importHelp = `
Imports records into a workspace in batches. Safe to re-run: records are matched by
external_id (contacts also by email), so importing the same file again changes nothing and
a changed record is updated. Interrupted (Ctrl-C, crash), the same command resumes after
the last committed batch; --restart starts the file over.

  documents      files (.md .markdown .txt .html .htm .pdf .docx) and directories of them,
                 walked recursively (external_id: the path under the directory given, or
                 the file's name; title: the front-matter title or first heading, the HTML
                 title, else the file name); or JSONL (.jsonl .ndjson .json), one document
                 per line: {"external_id", "title", "content" | "content_base64",
                 "mime_type", "source_url", "language", "metadata"}; BEIR corpus lines
                 ({"_id", "title", "text"}, e.g. SciFact) work as they are
  contacts       CSV with a header row (external_id, name or first_name/last_name, email,
                 phone, company; other columns become custom attributes) or JSONL
  conversations  JSONL, one conversation per line with its messages, contact, channel,
                 assignee, tags, timestamps and rating
  tickets        JSONL, one ticket per line

Documents are stored and queued for indexing (extract, chunk, embed) exactly as
documents.upload does, in the same transaction as each batch; a document whose external_id
already holds the same bytes is left alone. --wait then follows the indexing until every
queued document is ready or failed, working the indexing jobs in this process too (the
embedder flags choose the embedder as for serve: use your servers' settings), unless
--work=false leaves the work to running servers.

Bad records are reported as FILE:LINE: reason (FILE: reason for document files), skipped
and counted; the exit status is 1 when any failed (with --wait: or failed to index), unless
--allow-errors. docs/IMPORT.md describes every field.`

type importFlags struct {
	db             dbFlags
	embedder       embedderFlags
	ingest         ingestFlags
	maxDocBytes    int64
	idPrefix       string
	wait           bool
	work           bool
	workspace      string
	batchSize      int
	maxRecordBytes int
	allowErrors    bool
	restart        bool
	quiet          bool
}

func runImport(ctx context.Context, args []string) error {
	var f importFlags
	fs := newFlags("import", "documents|contacts|conversations|tickets PATH... --workspace ID|NAME [flags]", importHelp)
	f.db.register(fs)
	f.embedder.register(fs)
	f.ingest.register(fs)
	fs.StringVar(&f.workspace, "workspace", envOr("NUBIQ_WORKSPACE", ""), "workspace id or name (required; env NUBIQ_WORKSPACE)")
	fs.IntVar(&f.batchSize, "batch-size", 0, "records per transaction (default 5000; 2000 for conversations, 200 for documents)")
	fs.IntVar(&f.maxRecordBytes, "max-record-bytes", 0, "longest record (line) accepted; longer ones are reported and skipped (default 10 MiB; for documents, enough for the largest document in base64)")
	fs.BoolVar(&f.allowErrors, "allow-errors", false, "exit 0 even when some records failed")
	fs.BoolVar(&f.restart, "restart", false, "ignore the saved progress of an interrupted import and start the file over")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress display")
	fs.Int64Var(&f.maxDocBytes, "max-document-bytes", int64(envInt("NUBIQ_MAX_UPLOAD_BYTES", nubiq.DefaultMaxUploadBytes)), "documents: largest document accepted, in bytes; larger ones are reported and skipped (env NUBIQ_MAX_UPLOAD_BYTES, as for serve)")
	fs.StringVar(&f.idPrefix, "external-id-prefix", "", "documents: put before the external_id of documents read from files (their path), e.g. kb/")
	fs.BoolVar(&f.wait, "wait", false, "documents: after importing, wait until every queued document is indexed (ready or failed)")
	fs.BoolVar(&f.work, "work", true, "documents with --wait: work the indexing jobs in this process while importing and waiting")
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
	case importer.KindContacts, importer.KindConversations, importer.KindTickets, importer.KindDocuments:
	default:
		fmt.Fprintf(os.Stderr, "nubiq import: unknown kind %q: expected documents, contacts, conversations or tickets\n", kind)
		return errUsage
	}
	if f.wait && kind != importer.KindDocuments {
		fmt.Fprintln(os.Stderr, "nubiq import: --wait is for documents (other records are searchable once imported)")
		return errUsage
	}
	if f.workspace == "" {
		fmt.Fprintln(os.Stderr, "nubiq import: --workspace is required (a workspace id or name)")
		return errUsage
	}
	if f.batchSize < 0 || f.maxRecordBytes < 0 || f.maxDocBytes < 1 {
		fmt.Fprintln(os.Stderr, "nubiq import: --batch-size, --max-record-bytes and --max-document-bytes must be positive")
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

	if f.wait && f.work {
		// Started first, so that indexing runs while the import goes on.
		stop, err := startIngestWorkers(ctx, db.DB, &f.embedder, &f.ingest, f.db.DataDir, logger)
		if err != nil {
			return err
		}
		defer stop()
	}

	start := time.Now()
	failed := int64(0)
	var queued []int64
	for _, p := range files {
		cfg := importer.Config{
			DB: db.DB, WorkspaceID: ws.ID, BatchSize: f.batchSize, MaxRecordBytes: f.maxRecordBytes,
			MaxDocumentBytes: f.maxDocBytes, ExternalIDPrefix: f.idPrefix,
			Restart: f.restart, Report: os.Stderr, Logger: logger,
		}
		if !f.quiet {
			cfg.Progress = importer.NewProgress(os.Stderr, importer.IsTerminal(os.Stderr), filepath.Base(p))
		}
		s, err := importer.Import(ctx, cfg, kind, p)
		if s != nil {
			printSummary(os.Stdout, s)
			failed += s.Counts.Failed
			queued = append(queued, s.Queued...)
		}
		if err != nil {
			return err
		}
	}
	if f.wait {
		n, err := waitIndexed(ctx, db.DB, ws.ID, queued, start, f.quiet)
		if err != nil {
			return err
		}
		failed += n
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
	if len(s.Queued) > 0 {
		fmt.Fprintf(w, "  queued for indexing: %d document(s)\n", len(s.Queued))
	}
	if s.Ignored > 0 {
		fmt.Fprintf(w, "  ignored: %d file(s) of other types (documents are %s)\n", s.Ignored, strings.Join(importer.DocumentExtensions(), " "))
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

// startIngestWorkers works the ingest queue in this process until the returned stop is
// called; jobs still running then are left to be retried by any node.
func startIngestWorkers(ctx context.Context, db *postgres.DB, ef *embedderFlags, inf *ingestFlags, dataDir string, logger *slog.Logger) (stop func(), err error) {
	emb, err := ef.build(ctx, dataDir, logger)
	if err != nil {
		return nil, err
	}
	runner, err := jobs.NewRunner(&jobs.Deps{DB: db, Logger: logger, Embedder: emb, Ingest: inf.config()},
		jobs.Config{IngestWorkers: inf.workers, IngestOnly: true})
	if err != nil {
		return nil, err
	}
	if err := runner.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("start workers: %w", err)
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		runner.Stop(sctx) //nolint:errcheck
	}, nil
}

// waitIndexed follows the indexing of the documents an import queued, and of those an
// interrupted earlier run queued (still unindexed in the workspace), and prints the outcome.
// It returns the number of documents that failed to index.
func waitIndexed(ctx context.Context, db *postgres.DB, workspaceID int64, queued []int64, start time.Time, quiet bool) (int64, error) {
	pending, err := db.UnindexedDocumentIDs(ctx, workspaceID)
	if err != nil {
		return 0, err
	}
	ids := append(slices.Clone(queued), pending...)
	if len(ids) == 0 {
		fmt.Println("nothing to index: no document was queued")
		return 0, nil
	}
	cfg := importer.WaitConfig{DB: db, WorkspaceID: workspaceID, Out: os.Stderr, TTY: importer.IsTerminal(os.Stderr)}
	if quiet {
		cfg.Out = io.Discard
	}
	res, err := importer.WaitIndexed(ctx, cfg, ids)
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("stopped waiting with %d document(s) still to index: they stay queued, and a server (or this command run again with --wait) indexes them", res.Pending())
		}
		return 0, err
	}
	// Rates run from the start of the import: indexing overlaps it.
	total := time.Since(start)
	fmt.Printf("indexed %d document(s): %d ready with %d chunks, %d failed; %s after the import started (%.1f documents/s, %.0f chunks/s)\n",
		res.Documents, res.Ready, res.Chunks, res.Failed, total.Round(100*time.Millisecond),
		float64(res.Ready+res.Failed)/total.Seconds(), float64(res.Chunks)/total.Seconds())
	if res.Failed > 0 {
		const show = 20
		docs, err := db.FailedDocuments(ctx, workspaceID, ids, show)
		if err != nil {
			return res.Failed, err
		}
		for _, d := range docs {
			name := d.ExternalID
			if name == "" {
				name = d.Title
			}
			fmt.Fprintf(os.Stderr, "document %d (%s): %s\n", d.ID, name, d.Error)
		}
		if res.Failed > show {
			fmt.Fprintf(os.Stderr, "… and %d more failed documents (documents.list with status failed lists them)\n", res.Failed-show)
		}
	}
	return res.Failed, nil
}
