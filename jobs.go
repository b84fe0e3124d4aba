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

// IngestQueue is the River queue of document ingest jobs.
const IngestQueue = "ingest"

// IngestDocumentArgs asks for extraction, chunking, embedding and indexing of one document at
// one version and reindex generation. A job older than the document (a smaller Version or
// Generation) does nothing: newer content or a newer reindex request has its own job. The
// fields tagged unique key River's job de-duplication, so that a request is dropped only while
// an identical job waits, never because an older one is already running.
type IngestDocumentArgs struct {
	DocumentID  int64 `json:"document_id" river:"unique"`
	WorkspaceID int64 `json:"workspace_id"`
	Version     int   `json:"version" river:"unique"`
	// Generation grows with each reindex request that could not join a waiting job.
	Generation int `json:"generation,omitempty" river:"unique"`
}

// Kind names the job for River.
func (IngestDocumentArgs) Kind() string { return "ingest_document" }
