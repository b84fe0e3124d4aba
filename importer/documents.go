package importer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/postgres"
)

// Documents are imported through the same store call as documents.upload
// (postgres.UploadDocumentsTx): a batch's rows and their ingest jobs commit in one
// transaction with the import's progress, and a document whose external id already holds the
// same bytes is left alone (no new version, no job). Two sources: JSONL files of records, and
// files of the supported types, given one by one or as directories walked recursively.

// KindDocuments is the kind of a documents import.
const KindDocuments = "documents"

// Default batch sizes of a documents import: documents per transaction, and a bound on the
// bytes a batch of files holds in memory.
const (
	defaultDocumentBatch      = 200
	maxDocumentBatchFileBytes = 32 << 20
)

// isJSONLName reports whether a documents import reads path as JSONL records rather than as
// one document.
func isJSONLName(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return true
	}
	return false
}

type documentJSON struct {
	ExternalID    flexString     `json:"external_id"`
	ID            flexString     `json:"_id"` // BEIR corpus files (SciFact, …)
	Title         string         `json:"title"`
	Content       *string        `json:"content"`
	Text          *string        `json:"text"` // BEIR corpus files
	ContentBase64 string         `json:"content_base64"`
	MIMEType      string         `json:"mime_type"`
	SourceURL     string         `json:"source_url"`
	Language      string         `json:"language"`
	Metadata      map[string]any `json:"metadata"`
}

// documentFromJSON parses one JSONL record into an upload, checked as documents.upload
// checks its input, so that nothing the store would refuse reaches a batch.
func documentFromJSON(data []byte, workspaceID, maxBytes int64) (nubiq.DocumentUpload, error) {
	var j documentJSON
	if err := decodeStrict(data, &j); err != nil {
		return nubiq.DocumentUpload{}, err
	}
	u := nubiq.DocumentUpload{WorkspaceID: workspaceID, Title: j.Title, SourceURL: strings.TrimSpace(j.SourceURL),
		Language: strings.TrimSpace(j.Language)}
	switch {
	case j.ExternalID != "" && j.ID != "":
		return u, errors.New("external_id: give external_id or _id, not both")
	case j.ExternalID != "":
		u.ExternalID = string(j.ExternalID)
	case j.ID != "":
		u.ExternalID = string(j.ID)
	default:
		return u, errors.New("external_id: required (re-running an import matches documents by it)")
	}
	if j.Content != nil && j.Text != nil {
		return u, errors.New("content: give content or text, not both")
	}
	text, textField := j.Content, "content"
	if j.Text != nil {
		text, textField = j.Text, "text"
	}
	switch {
	case text != nil && *text != "" && j.ContentBase64 != "":
		return u, fmt.Errorf("%s: give %s (text) or content_base64 (bytes), not both", textField, textField)
	case text != nil && *text != "":
		if int64(len(*text)) > maxBytes {
			return u, tooLarge(textField, int64(len(*text)), maxBytes)
		}
		u.Raw = []byte(*text)
		u.MIMEType = indexer.MIMEPlain
		if j.MIMEType != "" {
			mt, err := indexer.NormalizeMIME(j.MIMEType, "")
			if err != nil {
				return u, unsupportedMIME(j.MIMEType)
			}
			if mt != indexer.MIMEPlain && mt != indexer.MIMEMarkdown && mt != indexer.MIMEHTML {
				return u, fmt.Errorf("mime_type: %s must be given as content_base64; %s is for text/plain, text/markdown or text/html", mt, textField)
			}
			u.MIMEType = mt
		}
	case j.ContentBase64 != "":
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(j.ContentBase64))
		if err != nil {
			if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimSpace(j.ContentBase64)); err != nil {
				return u, fmt.Errorf("content_base64: not valid base64: %v", err)
			}
		}
		if int64(len(raw)) > maxBytes {
			return u, tooLarge("content_base64", int64(len(raw)), maxBytes)
		}
		if len(raw) == 0 {
			return u, errors.New("content_base64: is empty")
		}
		if j.MIMEType == "" {
			return u, fmt.Errorf("mime_type: required with content_base64; supported: %s", strings.Join(indexer.SupportedMIMETypes(), ", "))
		}
		mt, err := indexer.NormalizeMIME(j.MIMEType, "")
		if err != nil {
			return u, unsupportedMIME(j.MIMEType)
		}
		u.Raw, u.MIMEType = raw, mt
	default:
		return u, errors.New("content: required (content or text for text, content_base64 with mime_type for bytes), and not empty")
	}
	if len(j.Metadata) > 0 {
		u.Metadata = make(map[string]string, len(j.Metadata))
		for k, v := range j.Metadata {
			switch v := v.(type) {
			case string:
				u.Metadata[k] = v
			case float64, bool:
				b, _ := json.Marshal(v)
				u.Metadata[k] = string(b)
			case nil:
			default:
				return u, fmt.Errorf("metadata.%s: must be a string, number or boolean", k)
			}
		}
	}
	if err := u.Validate(); err != nil {
		return u, errors.New(fieldError(err))
	}
	return u, nil
}

