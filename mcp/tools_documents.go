package mcp

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/postgres"
)

func documentTools(d *Deps) []*Tool {
	supported := strings.Join(indexer.SupportedMIMETypes(), ", ")
	return []*Tool{
		NewTool(ToolSpec{Name: "documents.list", Title: "List knowledge-base documents", Scope: nubiq.ScopeDocumentsRead, ReadOnly: true,
			Description: "List knowledge-base documents, most recently updated first, with their indexing status (queued, processing, ready, failed), " +
				"version, chunk count, embedder, error, and the state of their latest indexing job. Filter by status, MIME type, external_id, updated range " +
				"and metadata. Also reports the progress of a reindex run (the one named by reindex_run_id, else the latest). Returns a page and next_cursor."},
			d.listDocuments).
			Enum("status", nubiq.DocumentStatuses...).
			Enum("mime_type", indexer.SupportedMIMETypes()...),
		NewTool(ToolSpec{Name: "documents.upload", Title: "Upload a document", Scope: nubiq.ScopeDocumentsWrite,
			Description: "Add a document to the knowledge base: a title and either text content or base64 bytes with a MIME type (plain text, markdown, HTML, PDF or DOCX). " +
				"Accepted mime_type values: " + supported + ". " +
				"Indexing (extraction, chunking, embedding) runs in the background: the result gives the document id, version, job id and status; " +
				"watch documents.list until status is ready (or failed, with the reason in error). Uploading again with the same external_id makes a new " +
				"version of that document; uploading identical content again changes nothing and queues no work (unchanged: true; to retry a failed document use documents.reindex)."},
			d.uploadDocument).
			Enum("mime_type", indexer.SupportedMIMETypes()...),
		NewTool(ToolSpec{Name: "documents.delete", Title: "Delete a document", Scope: nubiq.ScopeDocumentsWrite, Destructive: true, Idempotent: true,
			Description: "Delete a document, its chunks and vectors from the knowledge base, by document_id or external_id. Deleting a document that is " +
				"already gone succeeds with deleted: false."},
			d.deleteDocument),
		NewTool(ToolSpec{Name: "documents.reindex", Title: "Reindex documents", Scope: nubiq.ScopeDocumentsWrite, Idempotent: true,
			Description: "Re-extract, re-chunk and re-embed one document (document_id), a list (document_ids) or the whole workspace (all: true): after " +
				"the embedder changed, or to retry a failed document. Repeating a request while its jobs still wait queues nothing more. Returns the reindex run " +
				"(total, done, failed) and the job id for a single document; follow progress with documents.list (reindex_run_id)."},
			d.reindexDocuments),
	}
}

// Upload

type uploadDocumentIn struct {
	Title         string            `json:"title" jsonschema:"the document's title, 1 to 500 characters"`
	Content       string            `json:"content,omitempty" jsonschema:"the document as text; give this or content_base64, not both. Plain text by default; set mime_type to text/markdown or text/html if it is that"`
	ContentBase64 string            `json:"content_base64,omitempty" jsonschema:"the document's bytes in base64 (for PDF, DOCX or any supported type); requires mime_type"`
	MIMEType      string            `json:"mime_type,omitempty" jsonschema:"the content's type; required with content_base64"`
	SourceURL     string            `json:"source_url,omitempty" jsonschema:"where the document lives (an http or https URL), shown with search results"`
	ExternalID    string            `json:"external_id,omitempty" jsonschema:"your own stable id for the document (up to 255 characters); uploading again with it replaces the content as a new version instead of adding a document"`
	Metadata      map[string]string `json:"metadata,omitempty" jsonschema:"string key/value pairs to filter on later (at most 50; keys up to 64 characters of letters, digits and _ . : -; values up to 1000 bytes)"`
	Language      string            `json:"language,omitempty" jsonschema:"the content's language as a BCP 47 tag such as en or pt-BR"`
}

func (d *Deps) maxUpload() int64 {
	if d.MaxUploadBytes > 0 {
		return d.MaxUploadBytes
	}
	return nubiq.DefaultMaxUploadBytes
}

