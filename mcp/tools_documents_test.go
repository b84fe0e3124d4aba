package mcp_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/pgvector/pgvector-go"
	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/mcp/mcptest"
	"github.com/nubiq/hub/postgres"
)

const testDims = 64

type mcptestSession = *sdk.ClientSession

// docEnv is an MCP endpoint with a working ingest node behind it.
type docEnv struct {
	*mcptest.Env
	runner *jobs.Runner
}

func newDocEnv(t *testing.T, opts ...mcptest.Option) *docEnv {
	t.Helper()
	env := mcptest.New(t, nil, opts...)
	e := &docEnv{Env: env}
	e.startRunner(t)
	return e
}

func (e *docEnv) startRunner(t *testing.T) {
	t.Helper()
	r, err := jobs.NewRunner(&jobs.Deps{DB: e.DB, Embedder: indexer.NewHashEmbedder(testDims)},
		jobs.Config{FetchCooldown: 5 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	e.runner = r
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Stop(ctx) //nolint:errcheck
	})
}

// waitSettled waits until none of the workspace's documents is queued or processing.
func (e *docEnv) waitSettled(t *testing.T, ws int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, e.DB.WaitDocuments(ctx, ws, 20*time.Millisecond))
}

type listOut struct {
	Documents  []nubiq.Document  `json:"documents"`
	NextCursor string            `json:"next_cursor"`
	ReindexRun *nubiq.ReindexRun `json:"reindex_run"`
}

func listDocs(t *testing.T, cs mcptestSession, args map[string]any) listOut {
	t.Helper()
	var out listOut
	mcptest.MustCall(t, cs, "documents.list", args, &out)
	return out
}

func docByID(t *testing.T, cs mcptestSession, id int64) nubiq.Document {
	t.Helper()
	for cursor := ""; ; {
		out := listDocs(t, cs, map[string]any{"limit": 100, "cursor": cursor})
		for _, d := range out.Documents {
			if d.ID == id {
				return d
			}
		}
		if out.NextCursor == "" {
			t.Fatalf("document %d not listed", id)
		}
		cursor = out.NextCursor
	}
}

type chunkRow struct {
	Version     int
	Index       int
	Text        string
	HeadingPath []string
	Start, End  int
	Tokens      int
	Embedder    string
	Dims        int
	Embedding   pgvector.Vector
}

func chunkRows(t *testing.T, db *postgres.DB, ws, id int64) []chunkRow {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
		SELECT document_version, chunk_index, text, heading_path, start_offset, end_offset, tokens, embedder, dims, embedding
		FROM document_chunks WHERE workspace_id = $1 AND document_id = $2 ORDER BY chunk_index`, ws, id)
	require.NoError(t, err)
	defer rows.Close()
	var out []chunkRow
	for rows.Next() {
		var c chunkRow
		require.NoError(t, rows.Scan(&c.Version, &c.Index, &c.Text, &c.HeadingPath, &c.Start, &c.End, &c.Tokens, &c.Embedder, &c.Dims, &c.Embedding))
		out = append(out, c)
	}
	require.NoError(t, rows.Err())
	return out
}

func indexLog(t *testing.T, db *postgres.DB, ws, id int64) []string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT op FROM index_log WHERE workspace_id = $1 AND kind = 'document' AND entity_id = $2 ORDER BY seq`, ws, id)
	require.NoError(t, err)
	defer rows.Close()
	var ops []string
	for rows.Next() {
		var op string
		require.NoError(t, rows.Scan(&op))
		ops = append(ops, op)
	}
	return ops
}

