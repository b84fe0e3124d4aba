package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

const (
	sessionCookie = "nubiq_admin"
	loginCookie   = "nubiq_admin_login"
	cookiePath    = "/admin/"
)

// DefaultPasswordCost is the bcrypt cost of dashboard passwords: about a quarter of a second
// on one core of a small server, which is what makes guessing expensive.
const DefaultPasswordCost = 12

// Password length bounds. bcrypt reads at most 72 bytes; longer passwords are refused rather
// than silently truncated.
const (
	MinPasswordChars = 12
	MaxPasswordBytes = 72
)

// HashPassword returns the bcrypt hash of password at cost (DefaultPasswordCost when 0).
func HashPassword(password string, cost int) (string, error) {
	if cost == 0 {
		cost = DefaultPasswordCost
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(b), nil
}

// CheckPasswordRules reports what is wrong with a new password, as an invalid error on field.
func CheckPasswordRules(field, password string) error {
	if n := utf8.RuneCountInString(password); n < MinPasswordChars {
		return nubiq.Invalidf(field, "must be at least %d characters", MinPasswordChars)
	}
	if len(password) > MaxPasswordBytes {
		return nubiq.Invalidf(field, "must be at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// NewOneTimePassword returns a random password of 20 base62 characters (119 bits), for
// `nubiq admin create`.
func NewOneTimePassword() string {
	// The API key generator already draws uniform base62; take its random part.
	return postgres.NewKeySecret()[len(postgres.KeyPrefix):][:20]
}

// spendPasswordTime runs one bcrypt comparison that cannot succeed, at the configured cost,
// so that an unknown email costs what a wrong password costs.
func (h *Handler) spendPasswordTime(password string) {
	h.dummyOnce.Do(func() {
		h.dummyHash, _ = bcrypt.GenerateFromPassword([]byte(randomToken()), h.cfg.PasswordCost)
	})
	bcrypt.CompareHashAndPassword(h.dummyHash, []byte(password)) //nolint:errcheck
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// validToken reports whether s has the shape of a token from randomToken, so that junk never
// reaches the database.
func validToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	c := &http.Cookie{
		Name: name, Value: value, Path: cookiePath,
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteLaxMode,
	}
	if value == "" {
		c.MaxAge = -1
	} else if !expires.IsZero() {
		c.Expires = expires
		c.MaxAge = int(math.Ceil(expires.Sub(h.now()).Seconds()))
	}
	http.SetCookie(w, c)
}

// session returns the signed-in session of r, or nil.
func (h *Handler) session(r *http.Request) (*postgres.AdminSession, string, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || !validToken(c.Value) {
		return nil, "", nil
	}
	s, err := h.db.AdminSessionByToken(r.Context(), hashToken(c.Value), h.now())
	if nubiq.ErrorCode(err) == nubiq.ECodeNotFound {
		return nil, "", nil
	} else if err != nil {
		return nil, "", err
	}
	return s, c.Value, nil
}

type authedFunc func(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession)

// authed runs fn for a signed-in owner or admin, after checking the CSRF token of POSTs.
// Others are sent to sign in; members who must replace a one-time password are sent to do so.
func (h *Handler) authed(fn authedFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _, err := h.session(r)
		if err != nil {
			h.renderError(w, r, nil, err)
			return
		}
		if s == nil {
			h.toLogin(w, r)
			return
		}
		if r.Method == http.MethodPost {
			if err := h.checkCSRF(w, r, s); err != nil {
				h.renderError(w, r, s, err)
				return
			}
		}
		if s.PasswordChangeRequired && r.URL.Path != "/admin/account/password" && r.URL.Path != "/admin/logout" {
			http.Redirect(w, r, "/admin/account/password", http.StatusSeeOther)
			return
		}
		fn(w, r, s)
	})
}

func (h *Handler) toLogin(w http.ResponseWriter, r *http.Request) {
	next := ""
	if r.Method == http.MethodGet {
		next = r.URL.RequestURI()
	}
	target := "/admin/login"
	if n := safeNext(next); next != "" && n == next {
		target += "?next=" + url.QueryEscape(n)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// errCSRF is what a form with a missing or stale token gets.
var errCSRF = nubiq.Errorf(nubiq.ECodeForbidden, "this form has expired or did not come from this dashboard; go back, reload the page and try again")

func (h *Handler) checkCSRF(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxUploadBytes+1<<20)
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nubiq.Errorf(nubiq.ECodeTooLarge, "the upload exceeds the limit of %s", formatBytes(h.cfg.MaxUploadBytes))
			}
			return nubiq.Invalidf("file", "the upload could not be read: %v", err)
		}
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	}
	got := r.PostFormValue("csrf")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRFToken)) != 1 {
		h.log.Warn("dashboard form refused: bad CSRF token", "path", r.URL.Path, "member", s.MemberID)
		return errCSRF
	}
	return nil
}

