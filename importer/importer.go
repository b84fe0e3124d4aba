// Package importer loads contacts, conversations, tickets and documents from files into a
// workspace in batches, and generates the demo workspace. Imports are idempotent (records are matched by
// external id, and contacts by email, so re-running a file changes nothing), resumable (each
// batch commits together with the file offset it reaches), and keep going past bad records,
// which are reported with their line and counted.
package importer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// Kinds of import.
const (
	KindContacts      = "contacts"
	KindConversations = "conversations"
	KindTickets       = "tickets"
)

// Config configures an import. Zero values get defaults.
type Config struct {
	DB          *postgres.DB
	WorkspaceID int64
	// BatchSize is the number of records per transaction. Default 5,000 for contacts and
	// tickets, 2,000 for conversations (which carry their messages), 200 for documents.
	BatchSize int
	// MaxRecordBytes bounds one record. Default DefaultMaxRecordBytes, and for documents
	// enough for a document of MaxDocumentBytes in base64.
	MaxRecordBytes int
	// MaxDocumentBytes bounds one document's content, as the server's upload limit does.
	// Default nubiq.DefaultMaxUploadBytes.
	MaxDocumentBytes int64
	// ExternalIDPrefix goes before the external ids of documents imported from files (their
	// path under the directory given, or the file's name), so that two trees can share a
	// workspace.
	ExternalIDPrefix string
	// Restart ignores the recorded progress of an interrupted import of the same file.
	Restart bool
	// Report receives one line per skipped record ("file:line: reason") and per warning.
	// Default: discarded.
	Report io.Writer
	// MaxReported caps the lines written to Report; the counts stay exact. Default 1,000.
	MaxReported int
	// Progress, when set, is told how far the import is.
	Progress *Progress
	// OnBatch, when set, is called after each batch commits with the recorded progress.
	OnBatch func(postgres.ImportProgress)
	Logger  *slog.Logger
}

// Summary is what an import did.
type Summary struct {
	Kind   string
	Path   string
	Counts postgres.ImportCounts // records of the file (for conversations: conversations)
	// Messages counts the messages of imported conversations.
	Messages        postgres.ImportCounts
	ContactsCreated int64 // contacts that conversations or tickets named and that were created
	Warnings        int64
	// ResumedAtLine is the line after which this run resumed an interrupted import (0: from
	// the start). Counts include the records the interrupted runs committed.
	ResumedAtLine int64
	// Processed is the number of records this run went through (less than Counts' total after
	// a resumption); rates are Processed / Elapsed.
	Processed int64
	Lines     int64
	Elapsed   time.Duration
	// Queued lists the documents this run queued for indexing: created, or given new content.
	Queued []int64
	// Ignored counts files of a directory passed over for their type (documents import).
	Ignored int64
}

// ErrInterrupted is returned (wrapped) when the context ended the import: committed batches
// are recorded, and running the same import again resumes after them.
var ErrInterrupted = errors.New("import interrupted")

// batcher turns records of one kind into rows and writes a batch of them.
type batcher interface {
	// header consumes the file's first record when the format has one (CSV).
	header(rec record) error
	hasHeader() bool
	// add parses one record; an error skips it as failed.
	add(rec record) error
	// size is the batch's weight against the batch size (records, or messages).
	size() int
	// flush writes the batch in tx and returns per-record failures by the line they came from.
	flush(ctx context.Context, tx pgx.Tx, s *Summary) (failed []lineError, warned []lineError, err error)
	reset()
}

type lineError struct {
	line   int64
	reason string
}