// buildPDF writes a minimal PDF with a text layer: one content stream per page.
func buildPDF(pages ...string) []byte {
	var objs []string
	kids := make([]string, len(pages))
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	objs = append(objs, "<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	for i, content := range pages {
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i),
			fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// buildDOCX zips a minimal Word document around body (WordprocessingML paragraphs).
func buildDOCX(t *testing.T, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct{ name, content string }{
		{"[Content_Types].xml", `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`},
		{"word/document.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
			body + `</w:body></w:document>`},
	} {
		w, err := zw.Create(f.name)
		require.NoError(t, err)
		_, err = w.Write([]byte(f.content))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func wordPara(style, text string) string {
	ppr := ""
	if style != "" {
		ppr = `<w:pPr><w:pStyle w:val="` + style + `"/></w:pPr>`
	}
	return `<w:p>` + ppr + `<w:r><w:t xml:space="preserve">` + text + `</w:t></w:r></w:p>`
}

func TestDocumentsUploadEachFormatReachesReady(t *testing.T) {
	t.Parallel()
	e := newDocEnv(t)
	ws := e.Workspace(t, "Formats", "enterprise")
	cs := e.Client(t, e.Key(t, ws, nubiq.ScopeDocumentsRead, nubiq.ScopeDocumentsWrite))

	pdf := buildPDF(`BT /F1 18 Tf 72 720 Td (Warranty) Tj ET
BT /F1 11 Tf 72 690 Td (Every device carries a two year warranty covering parts and labour.) Tj ET`)
	docx := buildDOCX(t, wordPara("Heading1", "Onboarding")+wordPara("", "New agents shadow a senior colleague for their first week."))
	cases := []struct {
		name      string
		args      map[string]any
		mime      string
		word      string   // a word the chunks must contain
		heading   []string // the heading path of the chunk holding word
		metaKey   string
		extraWant func(t *testing.T, d nubiq.Document)
	}{
		{name: "plain", mime: indexer.MIMEPlain, word: "Security",
			args: map[string]any{"title": "Password reset", "content": "To reset your password open Settings, choose Security and click Reset.\n\nA link arrives by email within a minute."}},
		{name: "markdown", mime: indexer.MIMEMarkdown, word: "five business days", heading: []string{"Billing", "Refunds"},
			args: map[string]any{"title": "Billing FAQ", "mime_type": "text/markdown", "source_url": "https://help.example.com/billing",
				"content": "# Billing\n\n" + strings.Repeat("Invoices are sent monthly by email to the account owner. ", 60) + "\n\n## Refunds\n\nRefunds take **five business days**.\n\n- card\n- transfer\n"}},
		{name: "html", mime: indexer.MIMEHTML, word: "worldwide", heading: []string{"Shipping"},
			args: map[string]any{"title": "Shipping", "mime_type": "text/html", "language": "en",
				"content": "<html><head><title>t</title><script>var x = 1;</script></head><body><h1>Shipping</h1><p>We ship <b>worldwide</b>.</p><ul><li>Express</li></ul></body></html>"}},
		{name: "pdf", mime: indexer.MIMEPDF, word: "two year warranty", heading: []string{"Warranty"},
			args: map[string]any{"title": "Warranty", "mime_type": "application/pdf", "content_base64": base64.StdEncoding.EncodeToString(pdf)}},
		{name: "docx", mime: indexer.MIMEDOCX, word: "senior colleague", heading: []string{"Onboarding"},
			args: map[string]any{"title": "Onboarding", "mime_type": indexer.MIMEDOCX, "content_base64": base64.StdEncoding.EncodeToString(docx),
				"metadata": map[string]string{"team": "support"}}},
	}
	ids := map[string]int64{}
	for _, c := range cases {
		var res nubiq.UploadResult
		mcptest.MustCall(t, cs, "documents.upload", c.args, &res)
		require.True(t, res.Created, c.name)
		require.False(t, res.Unchanged, c.name)
		require.Equal(t, 1, res.Version, c.name)
		require.NotZero(t, res.JobID, c.name)
		require.Contains(t, []string{"queued", "processing", "ready"}, res.Status)
		ids[c.name] = res.DocumentID
	}
	e.waitSettled(t, ws)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := docByID(t, cs, ids[c.name])
			require.Equal(t, nubiq.DocumentReady, d.Status, "error: %s", d.Error)
			require.Empty(t, d.Error)
			require.Equal(t, c.mime, d.MIMEType)
			require.Equal(t, 1, d.IndexedVersion)
			require.Equal(t, "hash", d.Embedder)
			require.Equal(t, testDims, d.EmbeddingDims)
			require.NotNil(t, d.IndexedAt)
			require.Len(t, d.ContentHash, 64)
			require.NotNil(t, d.Job)
			require.Equal(t, ids[c.name], d.ID)

			rows := chunkRows(t, e.DB, ws, d.ID)
			require.Len(t, rows, d.ChunkCount)
			require.NotZero(t, d.ChunkCount)
			var extracted string
			require.NoError(t, e.DB.Pool.QueryRow(context.Background(), `SELECT extracted_text FROM documents WHERE workspace_id = $1 AND id = $2`, ws, d.ID).Scan(&extracted))
			found := false
			for i, r := range rows {
				require.Equal(t, i, r.Index)
				require.Equal(t, 1, r.Version)
				require.Equal(t, "hash", r.Embedder)
				require.Equal(t, testDims, r.Dims)
				vec := r.Embedding.Slice()
				require.Len(t, vec, testDims)
				var norm float64
				for _, x := range vec {
					norm += float64(x) * float64(x)
				}
				require.InDelta(t, 1.0, norm, 1e-3, "unit-length vector")
				require.Equal(t, r.Text, string([]rune(extracted)[r.Start:r.End]), "offsets point into the extracted text")
				require.Positive(t, r.Tokens)
				if strings.Contains(r.Text, c.word) {
					found = true
					if c.heading != nil {
						require.Equal(t, c.heading, r.HeadingPath)
					}
				}
			}
			require.True(t, found, "no chunk contains %q; extracted: %q", c.word, extracted)
			require.Equal(t, []string{"upsert"}, indexLog(t, e.DB, ws, d.ID))
		})
	}
	require.NotContains(t, chunkTexts(t, e.DB, ws, ids["html"]), "var x", "scripts are not text")

	// Filters.
	out := listDocs(t, cs, map[string]any{"mime_type": "application/pdf"})
	require.Len(t, out.Documents, 1)
	require.Equal(t, ids["pdf"], out.Documents[0].ID)
	out = listDocs(t, cs, map[string]any{"mime_type": "text/x-markdown"}) // an alias
	require.Len(t, out.Documents, 1)
	require.Equal(t, ids["markdown"], out.Documents[0].ID)
	require.Equal(t, "https://help.example.com/billing", out.Documents[0].SourceURL)
	out = listDocs(t, cs, map[string]any{"metadata": map[string]string{"team": "support"}})
	require.Len(t, out.Documents, 1)
	require.Equal(t, ids["docx"], out.Documents[0].ID)
	require.Equal(t, map[string]string{"team": "support"}, out.Documents[0].Metadata)
	out = listDocs(t, cs, map[string]any{"status": "ready"})
	require.Len(t, out.Documents, 5)
	out = listDocs(t, cs, map[string]any{"status": "failed"})
	require.Empty(t, out.Documents)
}

