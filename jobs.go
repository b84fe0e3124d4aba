package nubiq

// River job arguments shared across packages. They live in the domain package so that store
// code can enqueue a job in the same transaction as the rows it concerns without importing the
// workers (package jobs), which import the stores.

// DeliverOutboundArgs asks for delivery of one queued outbound message.
type DeliverOutboundArgs struct {
	OutboundID  int64 `json:"outbound_id"`
	WorkspaceID int64 `json:"workspace_id"`
}

// Kind names the job for River.
func (DeliverOutboundArgs) Kind() string { return "deliver_outbound" }

// IngestDocumentArgs asks for extraction, chunking, embedding and indexing of one document at
// one version; a job for an older version than the document's current one does nothing.
type IngestDocumentArgs struct {
	DocumentID  int64 `json:"document_id"`
	WorkspaceID int64 `json:"workspace_id"`
	Version     int   `json:"version"`
	// ReindexRunID links the job to a reindex run for progress reporting (0 for uploads).
	ReindexRunID int64 `json:"reindex_run_id,omitempty"`
}

// Kind names the job for River.
func (IngestDocumentArgs) Kind() string { return "ingest_document" }
