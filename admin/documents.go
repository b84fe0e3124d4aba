package admin

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/postgres"
)

// The Documents page reads and writes through the same store calls as the documents.* tools:
// an upload stores the document and queues its indexing job in one transaction, and a reindex
// records a run and queues its jobs in one transaction. Whichever node's workers pick the jobs
// up, the page shows their progress.

// documentAccept lists what the file input offers; NormalizeMIME decides what is accepted.
const documentAccept = ".txt,.md,.markdown,.html,.htm,.pdf,.docx,text/plain,text/markdown,text/html,application/pdf,application/vnd.openxmlformats-officedocument.wordprocessingml.document"

// documentsPageSize is how many documents one page of the list shows.
const documentsPageSize = 50

// liveSeconds is how often pages with indexing in progress reload.
const liveSeconds = 3

type documentsData struct {
	Documents []nubiq.Document
	ByStatus  map[string]int
	Pending   int // queued or processing
	Runs      []nubiq.ReindexRun
	Status    string // the status filter, "" for all
	Statuses  []string
	Accept    string
	MaxUpload string
	Next      string
	First     bool
	Error     string
	Title     string
}

func (h *Handler) documentsPage(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	h.renderDocuments(w, r, s, http.StatusOK, "", "")
}

func (h *Handler) renderDocuments(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession, status int, uploadErr, title string) {
	q := r.URL.Query()
	f := nubiq.DocumentFilter{WorkspaceID: s.WorkspaceID, Status: q.Get("status"), Limit: documentsPageSize}
	if f.Status != "" && !slices.Contains(nubiq.DocumentStatuses, f.Status) {
		h.renderError(w, r, s, nubiq.Invalidf("status", "unknown status %q; allowed: %s", f.Status, strings.Join(nubiq.DocumentStatuses, ", ")))
		return
	}
	var err error
	if f.After, err = postgres.DecodeDocumentsCursor(q.Get("after")); err != nil {
		h.renderError(w, r, s, err)
		return
	}
	docs, next, err := h.db.ListDocuments(r.Context(), f)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	counts, err := h.db.DocumentStatusCounts(r.Context(), s.WorkspaceID)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	runs, err := h.db.RecentReindexRuns(r.Context(), s.WorkspaceID, 5)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	d := documentsData{Documents: docs, ByStatus: counts, Runs: runs, Status: f.Status, Statuses: nubiq.DocumentStatuses,
		Accept: documentAccept, MaxUpload: formatBytes(h.cfg.MaxUploadBytes), First: f.After == nil,
		Error: uploadErr, Title: title, Pending: counts[nubiq.DocumentQueued] + counts[nubiq.DocumentProcessing]}
	if next != "" {
		v := statusQuery(f.Status)
		v.Set("after", next)
		d.Next = "/admin/documents?" + v.Encode()
	}
	p := page{Title: "Documents", Nav: "documents", Session: s, Notice: notices[q.Get("notice")], Data: d}
	if d.Pending > 0 || (len(runs) > 0 && runs[0].Status == nubiq.ReindexRunning) {
		p.Live = liveSeconds
	}
	h.render(w, status, "documents", p)
}

// statusQuery is the query of a documents list filtered by status.
func statusQuery(status string) url.Values {
	v := url.Values{}
	if status != "" {
		v.Set("status", status)
	}
	return v
}