func chunkTexts(t *testing.T, db *postgres.DB, ws, id int64) string {
	var b strings.Builder
	for _, r := range chunkRows(t, db, ws, id) {
		b.WriteString(r.Text)
		b.WriteString("\n")
	}
	return b.String()
}

func TestDocumentsVersionsAndDedupe(t *testing.T) {
	t.Parallel()
	e := newDocEnv(t)
	ws := e.Workspace(t, "Versions", "enterprise")
	cs := e.Client(t, e.Key(t, ws, nubiq.ScopeDocumentsRead, nubiq.ScopeDocumentsWrite))

	args := map[string]any{"title": "Returns", "external_id": "kb-42", "content": "Returns are accepted within thirty days of delivery."}
	var v1 nubiq.UploadResult
	mcptest.MustCall(t, cs, "documents.upload", args, &v1)
	require.True(t, v1.Created)
	e.waitSettled(t, ws)

	jobsBefore := jobCount(t, e.DB)
	var same nubiq.UploadResult
	mcptest.MustCall(t, cs, "documents.upload", args, &same)
	require.Equal(t, nubiq.UploadResult{DocumentID: v1.DocumentID, Version: 1, Status: nubiq.DocumentReady, Unchanged: true}, same)
	require.Equal(t, jobsBefore, jobCount(t, e.DB), "identical content queues nothing")

	// Same content, new title: no indexing work, but the title changes and search is told.
	args["title"] = "Returns policy"
	mcptest.MustCall(t, cs, "documents.upload", args, &same)
	require.True(t, same.Unchanged)
	require.Zero(t, same.JobID)
	require.Equal(t, jobsBefore, jobCount(t, e.DB))
	require.Equal(t, "Returns policy", docByID(t, cs, v1.DocumentID).Title)
	require.Equal(t, []string{"upsert", "upsert"}, indexLog(t, e.DB, ws, v1.DocumentID))

	// New content: a new version of the same document, not a second document.
	args["content"] = "Returns are accepted within sixty days of delivery, with the receipt.\n\nRefunds go to the original card."
	var v2 nubiq.UploadResult
	mcptest.MustCall(t, cs, "documents.upload", args, &v2)
	require.Equal(t, v1.DocumentID, v2.DocumentID)
	require.Equal(t, 2, v2.Version)
	require.False(t, v2.Created)
	require.False(t, v2.Unchanged)
	require.NotZero(t, v2.JobID)
	require.NotEqual(t, v1.JobID, v2.JobID)
	e.waitSettled(t, ws)

	d := docByID(t, cs, v1.DocumentID)
	require.Equal(t, 2, d.Version)
	require.Equal(t, 2, d.IndexedVersion)
	require.Equal(t, nubiq.DocumentReady, d.Status)
	rows := chunkRows(t, e.DB, ws, d.ID)
	require.Len(t, rows, d.ChunkCount)
	for _, r := range rows {
		require.Equal(t, 2, r.Version)
	}
	require.Contains(t, chunkTexts(t, e.DB, ws, d.ID), "sixty days")
	require.NotContains(t, chunkTexts(t, e.DB, ws, d.ID), "thirty days")
	out := listDocs(t, cs, map[string]any{"external_id": "kb-42"})
	require.Len(t, out.Documents, 1)

	// The same content without an external id is a separate document.
	var other nubiq.UploadResult
	mcptest.MustCall(t, cs, "documents.upload", map[string]any{"title": "Returns", "content": args["content"]}, &other)
	require.True(t, other.Created)
	require.NotEqual(t, v1.DocumentID, other.DocumentID)

	// Another workspace's external ids are its own.
	ws2 := e.Workspace(t, "Versions 2", "enterprise")
	cs2 := e.Client(t, e.Key(t, ws2, nubiq.ScopeDocumentsRead, nubiq.ScopeDocumentsWrite))
	var theirs nubiq.UploadResult
	mcptest.MustCall(t, cs2, "documents.upload", args, &theirs)
	require.True(t, theirs.Created)
	require.Equal(t, 1, theirs.Version)
	e.waitSettled(t, ws)
	e.waitSettled(t, ws2)
	require.Len(t, listDocs(t, cs2, nil).Documents, 1)
	require.Len(t, listDocs(t, cs, nil).Documents, 2)
}