type loginData struct {
	Email     string
	Workspace string
	Next      string
	CSRF      string
	Error     string
	// AskWorkspace shows the workspace field first: the email signs in to several.
	AskWorkspace bool
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if s, _, err := h.session(r); err == nil && s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	h.renderLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

// renderLogin shows the sign-in form with a fresh double-submit token.
func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	d.CSRF = randomToken()
	h.setCookie(w, r, loginCookie, d.CSRF, h.now().Add(time.Hour))
	h.render(w, status, "login", page{Title: "Sign in", Data: d})
}

// errBadCredentials is the one answer to every wrong combination, so that it tells nothing
// about which part was wrong or whether the email exists.
const errBadCredentials = "The email, password or workspace is not correct."

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.renderError(w, r, nil, nubiq.Invalidf("form", "could not be read"))
		return
	}
	d := loginData{
		Email:     strings.TrimSpace(r.PostFormValue("email")),
		Workspace: strings.TrimSpace(r.PostFormValue("workspace")),
		Next:      safeNext(r.PostFormValue("next")),
	}
	password := r.PostFormValue("password")
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		d.Error = "The sign-in form expired. Please try again."
		h.renderLogin(w, r, http.StatusForbidden, d)
		return
	}
	if d.Email == "" || password == "" {
		d.Error = "Enter your email and password."
		h.renderLogin(w, r, http.StatusBadRequest, d)
		return
	}
	ip := h.clientIP(r)
	keys := []string{"e|" + ip + "|" + strings.ToLower(d.Email), "i|" + ip}
	if ok, retry := h.limiter.allow(keys[0], 1, keys[1], 4); !ok {
		secs := int(math.Ceil(retry.Seconds()))
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		d.Error = fmt.Sprintf("Too many sign-in attempts. Try again in %d seconds.", secs)
		h.log.Warn("dashboard sign-in rate limited", "ip", ip)
		h.renderLogin(w, r, http.StatusTooManyRequests, d)
		return
	}
	if len(password) > 1024 {
		password = password[:1024] // bcrypt reads 72 bytes; bound the work on absurd input
	}
	m, err := h.checkCredentials(r, d.Email, d.Workspace, password)
	switch {
	case errors.Is(err, errSeveralWorkspaces):
		d.AskWorkspace = true
		d.Error = "This email signs in to several workspaces. Enter the workspace name too."
		h.renderLogin(w, r, http.StatusUnauthorized, d)
		return
	case err != nil:
		h.renderError(w, r, nil, err)
		return
	case m == nil:
		h.log.Info("dashboard sign-in failed", "ip", ip)
		d.Error = errBadCredentials
		h.renderLogin(w, r, http.StatusUnauthorized, d)
		return
	}
	h.limiter.reset(keys[0])
	token, csrf := randomToken(), randomToken()
	now := h.now()
	expires := now.Add(h.cfg.SessionTTL)
	if err := h.db.CreateAdminSession(r.Context(), m.WorkspaceID, m.ID, hashToken(token), csrf, now, expires); err != nil {
		h.renderError(w, r, nil, err)
		return
	}
	h.setCookie(w, r, sessionCookie, token, expires)
	h.setCookie(w, r, loginCookie, "", time.Time{})
	h.log.Info("dashboard sign-in", "workspace", m.WorkspaceID, "member", m.ID)
	next := d.Next
	if m.PasswordChangeRequired {
		next = "/admin/account/password"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

var errSeveralWorkspaces = errors.New("several workspaces match")

// checkCredentials returns the member the credentials sign in as, nil when they do not.
func (h *Handler) checkCredentials(r *http.Request, email, workspace, password string) (*postgres.AdminMember, error) {
	cands, err := h.db.SignInCandidates(r.Context(), email, workspace)
	if err != nil {
		return nil, err
	}
	if len(cands) == 0 {
		h.spendPasswordTime(password)
		return nil, nil
	}
	var match []postgres.AdminMember
	for _, c := range cands {
		if bcrypt.CompareHashAndPassword([]byte(c.PasswordHash), []byte(password)) == nil {
			match = append(match, c)
		}
	}
	switch len(match) {
	case 0:
		return nil, nil
	case 1:
		return &match[0], nil
	}
	return nil, errSeveralWorkspaces
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	if c, err := r.Cookie(sessionCookie); err == nil && validToken(c.Value) {
		if err := h.db.DeleteAdminSession(r.Context(), s.WorkspaceID, hashToken(c.Value)); err != nil {
			h.renderError(w, r, s, err)
			return
		}
	}
	h.setCookie(w, r, sessionCookie, "", time.Time{})
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

type passwordData struct {
	Required bool
	Errors   map[string]string
}

func (h *Handler) passwordPage(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	h.render(w, http.StatusOK, "password", page{Title: "Change password", Nav: "account", Session: s,
		Data: passwordData{Required: s.PasswordChangeRequired}})
}

func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	current, next, confirm := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("confirm")
	errs := map[string]string{}
	if err := CheckPasswordRules("new", next); err != nil {
		errs["new"] = "The new password " + strings.TrimPrefix(nubiq.ErrorMessage(err), "new: ") + "."
	} else if next != confirm {
		errs["confirm"] = "The two new passwords differ."
	} else if next == current {
		errs["new"] = "Choose a password different from the current one."
	}
	ok, err := h.verifyPassword(r, s, current)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	if !ok {
		errs["current"] = "The current password is not correct."
	}
	if len(errs) > 0 {
		h.render(w, http.StatusBadRequest, "password", page{Title: "Change password", Nav: "account", Session: s,
			Data: passwordData{Required: s.PasswordChangeRequired, Errors: errs}})
		return
	}
	hash, err := HashPassword(next, h.cfg.PasswordCost)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	c, _ := r.Cookie(sessionCookie)
	if err := h.db.ChangeMemberPassword(r.Context(), s.WorkspaceID, s.MemberID, hash, hashToken(c.Value)); err != nil {
		h.renderError(w, r, s, err)
		return
	}
	h.audit(r.Context(), s, "member.password_change", fmt.Sprintf("member:%d", s.MemberID))
	http.Redirect(w, r, "/admin/workspace?notice=password", http.StatusSeeOther)
}

// verifyPassword checks the signed-in member's current password, rate-limited like sign-in.
func (h *Handler) verifyPassword(r *http.Request, s *postgres.AdminSession, password string) (bool, error) {
	key := fmt.Sprintf("p|%d", s.MemberID)
	if ok, _ := h.limiter.allow(key, 1, "", 0); !ok {
		return false, nubiq.Errorf(nubiq.ECodeRateLimited, "too many attempts; wait a minute and try again")
	}
	cands, err := h.db.SignInCandidates(r.Context(), s.Email, fmt.Sprint(s.WorkspaceID))
	if err != nil {
		return false, err
	}
	for _, c := range cands {
		if c.ID == s.MemberID {
			return bcrypt.CompareHashAndPassword([]byte(c.PasswordHash), []byte(password)) == nil, nil
		}
	}
	return false, nil
}

// loginLimiter counts attempts per key in a sliding window, in memory.
type loginLimiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	hits   map[string][]time.Time
}

