package admin_test

import (
	"context"
	"net/http"
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

func TestDocumentsReadOnly(t *testing.T) {
	t.Parallel()
	e, b := signedIn(t, nil)
	ctx := context.Background()
	other, err := e.DB.CreateWorkspace(ctx, "Other", "pro")
	require.NoError(t, err)
	_, err = e.DB.Pool.Exec(ctx, `
		INSERT INTO documents (workspace_id, title, mime_type, raw, size_bytes, content_hash, status, error, chunk_count, embedder) VALUES
		($1, 'Refund policy', 'text/markdown', 'x', 2048, '\x00', 'ready', '', 7, 'hash-256'),
		($1, 'Broken scan', 'application/pdf', 'x', 10, '\x00', 'failed', 'pdf: no text layer', 0, ''),
		($2, 'Secret plans', 'text/plain', 'x', 1, '\x00', 'ready', '', 1, 'hash-256')`, e.WS, other.ID)
	require.NoError(t, err)
	var run int64
	require.NoError(t, e.DB.Pool.QueryRow(ctx, `INSERT INTO reindex_runs (workspace_id, scope, total, done, failed) VALUES ($1, 'all', 4, 1, 1) RETURNING id`, e.WS).Scan(&run))

	r := b.get("/admin/documents")
	require.Equal(t, http.StatusOK, r.Status)
	for _, s := range []string{"Refund policy", "2.0 KiB", "hash-256", ">7<", "Broken scan", "pdf: no text layer", "status-failed", "read-only"} {
		require.Contains(t, r.Body, s)
	}
	require.NotContains(t, r.Body, "Secret plans")
	require.NotContains(t, r.Body, `type="file"`)

	tok := csrfRE.FindStringSubmatch(r.Body)[1]
	require.Equal(t, http.StatusServiceUnavailable, b.post("/admin/documents/reindex", url.Values{"csrf": {tok}}).Status)

	r = b.get("/admin/reindex-runs/" + itoa(run))
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, r.Body, `<meta http-equiv="refresh" content="2">`)
	require.Contains(t, r.Body, "2 of 4 processed: 1 done, 1 failed.")
	_, err = e.DB.Pool.Exec(ctx, `UPDATE reindex_runs SET status = 'failed', done = 3, finished_at = now() WHERE id = $1`, run)
	require.NoError(t, err)
	r = b.get("/admin/reindex-runs/" + itoa(run))
	require.NotContains(t, r.Body, `http-equiv="refresh"`, "a finished run stops refreshing")
	require.Contains(t, r.Body, "4 of 4 processed")
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

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
