package importer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub/importer"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/postgres"
)

// docState is what the store holds for one document, and its ingest job.
type docState struct {
	Title, MIME, Status string
	Version             int
	Jobs                int64
	Queue               string
}

func (e *env) docs() map[string]docState {
	e.t.Helper()
	rows, err := e.db.Pool.Query(context.Background(), `
		SELECT d.external_id, d.title, d.mime_type, d.status, d.version,
			(SELECT count(*) FROM river_job j WHERE j.kind = 'ingest_document' AND (j.args->>'document_id')::bigint = d.id),
			coalesce((SELECT j.queue FROM river_job j WHERE j.id = d.job_id), '')
		FROM documents d WHERE d.workspace_id = $1`, e.ws)
	require.NoError(e.t, err)
	defer rows.Close()
	out := map[string]docState{}
	for rows.Next() {
		var id string
		var s docState
		require.NoError(e.t, rows.Scan(&id, &s.Title, &s.MIME, &s.Status, &s.Version, &s.Jobs, &s.Queue))
		out[id] = s
	}
	require.NoError(e.t, rows.Err())
	return out
}

func TestImportDocumentsJSONL(t *testing.T) {
	e := newEnv(t)
	html := base64.StdEncoding.EncodeToString([]byte("<html><body><h1>Refunds</h1><p>We refund within 14 days.</p></body></html>"))
	big := strings.Repeat("x", 2000)
	lines := []string{
		`{"external_id": "kb-1", "title": "Reset your password", "content": "# Reset\nUse the link.", "mime_type": "text/markdown", "metadata": {"collection": "help", "rank": 3}}`, // 1
		`{"_id": 4983, "title": "Cerebral white matter", "text": "Alterations of the architecture.", "metadata": {}}`,                                                               // 2: BEIR
		`{"external_id": "kb-2", "title": "Refunds", "content_base64": "` + html + `", "mime_type": "text/html", "source_url": "https://help.example.com/refunds"}`,                 // 3
		`{"external_id": "kb-3", "title": "", "content": "no title"}`,                                                                                                               // 4
		`{"title": "No id", "content": "x"}`, // 5
		`{"external_id": "kb-4", "title": "Both", "content": "a", "content_base64": "YQ==", "mime_type": "text/plain"}`,      // 6
		`{"external_id": "kb-5", "title": "Bytes without type", "content_base64": "YQ=="}`,                                   // 7
		`{"external_id": "kb-6", "title": "Spreadsheet", "content_base64": "YQ==", "mime_type": "application/vnd.ms-excel"}`, // 8
		`{"external_id": "kb-7", "title": "Too big", "content": "` + big + `"}`,                                              // 9
		`{"external_id": "kb-8", "title": "Typo", "contnet": "x"}`,                                                           // 10
		`{"external_id": "kb-9", "title": "Nested", "content": "x", "metadata": {"a": {"b": 1}}}`,                            // 11
		`{"external_id": "kb-10", "title": "PDF as text", "content": "x", "mime_type": "application/pdf"}`,                   // 12
		`not json`, // 13
		`{"external_id": "kb-11", "title": "Bad URL", "content": "x", "source_url": "ftp://x"}`, // 14
		`{"external_id": "kb-12", "title": "First", "content": "old"}`,                          // 15
		`{"external_id": "kb-12", "title": "Second", "content": "new"}`,                         // 16
		`{"external_id": "kb-13", "title": "No content"}`,                                       // 17
		`{"external_id": {"id": 1}, "title": "Object id", "content": "x"}`,                      // 18
	}
	path := e.write("docs.jsonl", strings.Join(lines, "\n")+"\n")
	limit := func(c *importer.Config) { c.MaxDocumentBytes = 1000 }
	s, report := e.run(importer.KindDocuments, path, limit)
	require.Equal(t, counts(4, 0, 0, 14), s.Counts, report)
	require.Len(t, s.Queued, 4)
	for _, want := range []string{
		"docs.jsonl:4: title: must be 1 to 500 characters, got 0",
		"docs.jsonl:5: external_id: required",
		"docs.jsonl:6: content: give content (text) or content_base64 (bytes), not both",
		"docs.jsonl:7: mime_type: required with content_base64",
		"docs.jsonl:8: mime_type: unsupported type \"application/vnd.ms-excel\"",
		"docs.jsonl:9: content: the document is 2000 bytes; the limit is 1000 bytes",
		"docs.jsonl:10: unknown field \"contnet\"",
		"docs.jsonl:11: metadata.a: must be a string, number or boolean",
		"docs.jsonl:12: mime_type: application/pdf must be given as content_base64",
		"docs.jsonl:13: invalid JSON",
		"docs.jsonl:14: source_url: must be an absolute http or https URL",
		"docs.jsonl:15: superseded by line 16",
		"docs.jsonl:17: content: required",
		"docs.jsonl:18: external_id: must be a string, got JSON object",
	} {
		require.Contains(t, report, want)
	}
	d := e.docs()
	require.Len(t, d, 4)
	require.Equal(t, docState{"Reset your password", indexer.MIMEMarkdown, "queued", 1, 1, "ingest"}, d["kb-1"])
	require.Equal(t, docState{"Cerebral white matter", indexer.MIMEPlain, "queued", 1, 1, "ingest"}, d["4983"])
	require.Equal(t, indexer.MIMEHTML, d["kb-2"].MIME)
	require.Equal(t, "Second", d["kb-12"].Title)
	require.Equal(t, int64(4), e.count(`SELECT count(*) FROM river_job WHERE kind = 'ingest_document'`))
	require.JSONEq(t, `{"collection": "help", "rank": "3"}`, e.str(`SELECT metadata::text FROM documents WHERE external_id = 'kb-1'`))

	// The same file again: nothing new, no jobs.
	s, _ = e.run(importer.KindDocuments, path, limit)
	require.Equal(t, counts(0, 0, 4, 14), s.Counts)
	require.Empty(t, s.Queued)
	require.Equal(t, int64(4), e.count(`SELECT count(*) FROM river_job WHERE kind = 'ingest_document'`))

	// New content is a new version with a job; a new title alone is an update without one.
	lines[0] = strings.Replace(lines[0], "Use the link.", "Use the link in the email.", 1)
	lines[1] = strings.Replace(lines[1], "Cerebral white matter", "Cerebral white matter in newborns", 1)
	path = e.write("docs.jsonl", strings.Join(lines, "\n")+"\n")
	s, _ = e.run(importer.KindDocuments, path, limit)
	require.Equal(t, counts(0, 2, 2, 14), s.Counts)
	require.Len(t, s.Queued, 1)
	d = e.docs()
	require.Equal(t, 2, d["kb-1"].Version)
	require.Equal(t, int64(2), d["kb-1"].Jobs)
	require.Equal(t, docState{"Cerebral white matter in newborns", indexer.MIMEPlain, "queued", 1, 1, "ingest"}, d["4983"])
}