// maxLimiterKeys bounds the limiter's memory; past it, keys whose window has passed are swept.
const maxLimiterKeys = 100_000

func newLoginLimiter(max int, window time.Duration, now func() time.Time) *loginLimiter {
	return &loginLimiter{max: max, window: window, now: now, hits: map[string][]time.Time{}}
}

// allow counts an attempt against key (limit max×mult) and, when key2 is not empty, against
// key2 (limit max×mult2). It refuses, counting nothing, when either is full, and says when the
// oldest attempt in the fuller window leaves it.
func (l *loginLimiter) allow(key string, mult int, key2 string, mult2 int) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.hits) >= maxLimiterKeys {
		for k := range l.hits {
			l.prune(k, now)
		}
	}
	var retry time.Duration
	full := false
	for _, kl := range []struct {
		key   string
		limit int
	}{{key, l.max * mult}, {key2, l.max * mult2}} {
		if kl.key == "" {
			continue
		}
		h := l.prune(kl.key, now)
		if len(h) >= kl.limit {
			full = true
			retry = max(retry, h[len(h)-kl.limit].Add(l.window).Sub(now))
		}
	}
	if full {
		return false, max(retry, time.Second)
	}
	l.hits[key] = append(l.hits[key], now)
	if key2 != "" {
		l.hits[key2] = append(l.hits[key2], now)
	}
	return true, 0
}

// prune drops attempts older than the window and returns what is left.
func (l *loginLimiter) prune(key string, now time.Time) []time.Time {
	h := l.hits[key]
	i := 0
	for i < len(h) && !h[i].After(now.Add(-l.window)) {
		i++
	}
	h = h[i:]
	if len(h) == 0 {
		delete(l.hits, key)
		return nil
	}
	l.hits[key] = h
	return h
}

func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.hits, key)
}
