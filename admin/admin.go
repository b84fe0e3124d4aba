// Package admin serves the dashboard under /admin/: sign-in for a workspace's owners and
// admins, API keys (Settings → API Keys), the workspace's plan and usage, documents and
// reindexing, and River's own job UI under /admin/jobs/.
//
// Pages are rendered on the server from html/template; the one script only adds conveniences
// (copy to clipboard), so every page works without JavaScript.
//
// Security:
//   - Passwords are bcrypt hashes. Sign-in answers one generic message for every bad
//     combination of email, password and workspace, and spends the same bcrypt time when the
//     email is unknown.
//   - Sessions live in admin_sessions, found by the SHA-256 of a random 256-bit token that
//     travels only in an HttpOnly, SameSite=Lax cookie scoped to /admin/, Secure when the
//     request came over TLS (or Config.SecureCookies). They expire after Config.SessionTTL.
//   - Every POST form carries the session's CSRF token, compared in constant time; the sign-in
//     form carries a token double-submitted in a cookie. Cross-origin unsafe requests (by
//     Sec-Fetch-Site or Origin) are refused before any handler runs, which also covers the
//     job UI's JSON API.
//   - Sign-in is rate-limited in memory, per process: Config.LoginAttempts per client IP and
//     email, and four times that per IP, in any Config.LoginWindow. Behind N replicas an
//     attacker gets N times the budget; bcrypt's cost bounds what that buys.
//   - The job UI shows the whole shared queue, so only the admins of Config.JobsWorkspaces (or
//     of a server's only workspace) may open it; other workspaces' admins are refused.
//   - Responses carry a Content-Security-Policy without inline scripts, X-Frame-Options DENY,
//     nosniff and a strict referrer policy; signed-in pages are Cache-Control: no-store.
package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// Prefix is where the dashboard is mounted.
const Prefix = "/admin/"

// Config configures the dashboard. Zero values get defaults (see New).
type Config struct {
	DB     *postgres.DB
	Logger *slog.Logger
	// Jobs serves the job UI under /admin/jobs/. When nil, New serves River's UI on DB.River.
	Jobs http.Handler
	// JobsWorkspaces are the workspaces whose owners and admins may open the job UI. The job
	// queue is shared by every workspace of the server and River's UI shows all of it (job
	// arguments, errors) and can cancel, retry and delete any job, so it is for the server's
	// operators. When empty, the admins of the only workspace may, while there is only one.
	JobsWorkspaces []int64
	// SessionTTL is how long a sign-in lasts. Default 12h.
	SessionTTL time.Duration
	// SecureCookies marks cookies Secure on every request, for deployments whose TLS ends at
	// a proxy that does not send X-Forwarded-Proto. Without it, cookies are Secure when the
	// request came over TLS (or, with TrustProxy, X-Forwarded-Proto says https).
	SecureCookies bool
	// TrustProxy takes the client address from the last X-Forwarded-For entry and the scheme
	// from X-Forwarded-Proto. Enable it only behind a proxy that sets them.
	TrustProxy bool
	// KeyMaxLifetime bounds the expiry of keys created here. Default 365 days.
	KeyMaxLifetime time.Duration
	// LoginAttempts per client IP and email within LoginWindow. Default 5 per minute.
	LoginAttempts int
	LoginWindow   time.Duration
	// MaxUploadBytes bounds an uploaded document, as documents.upload does. Default
	// nubiq.DefaultMaxUploadBytes.
	MaxUploadBytes int64
	// PasswordCost is the bcrypt cost of passwords set here. Default 12.
	PasswordCost int
	// Now is the clock; tests move it.
	Now func() time.Time
}

// Handler is the dashboard.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	db      *postgres.DB
	jobs    http.Handler
	limiter *loginLimiter
	root    http.Handler

	dummyOnce sync.Once
	dummyHash []byte
}