func (e *env) str(q string, args ...any) string {
	e.t.Helper()
	var s string
	require.NoError(e.t, e.db.Pool.QueryRow(context.Background(), q, args...).Scan(&s))
	return s
}

// writeTree writes files under dir (names with slashes make directories).
func writeTree(t *testing.T, dir string, files map[string]string) {
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func TestImportDocumentsDirectory(t *testing.T) {
	e := newEnv(t)
	root := filepath.Join(e.dir, "kb")
	writeTree(t, root, map[string]string{
		"getting-started.md":         "---\ntitle: \"Getting started\"\nauthor: x\n---\n\nWelcome.\n",
		"guides/billing/invoices.md": "Intro line\n\n## Invoices and receipts\n\nText.\n",
		"guides/shifts.html":         "<html><head><title>Shifts &amp; rotas</title></head><body><p>Plan shifts.</p></body></html>",
		"guides/no_title_here.txt":   "Plain words.",
		"guides/broken.pdf":          "this is not a PDF",
		"empty.md":                   "",
		"huge.txt":                   strings.Repeat("y", 3000),
		"logo.png":                   "\x89PNG",
		"notes.csv":                  "a,b",
		".git/config.txt":            "hidden",
		"guides/.draft.md":           "# Hidden draft",
	})
	limit := func(c *importer.Config) { c.MaxDocumentBytes = 2048; c.ExternalIDPrefix = "kb/" }
	s, report := e.run(importer.KindDocuments, root, limit)
	require.Equal(t, counts(5, 0, 0, 2), s.Counts, report)
	require.Equal(t, int64(2), s.Ignored)
	require.Contains(t, report, filepath.Join(root, "empty.md")+": empty file")
	require.Contains(t, report, filepath.Join(root, "huge.txt")+": the file is 3000 bytes; the limit is 2 KiB (2048 bytes)")
	d := e.docs()
	require.Len(t, d, 5)
	require.Equal(t, docState{"Getting started", indexer.MIMEMarkdown, "queued", 1, 1, "ingest"}, d["kb/getting-started.md"])
	require.Equal(t, "Invoices and receipts", d["kb/guides/billing/invoices.md"].Title)
	require.Equal(t, docState{"Shifts & rotas", indexer.MIMEHTML, "queued", 1, 1, "ingest"}, d["kb/guides/shifts.html"])
	require.Equal(t, "no_title_here", d["kb/guides/no_title_here.txt"].Title)
	require.Equal(t, indexer.MIMEPDF, d["kb/guides/broken.pdf"].MIME)

	s, _ = e.run(importer.KindDocuments, root, limit)
	require.Equal(t, counts(0, 0, 5, 2), s.Counts)
	require.Empty(t, s.Queued)
	require.Equal(t, int64(5), e.count(`SELECT count(*) FROM river_job WHERE kind = 'ingest_document'`))

	// One file given by itself is named by its base name.
	s, _ = e.run(importer.KindDocuments, filepath.Join(root, "guides", "shifts.html"))
	require.Equal(t, counts(1, 0, 0, 0), s.Counts)
	require.Contains(t, e.docs(), "shifts.html")

	_, err := importer.Import(context.Background(), importer.Config{DB: e.db, WorkspaceID: e.ws}, importer.KindDocuments, filepath.Join(root, "logo.png"))
	require.ErrorContains(t, err, "logo.png: not a document type the indexer reads")
}

// TestImportDocumentsBatchFailureAndResume makes the database refuse one document: its batch
// fails whole (no document, no job of it), earlier batches stay, and the next run resumes
// after them once the cause is gone.
func TestImportDocumentsBatchFailureAndResume(t *testing.T) {
	for _, form := range []string{"files", "jsonl"} {
		t.Run(form, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			root := filepath.Join(e.dir, "tree")
			var jl strings.Builder
			files := map[string]string{}
			for i := range 25 {
				files[fmt.Sprintf("a%02d.md", i)] = fmt.Sprintf("# Article %d\n\nBody %d.\n", i, i)
				fmt.Fprintf(&jl, `{"external_id": "a%02d.md", "title": "Article %d", "content": "Body %d."}`+"\n", i, i, i)
			}
			writeTree(t, root, files)
			path := root
			if form == "jsonl" {
				path = e.write("tree.jsonl", jl.String())
			}
			_, err := e.db.Pool.Exec(ctx, `
				CREATE FUNCTION refuse_doc() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN IF NEW.title = 'Article 17' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$;
				CREATE TRIGGER refuse_doc BEFORE INSERT ON documents FOR EACH ROW EXECUTE FUNCTION refuse_doc();`)
			require.NoError(t, err)
			batch := func(c *importer.Config) { c.BatchSize = 5 }
			cfg := importer.Config{DB: e.db, WorkspaceID: e.ws, BatchSize: 5}
			_, err = importer.Import(ctx, cfg, importer.KindDocuments, path)
			require.ErrorContains(t, err, "refused for the test")
			require.Equal(t, int64(15), e.count(`SELECT count(*) FROM documents`))
			require.Equal(t, int64(15), e.count(`SELECT count(*) FROM river_job WHERE kind = 'ingest_document'`))

			_, err = e.db.Pool.Exec(ctx, `DROP TRIGGER refuse_doc ON documents`)
			require.NoError(t, err)
			// Interrupted again right after the next batch commits.
			cctx, cancel := context.WithCancel(ctx)
			cfg.OnBatch = func(postgres.ImportProgress) { cancel() }
			_, err = importer.Import(cctx, cfg, importer.KindDocuments, path)
			require.ErrorIs(t, err, importer.ErrInterrupted)
			require.Equal(t, int64(20), e.count(`SELECT count(*) FROM documents`))

			s, report := e.run(importer.KindDocuments, path, batch)
			require.Equal(t, counts(25, 0, 0, 0), s.Counts, report)
			require.Equal(t, int64(20), s.ResumedAtLine)
			require.Equal(t, int64(5), s.Processed)
			require.Len(t, s.Queued, 5)
			require.Equal(t, int64(25), e.count(`SELECT count(*) FROM documents`))
			require.Equal(t, int64(25), e.count(`SELECT count(*) FROM river_job WHERE kind = 'ingest_document'`))

			// Completed: a new run starts from the top and changes nothing.
			s, _ = e.run(importer.KindDocuments, path, batch)
			require.Equal(t, counts(0, 0, 25, 0), s.Counts)
			require.Zero(t, s.ResumedAtLine)
		})
	}
}