// Import imports the records of the file at path (kind: contacts, conversations, tickets or
// documents). Contacts may be CSV (by extension .csv, or a first line that is not a JSON
// object) or JSONL; conversations and tickets are JSONL. For documents, path may also be a
// directory (its files of the supported types, recursively) or one document file: anything
// not named .jsonl, .ndjson or .json is read as documents rather than records. The returned error is non-nil only when the import could not go on
// (unreadable file, database failure, ErrInterrupted); bad records are in the summary.
func Import(ctx context.Context, cfg Config, kind, path string) (*Summary, error) {
	if cfg.MaxDocumentBytes <= 0 {
		cfg.MaxDocumentBytes = nubiq.DefaultMaxUploadBytes
	}
	if cfg.MaxRecordBytes == 0 {
		cfg.MaxRecordBytes = DefaultMaxRecordBytes
		if kind == KindDocuments {
			cfg.MaxRecordBytes = int(max(DefaultMaxRecordBytes, cfg.MaxDocumentBytes/3*4+1<<20))
		}
	}
	if cfg.Report == nil {
		cfg.Report = io.Discard
	}
	if cfg.MaxReported == 0 {
		cfg.MaxReported = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if kind == KindDocuments {
		if cfg.BatchSize == 0 {
			cfg.BatchSize = defaultDocumentBatch
		}
		if st, err := os.Stat(path); err == nil && (st.IsDir() || !isJSONLName(path)) {
			return importFiles(ctx, cfg, path)
		}
	}
	start := time.Now()
	s := &Summary{Kind: kind, Path: path}

	f, info, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	source, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(source); err == nil {
		source = real
	}
	fp, err := fingerprint(f, info)
	if err != nil {
		return nil, err
	}

	var b batcher
	switch kind {
	case KindContacts:
		csv, err := looksLikeCSV(f, path)
		if err != nil {
			return nil, err
		}
		b = &contactBatcher{db: cfg.DB, ws: cfg.WorkspaceID, csv: csv}
		if cfg.BatchSize == 0 {
			cfg.BatchSize = 5000
		}
	case KindConversations:
		b = &conversationBatcher{db: cfg.DB, ws: cfg.WorkspaceID}
		if cfg.BatchSize == 0 {
			cfg.BatchSize = 2000
		}
	case KindTickets:
		b = &ticketBatcher{db: cfg.DB, ws: cfg.WorkspaceID}
		if cfg.BatchSize == 0 {
			cfg.BatchSize = 5000
		}
	case KindDocuments:
		b = &documentBatcher{db: cfg.DB, ws: cfg.WorkspaceID, maxBytes: cfg.MaxDocumentBytes}
	default:
		return nil, fmt.Errorf("unknown import kind %q (contacts, conversations, tickets or documents)", kind)
	}

	prog := &postgres.ImportProgress{WorkspaceID: cfg.WorkspaceID, Kind: kind, Source: source, Fingerprint: fp}
	prev, err := cfg.DB.ImportProgressOf(ctx, cfg.WorkspaceID, kind, source)
	if err != nil {
		return nil, err
	}
	if prev != nil && !prev.Done && prev.Fingerprint == fp && !cfg.Restart && prev.Offset > 0 {
		prog.Offset, prog.Line, prog.Counts = prev.Offset, prev.Line, prev.Counts
		s.ResumedAtLine = prev.Line
		cfg.Logger.Info("resuming an interrupted import", "file", path, "after_line", prev.Line)
	} else if prev != nil && !prev.Done && prev.Fingerprint != fp && prev.Offset > 0 {
		cfg.Logger.Info("the file changed since an interrupted import: starting over", "file", path)
	}
	s.Counts = prog.Counts
	resumedRecords := prog.Counts.Total()

	if b.hasHeader() {
		hr := newRecordReader(f, 0, 0, cfg.MaxRecordBytes, true)
		rec, err := hr.next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file (a CSV file needs a header line)", path)
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if rec.Err != nil {
			return nil, fmt.Errorf("%s:%d: header: %w", path, rec.Line, rec.Err)
		}
		if err := b.header(rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, rec.Line, err)
		}
		if prog.Offset < rec.End {
			prog.Offset, prog.Line = rec.End, rec.Line+rec.Lines-1
		}
	}
	if _, err := f.Seek(prog.Offset, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seek %s: %w", path, err)
	}
	rr := newRecordReader(f, prog.Offset, prog.Line, cfg.MaxRecordBytes, b.hasHeader())
	if cfg.Progress != nil {
		cfg.Progress.Start(info.Size(), prog.Offset, prog.Counts.Total())
	}

	reported := 0
	report := func(line int64, reason string, warning bool) {
		reported++
		if reported > cfg.MaxReported {
			return
		}
		what := ""
		if warning {
			what = "warning: "
		}
		msg := fmt.Sprintf("%s:%d: %s%s", path, line, what, reason)
		if cfg.Progress != nil {
			cfg.Progress.Println(cfg.Report, msg)
		} else {
			fmt.Fprintln(cfg.Report, msg)
		}
	}

	var parseFailed []lineError
	eof := false
	for !eof {
		if err := ctx.Err(); err != nil {
			s.Processed = prog.Counts.Total() - resumedRecords
			return s, interrupted(s, prog, start, err)
		}
		b.reset()
		parseFailed = parseFailed[:0]
		batchEnd, batchLine := prog.Offset, prog.Line
		bytesStart := prog.Offset
		for b.size() < cfg.BatchSize && batchEnd-bytesStart < 64<<20 {
			rec, err := rr.next()
			if errors.Is(err, io.EOF) {
				eof = true
				break
			} else if err != nil {
				return s, fmt.Errorf("%s: %w", path, err)
			}
			batchEnd, batchLine = rec.End, rec.Line+rec.Lines-1
			if err := checkRecord(rec); err != nil {
				parseFailed = append(parseFailed, lineError{rec.Line, err.Error()})
				continue
			}
			if err := b.add(rec); err != nil {
				parseFailed = append(parseFailed, lineError{rec.Line, err.Error()})
			}
		}
		var failed, warned []lineError
		bs := &Summary{}
		next := *prog
		err := cfg.DB.InTx(ctx, func(tx pgx.Tx) error {
			var err error
			if b.size() > 0 {
				if failed, warned, err = b.flush(ctx, tx, bs); err != nil {
					return err
				}
			}
			bs.Counts.Failed += int64(len(parseFailed))
			next.Offset, next.Line = batchEnd, batchLine
			next.Counts.Add(bs.Counts)
			next.Done = eof
			return cfg.DB.SaveImportProgressTx(ctx, tx, &next)
		})
		if err != nil {
			if ctx.Err() != nil {
				s.Processed = prog.Counts.Total() - resumedRecords
				return s, interrupted(s, prog, start, ctx.Err())
			}
			return s, fmt.Errorf("%s: batch ending at line %d: %w", path, batchLine, err)
		}
		*prog = next
		s.Counts = prog.Counts
		s.Messages.Add(bs.Messages)
		s.ContactsCreated += bs.ContactsCreated
		s.Queued = append(s.Queued, bs.Queued...)
		s.Warnings += int64(len(warned))
		all := append(append([]lineError{}, parseFailed...), failed...)
		sortLineErrors(all)
		for _, e := range all {
			report(e.line, e.reason, false)
		}
		for _, w := range warned {
			report(w.line, w.reason, true)
		}
		cfg.batchDone(prog, s.Counts.Total())
	}
	cfg.finish(path, reported)
	s.Lines = prog.Line
	s.Processed = s.Counts.Total() - resumedRecords
	s.Elapsed = time.Since(start)
	return s, nil
}

