package admin_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/nubiq/hub/admin"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

// clock is a movable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	DB    *postgres.DB
	Srv   *httptest.Server
	Clock *clock
	WS    int64
}

func newEnv(t *testing.T, mod func(*admin.Config)) *env {
	t.Helper()
	db := pgtest.NewDB(t)
	e := &env{DB: db, Clock: &clock{t: time.Now().UTC()}}
	cfg := admin.Config{DB: db, Now: e.Clock.Now, PasswordCost: bcrypt.MinCost}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h, err := admin.New(ctx, cfg)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(admin.Prefix, h)
	e.Srv = httptest.NewServer(mux)
	t.Cleanup(e.Srv.Close)
	w, err := db.CreateWorkspace(context.Background(), "Acme", "pro")
	require.NoError(t, err)
	e.WS = w.ID
	return e
}

// member creates an active member with a password they need not change.
func (e *env) member(t *testing.T, ws int64, email, role, password string) int64 {
	t.Helper()
	hash, err := admin.HashPassword(password, bcrypt.MinCost)
	require.NoError(t, err)
	m, _, err := e.DB.BootstrapAdmin(context.Background(), postgres.BootstrapAdminParams{WorkspaceID: ws, Email: email, Role: "admin", PasswordHash: hash})
	require.NoError(t, err)
	_, err = e.DB.Pool.Exec(context.Background(), `UPDATE members SET role = $2, password_change_required = false WHERE id = $1`, m.ID, role)
	require.NoError(t, err)
	return m.ID
}

type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: e.Srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type resp struct {
	Status   int
	Body     string
	Location string
	Header   http.Header
}

func (b *browser) do(req *http.Request) resp {
	b.t.Helper()
	r, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return resp{Status: r.StatusCode, Body: string(body), Location: r.Header.Get("Location"), Header: r.Header}
}

func (b *browser) get(path string) resp {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values, hdr ...string) resp {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token of the first form on the page at path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	r := b.get(path)
	require.Equal(b.t, http.StatusOK, r.Status, r.Body)
	m := csrfRE.FindStringSubmatch(r.Body)
	require.NotNil(b.t, m, "no CSRF token on %s", path)
	return m[1]
}

func (b *browser) login(email, password, workspace string) resp {
	b.t.Helper()
	tok := b.csrf("/admin/login")
	return b.post("/admin/login", url.Values{"csrf": {tok}, "email": {email}, "password": {password}, "workspace": {workspace}})
}

func (b *browser) mustLogin(email, password string) {
	b.t.Helper()
	r := b.login(email, password, "")
	require.Equal(b.t, http.StatusSeeOther, r.Status, r.Body)
}

func TestSignInSignOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member(t, e.WS, "ana@example.com", "owner", "correct horse battery")
	b := e.browser(t)

	// Signed-out visitors are sent to sign in, keeping where they were going.
	r := b.get("/admin/settings/api-keys")
	require.Equal(t, http.StatusSeeOther, r.Status)
	require.Equal(t, "/admin/login?next=%2Fadmin%2Fsettings%2Fapi-keys", r.Location)

	// A wrong password, an unknown email and a wrong workspace all get the same answer.
	for _, c := range []struct{ email, password, ws string }{
		{"ana@example.com", "wrong password!!", ""},
		{"nobody@example.com", "correct horse battery", ""},
		{"ana@example.com", "correct horse battery", "Other"},
	} {
		r = b.login(c.email, c.password, c.ws)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Contains(t, r.Body, "The email, password or workspace is not correct.")
		require.Empty(t, cookie(b, sessionCookieName))
	}

	r = b.login("ANA@example.com", "correct horse battery", "acme")
	require.Equal(t, http.StatusSeeOther, r.Status, r.Body)
	require.Equal(t, "/admin/workspace", r.Location)
	r = b.get("/admin/workspace")
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, r.Body, "Workspace Acme")
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))

	// Sign-out ends the session in the database, not only in this browser.
	old := cookie(b, sessionCookieName)
	require.NotEmpty(t, old)
	tok := b.csrf("/admin/workspace")
	r = b.post("/admin/logout", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, r.Status)
	require.Equal(t, "/admin/login", r.Location)
	replay := e.browser(t)
	setCookie(replay, sessionCookieName, old)
	require.Equal(t, http.StatusSeeOther, replay.get("/admin/workspace").Status)
	var n int
	require.NoError(t, e.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM admin_sessions`).Scan(&n))
	require.Zero(t, n)
}

const sessionCookieName = "nubiq_admin"

func cookie(b *browser, name string) string {
	u, _ := url.Parse(b.base + "/admin/")
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func setCookie(b *browser, name, value string) {
	u, _ := url.Parse(b.base + "/admin/")
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/admin/"}})
}

func TestSessionCookieAttributes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member(t, e.WS, "ana@example.com", "owner", "correct horse battery")
	b := e.browser(t)
	tok := b.csrf("/admin/login")

	// Over plain HTTP the cookie cannot be Secure (the browser would drop it); behind a TLS
	// proxy it is, when the proxy is trusted.
	for _, proto := range []string{"", "https"} {
		req, _ := http.NewRequest(http.MethodPost, b.base+"/admin/login", strings.NewReader(url.Values{
			"csrf": {tok}, "email": {"ana@example.com"}, "password": {"correct horse battery"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "nubiq_admin_login", Value: tok})
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		res, err := http.DefaultTransport.RoundTrip(req)
		require.NoError(t, err)
		res.Body.Close()
		var c *http.Cookie
		for _, k := range res.Cookies() {
			if k.Name == sessionCookieName {
				c = k
			}
		}
		require.NotNil(t, c)
		require.True(t, c.HttpOnly)
		require.Equal(t, http.SameSiteLaxMode, c.SameSite)
		require.Equal(t, "/admin/", c.Path)
		require.Greater(t, c.MaxAge, 11*3600)
		require.False(t, c.Secure, "X-Forwarded-Proto is ignored unless the proxy is trusted")
	}

	e2 := newEnv(t, func(c *admin.Config) { c.SecureCookies = true })
	e2.member(t, e2.WS, "ana@example.com", "owner", "correct horse battery")
	b2 := e2.browser(t)
	tok = b2.csrf("/admin/login")
	req, _ := http.NewRequest(http.MethodPost, b2.base+"/admin/login", strings.NewReader(url.Values{
		"csrf": {tok}, "email": {"ana@example.com"}, "password": {"correct horse battery"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "nubiq_admin_login", Value: tok})
	res, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Contains(t, res.Header.Values("Set-Cookie")[0], "Secure")
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.browser(t).get("/admin/login")
	require.Equal(t, http.StatusOK, r.Status)
	csp := r.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self'")
	require.NotContains(t, csp, "unsafe-inline")
	require.Contains(t, csp, "frame-ancestors 'none'")
	require.Equal(t, "DENY", r.Header.Get("X-Frame-Options"))
	require.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	// No inline script or style attribute anywhere in the page, so the CSP can forbid them.
	require.NotRegexp(t, `<script>|<script [^>]*>[^<]|style=`, r.Body)
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member(t, e.WS, "ana@example.com", "owner", "correct horse battery")
	b := e.browser(t)
	b.mustLogin("ana@example.com", "correct horse battery")
	form := url.Values{"name": {"ci"}, "scope": {"tickets:read"}, "expiry": {"30"}}

	// Missing token, a wrong token, and another session's token are all refused.
	other := e.browser(t)
	other.mustLogin("ana@example.com", "correct horse battery")
	for _, tok := range []string{"", "x", other.csrf("/admin/settings/api-keys/new")} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		if tok != "" {
			f.Set("csrf", tok)
		}
		r := b.post("/admin/settings/api-keys", f)
		require.Equal(t, http.StatusForbidden, r.Status, "token %q", tok)
		require.Contains(t, r.Body, "this form has expired")
	}
	keys, err := e.DB.ListAPIKeys(context.Background(), e.WS)
	require.NoError(t, err)
	require.Empty(t, keys)

	// Sign-out needs the token too, so another site cannot sign the admin out.
	require.Equal(t, http.StatusForbidden, b.post("/admin/logout", url.Values{}).Status)

	// A cross-origin POST is refused even with a valid token.
	tok := b.csrf("/admin/settings/api-keys/new")
	form.Set("csrf", tok)
	r := b.post("/admin/settings/api-keys", form, "Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, r.Status)
	r = b.post("/admin/settings/api-keys", form, "Origin", "https://evil.example")
	require.Equal(t, http.StatusForbidden, r.Status)

	// The sign-in form is protected by its double-submitted token.
	anon := e.browser(t)
	r = anon.post("/admin/login", url.Values{"email": {"ana@example.com"}, "password": {"correct horse battery"}, "csrf": {"forged"}})
	require.Equal(t, http.StatusForbidden, r.Status)
	require.Empty(t, cookie(anon, sessionCookieName))

	r = b.post("/admin/settings/api-keys", form)
	require.Equal(t, http.StatusCreated, r.Status, r.Body)
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *admin.Config) { c.SessionTTL = time.Hour })
	e.member(t, e.WS, "ana@example.com", "owner", "correct horse battery")
	b := e.browser(t)
	b.mustLogin("ana@example.com", "correct horse battery")
	require.Equal(t, http.StatusOK, b.get("/admin/workspace").Status)

	e.Clock.Add(59 * time.Minute)
	require.Equal(t, http.StatusOK, b.get("/admin/workspace").Status)
	e.Clock.Add(2 * time.Minute)
	r := b.get("/admin/workspace")
	require.Equal(t, http.StatusSeeOther, r.Status)
	require.True(t, strings.HasPrefix(r.Location, "/admin/login"), r.Location)

	// The next sign-in clears the expired row away.
	b.mustLogin("ana@example.com", "correct horse battery")
	var n int
	require.NoError(t, e.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM admin_sessions`).Scan(&n))
	require.Equal(t, 1, n)
}

func TestOnlyActiveOwnersAndAdminsSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member(t, e.WS, "agent@example.com", "agent", "correct horse battery")
	disabled := e.member(t, e.WS, "gone@example.com", "admin", "correct horse battery")
	_, err := e.DB.Pool.Exec(context.Background(), `UPDATE members SET status = 'disabled' WHERE id = $1`, disabled)
	require.NoError(t, err)
	admin := e.member(t, e.WS, "admin@example.com", "admin", "correct horse battery")

	for _, email := range []string{"agent@example.com", "gone@example.com"} {
		r := e.browser(t).login(email, "correct horse battery", "")
		require.Equal(t, http.StatusUnauthorized, r.Status, email)
		require.Contains(t, r.Body, "The email, password or workspace is not correct.")
	}

	// An admin demoted while signed in loses access at the next request.
	b := e.browser(t)
	b.mustLogin("admin@example.com", "correct horse battery")
	require.Equal(t, http.StatusOK, b.get("/admin/settings/api-keys").Status)
	_, err = e.DB.Pool.Exec(context.Background(), `UPDATE members SET role = 'agent' WHERE id = $1`, admin)
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, b.get("/admin/settings/api-keys").Status)
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member(t, e.WS, "ana@example.com", "owner", "correct horse battery")
	e.member(t, e.WS, "bo@example.com", "admin", "correct horse battery")
	b := e.browser(t)
	for i := range 5 {
		r := b.login("ana@example.com", "guess number "+string(rune('a'+i)), "")
		require.Equal(t, http.StatusUnauthorized, r.Status, "attempt %d", i+1)
	}
	// The sixth attempt within the minute is refused, even with the right password.
	r := b.login("ana@example.com", "correct horse battery", "")
	require.Equal(t, http.StatusTooManyRequests, r.Status)
	require.Contains(t, r.Body, "Too many sign-in attempts")
	require.NotEmpty(t, r.Header.Get("Retry-After"))
	require.Empty(t, cookie(b, sessionCookieName))

	// Another email from the same address has its own budget.
	require.Equal(t, http.StatusSeeOther, e.browser(t).login("bo@example.com", "correct horse battery", "").Status)

	// A minute later the budget is back.
	e.Clock.Add(61 * time.Second)
	require.Equal(t, http.StatusSeeOther, b.login("ana@example.com", "correct horse battery", "").Status)
}

func TestLoginRateLimitPerIPAcrossEmails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	b := e.browser(t)
	// 20 attempts (4 × 5) spread over emails exhaust the address's budget.
	for i := range 20 {
		r := b.login("user"+string(rune('a'+i))+"@example.com", "whatever password", "")
		require.Equal(t, http.StatusUnauthorized, r.Status, "attempt %d", i+1)
	}
	require.Equal(t, http.StatusTooManyRequests, b.login("fresh@example.com", "whatever password", "").Status)
}

func TestOneTimePasswordMustBeChanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	hash, err := admin.HashPassword("one-time-pass-123", bcrypt.MinCost)
	require.NoError(t, err)
	_, created, err := e.DB.BootstrapAdmin(context.Background(), postgres.BootstrapAdminParams{WorkspaceID: e.WS, Email: "ana@example.com", PasswordHash: hash})
	require.NoError(t, err)
	require.True(t, created)

	b := e.browser(t)
	r := b.login("ana@example.com", "one-time-pass-123", "")
	require.Equal(t, http.StatusSeeOther, r.Status)
	require.Equal(t, "/admin/account/password", r.Location)
	// Every other page sends the member back until the password is changed.
	r = b.get("/admin/settings/api-keys")
	require.Equal(t, http.StatusSeeOther, r.Status)
	require.Equal(t, "/admin/account/password", r.Location)

	tok := b.csrf("/admin/account/password")
	for _, c := range []struct {
		current, new, confirm, want string
	}{
		{"wrong", "a long new password", "a long new password", "The current password is not correct."},
		{"one-time-pass-123", "short", "short", "at least 12 characters"},
		{"one-time-pass-123", "a long new password", "a different one!", "The two new passwords differ."},
		{"one-time-pass-123", "one-time-pass-123", "one-time-pass-123", "different from the current one"},
	} {
		r = b.post("/admin/account/password", url.Values{"csrf": {tok}, "current": {c.current}, "new": {c.new}, "confirm": {c.confirm}})
		require.Equal(t, http.StatusBadRequest, r.Status)
		require.Contains(t, r.Body, c.want)
	}

	// Another session of the member (someone else who had the one-time password) ends.
	other := e.browser(t)
	other.mustLogin("ana@example.com", "one-time-pass-123")
	r = b.post("/admin/account/password", url.Values{"csrf": {tok}, "current": {"one-time-pass-123"}, "new": {"a long new password"}, "confirm": {"a long new password"}})
	require.Equal(t, http.StatusSeeOther, r.Status, r.Body)
	require.Equal(t, http.StatusOK, b.get("/admin/settings/api-keys").Status)
	require.Equal(t, http.StatusSeeOther, other.get("/admin/workspace").Status)
	require.Equal(t, http.StatusUnauthorized, e.browser(t).login("ana@example.com", "one-time-pass-123", "").Status)
	require.Equal(t, http.StatusSeeOther, e.browser(t).login("ana@example.com", "a long new password", "").Status)
}

func TestSeveralWorkspaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	w2, err := e.DB.CreateWorkspace(context.Background(), "Beta", "enterprise")
	require.NoError(t, err)
	e.member(t, e.WS, "ana@example.com", "owner", "correct horse battery")
	e.member(t, w2.ID, "ana@example.com", "admin", "correct horse battery")

	b := e.browser(t)
	r := b.login("ana@example.com", "correct horse battery", "")
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Contains(t, r.Body, "several workspaces")
	require.Equal(t, http.StatusSeeOther, b.login("ana@example.com", "correct horse battery", "beta").Status)
	r = b.get("/admin/workspace")
	require.Contains(t, r.Body, "Workspace Beta")
	require.Contains(t, r.Body, "Enterprise")
}

func TestNextIsKeptInsideTheDashboard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member(t, e.WS, "ana@example.com", "owner", "correct horse battery")
	for next, want := range map[string]string{
		"/admin/documents":        "/admin/documents",
		"https://evil.example/":   "/admin/workspace",
		"//evil.example/admin/":   "/admin/workspace",
		"/admin/\\evil":           "/admin/workspace",
		"/api/mcp/":               "/admin/workspace",
		"/admin/login?next=/evil": "/admin/workspace",
	} {
		b := e.browser(t)
		tok := b.csrf("/admin/login")
		r := b.post("/admin/login", url.Values{"csrf": {tok}, "email": {"ana@example.com"}, "password": {"correct horse battery"}, "next": {next}})
		require.Equal(t, http.StatusSeeOther, r.Status)
		require.Equal(t, want, r.Location, "next %q", next)
	}
}

func TestNotFoundAndStatic(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	b := e.browser(t)
	r := b.get("/admin/static/admin.css")
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, r.Header.Get("Content-Type"), "text/css")
	require.Equal(t, http.StatusNotFound, b.get("/admin/static/").Status)
	require.Equal(t, http.StatusNotFound, b.get("/admin/nothing-here").Status)
}
