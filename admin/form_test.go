package admin

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
)

func TestParseKeyForm(t *testing.T) {
	now := time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)
	year := 365 * 24 * time.Hour
	valid := func(mod func(url.Values)) url.Values {
		v := url.Values{"name": {"  Claude Code  "}, "scope": {"tickets:read", "documents:read", "tickets:read"}, "expiry": {"90"}}
		if mod != nil {
			mod(v)
		}
		return v
	}
	for _, c := range []struct {
		name    string
		form    url.Values
		maxLife time.Duration
		errs    map[string]string // field → part of the message
		expires time.Time
	}{
		{name: "valid", form: valid(nil), maxLife: year, expires: now.Add(90 * 24 * time.Hour)},
		{name: "30 days", form: valid(func(v url.Values) { v.Set("expiry", "30") }), maxLife: year, expires: now.Add(30 * 24 * time.Hour)},
		{name: "365 days at the maximum", form: valid(func(v url.Values) { v.Set("expiry", "365") }), maxLife: year, expires: now.Add(year)},
		{name: "date", form: valid(func(v url.Values) { v.Set("expiry", "date"); v.Set("date", "2026-12-31") }), maxLife: year,
			expires: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)},
		{name: "no name", form: valid(func(v url.Values) { v.Set("name", "   ") }), maxLife: year, errs: map[string]string{"name": "Enter a name"}},
		{name: "long name", form: valid(func(v url.Values) { v.Set("name", strings.Repeat("é", 201)) }), maxLife: year, errs: map[string]string{"name": "at most 200"}},
		{name: "control characters", form: valid(func(v url.Values) { v.Set("name", "a\x00b") }), maxLife: year, errs: map[string]string{"name": "control characters"}},
		{name: "no scope", form: valid(func(v url.Values) { v.Del("scope") }), maxLife: year, errs: map[string]string{"scopes": "at least one scope"}},
		{name: "unknown scope", form: valid(func(v url.Values) { v.Add("scope", "admin:all") }), maxLife: year, errs: map[string]string{"scopes": `"admin:all" is not a scope`}},
		{name: "no expiry", form: valid(func(v url.Values) { v.Del("expiry") }), maxLife: year, errs: map[string]string{"expiry": "Choose when"}},
		{name: "unoffered period", form: valid(func(v url.Values) { v.Set("expiry", "7") }), maxLife: year, errs: map[string]string{"expiry": "offered"}},
		{name: "period past the maximum", form: valid(func(v url.Values) { v.Set("expiry", "365") }), maxLife: 90 * 24 * time.Hour,
			errs: map[string]string{"expiry": "at most 90 days"}},
		{name: "date missing", form: valid(func(v url.Values) { v.Set("expiry", "date") }), maxLife: year, errs: map[string]string{"date": "Enter the date"}},
		{name: "date malformed", form: valid(func(v url.Values) { v.Set("expiry", "date"); v.Set("date", "31/12/2026") }), maxLife: year,
			errs: map[string]string{"date": "YYYY-MM-DD"}},
		{name: "date today is past", form: valid(func(v url.Values) { v.Set("expiry", "date"); v.Set("date", "2026-03-10") }), maxLife: year,
			errs: map[string]string{"date": "in the future"}},
		{name: "date past the maximum", form: valid(func(v url.Values) { v.Set("expiry", "date"); v.Set("date", "2027-03-11") }), maxLife: year,
			errs: map[string]string{"date": "no later than 2027-03-10"}},
		{name: "everything wrong at once", form: url.Values{"expiry": {"date"}}, maxLife: year,
			errs: map[string]string{"name": "Enter a name", "scopes": "at least one", "date": "Enter the date"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, k, errs := parseKeyForm(c.form, now, c.maxLife)
			if c.errs != nil {
				require.Nil(t, k)
				require.Len(t, errs, len(c.errs), "%v", errs)
				for field, want := range c.errs {
					require.Contains(t, errs[field], want)
				}
				return
			}
			require.Empty(t, errs)
			require.Equal(t, "Claude Code", k.Name)
			require.Equal(t, "Claude Code", f.Name)
			require.Equal(t, []nubiq.Scope{nubiq.ScopeTicketsRead, nubiq.ScopeDocumentsRead}, k.Scopes, "contract order, no duplicates")
			require.Equal(t, c.expires, k.ExpiresAt)
		})
	}
}

func TestScopeGroups(t *testing.T) {
	g := scopeGroups(map[nubiq.Scope]bool{nubiq.ScopeTeamWrite: true})
	var names []string
	n := 0
	for _, grp := range g {
		names = append(names, grp.Domain)
		for _, s := range grp.Scopes {
			n++
			require.NotEmpty(t, s.Description)
			require.Equal(t, s.Scope == "team:write", s.Checked)
		}
	}
	require.Equal(t, len(nubiq.AllScopes), n)
	require.Equal(t, []string{"Conversations", "Tickets", "Documents", "Contacts", "Analytics", "Channels", "Widget", "Billing", "Team", "Notifications"}, names)
}

func TestLoginLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLoginLimiter(3, time.Minute, func() time.Time { return now })
	for i := range 3 {
		ok, _ := l.allow("a", 1, "ip", 2)
		require.True(t, ok, "attempt %d", i+1)
		now = now.Add(10 * time.Second)
	}
	ok, retry := l.allow("a", 1, "ip", 2)
	require.False(t, ok)
	require.Equal(t, 30*time.Second, retry, "the first attempt leaves the window 60s after it was made")
	// Refused attempts are not counted: the window frees up on time.
	now = now.Add(30 * time.Second)
	ok, _ = l.allow("a", 1, "ip", 2)
	require.True(t, ok)
	// The per-IP key (limit 6; the attempt at 0s has left the window) fills across emails.
	for _, k := range []string{"b", "c", "d"} {
		ok, _ = l.allow(k, 1, "ip", 2)
		require.True(t, ok)
	}
	ok, _ = l.allow("e", 1, "ip", 2)
	require.False(t, ok)
	l.reset("a")
	ok, _ = l.allow("a", 1, "", 0)
	require.True(t, ok)
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "/admin/workspace",
		"/admin/documents?x=1":   "/admin/documents?x=1",
		"/admin/jobs/":           "/admin/jobs/",
		"http://evil/admin/":     "/admin/workspace",
		"//evil/admin/":          "/admin/workspace",
		"/admin/\\\\evil":        "/admin/workspace",
		"/admin/login":           "/admin/workspace",
		"/adminx":                "/admin/workspace",
		"/admin/a\r\nSet-Cookie": "/admin/workspace",
	} {
		require.Equal(t, want, safeNext(in), "next %q", in)
	}
}
