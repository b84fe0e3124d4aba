package admin

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"riverqueue.com/riverui"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// newJobsUI serves River's UI under /admin/jobs/ on the database's River client. The client
// needs no workers: the UI only reads and updates job rows.
func newJobsUI(ctx context.Context, db *postgres.DB, logger *slog.Logger) (http.Handler, error) {
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(db.River, nil),
		Logger:    logger.With("component", "riverui"),
		Prefix:    "/admin/jobs",
	})
	if err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	if err := ui.Start(ctx); err != nil {
		return nil, fmt.Errorf("start river ui: %w", err)
	}
	return ui, nil
}

var errJobsUnavailable = nubiq.Errorf(nubiq.ECodeUnavailable, "the job queue UI is not available on this server")

// authedJobs puts the job UI behind sign-in. Its API takes JSON, not forms, so it carries no
// CSRF token: cross-origin requests are refused by Handler's origin check, and the session
// cookie is SameSite=Lax, so no other site's page can make a request that carries it.
func (h *Handler) authedJobs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _, err := h.session(r)
		if err != nil {
			h.renderError(w, r, nil, err)
			return
		}
		if s == nil {
			if r.Method != http.MethodGet || strings.HasPrefix(r.URL.Path, "/admin/jobs/api/") {
				http.Error(w, `{"message":"sign in to the dashboard first"}`, http.StatusUnauthorized)
				return
			}
			h.toLogin(w, r)
			return
		}
		if s.PasswordChangeRequired {
			http.Redirect(w, r, "/admin/account/password", http.StatusSeeOther)
			return
		}
		if h.jobs == nil {
			h.renderError(w, r, s, errJobsUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h.jobs.ServeHTTP(w, r)
	})
}
