package admin_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/admin"
	"github.com/nubiq/hub/postgres"
)

func signedIn(t *testing.T, mod func(*admin.Config)) (*env, *browser) {
	e := newEnv(t, mod)
	e.member(t, e.WS, "ana@example.com", "owner", "correct horse battery")
	b := e.browser(t)
	b.mustLogin("ana@example.com", "correct horse battery")
	return e, b
}

var secretRE = regexp.MustCompile(`id="secret" type="text" readonly value="(nbq_[0-9A-Za-z]+)"`)

func TestCreateAndRevokeKey(t *testing.T) {
	t.Parallel()
	e, b := signedIn(t, nil)
	ctx := context.Background()

	r := b.get("/admin/settings/api-keys/new")
	require.Equal(t, http.StatusOK, r.Status)
	for _, s := range nubiq.AllScopes {
		require.Contains(t, r.Body, `value="`+string(s)+`"`)
		require.Contains(t, r.Body, nubiq.ScopeDescriptions[s])
	}
	require.Contains(t, r.Body, `<legend>Conversations</legend>`)
	require.Contains(t, r.Body, `id="expiry-90" name="expiry" value="90" checked`)
	tok := csrfRE.FindStringSubmatch(r.Body)[1]

	// Invalid input is shown again with the problems, and nothing is created.
	r = b.post("/admin/settings/api-keys", url.Values{"csrf": {tok}, "name": {"ci bot"}, "expiry": {"date"}, "date": {"1999-01-01"}})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, r.Body, "Choose at least one scope.")
	require.Contains(t, r.Body, "The date must be in the future.")
	require.Contains(t, r.Body, `value="ci bot"`, "the name typed is kept")
	keys, err := e.DB.ListAPIKeys(ctx, e.WS)
	require.NoError(t, err)
	require.Empty(t, keys)

	r = b.post("/admin/settings/api-keys", url.Values{"csrf": {tok}, "name": {"ci bot"}, "scope": {"tickets:read", "documents:write"}, "expiry": {"30"}})
	require.Equal(t, http.StatusCreated, r.Status, r.Body)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	require.Contains(t, r.Body, "It will not be shown again.")
	m := secretRE.FindStringSubmatch(r.Body)
	require.NotNil(t, m, "the secret is on the page")
	secret := m[1]

	// The shown secret is the key: it authenticates.
	k, _, err := e.DB.KeyByHash(ctx, postgres.HashKey(secret))
	require.NoError(t, err)
	require.Equal(t, "ci bot", k.Name)
	require.Equal(t, "ana@example.com", k.CreatedBy)
	require.Equal(t, []nubiq.Scope{nubiq.ScopeTicketsRead, nubiq.ScopeDocumentsWrite}, k.Scopes)
	require.WithinDuration(t, e.Clock.Now().Add(30*24*time.Hour), k.ExpiresAt, 2*time.Second)

	// The list shows the prefix, never the secret.
	r = b.get("/admin/settings/api-keys")
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, r.Body, k.Prefix)
	require.NotContains(t, r.Body, secret)
	require.Contains(t, r.Body, "never")
	require.Contains(t, r.Body, `status-active`)

	// Revocation asks for confirmation first; the GET changes nothing.
	revokePath := "/admin/settings/api-keys/" + itoa(k.ID) + "/revoke"
	r = b.get(revokePath)
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, r.Body, "Revoke key")
	k2, _, err := e.DB.KeyByHash(ctx, postgres.HashKey(secret))
	require.NoError(t, err)
	require.Nil(t, k2.RevokedAt)

	r = b.post(revokePath, url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, r.Status, r.Body)
	r = b.get(r.Location)
	require.Contains(t, r.Body, "was revoked")
	require.Contains(t, r.Body, `status-revoked`)
	k2, _, err = e.DB.KeyByHash(ctx, postgres.HashKey(secret))
	require.NoError(t, err)
	require.NotNil(t, k2.RevokedAt)

	var audits int
	require.NoError(t, e.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE workspace_id = $1 AND action IN ('api_key.create', 'api_key.revoke')`, e.WS).Scan(&audits))
	require.Equal(t, 2, audits)
}

func TestKeysOfAnotherWorkspaceAreNotFound(t *testing.T) {
	t.Parallel()
	e, b := signedIn(t, nil)
	ctx := context.Background()
	other, err := e.DB.CreateWorkspace(ctx, "Other", "pro")
	require.NoError(t, err)
	k, _, err := e.DB.CreateAPIKey(ctx, postgres.CreateKeyParams{WorkspaceID: other.ID, Name: "theirs", Scopes: nubiq.AllScopes, ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)

	path := "/admin/settings/api-keys/" + itoa(k.ID) + "/revoke"
	require.Equal(t, http.StatusNotFound, b.get(path).Status)
	tok := b.csrf("/admin/settings/api-keys/new")
	require.Equal(t, http.StatusNotFound, b.post(path, url.Values{"csrf": {tok}}).Status)
	require.Equal(t, http.StatusNotFound, b.get("/admin/settings/api-keys/abc/revoke").Status)
	require.NotContains(t, b.get("/admin/settings/api-keys").Body, "theirs")
	keys, err := e.DB.ListAPIKeys(ctx, other.ID)
	require.NoError(t, err)
	require.Nil(t, keys[0].RevokedAt)
}

func TestKeyExpiryBoundedByConfiguredMaximum(t *testing.T) {
	t.Parallel()
	_, b := signedIn(t, func(c *admin.Config) { c.KeyMaxLifetime = 60 * 24 * time.Hour })
	r := b.get("/admin/settings/api-keys/new")
	require.Contains(t, r.Body, `value="30"`)
	require.NotContains(t, r.Body, `value="90"`, "periods past the maximum are not offered")
	require.Contains(t, r.Body, "at most 60 days")
	tok := csrfRE.FindStringSubmatch(r.Body)[1]
	r = b.post("/admin/settings/api-keys", url.Values{"csrf": {tok}, "name": {"x"}, "scope": {"tickets:read"}, "expiry": {"365"}})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, r.Body, "Keys may live at most 60 days.")
}

func TestWorkspaceUsage(t *testing.T) {
	t.Parallel()
	e, b := signedIn(t, nil)
	ctx := context.Background()
	k, _, err := e.DB.CreateAPIKey(ctx, postgres.CreateKeyParams{WorkspaceID: e.WS, Name: "busy bot", Scopes: nubiq.AllScopes, ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	other, err := e.DB.CreateWorkspace(ctx, "Other", "pro")
	require.NoError(t, err)
	w := nubiq.CurrentUsageWindows(e.Clock.Now())
	minute, day := w.Minute, w.Day
	_, err = e.DB.Pool.Exec(ctx, `
		INSERT INTO usage_counters (workspace_id, key_id, window_kind, window_start, count) VALUES
		($1, 0, 'minute', $3, 17), ($1, 0, 'day', $4, 4321),
		($1, 0, 'minute', $3::timestamptz - interval '1 minute', 59),
		($1, $2, 'minute', $3, 17), ($1, $2, 'day', $4, 4321), ($1, $2, 'month', $6, 5000),
		($5, 0, 'minute', $3, 99)`, e.WS, k.ID, minute, day, other.ID, w.Month)
	require.NoError(t, err)

	r := b.get("/admin/workspace")
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, r.Body, `id="usage-minute">17<`)
	require.Contains(t, r.Body, `id="usage-day">4,321<`)
	require.Contains(t, r.Body, ">60<", "the pro plan allows 60 a minute")
	require.Contains(t, r.Body, ">10,000<")
	require.Contains(t, r.Body, ">5,679<", "remaining today")
	require.Contains(t, r.Body, "busy bot")
	require.Contains(t, r.Body, `id="usage-month">5,000<`)

	// A new minute starts from zero.
	e.Clock.Add(time.Minute)
	r = b.get("/admin/workspace")
	require.Contains(t, r.Body, `id="usage-minute">0<`)
	require.Contains(t, r.Body, `id="usage-day">4,321<`)
}

// upload posts a file to the Documents page as a browser's multipart form does.
func (b *browser) upload(csrf, filename, contentType string, content []byte, title string) resp {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if csrf != "" {
		require.NoError(b.t, mw.WriteField("csrf", csrf))
	}
	require.NoError(b.t, mw.WriteField("title", title))
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+filename+`"`)
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	require.NoError(b.t, err)
	part.Write(content) //nolint:errcheck
	require.NoError(b.t, mw.Close())
	req, _ := http.NewRequest(http.MethodPost, b.base+"/admin/documents", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

func ingestJobs(t *testing.T, db *postgres.DB, doc int64) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM river_job WHERE kind = 'ingest_document' AND (args->>'document_id')::bigint = $1`, doc).Scan(&n))
	return n
}

// The Documents page uploads, lists, reindexes and deletes through the document store the
// documents.* tools use: the upload and its indexing job are written together, and the
// workspace's documents are the only ones it sees or touches.
func TestDocuments(t *testing.T) {
	t.Parallel()
	e, b := signedIn(t, func(c *admin.Config) { c.MaxUploadBytes = 64 << 10 })
	ctx := context.Background()
	other, err := e.DB.CreateWorkspace(ctx, "Other", "pro")
	require.NoError(t, err)
	theirs, err := e.DB.UploadDocument(ctx, nubiq.DocumentUpload{WorkspaceID: other.ID, Title: "Secret plans", MIMEType: "text/plain", Raw: []byte("nothing to see")})
	require.NoError(t, err)

	r := b.get("/admin/documents")
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, r.Body, "No documents yet.")
	require.NotContains(t, r.Body, "Secret plans")
	require.NotContains(t, r.Body, "data-live", "nothing is being indexed")
	tok := csrfRE.FindStringSubmatch(r.Body)[1]

	// An upload without the form's token is refused and stores nothing.
	r = b.upload("", "refunds.md", "text/markdown", []byte("# Refunds\n\nWithin 30 days."), "")
	require.Equal(t, http.StatusForbidden, r.Status)
	// Types the extractor cannot read, empty files and files over the limit are refused on the form.
	r = b.upload(tok, "logo.png", "image/png", []byte("\x89PNG"), "")
	require.Equal(t, http.StatusUnsupportedMediaType, r.Status)
	require.Contains(t, r.Body, "This kind of file cannot be indexed.")
	r = b.upload(tok, "empty.txt", "text/plain", nil, "Empty")
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, r.Body, "The file is empty.")
	require.Contains(t, r.Body, `value="Empty"`, "the title typed is kept")
	r = b.upload(tok, "big.txt", "text/plain", bytes.Repeat([]byte("a"), 65<<10), "")
	require.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
	require.Contains(t, r.Body, "64.0 KiB")
	docs, _, err := e.DB.ListDocuments(ctx, nubiq.DocumentFilter{WorkspaceID: e.WS})
	require.NoError(t, err)
	require.Empty(t, docs)

	// A Markdown file sent as octet-stream is recognised by its name; the title defaults to it.
	r = b.upload(tok, `C:\docs\refunds.md`, "application/octet-stream", []byte("# Refunds\n\nWithin 30 days."), "")
	require.Equal(t, http.StatusSeeOther, r.Status, r.Body)
	require.Equal(t, "/admin/documents?notice=uploaded", r.Location)
	docs, _, err = e.DB.ListDocuments(ctx, nubiq.DocumentFilter{WorkspaceID: e.WS})
	require.NoError(t, err)
	require.Len(t, docs, 1)
	doc := docs[0]
	require.Equal(t, "refunds", doc.Title)
	require.Equal(t, "text/markdown", doc.MIMEType)
	require.Equal(t, nubiq.DocumentQueued, doc.Status)
	require.NotNil(t, doc.Job, "the indexing job is queued with the document")
	require.Equal(t, 1, ingestJobs(t, e.DB, doc.ID))

	r = b.get(r.Location)
	require.Contains(t, r.Body, "The document was uploaded and queued for indexing.")
	require.Contains(t, r.Body, `id="document-`+itoa(doc.ID)+`"`)
	require.Contains(t, r.Body, "status-queued")
	require.Contains(t, r.Body, `data-live="3"`, "the page follows indexing while a document waits")
	require.Contains(t, r.Body, "1 document is waiting to be indexed")
	require.NotContains(t, r.Body, "Secret plans")

	// The status filter.
	require.Contains(t, b.get("/admin/documents?status=queued").Body, `id="document-`+itoa(doc.ID)+`"`)
	require.Contains(t, b.get("/admin/documents?status=ready").Body, "No documents with this status.")
	require.Equal(t, http.StatusBadRequest, b.get("/admin/documents?status=lost").Status)
	require.Equal(t, http.StatusBadRequest, b.get("/admin/documents?after=junk").Status)

	// As if a worker had indexed it.
	_, err = e.DB.Pool.Exec(ctx, `UPDATE documents SET status = 'ready', chunk_count = 3, embedder = 'hash', embedding_dims = 256,
		indexed_version = version, indexed_at = now() WHERE id = $1`, doc.ID)
	require.NoError(t, err)
	_, err = e.DB.Pool.Exec(ctx, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id = $1`, doc.Job.ID)
	require.NoError(t, err)
	r = b.get("/admin/documents")
	require.Contains(t, r.Body, "status-ready")
	require.Contains(t, r.Body, "256 dimensions")
	require.NotContains(t, r.Body, "data-live")

	// Reindexing one document records a run, queues a job and shows live progress.
	r = b.post("/admin/documents/"+itoa(doc.ID)+"/reindex", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, r.Status, r.Body)
	require.Regexp(t, `^/admin/reindex-runs/\d+$`, r.Location)
	runPath := r.Location
	require.Equal(t, 2, ingestJobs(t, e.DB, doc.ID))
	r = b.get(runPath)
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, r.Body, `<meta http-equiv="refresh" content="2">`)
	require.Contains(t, r.Body, "0 of 1 processed: 0 done, 0 failed.")
	require.Contains(t, r.Body, "document:"+itoa(doc.ID))
	require.Contains(t, b.get("/admin/documents").Body, `data-live="3"`, "a running reindex keeps the list live")

	// Reindex all, the same way; the runs list shows both.
	r = b.post("/admin/documents/reindex", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, r.Status, r.Body)
	run, err := e.DB.GetReindexRun(ctx, e.WS, mustID(t, r.Location))
	require.NoError(t, err)
	require.Equal(t, "all", run.Scope)
	require.Equal(t, 1, run.Total, "the other workspace's document is not part of it")
	require.Equal(t, http.StatusForbidden, b.post("/admin/documents/reindex", url.Values{}).Status)

	// A finished run stops refreshing.
	_, err = e.DB.Pool.Exec(ctx, `UPDATE reindex_runs SET status = 'done', done = total, finished_at = now() WHERE workspace_id = $1`, e.WS)
	require.NoError(t, err)
	r = b.get(runPath)
	require.NotContains(t, r.Body, `http-equiv="refresh"`)
	require.Contains(t, r.Body, "1 of 1 processed")

	// Another workspace's document and run answer not found, and stay as they were.
	theirsPath := "/admin/documents/" + itoa(theirs.DocumentID)
	require.Equal(t, http.StatusNotFound, b.get(theirsPath+"/delete").Status)
	require.Equal(t, http.StatusNotFound, b.post(theirsPath+"/delete", url.Values{"csrf": {tok}}).Status)
	require.Equal(t, http.StatusNotFound, b.post(theirsPath+"/reindex", url.Values{"csrf": {tok}}).Status)
	theirRun, err := e.DB.Reindex(ctx, nubiq.ReindexRequest{WorkspaceID: other.ID, All: true})
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, b.get("/admin/reindex-runs/"+itoa(theirRun.Run.ID)).Status)
	_, err = e.DB.GetDocument(ctx, other.ID, theirs.DocumentID)
	require.NoError(t, err)

	// Delete asks first; the GET changes nothing.
	delPath := "/admin/documents/" + itoa(doc.ID) + "/delete"
	r = b.get(delPath)
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, r.Body, "This cannot be undone.")
	_, err = e.DB.GetDocument(ctx, e.WS, doc.ID)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, b.post(delPath, url.Values{}).Status)
	r = b.post(delPath, url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, r.Status)
	require.Contains(t, b.get(r.Location).Body, "The document was deleted.")
	_, err = e.DB.GetDocument(ctx, e.WS, doc.ID)
	require.Equal(t, nubiq.ECodeNotFound, nubiq.ErrorCode(err))
	require.Equal(t, http.StatusNotFound, b.post(delPath, url.Values{"csrf": {tok}}).Status, "deleting again")

	var audits int
	require.NoError(t, e.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE workspace_id = $1 AND action IN ('documents.upload', 'documents.reindex', 'documents.delete')`, e.WS).Scan(&audits))
	require.Equal(t, 4, audits)
}

func mustID(t *testing.T, location string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(location[strings.LastIndex(location, "/")+1:], 10, 64)
	require.NoError(t, err, location)
	return id
}

func TestJobsUIBehindSignIn(t *testing.T) {
	t.Parallel()
	e, b := signedIn(t, nil)
	ctx := context.Background()
	_, err := e.DB.River.Insert(ctx, nubiq.DeliverOutboundArgs{OutboundID: 1, WorkspaceID: e.WS}, nil)
	require.NoError(t, err)

	anon := e.browser(t)
	r := anon.get("/admin/jobs/")
	require.Equal(t, http.StatusSeeOther, r.Status)
	require.Equal(t, "/admin/login?next=%2Fadmin%2Fjobs%2F", r.Location)
	require.Equal(t, http.StatusUnauthorized, anon.get("/admin/jobs/api/jobs?state=available").Status)

	req, _ := http.NewRequest(http.MethodGet, b.base+"/admin/jobs/", nil)
	req.Header.Set("Accept", "text/html")
	r = b.do(req)
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, r.Body, "<title>River</title>")
	r = b.get("/admin/jobs/api/jobs?state=available")
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	require.Contains(t, r.Body, `"kind":"deliver_outbound"`)

	// The UI's JSON API refuses cross-origin writes.
	req, _ = http.NewRequest(http.MethodPost, b.base+"/admin/jobs/api/jobs/cancel", strings.NewReader(`{"ids":["1"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, b.do(req).Status)
}

// The job queue is shared by every workspace: with several on the server, only the admins of
// the configured workspaces see River's UI.
func TestJobsUIOnlyForOperators(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		operators bool // configure the first workspace as the operators'
		mine      bool // sign in to the first workspace, else to the other
		want      int
	}{
		{"several workspaces, none configured", false, true, http.StatusForbidden},
		{"the operators' workspace", true, true, http.StatusOK},
		{"another workspace", true, false, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(cfg *admin.Config) {
				if c.operators {
					// newEnv creates its workspace after the handler; ids start at 1.
					cfg.JobsWorkspaces = []int64{1}
				}
			})
			other, err := e.DB.CreateWorkspace(ctx, "Other", "pro")
			require.NoError(t, err)
			ws := e.WS
			if !c.mine {
				ws = other.ID
			}
			require.EqualValues(t, 1, e.WS)
			e.member(t, ws, "ana@example.com", "owner", "correct horse battery")
			b := e.browser(t)
			b.mustLogin("ana@example.com", "correct horse battery")
			req, _ := http.NewRequest(http.MethodGet, b.base+"/admin/jobs/", nil)
			req.Header.Set("Accept", "text/html")
			r := b.do(req)
			require.Equal(t, c.want, r.Status)
			api := b.get("/admin/jobs/api/jobs?state=available")
			require.Equal(t, c.want, api.Status, api.Body)
			if c.want == http.StatusForbidden {
				require.Contains(t, r.Body, "shared by every workspace")
				require.Contains(t, api.Body, "shared by every workspace")
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
