package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/nubiq/hub"
)

// IngestMaxAttempts is how often an ingest job runs before the document is marked failed.
// River's backoff (attempt⁴ seconds) spreads five attempts over about six minutes: long
// enough to ride out an embedding endpoint's hiccup, short enough to report a real failure.
const IngestMaxAttempts = 5

// ingestInsertOpts de-duplicates ingest jobs on their unique-tagged arguments (document,
// version, generation) while such a job waits or runs.
var ingestInsertOpts = &river.InsertOpts{
	Queue:       nubiq.IngestQueue,
	MaxAttempts: IngestMaxAttempts,
	UniqueOpts:  river.UniqueOpts{ByArgs: true},
}

// Job states in which a job has not started yet: a request can still join it.
var waitingJobStates = []string{
	string(rivertype.JobStateAvailable), string(rivertype.JobStatePending),
	string(rivertype.JobStateRetryable), string(rivertype.JobStateScheduled),
}

// UploadDocument adds a document, or gives the document with the same external id new
// content, and queues its indexing job in the same transaction.
func (db *DB) UploadDocument(ctx context.Context, u nubiq.DocumentUpload) (*nubiq.UploadResult, error) {
	var res []nubiq.UploadResult
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		res, err = db.UploadDocumentsTx(ctx, tx, []nubiq.DocumentUpload{u})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &res[0], nil
}

// UploadDocumentsTx uploads documents in the caller's transaction, queueing their indexing
// jobs with one batch insert. Results are in input order. Two uploads in one batch with the
// same external id are applied in order (the second is a new version of the first).
func (db *DB) UploadDocumentsTx(ctx context.Context, tx pgx.Tx, ups []nubiq.DocumentUpload) ([]nubiq.UploadResult, error) {
	results := make([]nubiq.UploadResult, len(ups))
	var jobs []river.InsertManyParams
	var jobFor []int // index into results of each job
	for i := range ups {
		u := &ups[i]
		if err := u.Validate(); err != nil {
			return nil, err
		}
		r, args, err := upsertDocument(ctx, tx, u)
		if err != nil {
			return nil, err
		}
		results[i] = *r
		if args != nil {
			jobs = append(jobs, river.InsertManyParams{Args: *args, InsertOpts: ingestInsertOpts})
			jobFor = append(jobFor, i)
		}
	}
	if len(jobs) == 0 {
		return results, nil
	}
	ids, err := db.insertIngestJobs(ctx, tx, jobs)
	if err != nil {
		return nil, err
	}
	for k, i := range jobFor {
		results[i].JobID = ids[k]
	}
	return results, nil
}

// insertIngestJobs inserts ingest jobs and records each as its document's latest job.
func (db *DB) insertIngestJobs(ctx context.Context, tx pgx.Tx, jobs []river.InsertManyParams) ([]int64, error) {
	res, err := db.River.InsertManyTx(ctx, tx, jobs)
	if err != nil {
		return nil, fmt.Errorf("queue ingest jobs: %w", err)
	}
	ids := make([]int64, len(res))
	var docs, wss, latest []int64
	at := map[int64]int{} // document → its position in docs: a batch may hold two versions
	for k, r := range res {
		a := jobs[k].Args.(nubiq.IngestDocumentArgs)
		ids[k] = r.Job.ID
		if i, ok := at[a.DocumentID]; ok {
			latest[i] = r.Job.ID
			continue
		}
		at[a.DocumentID] = len(docs)
		docs, wss, latest = append(docs, a.DocumentID), append(wss, a.WorkspaceID), append(latest, r.Job.ID)
	}
	_, err = tx.Exec(ctx, `
		UPDATE documents d SET job_id = u.job_id
		FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(workspace_id, id, job_id)
		WHERE d.workspace_id = u.workspace_id AND d.id = u.id`, wss, docs, latest)
	if err != nil {
		return nil, fmt.Errorf("record ingest jobs: %w", err)
	}
	return ids, nil
}

