package nubiq

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Document statuses. A document is queued when uploaded (or given new content), processing
// while its first ingest of that content runs, ready once its chunks are written, and failed
// when extraction or embedding gave up; Error then says why.
const (
	DocumentQueued     = "queued"
	DocumentProcessing = "processing"
	DocumentReady      = "ready"
	DocumentFailed     = "failed"
)

// DocumentStatuses lists the statuses in lifecycle order.
var DocumentStatuses = []string{DocumentQueued, DocumentProcessing, DocumentReady, DocumentFailed}

// DefaultMaxUploadBytes is the default upload size limit.
const DefaultMaxUploadBytes = 10 << 20

// Document is a knowledge-base document as clients see it: its identity, what was uploaded
// and how far indexing got. The raw bytes and extracted text are not part of it.
type Document struct {
	ID          int64             `json:"id"`
	ExternalID  string            `json:"external_id,omitempty"`
	Title       string            `json:"title"`
	SourceURL   string            `json:"source_url,omitempty"`
	MIMEType    string            `json:"mime_type"`
	Language    string            `json:"language,omitempty"`
	Metadata    map[string]string `json:"metadata"`
	SizeBytes   int64             `json:"size_bytes"`
	ContentHash string            `json:"content_hash"` // hex SHA-256 of the uploaded bytes
	Status      string            `json:"status"`
	Error       string            `json:"error,omitempty"`
	// Version counts content changes; IndexedVersion is the version the chunks were made from
	// (0 before the first successful ingest).
	Version        int    `json:"version"`
	IndexedVersion int    `json:"indexed_version"`
	ChunkCount     int    `json:"chunk_count"`
	Embedder       string `json:"embedder,omitempty"`
	EmbeddingDims  int    `json:"embedding_dims,omitempty"`
	// Job is the document's latest indexing job, while the queue still remembers it.
	Job       *DocumentJob `json:"job,omitempty"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	IndexedAt *time.Time   `json:"indexed_at,omitempty"`
}

// DocumentJob is the state of a document's indexing job in the job queue.
type DocumentJob struct {
	ID int64 `json:"id"`
	// State is the queue's: available, scheduled, running, retryable (failed, will retry),
	// completed, discarded (gave up), cancelled or pending.
	State       string `json:"state"`
	Attempt     int    `json:"attempt"`
	MaxAttempts int    `json:"max_attempts"`
	// LastError is the latest attempt's error, if it failed.
	LastError string `json:"last_error,omitempty"`
}

// Upload limits beyond the size limit, which is configurable.
const (
	MaxTitleRunes      = 500
	MaxExternalIDRunes = 255
	MaxSourceURLBytes  = 2048
	MaxMetadataKeys    = 50
	MaxMetadataKeyLen  = 64
	MaxMetadataValue   = 1000
)

var (
	metadataKeyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)
	languageRE    = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$`)
)

// DocumentUpload is a document to add or to give new content. MIMEType must already be one of
// the types the extractor supports (see indexer.NormalizeMIME).
type DocumentUpload struct {
	WorkspaceID int64
	Title       string
	ExternalID  string
	SourceURL   string
	MIMEType    string
	Language    string
	Metadata    map[string]string
	Raw         []byte
}

// Validate checks and normalises the upload's fields (trimming title and external id) and
// reports the first bad one by its input name. The size limit is the caller's to check.
func (u *DocumentUpload) Validate() error {
	u.Title = strings.TrimSpace(u.Title)
	if n := utf8.RuneCountInString(u.Title); n == 0 || n > MaxTitleRunes {
		return Invalidf("title", "must be 1 to %d characters, got %d", MaxTitleRunes, n)
	}
	if !utf8.ValidString(u.Title) || strings.ContainsRune(u.Title, 0) {
		return Invalidf("title", "must be valid UTF-8 text without NUL characters")
	}
	u.ExternalID = strings.TrimSpace(u.ExternalID)
	if n := utf8.RuneCountInString(u.ExternalID); n > MaxExternalIDRunes {
		return Invalidf("external_id", "must be at most %d characters, got %d", MaxExternalIDRunes, n)
	}
	if !utf8.ValidString(u.ExternalID) || strings.ContainsRune(u.ExternalID, 0) {
		return Invalidf("external_id", "must be valid UTF-8 text without NUL characters")
	}
	if u.SourceURL != "" {
		if len(u.SourceURL) > MaxSourceURLBytes {
			return Invalidf("source_url", "must be at most %d bytes", MaxSourceURLBytes)
		}
		p, err := url.Parse(u.SourceURL)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return Invalidf("source_url", "must be an absolute http or https URL, got %q", u.SourceURL)
		}
	}
	if u.Language != "" && (len(u.Language) > 35 || !languageRE.MatchString(u.Language)) {
		return Invalidf("language", "must be a BCP 47 language tag such as en, de or pt-BR, got %q", u.Language)
	}
	if err := ValidateMetadata("metadata", u.Metadata); err != nil {
		return err
	}
	if u.MIMEType == "" {
		return Invalidf("mime_type", "is required")
	}
	return nil
}