func (h *Handler) uploadDocument(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	title := strings.TrimSpace(r.PostFormValue("title"))
	f, hdr, err := r.FormFile("file")
	if err != nil {
		h.renderDocuments(w, r, s, http.StatusBadRequest, "Choose a file to upload.", title)
		return
	}
	defer f.Close()
	limit := h.cfg.MaxUploadBytes
	if hdr.Size > limit {
		h.renderDocuments(w, r, s, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("The file is %s; the limit is %s.", formatBytes(hdr.Size), formatBytes(limit)), title)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		h.renderError(w, r, s, fmt.Errorf("read upload: %w", err))
		return
	}
	if int64(len(raw)) > limit {
		h.renderDocuments(w, r, s, http.StatusRequestEntityTooLarge, fmt.Sprintf("The file is larger than the limit of %s.", formatBytes(limit)), title)
		return
	}
	if len(raw) == 0 {
		h.renderDocuments(w, r, s, http.StatusBadRequest, "The file is empty.", title)
		return
	}
	name := path.Base(strings.ReplaceAll(hdr.Filename, `\`, "/"))
	mimeType, err := indexer.NormalizeMIME(hdr.Header.Get("Content-Type"), name)
	if err != nil {
		h.renderDocuments(w, r, s, http.StatusUnsupportedMediaType,
			"This kind of file cannot be indexed. Upload plain text, Markdown, HTML, PDF or DOCX.", title)
		return
	}
	if title == "" {
		title = strings.TrimSuffix(name, path.Ext(name))
	}
	u := nubiq.DocumentUpload{WorkspaceID: s.WorkspaceID, Title: title, MIMEType: mimeType, Raw: raw}
	if err := u.Validate(); err != nil {
		h.renderDocuments(w, r, s, http.StatusBadRequest, "The upload was refused: "+nubiq.ErrorMessage(err), title)
		return
	}
	res, err := h.db.UploadDocument(r.Context(), u)
	if err != nil {
		if c := nubiq.ErrorCode(err); c == nubiq.ECodeInvalid || c == nubiq.ECodeTooLarge || c == nubiq.ECodeConflict {
			h.renderDocuments(w, r, s, nubiq.ErrorStatus(c), "The upload was refused: "+nubiq.ErrorMessage(err), title)
			return
		}
		h.renderError(w, r, s, err)
		return
	}
	h.audit(r.Context(), s, "documents.upload", fmt.Sprintf("document:%d", res.DocumentID))
	notice := "uploaded"
	if res.Unchanged {
		notice = "unchanged"
	}
	http.Redirect(w, r, "/admin/documents?notice="+notice, http.StatusSeeOther)
}

func (h *Handler) findDocument(r *http.Request, s *postgres.AdminSession) (*nubiq.Document, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return h.db.GetDocument(r.Context(), s.WorkspaceID, id)
}

func (h *Handler) deleteDocumentPage(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	d, err := h.findDocument(r, s)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	h.render(w, http.StatusOK, "document_delete", page{Title: "Delete document", Nav: "documents", Session: s, Data: d})
}

func (h *Handler) deleteDocument(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	id, err := pathID(r, "id")
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	ok, err := h.db.DeleteDocument(r.Context(), s.WorkspaceID, id)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	if !ok {
		h.renderError(w, r, s, nubiq.NotFoundf("there is no document %d in this workspace", id))
		return
	}
	h.audit(r.Context(), s, "documents.delete", fmt.Sprintf("document:%d", id))
	http.Redirect(w, r, "/admin/documents?notice=deleted", http.StatusSeeOther)
}

func (h *Handler) reindexDocument(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	id, err := pathID(r, "id")
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	h.reindex(w, r, s, nubiq.ReindexRequest{WorkspaceID: s.WorkspaceID, DocumentIDs: []int64{id}}, fmt.Sprintf("document:%d", id))
}

func (h *Handler) reindexAll(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	h.reindex(w, r, s, nubiq.ReindexRequest{WorkspaceID: s.WorkspaceID, All: true}, "all")
}

func (h *Handler) reindex(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession, req nubiq.ReindexRequest, what string) {
	res, err := h.db.Reindex(r.Context(), req)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	h.audit(r.Context(), s, "documents.reindex", fmt.Sprintf("reindex_run:%d %s", res.Run.ID, what))
	http.Redirect(w, r, fmt.Sprintf("/admin/reindex-runs/%d", res.Run.ID), http.StatusSeeOther)
}

func (h *Handler) reindexRunPage(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	id, err := pathID(r, "id")
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	run, err := h.db.GetReindexRun(r.Context(), s.WorkspaceID, id)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	p := page{Title: fmt.Sprintf("Reindex run %d", run.ID), Nav: "documents", Session: s, Data: run}
	if run.Status == nubiq.ReindexRunning {
		// The page has no form to lose, so a plain refresh serves readers without JavaScript.
		p.Refresh = 2
	}
	h.render(w, http.StatusOK, "reindex_run", p)
}