// upsertDocument writes one upload and returns its result and, when there is work to do, the
// ingest job to queue.
func upsertDocument(ctx context.Context, tx pgx.Tx, u *nubiq.DocumentUpload) (*nubiq.UploadResult, *nubiq.IngestDocumentArgs, error) {
	sum := sha256.Sum256(u.Raw)
	hash := sum[:]
	meta := u.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	var extID *string
	if u.ExternalID != "" {
		extID = &u.ExternalID
	}
	// Inserting first costs a new document one statement fewer, and a new version one more:
	// imports are mostly new documents.
	for range 2 {
		var (
			id           int64
			version, gen int
			status       string
		)
		err := tx.QueryRow(ctx, `
			INSERT INTO documents (workspace_id, external_id, title, source_url, mime_type, language, metadata, raw, size_bytes, content_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (workspace_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
			RETURNING id, version, index_generation, status`,
			u.WorkspaceID, extID, u.Title, u.SourceURL, u.MIMEType, u.Language, meta, u.Raw, int64(len(u.Raw)), hash).
			Scan(&id, &version, &gen, &status)
		if err == nil {
			return &nubiq.UploadResult{DocumentID: id, Version: version, Status: status, Created: true},
				&nubiq.IngestDocumentArgs{DocumentID: id, WorkspaceID: u.WorkspaceID, Version: version, Generation: gen}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, nil, fmt.Errorf("insert document: %w", unavailable(err))
		}
		// The external id exists: a new version of that document, unless it was deleted
		// meanwhile (then insert again).
		r, args, found, err := updateByExternalID(ctx, tx, u, hash, meta)
		if err != nil || found {
			return r, args, err
		}
	}
	return nil, nil, fmt.Errorf("upload document %q: concurrent uploads kept conflicting", u.ExternalID)
}

func updateByExternalID(ctx context.Context, tx pgx.Tx, u *nubiq.DocumentUpload, hash []byte, meta map[string]string) (*nubiq.UploadResult, *nubiq.IngestDocumentArgs, bool, error) {
	var (
		id                    int64
		oldHash               []byte
		version, gen          int
		status, title, srcURL string
		mimeType, lang        string
		oldMeta               map[string]string
	)
	err := tx.QueryRow(ctx, `
		SELECT id, content_hash, version, index_generation, status, title, source_url, mime_type, language, metadata
		FROM documents WHERE workspace_id = $1 AND external_id = $2 FOR UPDATE`, u.WorkspaceID, u.ExternalID).
		Scan(&id, &oldHash, &version, &gen, &status, &title, &srcURL, &mimeType, &lang, &oldMeta)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, false, nil
	} else if err != nil {
		return nil, nil, false, fmt.Errorf("find document %q: %w", u.ExternalID, unavailable(err))
	}
	if string(oldHash) == string(hash) && mimeType == u.MIMEType {
		// Same content: nothing to extract or embed. Descriptive fields may still change; the
		// search side is told so that it reloads them.
		details := title != u.Title || srcURL != u.SourceURL || lang != u.Language || !maps.Equal(oldMeta, meta)
		if details {
			_, err := tx.Exec(ctx, `
				UPDATE documents SET title = $3, source_url = $4, language = $5, metadata = $6, updated_at = now()
				WHERE workspace_id = $1 AND id = $2`, u.WorkspaceID, id, u.Title, u.SourceURL, u.Language, meta)
			if err == nil {
				err = logIndex(ctx, tx, u.WorkspaceID, id, "upsert")
			}
			if err != nil {
				return nil, nil, false, fmt.Errorf("update document %d: %w", id, unavailable(err))
			}
		}
		return &nubiq.UploadResult{DocumentID: id, Version: version, Status: status, Unchanged: true, DetailsChanged: details}, nil, true, nil
	}
	err = tx.QueryRow(ctx, `
		UPDATE documents SET version = version + 1, title = $3, source_url = $4, mime_type = $5, language = $6,
			metadata = $7, raw = $8, size_bytes = $9, content_hash = $10, status = 'queued', error = '', updated_at = now()
		WHERE workspace_id = $1 AND id = $2
		RETURNING version, index_generation, status`,
		u.WorkspaceID, id, u.Title, u.SourceURL, u.MIMEType, u.Language, meta, u.Raw, int64(len(u.Raw)), hash).
		Scan(&version, &gen, &status)
	if err != nil {
		return nil, nil, false, fmt.Errorf("update document %d: %w", id, unavailable(err))
	}
	return &nubiq.UploadResult{DocumentID: id, Version: version, Status: status},
		&nubiq.IngestDocumentArgs{DocumentID: id, WorkspaceID: u.WorkspaceID, Version: version, Generation: gen}, true, nil
}

func logIndex(ctx context.Context, tx pgx.Tx, workspaceID, documentID int64, op string) error {
	_, err := tx.Exec(ctx, `INSERT INTO index_log (workspace_id, kind, entity_id, op) VALUES ($1, 'document', $2, $3)`,
		workspaceID, documentID, op)
	return err
}

const documentColumns = `d.id, d.external_id, d.title, d.source_url, d.mime_type, d.language, d.metadata, d.size_bytes,
	d.content_hash, d.status, d.error, d.version, d.indexed_version, d.chunk_count, d.embedder, d.embedding_dims,
	d.created_at, d.updated_at, d.indexed_at,
	j.id, j.state, j.attempt, j.max_attempts,
	CASE WHEN j.state <> 'completed' THEN j.errors[array_length(j.errors, 1)]->>'error' END`

