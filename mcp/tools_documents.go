package mcp

import "github.com/nubiq/hub"

func documentTools(d *Deps) []*Tool {
	return []*Tool{
		placeholder(ToolSpec{Name: "documents.list", Title: "List knowledge-base documents", Scope: nubiq.ScopeDocumentsRead, ReadOnly: true,
			Description: "List knowledge-base documents with their indexing status, chunk count and embedder. Filter by status, MIME type, updated range and metadata. Returns a page and next_cursor."}),
		placeholder(ToolSpec{Name: "documents.upload", Title: "Upload a document", Scope: nubiq.ScopeDocumentsWrite,
			Description: "Add a document to the knowledge base: a title and either text content or base64 bytes with a MIME type (text, markdown, HTML, PDF, DOCX). Indexing runs in the background; the result gives the document id, version, job id and status. Uploading again with the same external_id makes a new version."}),
		placeholder(ToolSpec{Name: "documents.delete", Title: "Delete a document", Scope: nubiq.ScopeDocumentsWrite, Destructive: true, Idempotent: true,
			Description: "Delete a document, its chunks and vectors from the knowledge base. Deleting a document that is already gone succeeds."}),
		placeholder(ToolSpec{Name: "documents.reindex", Title: "Reindex documents", Scope: nubiq.ScopeDocumentsWrite, Idempotent: true,
			Description: "Re-extract, re-chunk and re-embed one document, a list, or the whole workspace. Returns a job id; progress is visible in documents.list."}),
	}
}