// New builds the dashboard. ctx bounds the background work of River's UI (its caches); it
// should live as long as the server.
func New(ctx context.Context, cfg Config) (*Handler, error) {
	if cfg.DB == nil {
		return nil, fmt.Errorf("admin: a database is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.KeyMaxLifetime <= 0 {
		cfg.KeyMaxLifetime = 365 * 24 * time.Hour
	}
	if cfg.LoginAttempts <= 0 {
		cfg.LoginAttempts = 5
	}
	if cfg.LoginWindow <= 0 {
		cfg.LoginWindow = time.Minute
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = nubiq.DefaultMaxUploadBytes
	}
	if cfg.PasswordCost == 0 {
		cfg.PasswordCost = DefaultPasswordCost
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, db: cfg.DB, jobs: cfg.Jobs}
	h.limiter = newLoginLimiter(cfg.LoginAttempts, cfg.LoginWindow, h.now)
	if h.jobs == nil && cfg.DB.River != nil {
		j, err := newJobsUI(ctx, cfg.DB, cfg.Logger)
		if err != nil {
			return nil, err
		}
		h.jobs = j
	}
	h.root = h.routes()
	return h, nil
}

func (h *Handler) now() time.Time { return h.cfg.Now().UTC() }

func (h *Handler) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /admin/static/", staticHandler())
	mux.HandleFunc("GET /admin/login", h.loginPage)
	mux.HandleFunc("POST /admin/login", h.login)
	mux.Handle("POST /admin/logout", h.authed(h.logout))
	mux.Handle("GET /admin/{$}", h.authed(func(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
		http.Redirect(w, r, "/admin/workspace", http.StatusSeeOther)
	}))
	mux.Handle("GET /admin/account/password", h.authed(h.passwordPage))
	mux.Handle("POST /admin/account/password", h.authed(h.changePassword))
	mux.Handle("GET /admin/workspace", h.authed(h.workspacePage))
	mux.Handle("GET /admin/settings/api-keys", h.authed(h.keysPage))
	mux.Handle("GET /admin/settings/api-keys/new", h.authed(h.newKeyPage))
	mux.Handle("POST /admin/settings/api-keys", h.authed(h.createKey))
	mux.Handle("GET /admin/settings/api-keys/{id}/revoke", h.authed(h.revokeKeyPage))
	mux.Handle("POST /admin/settings/api-keys/{id}/revoke", h.authed(h.revokeKey))
	mux.Handle("GET /admin/documents", h.authed(h.documentsPage))
	mux.Handle("POST /admin/documents", h.authed(h.uploadDocument))
	mux.Handle("GET /admin/documents/{id}/delete", h.authed(h.deleteDocumentPage))
	mux.Handle("POST /admin/documents/{id}/delete", h.authed(h.deleteDocument))
	mux.Handle("POST /admin/documents/{id}/reindex", h.authed(h.reindexDocument))
	mux.Handle("POST /admin/documents/reindex", h.authed(h.reindexAll))
	mux.Handle("GET /admin/reindex-runs/{id}", h.authed(h.reindexRunPage))
	mux.Handle("/admin/jobs/", h.authedJobs())
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, nubiq.NotFoundf("there is no page at %s", r.URL.Path))
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, nubiq.Errorf(nubiq.ECodeForbidden, "cross-origin requests are not accepted"))
	}))
	return cop.Handler(mux)
}

// ServeHTTP serves every path under /admin/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	if strings.HasPrefix(r.URL.Path, "/admin/jobs/") {
		// River's UI is a React app whose components set inline styles.
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'")
	} else {
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	}
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.root.ServeHTTP(w, r)
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// clientIP is the address rate limits are keyed on.
func (h *Handler) clientIP(r *http.Request) string {
	if h.cfg.TrustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			if ip := strings.TrimSpace(parts[len(parts)-1]); ip != "" {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// secure reports whether cookies set in answer to r should be Secure.
func (h *Handler) secure(r *http.Request) bool {
	if h.cfg.SecureCookies || r.TLS != nil {
		return true
	}
	return h.cfg.TrustProxy && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// safeNext returns next when it is a path inside the dashboard, else the default page, so the
// sign-in form cannot be made to redirect elsewhere.
func safeNext(next string) string {
	const def = "/admin/workspace"
	if next == "" || !strings.HasPrefix(next, "/admin/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n") || strings.HasPrefix(next, "/admin/login") {
		return def
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return def
	}
	return next
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, nubiq.NotFoundf("there is no page at %s", r.URL.Path)
	}
	return id, nil
}

func actor(s *postgres.AdminSession) string {
	return fmt.Sprintf("member:%d %s", s.MemberID, s.Email)
}

// audit records a dashboard action; a failure to record is logged, not shown: the action
// itself has happened.
func (h *Handler) audit(ctx context.Context, s *postgres.AdminSession, action, target string) {
	err := h.db.InsertAudit(ctx, nubiq.AuditEntry{WorkspaceID: s.WorkspaceID, Actor: actor(s), Action: action,
		Target: target, Outcome: "ok", CreatedAt: h.now()})
	if err != nil {
		h.log.Warn("record dashboard action", "action", action, "err", err)
	}
}
