package admin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// DocumentStore performs the dashboard's document writes, each in the workspace given.
type DocumentStore interface {
	// Upload adds a document and queues its indexing, returning its id.
	Upload(ctx context.Context, workspaceID int64, u Upload) (int64, error)
	// Delete deletes a document with its chunks.
	Delete(ctx context.Context, workspaceID, documentID int64) error
	// Reindex queues the documents (every document of the workspace when ids is empty) for
	// indexing again and returns the reindex run that reports progress.
	Reindex(ctx context.Context, workspaceID int64, documentIDs []int64) (int64, error)
}

// Upload is a file uploaded from the Documents page.
type Upload struct {
	Title    string
	Filename string
	// ContentType is what the browser said; it may be empty or application/octet-stream.
	ContentType string
	Raw         []byte
}

// documentAccept lists what the file input offers; the store decides what it accepts.
const documentAccept = ".txt,.md,.markdown,.html,.htm,.pdf,.docx,text/plain,text/markdown,text/html,application/pdf,application/vnd.openxmlformats-officedocument.wordprocessingml.document"

var errDocumentsReadOnly = nubiq.Errorf(nubiq.ECodeUnavailable, "document changes are not available on this server; the Documents page is read-only")

type documentsData struct {
	Page      *postgres.AdminDocumentsPage
	Runs      []postgres.AdminReindexRun
	Writable  bool
	Accept    string
	MaxUpload string
	Next      string
	First     bool
	Error     string
	Title     string
	Statuses  []string
}

func (h *Handler) documentsPage(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	h.renderDocuments(w, r, s, http.StatusOK, "", "")
}

func (h *Handler) renderDocuments(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession, status int, uploadErr, title string) {
	after, err := nubiq.DecodeCursor(postgres.AdminDocumentsCursor, r.URL.Query().Get("after"))
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	p, err := h.db.AdminDocuments(r.Context(), s.WorkspaceID, after, 50)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	runs, err := h.db.AdminReindexRuns(r.Context(), s.WorkspaceID, 5)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	d := documentsData{Page: p, Runs: runs, Writable: h.docs != nil, Accept: documentAccept,
		MaxUpload: formatBytes(h.cfg.MaxUploadBytes), First: after == nil, Error: uploadErr, Title: title,
		Statuses: []string{"queued", "processing", "ready", "failed"}}
	if p.Next != nil {
		d.Next = p.Next.Encode()
	}
	h.render(w, status, "documents", page{Title: "Documents", Nav: "documents", Session: s,
		Notice: notices[r.URL.Query().Get("notice")], Data: d})
}

func (h *Handler) uploadDocument(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	if h.docs == nil {
		h.renderError(w, r, s, errDocumentsReadOnly)
		return
	}
	title := strings.TrimSpace(r.PostFormValue("title"))
	f, hdr, err := r.FormFile("file")
	if err != nil {
		h.renderDocuments(w, r, s, http.StatusBadRequest, "Choose a file to upload.", title)
		return
	}
	defer f.Close()
	if hdr.Size > h.cfg.MaxUploadBytes {
		h.renderDocuments(w, r, s, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("The file is %s; the limit is %s.", formatBytes(hdr.Size), formatBytes(h.cfg.MaxUploadBytes)), title)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(f, h.cfg.MaxUploadBytes+1))
	if err != nil {
		h.renderError(w, r, s, fmt.Errorf("read upload: %w", err))
		return
	}
	if len(raw) == 0 {
		h.renderDocuments(w, r, s, http.StatusBadRequest, "The file is empty.", title)
		return
	}
	name := path.Base(strings.ReplaceAll(hdr.Filename, `\`, "/"))
	if title == "" {
		title = strings.TrimSuffix(name, path.Ext(name))
	}
	id, err := h.docs.Upload(r.Context(), s.WorkspaceID, Upload{Title: title, Filename: name, ContentType: hdr.Header.Get("Content-Type"), Raw: raw})
	if err != nil {
		if c := nubiq.ErrorCode(err); c == nubiq.ECodeInvalid || c == nubiq.ECodeTooLarge || c == nubiq.ECodeConflict {
			h.renderDocuments(w, r, s, nubiq.ErrorStatus(c), "The upload was refused: "+nubiq.ErrorMessage(err), title)
			return
		}
		h.renderError(w, r, s, err)
		return
	}
	h.audit(r.Context(), s, "documents.upload", fmt.Sprintf("document:%d", id))
	http.Redirect(w, r, "/admin/documents?notice=uploaded", http.StatusSeeOther)
}

func (h *Handler) findDocument(r *http.Request, s *postgres.AdminSession) (*postgres.AdminDocument, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return h.db.AdminDocument(r.Context(), s.WorkspaceID, id)
}

func (h *Handler) deleteDocumentPage(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	d, err := h.findDocument(r, s)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	h.render(w, http.StatusOK, "documents.delete", page{Title: "Delete document", Nav: "documents", Session: s,
		Data: struct {
			Doc      *postgres.AdminDocument
			Writable bool
		}{d, h.docs != nil}})
}

func (h *Handler) deleteDocument(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	if h.docs == nil {
		h.renderError(w, r, s, errDocumentsReadOnly)
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	if err := h.docs.Delete(r.Context(), s.WorkspaceID, id); err != nil {
		h.renderError(w, r, s, err)
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
	h.reindex(w, r, s, []int64{id})
}

func (h *Handler) reindexAll(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	h.reindex(w, r, s, nil)
}

func (h *Handler) reindex(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession, ids []int64) {
	if h.docs == nil {
		h.renderError(w, r, s, errDocumentsReadOnly)
		return
	}
	run, err := h.docs.Reindex(r.Context(), s.WorkspaceID, ids)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	target := fmt.Sprintf("reindex_run:%d all", run)
	if len(ids) == 1 {
		target = fmt.Sprintf("reindex_run:%d document:%d", run, ids[0])
	}
	h.audit(r.Context(), s, "documents.reindex", target)
	http.Redirect(w, r, fmt.Sprintf("/admin/reindex-runs/%d", run), http.StatusSeeOther)
}

func (h *Handler) reindexRunPage(w http.ResponseWriter, r *http.Request, s *postgres.AdminSession) {
	id, err := pathID(r, "id")
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	run, err := h.db.AdminReindexRun(r.Context(), s.WorkspaceID, id)
	if err != nil {
		h.renderError(w, r, s, err)
		return
	}
	p := page{Title: fmt.Sprintf("Reindex run %d", run.ID), Nav: "documents", Session: s, Data: run}
	if run.Status == "running" {
		p.Refresh = 2
	}
	h.render(w, http.StatusOK, "reindex_run", p)
}
