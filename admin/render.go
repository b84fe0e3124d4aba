package admin

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// page is what every template receives.
type page struct {
	Title   string
	Nav     string // the active navigation entry
	Session *postgres.AdminSession
	// Refresh, when positive, reloads the page after that many seconds (reindex progress).
	Refresh int
	// Live, when positive, asks the script to reload the page after that many seconds unless
	// a form on it has been touched (indexing progress on a page that also has forms).
	Live   int
	Notice string
	Data   any
}

// CSRF is the token every form of a signed-in page carries.
func (p page) CSRF() string {
	if p.Session == nil {
		return ""
	}
	return p.Session.CSRFToken
}

var funcs = template.FuncMap{
	"time": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return ""
	},
	"iso": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format(time.RFC3339)
		case *time.Time:
			if v != nil {
				return v.UTC().Format(time.RFC3339)
			}
		}
		return ""
	},
	"date":  func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"bytes": formatBytes,
	"percent": func(n, of int) int {
		if of <= 0 {
			return 0
		}
		p := n * 100 / of
		return min(p, 100)
	},
	"add": func(a, b int) int { return a + b },
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"num": func(n int) string {
		s := fmt.Sprint(n)
		for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	},
}

// templates maps a page name to its template set: the layout plus the page.
var templates = func() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	m := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		m[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, n))
	}
	return m
}()

// render writes a page with status. Signed-in pages are never stored by caches or the browser.
func (h *Handler) render(w http.ResponseWriter, status int, name string, p page) {
	t := templates[name]
	if t == nil {
		panic("admin: no template " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		h.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck
}

// renderError shows err on an error page with the status its code maps to. Internal errors
// are logged and shown generically.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession, err error) {
	code := nubiq.ErrorCode(err)
	if code == nubiq.ECodeInternal {
		h.log.Error("dashboard", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	status := nubiq.ErrorStatus(code)
	title := http.StatusText(status)
	h.render(w, status, "error", page{Title: title, Session: s, Data: errorPage{Status: status, Message: nubiq.ErrorMessage(err)}})
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

type errorPage struct {
	Status  int
	Message string
}

func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix("/admin/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