// fieldError renders a validation error as "field: message".
func fieldError(err error) string {
	var e *nubiq.Error
	if errors.As(err, &e) && e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return nubiq.ErrorMessage(err)
}

func tooLarge(field string, size, limit int64) error {
	return fmt.Errorf("%s: the document is %s; the limit is %s (raise it with --max-document-bytes)",
		field, nubiq.FormatBytes(size), nubiq.FormatBytes(limit))
}

func unsupportedMIME(got string) error {
	return fmt.Errorf("mime_type: unsupported type %q; supported: %s", got, strings.Join(indexer.SupportedMIMETypes(), ", "))
}

type documentBatcher struct {
	db       *postgres.DB
	ws       int64
	maxBytes int64
	rows     []nubiq.DocumentUpload
	lines    []int64
}

func (b *documentBatcher) hasHeader() bool         { return false }
func (b *documentBatcher) header(rec record) error { return nil }
func (b *documentBatcher) add(rec record) error {
	u, err := documentFromJSON(rec.Data, b.ws, b.maxBytes)
	if err != nil {
		return err
	}
	b.rows = append(b.rows, u)
	b.lines = append(b.lines, rec.Line)
	return nil
}
func (b *documentBatcher) size() int { return len(b.rows) }
func (b *documentBatcher) reset()    { b.rows, b.lines = b.rows[:0], b.lines[:0] }
func (b *documentBatcher) flush(ctx context.Context, tx pgx.Tx, s *Summary) ([]lineError, []lineError, error) {
	rows, _, failed := dedupe(b.rows, b.lines, func(u *nubiq.DocumentUpload) string { return u.ExternalID })
	if err := uploadDocuments(ctx, b.db, tx, rows, s); err != nil {
		return nil, nil, err
	}
	s.Counts.Failed += int64(len(failed))
	return failed, nil, nil
}

// uploadDocuments uploads a batch in tx and counts what it did: a new document is created,
// new content or new details updated, the same bytes and details unchanged. Documents queued
// for indexing are added to s.Queued.
func uploadDocuments(ctx context.Context, db *postgres.DB, tx pgx.Tx, rows []nubiq.DocumentUpload, s *Summary) error {
	if len(rows) == 0 {
		return nil
	}
	res, err := db.UploadDocumentsTx(ctx, tx, rows)
	if err != nil {
		return err
	}
	for _, r := range res {
		switch {
		case r.Created:
			s.Counts.Created++
		case r.Unchanged && !r.DetailsChanged:
			s.Counts.Unchanged++
		default:
			s.Counts.Updated++
		}
		if r.JobID != 0 {
			s.Queued = append(s.Queued, r.DocumentID)
		}
	}
	return nil
}

// documentFile is one file of a documents import from files.
type documentFile struct {
	path  string // as found: the directory given joined with rel
	rel   string // slash-separated path under the directory given (the base name for a file)
	size  int64
	mtime time.Time
}

// listDocumentFiles lists the files a documents import of path reads: path itself when it is
// a file, else the files under it of the supported types, in lexical order. Hidden files and
// directories (a leading dot) are passed over; ignored counts other files of unsupported types.
func listDocumentFiles(path string) (files []documentFile, ignored int64, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return nil, 0, fmt.Errorf("%s: not a regular file (%s)", path, describeMode(st.Mode()))
		}
		if _, err := indexer.NormalizeMIME("", path); err != nil {
			return nil, 0, fmt.Errorf("%s: not a document type the indexer reads (%s) nor JSONL (.jsonl, .ndjson, .json)",
				path, strings.Join(DocumentExtensions(), " "))
		}
		return []documentFile{{path: path, rel: filepath.Base(path), size: st.Size(), mtime: st.ModTime()}}, 0, nil
	}
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != path && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if _, err := indexer.NormalizeMIME("", p); err != nil {
			ignored++
			return nil
		}
		info, err := os.Stat(p) // follows a symlink to its file
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(path, p)
		if err != nil {
			return err
		}
		files = append(files, documentFile{path: p, rel: filepath.ToSlash(rel), size: info.Size(), mtime: info.ModTime()})
		return nil
	})
	return files, ignored, err
}

// DocumentExtensions lists the file extensions a documents import reads.
func DocumentExtensions() []string {
	return []string{".md", ".markdown", ".txt", ".text", ".html", ".htm", ".xhtml", ".pdf", ".docx"}
}