// ValidateMetadata checks a document metadata map against the bounds every document keeps.
func ValidateMetadata(field string, m map[string]string) error {
	if len(m) > MaxMetadataKeys {
		return Invalidf(field, "at most %d keys, got %d", MaxMetadataKeys, len(m))
	}
	for k, v := range m {
		if len(k) > MaxMetadataKeyLen || !metadataKeyRE.MatchString(k) {
			return Invalidf(field, "key %q: keys are 1 to %d characters of letters, digits and _ . : - (starting with a letter or digit)", truncate(k, 80), MaxMetadataKeyLen)
		}
		if len(v) > MaxMetadataValue {
			return Invalidf(field, "value of %q is %d bytes; at most %d allowed", k, len(v), MaxMetadataValue)
		}
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return Invalidf(field, "value of %q must be valid UTF-8 text without NUL characters", k)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// FormatBytes renders a byte count for messages: "10 MiB (10485760 bytes)".
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB (%d bytes)", n>>20, n)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB (%d bytes)", n>>10, n)
	}
	return fmt.Sprintf("%d bytes", n)
}

// UploadResult says what an upload did.
type UploadResult struct {
	DocumentID int64 `json:"document_id"`
	Version    int   `json:"version"`
	// JobID is the indexing job queued for this upload; 0 when nothing was queued.
	JobID  int64  `json:"job_id,omitempty"`
	Status string `json:"status"`
	// Created is true for a new document, false for a new version or an unchanged one.
	Created bool `json:"created"`
	// Unchanged is true when the document already had exactly this content: nothing was queued.
	Unchanged bool `json:"unchanged"`
	// DetailsChanged is true for unchanged content whose title, source URL, language or
	// metadata changed (an import counts that as an update).
	DetailsChanged bool `json:"-"`
}

// DocumentFilter selects documents for listing. Zero fields do not filter.
type DocumentFilter struct {
	WorkspaceID int64
	Status      string
	MIMEType    string
	ExternalID  string
	Updated     TimeRange
	// Metadata keeps documents whose metadata has every one of these key/value pairs.
	Metadata map[string]string
	After    *Cursor
	Limit    int
}

// Reindex run statuses.
const (
	ReindexRunning = "running"
	ReindexDone    = "done"
	ReindexFailed  = "failed" // finished, and at least one document failed
)

// ReindexRun is the progress of one reindex request.
type ReindexRun struct {
	ID         int64      `json:"id"`
	Scope      string     `json:"scope"`
	Status     string     `json:"status"`
	Total      int        `json:"total"`
	Done       int        `json:"done"`
	Failed     int        `json:"failed"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// ReindexRequest asks for documents to be extracted, chunked and embedded again: the listed
// ids, or every document of the workspace, or (StaleEmbedder) those whose vectors were made
// by an embedder other than Embedder/Dims.
type ReindexRequest struct {
	WorkspaceID   int64
	DocumentIDs   []int64
	All           bool
	StaleEmbedder bool
	Embedder      string
	Dims          int
}

// ReindexResult says what a reindex request did.
type ReindexResult struct {
	Run ReindexRun `json:"run"`
	// Queued counts new indexing jobs; Deduplicated counts documents whose indexing job was
	// already waiting to run, which will now serve this request too.
	Queued       int `json:"queued"`
	Deduplicated int `json:"deduplicated"`
	// JobID is the job indexing the document when exactly one was asked for.
	JobID int64 `json:"job_id,omitempty"`
}