// batchDone tells the progress line and OnBatch that a batch committed.
func (cfg *Config) batchDone(prog *postgres.ImportProgress, records int64) {
	if cfg.Progress != nil {
		cfg.Progress.Update(prog.Offset, records)
	}
	if cfg.OnBatch != nil {
		cfg.OnBatch(*prog)
	}
}

// finish closes the report (how many problems were not shown) and the progress line.
func (cfg *Config) finish(path string, reported int) {
	if reported > cfg.MaxReported {
		fmt.Fprintf(cfg.Report, "%s: %d more problems not shown\n", path, reported-cfg.MaxReported)
	}
	if cfg.Progress != nil {
		cfg.Progress.Finish()
	}
}

func interrupted(s *Summary, p *postgres.ImportProgress, start time.Time, cause error) error {
	s.Counts = p.Counts
	s.Lines = p.Line
	s.Elapsed = time.Since(start)
	return fmt.Errorf("%w after line %d (%v); run the same import again to resume", ErrInterrupted, p.Line, cause)
}

func sortLineErrors(es []lineError) {
	slices.SortStableFunc(es, func(a, b lineError) int { return int(a.line - b.line) })
}

// checkRecord refuses what PostgreSQL cannot store as text, before it fails a whole batch.
func checkRecord(rec record) error {
	if rec.Err != nil {
		return rec.Err
	}
	if !utf8.Valid(rec.Data) {
		return errors.New("not valid UTF-8 (convert the file to UTF-8)")
	}
	if bytes.IndexByte(rec.Data, 0) >= 0 || bytes.Contains(rec.Data, []byte(`\u0000`)) {
		return errors.New("contains a NUL character, which cannot be stored")
	}
	return nil
}