// TestImportDocumentsIndexed works the ingest queue as a server would and waits: imported
// documents become ready with chunks, and one that cannot be read is reported failed.
func TestImportDocumentsIndexed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := filepath.Join(e.dir, "kb")
	writeTree(t, root, map[string]string{
		"a.md":       "# Shifts\n\n" + strings.Repeat("Plan your team's shifts a week ahead. ", 200),
		"b.html":     "<title>Rotas</title><p>Rotas repeat every week.</p>",
		"c.txt":      "Time tracking starts when the shift does.",
		"broken.pdf": "not a pdf",
	})
	runner, err := jobs.NewRunner(&jobs.Deps{DB: e.db, Embedder: indexer.NewHashEmbedder(64)},
		jobs.Config{IngestOnly: true, FetchCooldown: 10 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, runner.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		runner.Stop(sctx) //nolint:errcheck
	})
	s, _ := e.run(importer.KindDocuments, root)
	require.Len(t, s.Queued, 4)
	var out bytes.Buffer
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := importer.WaitIndexed(wctx, importer.WaitConfig{DB: e.db, WorkspaceID: e.ws, Out: &out, Poll: 20 * time.Millisecond}, s.Queued)
	require.NoError(t, err, out.String())
	require.Equal(t, int64(4), res.Documents)
	require.Equal(t, int64(3), res.Ready)
	require.Equal(t, int64(1), res.Failed)
	require.Greater(t, res.Chunks, int64(3))
	require.Equal(t, res.Chunks, e.count(`SELECT count(*) FROM document_chunks WHERE workspace_id = $1`, e.ws))
	require.Contains(t, out.String(), "3 ready, 1 failed, 0 waiting of 4 documents")
	failed, err := e.db.FailedDocuments(ctx, e.ws, s.Queued, 10)
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, "broken.pdf", failed[0].ExternalID)
	require.Contains(t, failed[0].Error, "could not extract text")

	// Waiting on nothing returns at once.
	res, err = importer.WaitIndexed(ctx, importer.WaitConfig{DB: e.db, WorkspaceID: e.ws}, nil)
	require.NoError(t, err)
	require.Zero(t, res.Documents)
	require.False(t, errors.Is(err, context.Canceled))
}