// listingFingerprint identifies a listing of files: their names, sizes and modification
// times. Resuming an import needs the same listing.
func listingFingerprint(files []documentFile) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", f.rel, f.size, f.mtime.UnixNano())
	}
	return fmt.Sprintf("files-%d-%x", len(files), h.Sum(nil)[:12])
}

// readDocumentFile reads one file into an upload. The external id is prefix + rel; the title
// is the document's own (a markdown heading or front-matter title, an HTML title) or else
// its file name.
func readDocumentFile(f documentFile, workspaceID, maxBytes int64, prefix string) (nubiq.DocumentUpload, error) {
	u := nubiq.DocumentUpload{WorkspaceID: workspaceID, ExternalID: prefix + f.rel}
	mt, err := indexer.NormalizeMIME("", f.path)
	if err != nil {
		return u, err
	}
	u.MIMEType = mt
	st, err := os.Stat(f.path)
	if err != nil {
		return u, err
	}
	if !st.Mode().IsRegular() {
		return u, fmt.Errorf("not a regular file (%s)", describeMode(st.Mode()))
	}
	if st.Size() > maxBytes {
		return u, fmt.Errorf("the file is %s; the limit is %s (raise it with --max-document-bytes)", nubiq.FormatBytes(st.Size()), nubiq.FormatBytes(maxBytes))
	}
	fh, err := os.Open(f.path)
	if err != nil {
		return u, err
	}
	defer fh.Close()
	// Read at most one byte past the limit: the file may have grown since it was listed.
	raw, err := io.ReadAll(io.LimitReader(fh, maxBytes+1))
	if err != nil {
		return u, fmt.Errorf("read: %w", err)
	}
	if int64(len(raw)) > maxBytes {
		return u, fmt.Errorf("the file is over the limit of %s (raise it with --max-document-bytes)", nubiq.FormatBytes(maxBytes))
	}
	if len(raw) == 0 {
		return u, errors.New("empty file")
	}
	u.Raw = raw
	u.Title = documentTitle(mt, raw, f.rel)
	if err := u.Validate(); err != nil {
		return u, errors.New(fieldError(err))
	}
	return u, nil
}

var (
	htmlTitleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	htmlH1RE    = regexp.MustCompile(`(?is)<h1[^>]*>(.*?)</h1>`)
	htmlTagRE   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// documentTitle finds a document's title: markdown front matter's title or its first
// heading, an HTML title or first h1, else the file name without its extension.
func documentTitle(mimeType string, raw []byte, rel string) string {
	var t string
	switch mimeType {
	case indexer.MIMEMarkdown:
		t = markdownTitle(raw)
	case indexer.MIMEHTML:
		head := raw[:min(len(raw), 64<<10)]
		for _, re := range []*regexp.Regexp{htmlTitleRE, htmlH1RE} {
			if m := re.FindSubmatch(head); m != nil {
				t = html.UnescapeString(htmlTagRE.ReplaceAllString(string(m[1]), " "))
				if t = strings.Join(strings.Fields(t), " "); t != "" {
					break
				}
			}
		}
	}
	if !utf8.ValidString(t) || strings.ContainsRune(t, 0) {
		t = ""
	}
	if t == "" {
		base := filepath.Base(filepath.FromSlash(rel))
		t = strings.TrimSuffix(base, filepath.Ext(base))
		t = strings.ToValidUTF8(strings.ReplaceAll(t, "\x00", ""), "?")
		if strings.TrimSpace(t) == "" {
			t = strings.ToValidUTF8(base, "?")
		}
	}
	if r := []rune(t); len(r) > nubiq.MaxTitleRunes {
		t = strings.TrimSpace(string(r[:nubiq.MaxTitleRunes-1])) + "…"
	}
	return t
}

func markdownTitle(raw []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	first, inFront := true, false
	for n := 0; sc.Scan() && n < 500; n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if first {
			first = false
			line = strings.TrimPrefix(line, "\ufeff")
			if line == "---" {
				inFront = true
				continue
			}
		}
		if inFront {
			if line == "---" || line == "..." {
				inFront = false
			} else if v, ok := strings.CutPrefix(line, "title:"); ok {
				if v = strings.Trim(strings.TrimSpace(v), `"'`); v != "" {
					return v
				}
			}
			continue
		}
		trimmed := strings.TrimLeft(line, " ")
		if len(line)-len(trimmed) > 3 {
			continue
		}
		if h := strings.TrimLeft(trimmed, "#"); h != trimmed && len(trimmed)-len(h) <= 6 && (h == "" || h[0] == ' ' || h[0] == '\t') {
			if h = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(h), "#")); h != "" {
				return h
			}
		}
	}
	return ""
}