func scanDocument(row pgx.Row) (*nubiq.Document, error) {
	var (
		d         nubiq.Document
		extID     *string
		hash      []byte
		jobID     *int64
		jobState  *string
		attempt   *int
		maxAtt    *int
		lastError *string
	)
	err := row.Scan(&d.ID, &extID, &d.Title, &d.SourceURL, &d.MIMEType, &d.Language, &d.Metadata, &d.SizeBytes,
		&hash, &d.Status, &d.Error, &d.Version, &d.IndexedVersion, &d.ChunkCount, &d.Embedder, &d.EmbeddingDims,
		&d.CreatedAt, &d.UpdatedAt, &d.IndexedAt,
		&jobID, &jobState, &attempt, &maxAtt, &lastError)
	if err != nil {
		return nil, err
	}
	if extID != nil {
		d.ExternalID = *extID
	}
	d.ContentHash = hex.EncodeToString(hash)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	if d.IndexedAt != nil {
		t := d.IndexedAt.UTC()
		d.IndexedAt = &t
	}
	if d.Metadata == nil {
		d.Metadata = map[string]string{}
	}
	if jobID != nil {
		d.Job = &nubiq.DocumentJob{ID: *jobID, State: *jobState, Attempt: *attempt, MaxAttempts: *maxAtt}
		if lastError != nil {
			d.Job.LastError = *lastError
		}
	}
	return &d, nil
}

const documentsCursorKind = "documents"