// openRegular opens path for reading, refusing anything but a regular file (a FIFO or a
// device would block or never end; a directory is not a data file).
func openRegular(path string) (*os.File, os.FileInfo, error) {
	// Stat before opening: opening a FIFO would block until something writes to it.
	if st, err := os.Stat(path); err != nil {
		return nil, nil, err
	} else if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file (%s)", path, describeMode(st.Mode()))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a regular file (%s)", path, describeMode(info.Mode()))
	}
	return f, info, nil
}

func describeMode(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

// fingerprint identifies a file's content cheaply: size, modification time and a hash of its
// first 64 KiB. Resuming needs the same file; a changed one starts over (which is safe: the
// import is idempotent).
func fingerprint(f *os.File, info os.FileInfo) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, 64<<10)); err != nil {
		return "", fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d-%d-%x", info.Size(), info.ModTime().UnixNano(), h.Sum(nil)[:8]), nil
}

// looksLikeCSV decides the contacts format: .csv is CSV, .jsonl/.ndjson/.json is JSONL, and
// otherwise a first non-blank character other than '{' means CSV.
func looksLikeCSV(f *os.File, path string) (bool, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return true, nil
	case ".jsonl", ".ndjson", ".json":
		return false, nil
	}
	buf := make([]byte, 4096)
	n, err := f.Read(buf)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(buf[:n], utf8BOM), " \t\r\n")
	return len(t) == 0 || t[0] != '{', nil
}

type contactBatcher struct {
	db    *postgres.DB
	ws    int64
	csv   bool
	head  *contactHeader
	rows  []postgres.ImportContact
	lines []int64
}

func (b *contactBatcher) hasHeader() bool { return b.csv }
func (b *contactBatcher) header(rec record) error {
	if err := checkRecord(rec); err != nil {
		return err
	}
	h, err := parseContactHeader(rec.Data)
	b.head = h
	return err
}
func (b *contactBatcher) add(rec record) error {
	var c postgres.ImportContact
	var err error
	if b.csv {
		c, err = contactFromCSV(b.head, rec.Data)
	} else {
		c, err = contactFromJSON(rec.Data)
	}
	if err != nil {
		return err
	}
	b.rows = append(b.rows, c)
	b.lines = append(b.lines, rec.Line)
	return nil
}
func (b *contactBatcher) size() int { return len(b.rows) }
func (b *contactBatcher) reset()    { b.rows, b.lines = b.rows[:0], b.lines[:0] }
func (b *contactBatcher) flush(ctx context.Context, tx pgx.Tx, s *Summary) ([]lineError, []lineError, error) {
	counts, errs, err := b.db.ImportContactsTx(ctx, tx, b.ws, b.rows)
	if err != nil {
		return nil, nil, err
	}
	s.Counts.Add(counts)
	return b.lineErrors(errs), nil, nil
}
func (b *contactBatcher) lineErrors(errs []postgres.ImportRowError) []lineError {
	out := make([]lineError, len(errs))
	for i, e := range errs {
		out[i] = lineError{b.lines[e.Index], e.Reason}
	}
	return out
}