func (d *Deps) uploadDocument(ctx context.Context, in uploadDocumentIn) (*nubiq.UploadResult, error) {
	caller := nubiq.CallerFromContext(ctx)
	if d.DB == nil {
		return nil, errNotAvailable("documents.upload")
	}
	limit := d.maxUpload()
	var (
		raw      []byte
		field    string
		mimeType string
	)
	switch {
	case in.Content != "" && in.ContentBase64 != "":
		return nil, nubiq.Invalidf("content", "give either content (text) or content_base64 (bytes), not both")
	case in.Content != "":
		field = "content"
		if int64(len(in.Content)) > limit {
			return nil, uploadTooLarge(field, int64(len(in.Content)), limit)
		}
		raw = []byte(in.Content)
		mimeType = indexer.MIMEPlain
		if in.MIMEType != "" {
			mt, err := indexer.NormalizeMIME(in.MIMEType, "")
			if err != nil {
				return nil, unsupportedType(in.MIMEType)
			}
			if mt != indexer.MIMEPlain && mt != indexer.MIMEMarkdown && mt != indexer.MIMEHTML {
				return nil, nubiq.Invalidf("mime_type", "%s content must be sent as content_base64; content is for text/plain, text/markdown or text/html", mt)
			}
			mimeType = mt
		}
	case in.ContentBase64 != "":
		field = "content_base64"
		var err error
		raw, err = decodeBase64(in.ContentBase64)
		if err != nil {
			return nil, nubiq.Invalidf(field, "is not valid base64: %v", err)
		}
		if int64(len(raw)) > limit {
			return nil, uploadTooLarge(field, int64(len(raw)), limit)
		}
		if in.MIMEType == "" {
			return nil, nubiq.Invalidf("mime_type", "is required with content_base64; supported: %s", strings.Join(indexer.SupportedMIMETypes(), ", "))
		}
		mt, err := indexer.NormalizeMIME(in.MIMEType, "")
		if err != nil {
			return nil, unsupportedType(in.MIMEType)
		}
		mimeType = mt
	default:
		return nil, nubiq.Invalidf("content", "is required: give content (text) or content_base64 with mime_type")
	}
	u := nubiq.DocumentUpload{
		WorkspaceID: caller.WorkspaceID, Title: in.Title, ExternalID: in.ExternalID, SourceURL: in.SourceURL,
		MIMEType: mimeType, Language: in.Language, Metadata: in.Metadata, Raw: raw,
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	return d.DB.UploadDocument(ctx, u)
}

func uploadTooLarge(field string, size, limit int64) error {
	return &nubiq.Error{Code: nubiq.ECodeTooLarge, Field: field,
		Message: "the document is " + nubiq.FormatBytes(size) + "; the upload limit is " + nubiq.FormatBytes(limit)}
}

func unsupportedType(got string) error {
	return nubiq.Invalidf("mime_type", "unsupported type %q; supported: %s", got, strings.Join(indexer.SupportedMIMETypes(), ", "))
}

func stripSpace(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}

// decodeBase64 accepts standard or URL-safe base64, padded or not, wrapped in lines or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(stripSpace(s), "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// List

type listDocumentsIn struct {
	Status       string            `json:"status,omitempty" jsonschema:"only documents in this indexing status"`
	MIMEType     string            `json:"mime_type,omitempty" jsonschema:"only documents of this MIME type"`
	ExternalID   string            `json:"external_id,omitempty" jsonschema:"only the document with this external id"`
	UpdatedFrom  string            `json:"updated_from,omitempty" jsonschema:"only documents updated at or after this RFC 3339 time"`
	UpdatedTo    string            `json:"updated_to,omitempty" jsonschema:"only documents updated before this RFC 3339 time"`
	Metadata     map[string]string `json:"metadata,omitempty" jsonschema:"only documents whose metadata has every one of these key/value pairs"`
	ReindexRunID int64             `json:"reindex_run_id,omitempty" jsonschema:"report the progress of this reindex run (as returned by documents.reindex); default the latest run"`
	Limit        int               `json:"limit,omitempty" jsonschema:"page size, 1 to 100; default 20"`
	Cursor       string            `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page, unchanged; omit for the first page"`
}

type listDocumentsOut struct {
	Documents  []nubiq.Document `json:"documents"`
	NextCursor string           `json:"next_cursor" jsonschema:"pass as cursor to get the next page; empty when this is the last page"`
	// ReindexRun is the requested or latest reindex run; absent when the workspace never had one.
	ReindexRun *nubiq.ReindexRun `json:"reindex_run,omitempty" jsonschema:"progress of the requested (or latest) reindex run: total, done, failed and status"`
}

func (d *Deps) listDocuments(ctx context.Context, in listDocumentsIn) (*listDocumentsOut, error) {
	caller := nubiq.CallerFromContext(ctx)
	if d.DB == nil {
		return nil, errNotAvailable("documents.list")
	}
	if in.Status != "" && !slices.Contains(nubiq.DocumentStatuses, in.Status) {
		return nil, nubiq.Invalidf("status", "unknown status %q; allowed: %s", in.Status, strings.Join(nubiq.DocumentStatuses, ", "))
	}
	f := nubiq.DocumentFilter{WorkspaceID: caller.WorkspaceID, Status: in.Status, ExternalID: strings.TrimSpace(in.ExternalID),
		Metadata: in.Metadata, Limit: in.Limit}
	if in.MIMEType != "" {
		mt, err := indexer.NormalizeMIME(in.MIMEType, "")
		if err != nil {
			return nil, unsupportedType(in.MIMEType)
		}
		f.MIMEType = mt
	}
	if err := nubiq.ValidateMetadata("metadata", in.Metadata); err != nil {
		return nil, err
	}
	var err error
	if f.Updated, err = nubiq.ParseTimeRange("updated_from", in.UpdatedFrom, "updated_to", in.UpdatedTo); err != nil {
		return nil, err
	}
	if f.After, err = postgres.DecodeDocumentsCursor(in.Cursor); err != nil {
		return nil, err
	}
	docs, next, err := d.DB.ListDocuments(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &listDocumentsOut{Documents: docs, NextCursor: next}
	if out.Documents == nil {
		out.Documents = []nubiq.Document{}
	}
	if in.ReindexRunID != 0 {
		if out.ReindexRun, err = d.DB.GetReindexRun(ctx, caller.WorkspaceID, in.ReindexRunID); err != nil {
			var e *nubiq.Error
			if errors.As(err, &e) && e.Code == nubiq.ECodeNotFound {
				e.Field = "reindex_run_id"
			}
			return nil, err
		}
	} else if out.ReindexRun, err = d.DB.LatestReindexRun(ctx, caller.WorkspaceID); err != nil {
		return nil, err
	}
	return out, nil
}

// Delete

type deleteDocumentIn struct {
	DocumentID int64  `json:"document_id,omitempty" jsonschema:"the document's id; give this or external_id"`
	ExternalID string `json:"external_id,omitempty" jsonschema:"the document's external id, as given at upload"`
}

type deleteDocumentOut struct {
	DocumentID int64 `json:"document_id"`
	Deleted    bool  `json:"deleted" jsonschema:"true if the document existed and is now gone; false if there was no such document"`
}

func (d *Deps) deleteDocument(ctx context.Context, in deleteDocumentIn) (*deleteDocumentOut, error) {
	caller := nubiq.CallerFromContext(ctx)
	if d.DB == nil {
		return nil, errNotAvailable("documents.delete")
	}
	ext := strings.TrimSpace(in.ExternalID)
	switch {
	case in.DocumentID != 0 && ext != "":
		return nil, nubiq.Invalidf("document_id", "give document_id or external_id, not both")
	case in.DocumentID < 0:
		return nil, nubiq.Invalidf("document_id", "must be a positive document id")
	case in.DocumentID > 0:
		ok, err := d.DB.DeleteDocument(ctx, caller.WorkspaceID, in.DocumentID)
		if err != nil {
			return nil, err
		}
		return &deleteDocumentOut{DocumentID: in.DocumentID, Deleted: ok}, nil
	case ext != "":
		id, err := d.DB.DeleteDocumentByExternalID(ctx, caller.WorkspaceID, ext)
		if err != nil {
			return nil, err
		}
		return &deleteDocumentOut{DocumentID: id, Deleted: id != 0}, nil
	}
	return nil, nubiq.Invalidf("document_id", "is required: give document_id or external_id")
}

// Reindex

type reindexDocumentsIn struct {
	DocumentID  int64   `json:"document_id,omitempty" jsonschema:"reindex this document"`
	DocumentIDs []int64 `json:"document_ids,omitempty" jsonschema:"reindex these documents (at most 1000)"`
	All         bool    `json:"all,omitempty" jsonschema:"true: reindex every document of the workspace"`
}

func (d *Deps) reindexDocuments(ctx context.Context, in reindexDocumentsIn) (*nubiq.ReindexResult, error) {
	caller := nubiq.CallerFromContext(ctx)
	if d.DB == nil {
		return nil, errNotAvailable("documents.reindex")
	}
	n := 0
	if in.DocumentID != 0 {
		n++
	}
	if len(in.DocumentIDs) > 0 {
		n++
	}
	if in.All {
		n++
	}
	if n != 1 {
		return nil, nubiq.Invalidf("document_id", "give exactly one of document_id, document_ids or all: true")
	}
	req := nubiq.ReindexRequest{WorkspaceID: caller.WorkspaceID, All: in.All}
	switch {
	case in.DocumentID != 0:
		if in.DocumentID < 0 {
			return nil, nubiq.Invalidf("document_id", "must be a positive document id")
		}
		req.DocumentIDs = []int64{in.DocumentID}
	case len(in.DocumentIDs) > 0:
		if len(in.DocumentIDs) > postgres.MaxReindexIDs {
			return nil, nubiq.Invalidf("document_ids", "at most %d ids per request, got %d; use all: true for the whole workspace", postgres.MaxReindexIDs, len(in.DocumentIDs))
		}
		for _, id := range in.DocumentIDs {
			if id <= 0 {
				return nil, nubiq.Invalidf("document_ids", "must be positive document ids, got %d", id)
			}
		}
		req.DocumentIDs = in.DocumentIDs
	}
	return d.DB.Reindex(ctx, req)
}