// ListDocuments lists documents, most recently updated first, and returns the cursor of the
// next page ("" at the end).
func (db *DB) ListDocuments(ctx context.Context, f nubiq.DocumentFilter) ([]nubiq.Document, string, error) {
	limit, err := nubiq.PageLimit(f.Limit)
	if err != nil {
		return nil, "", err
	}
	where := []string{"d.workspace_id = $1"}
	args := []any{f.WorkspaceID}
	add := func(cond string, v ...any) {
		for _, x := range v {
			args = append(args, x)
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		where = append(where, cond)
	}
	if f.Status != "" {
		add("d.status = ?", f.Status)
	}
	if f.MIMEType != "" {
		add("d.mime_type = ?", f.MIMEType)
	}
	if f.ExternalID != "" {
		add("d.external_id = ?", f.ExternalID)
	}
	if !f.Updated.From.IsZero() {
		add("d.updated_at >= ?", f.Updated.From)
	}
	if !f.Updated.To.IsZero() {
		add("d.updated_at < ?", f.Updated.To)
	}
	if len(f.Metadata) > 0 {
		add("d.metadata @> ?::jsonb", f.Metadata)
	}
	if f.After != nil {
		add("(d.updated_at, d.id) < (?, ?)", f.After.Time, f.After.ID)
	}
	args = append(args, limit+1)
	q := `SELECT ` + documentColumns + `
		FROM documents d LEFT JOIN river_job j ON j.id = d.job_id
		WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY d.updated_at DESC, d.id DESC LIMIT $` + strconv.Itoa(len(args))
	rows, err := db.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list documents: %w", unavailable(err))
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (nubiq.Document, error) {
		d, err := scanDocument(r)
		if err != nil {
			return nubiq.Document{}, err
		}
		return *d, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list documents: %w", unavailable(err))
	}
	next := ""
	if len(docs) > limit {
		docs = docs[:limit]
		last := docs[limit-1]
		next = nubiq.Cursor{Kind: documentsCursorKind, Time: last.UpdatedAt, ID: last.ID}.Encode()
	}
	return docs, next, nil
}

// DecodeDocumentsCursor parses a documents.list cursor.
func DecodeDocumentsCursor(s string) (*nubiq.Cursor, error) {
	return nubiq.DecodeCursor(documentsCursorKind, s)
}

// GetDocument returns one document of the workspace.
func (db *DB) GetDocument(ctx context.Context, workspaceID, id int64) (*nubiq.Document, error) {
	d, err := scanDocument(db.Pool.QueryRow(ctx, `SELECT `+documentColumns+`
		FROM documents d LEFT JOIN river_job j ON j.id = d.job_id
		WHERE d.workspace_id = $1 AND d.id = $2`, workspaceID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("no document %d", id)
	} else if err != nil {
		return nil, fmt.Errorf("get document %d: %w", id, unavailable(err))
	}
	return d, nil
}

// DeleteDocument deletes a document with its chunks and raw bytes and tells the search side.
// It reports whether there was such a document in the workspace.
func (db *DB) DeleteDocument(ctx context.Context, workspaceID, id int64) (bool, error) {
	deleted := false
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		deleted, err = deleteDocument(ctx, tx, workspaceID, id)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("delete document %d: %w", id, err)
	}
	return deleted, nil
}

// DeleteDocumentByExternalID deletes the document with the external id, returning its id
// (0 when there was none).
func (db *DB) DeleteDocumentByExternalID(ctx context.Context, workspaceID int64, externalID string) (int64, error) {
	var id int64
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id FROM documents WHERE workspace_id = $1 AND external_id = $2 FOR UPDATE`,
			workspaceID, externalID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return unavailable(err)
		}
		_, err = deleteDocument(ctx, tx, workspaceID, id)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete document %q: %w", externalID, err)
	}
	return id, nil
}

func deleteDocument(ctx context.Context, tx pgx.Tx, workspaceID, id int64) (bool, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM documents WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return false, unavailable(err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if err := logIndex(ctx, tx, workspaceID, id, "delete"); err != nil {
		return false, err
	}
	// Runs waiting for the document no longer count it.
	_, err = tx.Exec(ctx, `
		WITH gone AS (
			DELETE FROM reindex_run_documents WHERE workspace_id = $1 AND document_id = $2 RETURNING run_id)
		UPDATE reindex_runs SET `+runProgress(0, 0, -1)+` WHERE workspace_id = $1 AND id IN (SELECT run_id FROM gone)`,
		workspaceID, id)
	if err != nil {
		return false, err
	}
	return true, nil
}

// runProgress is the SET clause of an UPDATE of reindex_runs that adds to its done, failed
// and total counts and finishes the run when nothing is left to wait for ("failed" when any
// document failed). Counting and finishing in one statement needs no second pass over runs
// that another transaction may be counting too.
func runProgress(done, failed, total int) string {
	d, f, t := fmt.Sprintf("done + %d", done), fmt.Sprintf("failed + %d", failed), fmt.Sprintf("total + %d", total)
	left := fmt.Sprintf("status = 'running' AND (%s) + (%s) >= (%s)", d, f, t)
	return fmt.Sprintf(`done = %s, failed = %s, total = %s,
		status = CASE WHEN %s THEN (CASE WHEN (%s) > 0 THEN 'failed' ELSE 'done' END) ELSE status END,
		finished_at = CASE WHEN %s THEN now() ELSE finished_at END`, d, f, t, left, f, left)
}

// finishRunDocuments counts the document as done (or failed) in every run waiting for it.
func finishRunDocuments(ctx context.Context, tx pgx.Tx, workspaceID, documentID int64, failed bool) error {
	set := runProgress(1, 0, 0)
	if failed {
		set = runProgress(0, 1, 0)
	}
	_, err := tx.Exec(ctx, `
		WITH fin AS (
			DELETE FROM reindex_run_documents WHERE workspace_id = $1 AND document_id = $2 RETURNING run_id)
		UPDATE reindex_runs SET `+set+` WHERE workspace_id = $1 AND id IN (SELECT run_id FROM fin)`,
		workspaceID, documentID)
	if err != nil {
		return fmt.Errorf("count document %d in its reindex runs: %w", documentID, err)
	}
	return nil
}

// IngestSource is what an ingest job reads: the document's current content and position.
type IngestSource struct {
	ID          int64
	WorkspaceID int64
	Title       string
	MIMEType    string
	Raw         []byte
	Version     int
	Generation  int
	Status      string
}

// ClaimIngestSource reads a document for ingestion by the job for version and generation
// (not_found when the document was deleted). When that job is current and the document
// queued, the document moves to processing; a document being reindexed keeps its status,
// and its chunks, until the new ones replace them. The caller compares the returned version
// and generation with its own to tell whether it is stale.
func (db *DB) ClaimIngestSource(ctx context.Context, workspaceID, id int64, version, generation int) (*IngestSource, error) {
	s := IngestSource{ID: id, WorkspaceID: workspaceID}
	// The SELECT sees the row as it was before the UPDATE in the same statement; only the
	// status differs, and the caller does not need it.
	err := db.Pool.QueryRow(ctx, `
		WITH claim AS (
			UPDATE documents SET status = 'processing', updated_at = now()
			WHERE workspace_id = $1 AND id = $2 AND version = $3 AND index_generation = $4 AND status = 'queued')
		SELECT title, mime_type, raw, version, index_generation, status
		FROM documents WHERE workspace_id = $1 AND id = $2`, workspaceID, id, version, generation).
		Scan(&s.Title, &s.MIMEType, &s.Raw, &s.Version, &s.Generation, &s.Status)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("no document %d", id)
	} else if err != nil {
		return nil, fmt.Errorf("load document %d: %w", id, unavailable(err))
	}
	return &s, nil
}

// IngestChunk is one chunk to store, with its vector.
type IngestChunk struct {
	Index       int
	Text        string
	HeadingPath []string
	Start, End  int // rune offsets into the extracted text
	Tokens      int
	Embedding   []float32
}

// IngestOutcome is a finished ingest of a document at one version and generation.
type IngestOutcome struct {
	WorkspaceID   int64
	DocumentID    int64
	Version       int
	Generation    int
	ExtractedText string
	Embedder      string
	Dims          int
	Chunks        []IngestChunk
}

// ErrStaleIngest is returned when the document changed (new content, a newer reindex request,
// or deletion) while the ingest ran: its result must not be written.
var ErrStaleIngest = errors.New("document changed while it was being indexed")

// lockCurrent locks the document row and checks that version and generation are still its
// current ones.
func lockCurrent(ctx context.Context, tx pgx.Tx, workspaceID, id int64, version, generation int) error {
	var v, g int
	err := tx.QueryRow(ctx, `SELECT version, index_generation FROM documents WHERE workspace_id = $1 AND id = $2 FOR UPDATE`,
		workspaceID, id).Scan(&v, &g)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrStaleIngest
	} else if err != nil {
		return unavailable(err)
	}
	if v != version || g != generation {
		return ErrStaleIngest
	}
	return nil
}

var chunkColumns = []string{"workspace_id", "document_id", "document_version", "chunk_index", "text", "heading_path",
	"start_offset", "end_offset", "tokens", "embedder", "dims", "embedding", "ann"}

// CommitIngest replaces the document's chunks with o's and marks it ready, in one
// transaction, with an index-log row for the search side. Run again for the same outcome (a
// retried job) it leaves the same single set of chunks. It returns ErrStaleIngest, writing
// nothing, when the document moved on while the job ran.
//
// The chunks enter the HNSW index only when the workspace's vectors are indexed (or being
// moved into the index); it returns the workspace's vector-index state it wrote them under
// (VectorIndexExact, VectorIndexFilling or VectorIndexHNSW), so that the caller can notice a
// workspace that has outgrown exact ranking.
func (db *DB) CommitIngest(ctx context.Context, o *IngestOutcome) (string, error) {
	var state string
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		// One round trip: lock the document and check it is still at this version and
		// generation, read the workspace's vector-index state as lockVectorState does, and
		// delete the old chunks (undone with the rest when the outcome turns out stale).
		b := &pgx.Batch{}
		var v, g int
		b.Queue(`
			SELECT d.version, d.index_generation, w.vector_index
			FROM documents d JOIN workspaces w ON w.id = d.workspace_id
			WHERE d.workspace_id = $1 AND d.id = $2
			FOR UPDATE OF d FOR SHARE OF w`, o.WorkspaceID, o.DocumentID).QueryRow(func(row pgx.Row) error {
			err := row.Scan(&v, &g, &state)
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrStaleIngest
			}
			return err
		})
		b.Queue(`DELETE FROM document_chunks WHERE workspace_id = $1 AND document_id = $2`, o.WorkspaceID, o.DocumentID)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			if errors.Is(err, ErrStaleIngest) {
				return err
			}
			return fmt.Errorf("lock document and delete old chunks: %w", err)
		}
		if v != o.Version || g != o.Generation {
			return ErrStaleIngest
		}
		ann := state != VectorIndexExact
		heading := []string{}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"document_chunks"}, chunkColumns,
			pgx.CopyFromSlice(len(o.Chunks), func(i int) ([]any, error) {
				c := &o.Chunks[i]
				hp := c.HeadingPath
				if hp == nil {
					hp = heading
				}
				if len(c.Embedding) != o.Dims {
					return nil, fmt.Errorf("chunk %d has a %d-dimensional vector, want %d", c.Index, len(c.Embedding), o.Dims)
				}
				return []any{o.WorkspaceID, o.DocumentID, o.Version, c.Index, c.Text, hp,
					c.Start, c.End, c.Tokens, o.Embedder, o.Dims, pgvector.NewVector(c.Embedding), ann}, nil
			}))
		if err != nil {
			return fmt.Errorf("write chunks: %w", err)
		}
		// Document, index log and reindex runs in one statement: this runs once per document.
		_, err = tx.Exec(ctx, `
			WITH d AS (
				UPDATE documents SET status = 'ready', error = '', chunk_count = $3, embedder = $4, embedding_dims = $5,
					indexed_version = version, extracted_text = $6, indexed_at = now(), updated_at = now()
				WHERE workspace_id = $1 AND id = $2 RETURNING id
			), l AS (
				INSERT INTO index_log (workspace_id, kind, entity_id, op) SELECT $1, 'document', id, 'upsert' FROM d
			), fin AS (
				DELETE FROM reindex_run_documents WHERE workspace_id = $1 AND document_id = $2 RETURNING run_id
			)
			UPDATE reindex_runs SET `+runProgress(1, 0, 0)+` WHERE workspace_id = $1 AND id IN (SELECT run_id FROM fin)`,
			o.WorkspaceID, o.DocumentID, len(o.Chunks), o.Embedder, o.Dims, o.ExtractedText)
		if err != nil {
			return fmt.Errorf("mark ready: %w", err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrStaleIngest) {
		return "", fmt.Errorf("commit ingest of document %d: %w", o.DocumentID, unavailable(err))
	}
	return state, err
}

// FailIngest marks the document failed with a message meant for people, records a
// document.failed notification and counts the failure in the runs waiting for it. Chunks of
// an earlier version stay searchable. ErrStaleIngest as for CommitIngest.
func (db *DB) FailIngest(ctx context.Context, workspaceID, id int64, version, generation int, message string) error {
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		if err := lockCurrent(ctx, tx, workspaceID, id, version, generation); err != nil {
			return err
		}
		var title string
		if err := tx.QueryRow(ctx, `
			UPDATE documents SET status = 'failed', error = $3, updated_at = now()
			WHERE workspace_id = $1 AND id = $2 RETURNING title`, workspaceID, id, message).Scan(&title); err != nil {
			return fmt.Errorf("mark failed: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO notification_events (workspace_id, kind, subject_type, subject_id, data)
			VALUES ($1, 'document.failed', 'document', $2, $3)`, workspaceID, id,
			map[string]any{"title": title, "version": version, "error": message}); err != nil {
			return fmt.Errorf("write notification: %w", err)
		}
		return finishRunDocuments(ctx, tx, workspaceID, id, true)
	})
	if err != nil && !errors.Is(err, ErrStaleIngest) {
		return fmt.Errorf("record failed ingest of document %d: %w", id, unavailable(err))
	}
	return err
}