func jobCount(t *testing.T, db *postgres.DB) int {
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job`).Scan(&n))
	return n
}

func TestDocumentsUploadValidation(t *testing.T) {
	t.Parallel()
	e := newDocEnv(t, mcptest.WithDeps(func(d *mcp.Deps) { d.MaxUploadBytes = 1000 }))
	ws := e.Workspace(t, "Validation", "enterprise")
	cs := e.Client(t, e.Key(t, ws, nubiq.ScopeDocumentsRead, nubiq.ScopeDocumentsWrite))
	b64 := base64.StdEncoding.EncodeToString

	tooBig := mcptest.MustFail(t, cs, "documents.upload", map[string]any{"title": "Big", "content": strings.Repeat("a", 1001)}, nubiq.ECodeTooLarge)
	require.Equal(t, "content", tooBig.Field)
	require.Contains(t, tooBig.Message, "1001 bytes")
	require.Contains(t, tooBig.Message, "limit is 1000 bytes")
	tooBig = mcptest.MustFail(t, cs, "documents.upload", map[string]any{"title": "Big", "mime_type": "application/pdf",
		"content_base64": b64(make([]byte, 1500))}, nubiq.ECodeTooLarge)
	require.Equal(t, "content_base64", tooBig.Field)
	var ok nubiq.UploadResult
	mcptest.MustCall(t, cs, "documents.upload", map[string]any{"title": "Fits", "content": strings.Repeat("word ", 200)}, &ok)

	for _, tc := range []struct {
		name  string
		args  map[string]any
		field string
		msg   string
	}{
		{"bad type", map[string]any{"title": "x", "content_base64": b64([]byte("x")), "mime_type": "image/png"}, "mime_type", "supported: text/plain, text/markdown, text/html, application/pdf, " + indexer.MIMEDOCX},
		{"pdf as text", map[string]any{"title": "x", "content": "x", "mime_type": "application/pdf"}, "mime_type", "content_base64"},
		{"both contents", map[string]any{"title": "x", "content": "x", "content_base64": b64([]byte("x")), "mime_type": "text/plain"}, "content", "not both"},
		{"no content", map[string]any{"title": "x"}, "content", "is required"},
		{"base64 without type", map[string]any{"title": "x", "content_base64": b64([]byte("x"))}, "mime_type", "required"},
		{"bad base64", map[string]any{"title": "x", "content_base64": "!!!", "mime_type": "text/plain"}, "content_base64", "base64"},
		{"missing title", map[string]any{"content": "x"}, "title", "required"},
		{"blank title", map[string]any{"title": "  ", "content": "x"}, "title", "1 to 500"},
		{"long title", map[string]any{"title": strings.Repeat("t", 501), "content": "x"}, "title", "1 to 500"},
		{"bad url", map[string]any{"title": "x", "content": "x", "source_url": "ftp://x"}, "source_url", "http"},
		{"bad language", map[string]any{"title": "x", "content": "x", "language": "english!"}, "language", "BCP 47"},
		{"bad metadata key", map[string]any{"title": "x", "content": "x", "metadata": map[string]string{"a b": "c"}}, "metadata", "key"},
		{"metadata not strings", map[string]any{"title": "x", "content": "x", "metadata": map[string]any{"n": 1}}, "metadata", "must be a string"},
		{"unknown field", map[string]any{"title": "x", "content": "x", "tags": []string{"a"}}, "tags", "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mcptest.MustFail(t, cs, "documents.upload", tc.args, nubiq.ECodeInvalid)
			require.Equal(t, tc.field, got.Field, got.Message)
			require.Contains(t, got.Message, tc.msg)
		})
	}
	// URL-safe, unpadded and line-wrapped base64 all decode.
	var res nubiq.UploadResult
	mcptest.MustCall(t, cs, "documents.upload", map[string]any{"title": "b64", "mime_type": "text/plain",
		"content_base64": "SGVs\nbG8g\r\nd29y bGQ_"}, &res)
	e.waitSettled(t, ws)
	require.Contains(t, chunkTexts(t, e.DB, ws, res.DocumentID), "Hello world?")

	// Empty text fails readably instead of making an empty ready document.
	mcptest.MustCall(t, cs, "documents.upload", map[string]any{"title": "Blank", "content": " \n\n\t "}, &res)
	e.waitSettled(t, ws)
	d := docByID(t, cs, res.DocumentID)
	require.Equal(t, nubiq.DocumentFailed, d.Status)
	require.Contains(t, d.Error, "no text could be extracted")
	require.Zero(t, d.ChunkCount)
	out := listDocs(t, cs, map[string]any{"status": "failed"})
	require.Len(t, out.Documents, 1)
	require.Equal(t, res.DocumentID, out.Documents[0].ID)

	// A key without documents:write cannot upload.
	ro := e.Client(t, e.Key(t, ws, nubiq.ScopeDocumentsRead))
	mcptest.MustFail(t, ro, "documents.upload", map[string]any{"title": "x", "content": "x"}, nubiq.ECodeForbidden)
}

func TestDocumentsDelete(t *testing.T) {
	t.Parallel()
	e := newDocEnv(t)
	ws := e.Workspace(t, "Delete", "enterprise")
	cs := e.Client(t, e.Key(t, ws, nubiq.ScopeDocumentsRead, nubiq.ScopeDocumentsWrite))
	other := e.Workspace(t, "Delete other", "enterprise")
	csOther := e.Client(t, e.Key(t, other, nubiq.ScopeDocumentsRead, nubiq.ScopeDocumentsWrite))

	var a, b, theirs nubiq.UploadResult
	mcptest.MustCall(t, cs, "documents.upload", map[string]any{"title": "A", "content": "Alpha document text."}, &a)
	mcptest.MustCall(t, cs, "documents.upload", map[string]any{"title": "B", "content": "Beta document text.", "external_id": "b"}, &b)
	mcptest.MustCall(t, csOther, "documents.upload", map[string]any{"title": "T", "content": "Their document text."}, &theirs)
	e.waitSettled(t, ws)
	e.waitSettled(t, other)
	require.NotEmpty(t, chunkRows(t, e.DB, ws, a.DocumentID))

	type delOut struct {
		DocumentID int64 `json:"document_id"`
		Deleted    bool  `json:"deleted"`
	}
	var out delOut
	mcptest.MustCall(t, cs, "documents.delete", map[string]any{"document_id": a.DocumentID}, &out)
	require.Equal(t, delOut{a.DocumentID, true}, out)
	require.Empty(t, chunkRows(t, e.DB, ws, a.DocumentID))
	require.Equal(t, []string{"upsert", "delete"}, indexLog(t, e.DB, ws, a.DocumentID))
	var raw int
	require.NoError(t, e.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM documents WHERE id = $1`, a.DocumentID).Scan(&raw))
	require.Zero(t, raw, "raw bytes go with the row")

	// Again: success, nothing deleted, nothing logged.
	mcptest.MustCall(t, cs, "documents.delete", map[string]any{"document_id": a.DocumentID}, &out)
	require.Equal(t, delOut{a.DocumentID, false}, out)
	require.Equal(t, []string{"upsert", "delete"}, indexLog(t, e.DB, ws, a.DocumentID))

	// Another workspace's document answers exactly like a missing one and survives.
	mcptest.MustCall(t, cs, "documents.delete", map[string]any{"document_id": theirs.DocumentID}, &out)
	require.Equal(t, delOut{theirs.DocumentID, false}, out)
	var missing delOut
	mcptest.MustCall(t, cs, "documents.delete", map[string]any{"document_id": 987654321}, &missing)
	require.Equal(t, delOut{987654321, false}, missing)
	require.Len(t, listDocs(t, csOther, nil).Documents, 1)
	require.NotEmpty(t, chunkRows(t, e.DB, other, theirs.DocumentID))

	// By external id.
	mcptest.MustCall(t, cs, "documents.delete", map[string]any{"external_id": "b"}, &out)
	require.Equal(t, delOut{b.DocumentID, true}, out)
	mcptest.MustCall(t, cs, "documents.delete", map[string]any{"external_id": "b"}, &out)
	require.Equal(t, delOut{0, false}, out)
	require.Empty(t, listDocs(t, cs, nil).Documents)

	mcptest.MustFail(t, cs, "documents.delete", map[string]any{}, nubiq.ECodeInvalid)
	mcptest.MustFail(t, cs, "documents.delete", map[string]any{"document_id": 1, "external_id": "b"}, nubiq.ECodeInvalid)
}