// dedupe keeps the last record of each external id within a batch: a file that repeats a
// record means its latest version.
func dedupe[T any](rows []T, lines []int64, key func(*T) string) ([]T, []int64, []lineError) {
	last := map[string]int{}
	for i := range rows {
		last[key(&rows[i])] = i
	}
	if len(last) == len(rows) {
		return rows, lines, nil
	}
	var out []T
	var outLines []int64
	var errs []lineError
	for i := range rows {
		if j := last[key(&rows[i])]; j != i {
			errs = append(errs, lineError{lines[i], fmt.Sprintf("superseded by line %d, which has the same external_id %q", lines[j], key(&rows[i]))})
			continue
		}
		out = append(out, rows[i])
		outLines = append(outLines, lines[i])
	}
	return out, outLines, errs
}

type conversationBatcher struct {
	db       *postgres.DB
	ws       int64
	rows     []postgres.ImportConversation
	lines    []int64
	messages int
}

func (b *conversationBatcher) hasHeader() bool         { return false }
func (b *conversationBatcher) header(rec record) error { return nil }
func (b *conversationBatcher) add(rec record) error {
	c, err := conversationFromJSON(rec.Data)
	if err != nil {
		return err
	}
	b.rows = append(b.rows, c)
	b.lines = append(b.lines, rec.Line)
	b.messages += len(c.Messages)
	return nil
}

// size weighs a conversation batch by records and messages, so that long threads make
// smaller batches.
func (b *conversationBatcher) size() int { return len(b.rows) + b.messages/10 }
func (b *conversationBatcher) reset() {
	b.rows, b.lines, b.messages = b.rows[:0], b.lines[:0], 0
}
func (b *conversationBatcher) flush(ctx context.Context, tx pgx.Tx, s *Summary) ([]lineError, []lineError, error) {
	rows, lines, failed := dedupe(b.rows, b.lines, func(c *postgres.ImportConversation) string { return c.ExternalID })
	counts, err := b.db.ImportConversationsTx(ctx, tx, b.ws, rows)
	if err != nil {
		return nil, nil, err
	}
	counts.Conversations.Failed += int64(len(failed))
	s.Counts.Add(counts.Conversations)
	s.Messages.Add(counts.Messages)
	s.ContactsCreated += counts.ContactsCreated
	var warned []lineError
	for _, w := range counts.Warnings {
		warned = append(warned, lineError{lines[w.Index], w.Reason})
	}
	return failed, warned, nil
}

type ticketBatcher struct {
	db    *postgres.DB
	ws    int64
	rows  []postgres.ImportTicket
	lines []int64
}

func (b *ticketBatcher) hasHeader() bool         { return false }
func (b *ticketBatcher) header(rec record) error { return nil }
func (b *ticketBatcher) add(rec record) error {
	t, err := ticketFromJSON(rec.Data)
	if err != nil {
		return err
	}
	b.rows = append(b.rows, t)
	b.lines = append(b.lines, rec.Line)
	return nil
}
func (b *ticketBatcher) size() int { return len(b.rows) }
func (b *ticketBatcher) reset()    { b.rows, b.lines = b.rows[:0], b.lines[:0] }
func (b *ticketBatcher) flush(ctx context.Context, tx pgx.Tx, s *Summary) ([]lineError, []lineError, error) {
	rows, lines, failed := dedupe(b.rows, b.lines, func(t *postgres.ImportTicket) string { return t.ExternalID })
	counts, errs, err := b.db.ImportTicketsTx(ctx, tx, b.ws, rows)
	if err != nil {
		return nil, nil, err
	}
	counts.Tickets.Failed += int64(len(failed))
	s.Counts.Add(counts.Tickets)
	s.ContactsCreated += counts.ContactsCreated
	for _, e := range errs {
		failed = append(failed, lineError{lines[e.Index], e.Reason})
	}
	var warned []lineError
	for _, w := range counts.Warnings {
		warned = append(warned, lineError{lines[w.Index], w.Reason})
	}
	return failed, warned, nil
}
