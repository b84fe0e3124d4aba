package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
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

// errJobsForOperators refuses the job UI to the admins of a workspace that does not run the
// server.
var errJobsForOperators = nubiq.Errorf(nubiq.ECodeForbidden, "the job queue is shared by every workspace on this server, "+
	"so its UI is only for the admins of the server's operating workspace (NUBIQ_ADMIN_JOBS_WORKSPACES)")

// mayOpenJobs reports whether the session's workspace may see the shared job queue.
func (h *Handler) mayOpenJobs(r *http.Request, s *postgres.AdminSession) error {
	if len(h.cfg.JobsWorkspaces) > 0 {
		if slices.Contains(h.cfg.JobsWorkspaces, s.WorkspaceID) {
			return nil
		}
		return errJobsForOperators
	}
	several, err := h.db.MoreThanOneWorkspace(r.Context())
	if err != nil {
		return err
	}
	if several {
		return errJobsForOperators
	}
	return nil
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
		if err := h.mayOpenJobs(r, s); err != nil {
			if strings.HasPrefix(r.URL.Path, "/admin/jobs/api/") {
				status := nubiq.ErrorStatus(nubiq.ErrorCode(err))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				json.NewEncoder(w).Encode(map[string]string{"message": nubiq.ErrorMessage(err)}) //nolint:errcheck
				return
			}
			h.renderError(w, r, s, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h.jobs.ServeHTTP(w, r)
	})
}