func TestDocumentsReindex(t *testing.T) {
	t.Parallel()
	// No worker yet: jobs wait, so repeated requests can be seen joining them.
	env := mcptest.New(t, nil)
	e := &docEnv{Env: env}
	ws := e.Workspace(t, "Reindex", "enterprise")
	cs := e.Client(t, e.Key(t, ws, nubiq.ScopeDocumentsRead, nubiq.ScopeDocumentsWrite))
	other := e.Workspace(t, "Reindex other", "enterprise")
	csOther := e.Client(t, e.Key(t, other, nubiq.ScopeDocumentsRead, nubiq.ScopeDocumentsWrite))
	var theirs nubiq.UploadResult
	mcptest.MustCall(t, csOther, "documents.upload", map[string]any{"title": "T", "content": "Their text."}, &theirs)

	var ids []int64
	for i := range 3 {
		var r nubiq.UploadResult
		mcptest.MustCall(t, cs, "documents.upload", map[string]any{"title": fmt.Sprint("Doc ", i), "content": fmt.Sprintf("Document number %d about routers.", i)}, &r)
		ids = append(ids, r.DocumentID)
	}
	jobs0 := jobCount(t, e.DB)
	var one nubiq.ReindexResult
	mcptest.MustCall(t, cs, "documents.reindex", map[string]any{"document_id": ids[0]}, &one)
	require.Equal(t, 0, one.Queued)
	require.Equal(t, 1, one.Deduplicated, "the upload's job has not started: it serves the request")
	require.Equal(t, 1, one.Run.Total)
	require.Equal(t, "document:"+fmt.Sprint(ids[0]), one.Run.Scope)
	require.Equal(t, docByID(t, cs, ids[0]).Job.ID, one.JobID)
	var all, again nubiq.ReindexResult
	mcptest.MustCall(t, cs, "documents.reindex", map[string]any{"all": true}, &all)
	mcptest.MustCall(t, cs, "documents.reindex", map[string]any{"document_ids": ids}, &again)
	require.Equal(t, 3, all.Run.Total)
	require.Equal(t, 3, all.Deduplicated)
	require.Equal(t, 3, again.Deduplicated)
	require.Equal(t, jobs0, jobCount(t, e.DB), "repeated requests do not pile up jobs")

	// Errors: missing and foreign ids look the same; exactly one selector.
	nf := mcptest.MustFail(t, cs, "documents.reindex", map[string]any{"document_id": theirs.DocumentID}, nubiq.ECodeNotFound)
	nf2 := mcptest.MustFail(t, cs, "documents.reindex", map[string]any{"document_id": 99999999}, nubiq.ECodeNotFound)
	require.Equal(t, strings.Replace(nf.Message, fmt.Sprint(theirs.DocumentID), "N", 1), strings.Replace(nf2.Message, "99999999", "N", 1))
	mcptest.MustFail(t, cs, "documents.reindex", map[string]any{"document_ids": []int64{ids[0], theirs.DocumentID}}, nubiq.ECodeNotFound)
	mcptest.MustFail(t, cs, "documents.reindex", map[string]any{}, nubiq.ECodeInvalid)
	mcptest.MustFail(t, cs, "documents.reindex", map[string]any{"all": true, "document_id": ids[0]}, nubiq.ECodeInvalid)
	mcptest.MustFail(t, cs, "documents.reindex", map[string]any{"document_ids": []int64{-1}}, nubiq.ECodeInvalid)

	out := listDocs(t, cs, map[string]any{"reindex_run_id": all.Run.ID})
	require.Equal(t, all.Run.ID, out.ReindexRun.ID)
	require.Equal(t, nubiq.ReindexRunning, out.ReindexRun.Status)
	require.Equal(t, 0, out.ReindexRun.Done)
	for _, d := range out.Documents {
		require.Equal(t, "available", d.Job.State)
	}
	mcptest.MustFail(t, cs, "documents.list", map[string]any{"reindex_run_id": 424242}, nubiq.ECodeNotFound)

	// Work them: every run finishes.
	e.startRunner(t)
	e.waitSettled(t, ws)
	for _, id := range []int64{one.Run.ID, all.Run.ID, again.Run.ID} {
		run := waitRunMCP(t, cs, id)
		require.Equal(t, nubiq.ReindexDone, run.Status)
		require.Equal(t, run.Total, run.Done)
		require.Zero(t, run.Failed)
		require.NotNil(t, run.FinishedAt)
	}

	// Once done, a reindex queues fresh work, and the document's chunks stay a single set.
	before := chunkRows(t, e.DB, ws, ids[1])
	var fresh nubiq.ReindexResult
	mcptest.MustCall(t, cs, "documents.reindex", map[string]any{"document_ids": []int64{ids[1], ids[2]}}, &fresh)
	require.Equal(t, 2, fresh.Queued)
	require.Zero(t, fresh.JobID, "job_id is for single-document requests")
	run := waitRunMCP(t, cs, fresh.Run.ID)
	require.Equal(t, 2, run.Done)
	after := chunkRows(t, e.DB, ws, ids[1])
	require.Equal(t, len(before), len(after))
	require.Equal(t, before[0].Text, after[0].Text)
	// The latest run is what documents.list shows by default.
	require.Equal(t, fresh.Run.ID, listDocs(t, cs, nil).ReindexRun.ID)
	require.Nil(t, listDocs(t, csOther, nil).ReindexRun, "runs are per workspace")

	// Deleting a document a run waits for takes it out of the run.
	require.NoError(t, e.runner.Stop(context.Background()))
	var pending nubiq.ReindexResult
	mcptest.MustCall(t, cs, "documents.reindex", map[string]any{"document_ids": []int64{ids[0], ids[1]}}, &pending)
	require.Equal(t, 2, pending.Queued)
	mcptest.MustCall(t, cs, "documents.delete", map[string]any{"document_id": ids[0]}, nil)
	e.startRunner(t)
	run = waitRunMCP(t, cs, pending.Run.ID)
	require.Equal(t, 1, run.Total)
	require.Equal(t, 1, run.Done)
	require.Equal(t, nubiq.ReindexDone, run.Status)

	// An empty selection finishes at once.
	ws3 := e.Workspace(t, "Empty", "enterprise")
	cs3 := e.Client(t, e.Key(t, ws3, nubiq.ScopeDocumentsWrite))
	var empty nubiq.ReindexResult
	mcptest.MustCall(t, cs3, "documents.reindex", map[string]any{"all": true}, &empty)
	require.Equal(t, nubiq.ReindexDone, empty.Run.Status)
	require.Zero(t, empty.Run.Total)
}

