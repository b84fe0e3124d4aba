package admin

import (
	"net/http"

	"github.com/nubiq/hub/postgres"
)

var notices = map[string]string{
	"password": "Your password was changed. Other sessions of yours were signed out.",
	"uploaded": "The document was uploaded and queued for indexing.",
	"deleted":  "The document was deleted.",
}

func (h *Handler) workspacePage(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	u, err := h.db.WorkspaceUsage(r.Context(), s.WorkspaceID, h.now())
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	h.render(w, http.StatusOK, "workspace", page{Title: "Workspace", Nav: "workspace", Session: s,
		Notice: notices[r.URL.Query().Get("notice")], Data: u})
}