// importFiles imports the document files at path (a file or a directory). Resumption works
// on the sorted listing: each batch commits with the number of files it reached.
func importFiles(ctx context.Context, cfg Config, path string) (*Summary, error) {
	start := time.Now()
	s := &Summary{Kind: KindDocuments, Path: path}
	files, ignored, err := listDocumentFiles(path)
	if err != nil {
		return nil, err
	}
	s.Ignored = ignored
	source, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(source); err == nil {
		source = real
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	fp := listingFingerprint(files)
	prog := &postgres.ImportProgress{WorkspaceID: cfg.WorkspaceID, Kind: KindDocuments, Source: source, Fingerprint: fp}
	prev, err := cfg.DB.ImportProgressOf(ctx, cfg.WorkspaceID, KindDocuments, source)
	if err != nil {
		return nil, err
	}
	if prev != nil && !prev.Done && prev.Fingerprint == fp && !cfg.Restart && prev.Line > 0 && prev.Line <= int64(len(files)) {
		prog.Offset, prog.Line, prog.Counts = prev.Offset, prev.Line, prev.Counts
		s.ResumedAtLine = prev.Line
		cfg.Logger.Info("resuming an interrupted import", "path", path, "after_files", prev.Line)
	} else if prev != nil && !prev.Done && prev.Fingerprint != fp && prev.Line > 0 {
		cfg.Logger.Info("the files changed since an interrupted import: starting over", "path", path)
	}
	s.Counts = prog.Counts
	resumed := prog.Counts.Total()
	if cfg.Progress != nil {
		cfg.Progress.Start(total, prog.Offset, prog.Counts.Total())
	}
	reported := 0
	report := func(f documentFile, reason string) {
		reported++
		if reported > cfg.MaxReported {
			return
		}
		msg := fmt.Sprintf("%s: %s", f.path, reason)
		if cfg.Progress != nil {
			cfg.Progress.Println(cfg.Report, msg)
		} else {
			fmt.Fprintln(cfg.Report, msg)
		}
	}
	finish := func() {
		s.Counts = prog.Counts
		s.Lines = prog.Line
		s.Processed = prog.Counts.Total() - resumed
		s.Elapsed = time.Since(start)
	}

	var rows []nubiq.DocumentUpload
	type failure struct {
		f      documentFile
		reason string
	}
	var failures []failure
	i := int(prog.Line)
	for i < len(files) || (len(files) == 0 && !prog.Done) {
		if err := ctx.Err(); err != nil {
			finish()
			return s, fmt.Errorf("%w after %d of %d files (%v); run the same import again to resume", ErrInterrupted, prog.Line, len(files), err)
		}
		rows, failures = rows[:0], failures[:0]
		next := *prog
		var batchBytes int64
		for i < len(files) && len(rows) < cfg.BatchSize && batchBytes < maxDocumentBatchFileBytes {
			f := files[i]
			i++
			next.Line, next.Offset = int64(i), next.Offset+f.size
			u, err := readDocumentFile(f, cfg.WorkspaceID, cfg.MaxDocumentBytes, cfg.ExternalIDPrefix)
			if err != nil {
				failures = append(failures, failure{f, err.Error()})
				continue
			}
			rows = append(rows, u)
			batchBytes += int64(len(u.Raw))
		}
		bs := &Summary{}
		next.Done = i >= len(files)
		err := cfg.DB.InTx(ctx, func(tx pgx.Tx) error {
			if err := uploadDocuments(ctx, cfg.DB, tx, rows, bs); err != nil {
				return err
			}
			bs.Counts.Failed += int64(len(failures))
			next.Counts = prog.Counts
			next.Counts.Add(bs.Counts)
			return cfg.DB.SaveImportProgressTx(ctx, tx, &next)
		})
		if err != nil {
			finish()
			if ctx.Err() != nil {
				return s, fmt.Errorf("%w after %d of %d files (%v); run the same import again to resume", ErrInterrupted, prog.Line, len(files), ctx.Err())
			}
			if prog.Line >= int64(len(files)) {
				return s, fmt.Errorf("%s: %w", path, err)
			}
			return s, fmt.Errorf("batch of files %d to %d (from %s): %w; nothing of this batch was written, and running the import again resumes with it",
				prog.Line+1, i, files[prog.Line].path, err)
		}
		*prog = next
		s.Queued = append(s.Queued, bs.Queued...)
		for _, f := range failures {
			report(f.f, f.reason)
		}
		cfg.batchDone(prog, prog.Counts.Total())
	}
	cfg.finish(path, reported)
	finish()
	return s, nil
}

// sortedIDs returns ids sorted without duplicates.
func sortedIDs(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