func waitRunMCP(t *testing.T, cs mcptestSession, id int64) nubiq.ReindexRun {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := listDocs(t, cs, map[string]any{"reindex_run_id": id, "limit": 1})
		if out.ReindexRun.Status != nubiq.ReindexRunning {
			return *out.ReindexRun
		}
		require.True(t, time.Now().Before(deadline), "run %d: %+v", id, out.ReindexRun)
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDocumentsListPagingAndFilters(t *testing.T) {
	t.Parallel()
	e := newDocEnv(t)
	ws := e.Workspace(t, "List", "enterprise")
	cs := e.Client(t, e.Key(t, ws, nubiq.ScopeDocumentsRead, nubiq.ScopeDocumentsWrite))
	var ids []int64
	for i := range 7 {
		var r nubiq.UploadResult
		mcptest.MustCall(t, cs, "documents.upload", map[string]any{"title": fmt.Sprint("Doc ", i), "content": fmt.Sprint("Text of document ", i),
			"metadata": map[string]string{"parity": []string{"even", "odd"}[i%2], "n": fmt.Sprint(i)}}, &r)
		ids = append(ids, r.DocumentID)
	}
	e.waitSettled(t, ws)

	var seen []int64
	var prev *nubiq.Document
	cursor := ""
	for page := 0; ; page++ {
		out := listDocs(t, cs, map[string]any{"limit": 3, "cursor": cursor})
		require.LessOrEqual(t, len(out.Documents), 3)
		for i := range out.Documents {
			d := &out.Documents[i]
			if prev != nil {
				require.True(t, d.UpdatedAt.Before(prev.UpdatedAt) || (d.UpdatedAt.Equal(prev.UpdatedAt) && d.ID < prev.ID), "order")
			}
			require.Equal(t, time.UTC, d.UpdatedAt.Location())
			prev = d
			seen = append(seen, d.ID)
		}
		if out.NextCursor == "" {
			break
		}
		cursor = out.NextCursor
		require.Less(t, page, 5)
	}
	require.ElementsMatch(t, ids, seen)

	out := listDocs(t, cs, map[string]any{"metadata": map[string]string{"parity": "odd"}})
	require.Len(t, out.Documents, 3)
	out = listDocs(t, cs, map[string]any{"metadata": map[string]string{"parity": "odd", "n": "3"}})
	require.Len(t, out.Documents, 1)
	require.Equal(t, ids[3], out.Documents[0].ID)

	all := listDocs(t, cs, map[string]any{"limit": 100}).Documents
	mid := all[3].UpdatedAt
	newer := listDocs(t, cs, map[string]any{"updated_from": mid.Format(time.RFC3339Nano)}).Documents
	older := listDocs(t, cs, map[string]any{"updated_to": mid.Format(time.RFC3339Nano)}).Documents
	require.Equal(t, len(all), len(newer)+len(older))
	for _, d := range newer {
		require.False(t, d.UpdatedAt.Before(mid))
	}
	require.Empty(t, listDocs(t, cs, map[string]any{"updated_from": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}).Documents)

	for _, bad := range []struct {
		args  map[string]any
		field string
	}{
		{map[string]any{"status": "done"}, "status"},
		{map[string]any{"mime_type": "image/png"}, "mime_type"},
		{map[string]any{"updated_from": "yesterday"}, "updated_from"},
		{map[string]any{"updated_from": "2026-02-01T00:00:00Z", "updated_to": "2026-01-01T00:00:00Z"}, "updated_to"},
		{map[string]any{"cursor": "nope"}, "cursor"},
		{map[string]any{"limit": 101}, "limit"},
	} {
		got := mcptest.MustFail(t, cs, "documents.list", bad.args, nubiq.ECodeInvalid)
		require.Equal(t, bad.field, got.Field, got.Message)
	}
	// Another workspace sees none of them.
	other := e.Workspace(t, "List other", "enterprise")
	require.Empty(t, listDocs(t, e.Client(t, e.Key(t, other, nubiq.ScopeDocumentsRead)), nil).Documents)
}
