package admin

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

var notices = map[string]string{
	"password":  "Your password was changed. Other sessions of yours were signed out.",
	"uploaded":  "The document was uploaded and queued for indexing.",
	"unchanged": "A document with exactly this content was already uploaded; nothing new was queued.",
	"deleted":   "The document was deleted.",
}

type workspaceData struct {
	Workspace *nubiq.Workspace
	Usage     *nubiq.Usage
	// Keys are the keys that made requests this month, busiest today first.
	Keys []nubiq.KeyUsage
}

func (h *Handler) workspacePage(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	ws, err := h.db.FindWorkspace(r.Context(), fmt.Sprint(s.WorkspaceID))
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	u, err := h.db.Usage(r.Context(), s.WorkspaceID, h.now())
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	d := workspaceData{Workspace: ws, Usage: u}
	for _, k := range u.Keys {
		if k.Month > 0 || k.Day > 0 || k.Minute > 0 {
			d.Keys = append(d.Keys, k)
		}
	}
	slices.SortStableFunc(d.Keys, func(a, b nubiq.KeyUsage) int {
		return cmp.Or(cmp.Compare(b.Day, a.Day), cmp.Compare(b.Month, a.Month), cmp.Compare(a.ID, b.ID))
	})
	h.render(w, http.StatusOK, "workspace", page{Title: "Workspace", Nav: "workspace", Session: s,
		Notice: notices[r.URL.Query().Get("notice")], Data: d})
}