// MaxReindexIDs bounds the document ids of one reindex request.
const MaxReindexIDs = 1000

// Reindex queues re-extraction, re-chunking and re-embedding of documents and records a run
// to follow progress. A document whose indexing job has not started yet is not queued again:
// that job will serve this request too. A document whose job is already running gets a new
// job for a new generation, so the request is not lost; the running job then finds itself
// stale and writes nothing.
func (db *DB) Reindex(ctx context.Context, req nubiq.ReindexRequest) (*nubiq.ReindexResult, error) {
	var res *nubiq.ReindexResult
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		res, err = db.reindex(ctx, tx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (db *DB) reindex(ctx context.Context, tx pgx.Tx, req nubiq.ReindexRequest) (*nubiq.ReindexResult, error) {
	var (
		cond  string
		args  = []any{req.WorkspaceID, waitingJobStates}
		scope string
	)
	switch {
	case req.All:
		cond, scope = "true", "all"
	case req.StaleEmbedder:
		cond = "d.status = 'ready' AND (d.embedder <> $3 OR d.embedding_dims <> $4)"
		args = append(args, req.Embedder, req.Dims)
		scope = fmt.Sprintf("embedder:%s/%d", req.Embedder, req.Dims)
	default:
		ids := slices.Clone(req.DocumentIDs)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		if len(ids) == 0 {
			return nil, nubiq.Invalidf("document_ids", "give at least one document id, or all")
		}
		if len(ids) > MaxReindexIDs {
			return nil, nubiq.Invalidf("document_ids", "at most %d ids per request, got %d; use all to reindex the workspace", MaxReindexIDs, len(ids))
		}
		cond = "d.id = ANY($3)"
		args = append(args, ids)
		if len(ids) == 1 {
			scope = fmt.Sprintf("document:%d", ids[0])
		} else {
			scope = fmt.Sprintf("documents:%d", len(ids))
		}
		req.DocumentIDs = ids
	}
	// Lock in id order so that concurrent requests queue behind each other, not deadlock.
	rows, err := tx.Query(ctx, `
		SELECT d.id, d.version, d.index_generation, d.job_id, COALESCE(j.state::text = ANY($2), false)
		FROM documents d LEFT JOIN river_job j ON j.id = d.job_id
		WHERE d.workspace_id = $1 AND `+cond+`
		ORDER BY d.id FOR UPDATE OF d`, args...)
	if err != nil {
		return nil, fmt.Errorf("reindex: select documents: %w", unavailable(err))
	}
	type docRow struct {
		id      int64
		version int
		gen     int
		jobID   *int64
		waiting bool
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (docRow, error) {
		var d docRow
		err := r.Scan(&d.id, &d.version, &d.gen, &d.jobID, &d.waiting)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("reindex: select documents: %w", unavailable(err))
	}
	if req.DocumentIDs != nil && len(docs) < len(req.DocumentIDs) {
		found := map[int64]bool{}
		for _, d := range docs {
			found[d.id] = true
		}
		var missing []string
		for _, id := range req.DocumentIDs {
			if !found[id] {
				missing = append(missing, strconv.FormatInt(id, 10))
			}
		}
		if len(missing) > 10 {
			missing = append(missing[:10], "…")
		}
		return nil, nubiq.NotFoundf("no document %s in this workspace", strings.Join(missing, ", "))
	}

	res := &nubiq.ReindexResult{}
	ids := make([]int64, len(docs))
	for i, d := range docs {
		ids[i] = d.id
	}
	run := &res.Run
	// A run with nothing to do is done at once.
	if err := scanRun(tx.QueryRow(ctx, `
		INSERT INTO reindex_runs (workspace_id, scope, total, status, finished_at)
		VALUES ($1, $2, $3, CASE WHEN $3 = 0 THEN 'done' ELSE 'running' END, CASE WHEN $3 = 0 THEN now() END)
		RETURNING `+reindexRunColumns, req.WorkspaceID, scope, len(docs)), run); err != nil {
		return nil, fmt.Errorf("reindex: create run: %w", unavailable(err))
	}
	if len(docs) == 0 {
		return res, nil
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO reindex_run_documents (run_id, workspace_id, document_id)
		SELECT $1, $2, unnest($3::bigint[])`, run.ID, req.WorkspaceID, ids); err != nil {
		return nil, fmt.Errorf("reindex: record run documents: %w", unavailable(err))
	}

	var bump []int64
	for _, d := range docs {
		if d.waiting {
			res.Deduplicated++
			if len(docs) == 1 {
				res.JobID = *d.jobID
			}
		} else {
			bump = append(bump, d.id)
		}
	}
	if len(bump) > 0 {
		rows, err := tx.Query(ctx, `
			UPDATE documents SET index_generation = index_generation + 1
			WHERE workspace_id = $1 AND id = ANY($2)
			RETURNING id, version, index_generation`, req.WorkspaceID, bump)
		if err != nil {
			return nil, fmt.Errorf("reindex: bump generations: %w", unavailable(err))
		}
		jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (river.InsertManyParams, error) {
			a := nubiq.IngestDocumentArgs{WorkspaceID: req.WorkspaceID}
			err := r.Scan(&a.DocumentID, &a.Version, &a.Generation)
			return river.InsertManyParams{Args: a, InsertOpts: ingestInsertOpts}, err
		})
		if err != nil {
			return nil, fmt.Errorf("reindex: bump generations: %w", unavailable(err))
		}
		jobIDs, err := db.insertIngestJobs(ctx, tx, jobs)
		if err != nil {
			return nil, fmt.Errorf("reindex: %w", err)
		}
		res.Queued = len(jobIDs)
		if len(docs) == 1 {
			res.JobID = jobIDs[0]
		}
	}
	return res, nil
}

const reindexRunColumns = `id, scope, status, total, done, failed, created_at, finished_at`

func scanRun(row pgx.Row, r *nubiq.ReindexRun) error {
	if err := row.Scan(&r.ID, &r.Scope, &r.Status, &r.Total, &r.Done, &r.Failed, &r.CreatedAt, &r.FinishedAt); err != nil {
		return err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	if r.FinishedAt != nil {
		t := r.FinishedAt.UTC()
		r.FinishedAt = &t
	}
	return nil
}

// GetReindexRun returns a reindex run of the workspace.
func (db *DB) GetReindexRun(ctx context.Context, workspaceID, id int64) (*nubiq.ReindexRun, error) {
	var r nubiq.ReindexRun
	err := scanRun(db.Pool.QueryRow(ctx, `SELECT `+reindexRunColumns+` FROM reindex_runs WHERE workspace_id = $1 AND id = $2`,
		workspaceID, id), &r)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nubiq.NotFoundf("no reindex run %d", id)
	} else if err != nil {
		return nil, fmt.Errorf("read reindex run %d: %w", id, unavailable(err))
	}
	return &r, nil
}

// LatestReindexRun returns the workspace's most recent reindex run, or nil when it has none.
func (db *DB) LatestReindexRun(ctx context.Context, workspaceID int64) (*nubiq.ReindexRun, error) {
	var r nubiq.ReindexRun
	err := scanRun(db.Pool.QueryRow(ctx, `SELECT `+reindexRunColumns+` FROM reindex_runs WHERE workspace_id = $1
		ORDER BY id DESC LIMIT 1`, workspaceID), &r)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read latest reindex run: %w", unavailable(err))
	}
	return &r, nil
}

// ReindexStaleEmbeddings queues a reindex of the workspace's ready documents whose vectors
// were made by another embedder (name or dimensions) than the given one. It returns nil when
// there are none, or when a run for the same change is still going (another node started it).
func (db *DB) ReindexStaleEmbeddings(ctx context.Context, workspaceID int64, embedder string, dims int) (*nubiq.ReindexResult, error) {
	var res *nubiq.ReindexResult
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		// Nodes starting together take turns, so the second sees the first's run.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, int32(0x72656978), int32(workspaceID)); err != nil {
			return unavailable(err)
		}
		var stale, running bool
		err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM documents WHERE workspace_id = $1 AND status = 'ready' AND (embedder <> $2 OR embedding_dims <> $3)),
			       EXISTS (SELECT 1 FROM reindex_runs WHERE workspace_id = $1 AND status = 'running' AND scope = $4)`,
			workspaceID, embedder, dims, fmt.Sprintf("embedder:%s/%d", embedder, dims)).Scan(&stale, &running)
		if err != nil {
			return unavailable(err)
		}
		if !stale || running {
			return nil
		}
		res, err = db.reindex(ctx, tx, nubiq.ReindexRequest{WorkspaceID: workspaceID, StaleEmbedder: true, Embedder: embedder, Dims: dims})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reindex stale embeddings of workspace %d: %w", workspaceID, err)
	}
	return res, nil
}

// EnsureVectorIndex creates, if missing, the HNSW index for dims-dimensional chunk vectors: a
// partial expression index over embedding::vector(dims) WHERE dims = dims AND ann, with
// cosine distance. Vector queries must use that same expression and imply that predicate to
// use it, e.g. ORDER BY embedding::vector(256) <=> $1::vector(256) ... WHERE dims = 256 AND
// ann. Chunks of workspaces ranked exactly are written with ann false and never enter it.
//
// Earlier versions indexed every chunk (WHERE dims = N, under another name). That index is
// dropped once the new one is valid; until then it serves the same queries, since their
// predicate implies its own.
func (db *DB) EnsureVectorIndex(ctx context.Context, dims int) error {
	if dims < 1 || dims > 2000 {
		return fmt.Errorf("ensure vector index: %d dimensions is outside the 1..2000 that HNSW indexes", dims)
	}
	name := VectorIndexName(dims)
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return unavailable(err)
	}
	defer conn.Release()
	// One builder at a time across nodes: concurrent CREATE INDEX CONCURRENTLY of the same
	// name would leave an invalid index behind.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, int32(0x686e7377), int32(dims)); err != nil {
		return unavailable(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, int32(0x686e7377), int32(dims)) //nolint:errcheck
	var valid *bool
	err = conn.QueryRow(ctx, `SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = $1`, name).Scan(&valid)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("ensure vector index: %w", err)
	}
	if valid == nil || !*valid {
		if valid != nil { // a build interrupted earlier left an invalid index
			if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+name); err != nil {
				return fmt.Errorf("drop invalid vector index: %w", err)
			}
		}
		d := strconv.Itoa(dims)
		_, err = conn.Exec(ctx, `CREATE INDEX CONCURRENTLY IF NOT EXISTS `+name+` ON document_chunks
			USING hnsw ((embedding::vector(`+d+`)) vector_cosine_ops) WITH (m = 16, ef_construction = 64) WHERE dims = `+d+` AND ann`)
		if err != nil {
			return fmt.Errorf("create vector index for %d dimensions: %w", dims, err)
		}
	}
	// The new index is valid: the one over every chunk only slows writes down now.
	if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+legacyVectorIndexName(dims)); err != nil {
		return fmt.Errorf("drop the vector index over every chunk: %w", err)
	}
	return nil
}

// VectorIndexName is the name of the HNSW index for dims-dimensional vectors.
func VectorIndexName(dims int) string { return "document_chunks_ann_" + strconv.Itoa(dims) }

// legacyVectorIndexName names the HNSW index of earlier versions, over every chunk of dims
// dimensions.
func legacyVectorIndexName(dims int) string { return "document_chunks_hnsw_" + strconv.Itoa(dims) }

// DocumentChunkCount counts the chunk rows of a document and how many distinct versions they
// come from; for checks and tests.
func (db *DB) DocumentChunkCount(ctx context.Context, workspaceID, id int64) (rows, versions int, err error) {
	err = db.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT document_version) FROM document_chunks
		WHERE workspace_id = $1 AND document_id = $2`, workspaceID, id).Scan(&rows, &versions)
	return rows, versions, err
}

// WaitDocuments polls until no document of the workspace is queued or processing, or ctx ends.
func (db *DB) WaitDocuments(ctx context.Context, workspaceID int64, poll time.Duration) error {
	for {
		var pending bool
		if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM documents WHERE workspace_id = $1 AND status IN ('queued', 'processing'))`,
			workspaceID).Scan(&pending); err != nil {
			return unavailable(err)
		}
		if !pending {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}
