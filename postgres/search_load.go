package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
)

// IndexedDocument is a document already extracted, chunked and embedded, ready to be written
// with its chunks in one go.
type IndexedDocument struct {
	ExternalID string // optional
	Title      string
	SourceURL  string
	MimeType   string
	Language   string
	Metadata   map[string]any
	Text       string // the extracted text; also stored as the raw bytes
	Embedder   string
	Chunks     []IndexedChunk
}

// IndexedChunk is one chunk of an IndexedDocument.
type IndexedChunk struct {
	Text        string
	HeadingPath []string
	Start, End  int
	Tokens      int
	Vector      []float32
}

// InsertIndexedDocuments writes documents in the state the ingest pipeline leaves them — row
// marked ready, chunks with vectors, and an index-log entry per document — in one transaction,
// and returns their ids in order. It serves `nubiq eval`, which loads a corpus that is
// already chunked and embedded in-process, and tests; uploads go through the ingest job.
func (db *DB) InsertIndexedDocuments(ctx context.Context, workspaceID int64, docs []IndexedDocument) ([]int64, error) {
	ids := make([]int64, len(docs))
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for i := range docs {
			d := &docs[i]
			if d.Metadata == nil {
				d.Metadata = map[string]any{}
			}
			meta, err := json.Marshal(d.Metadata)
			if err != nil {
				return fmt.Errorf("document %q metadata: %w", d.Title, err)
			}
			var ext *string
			if d.ExternalID != "" {
				ext = &d.ExternalID
			}
			hash := sha256.Sum256([]byte(d.Text))
			// Recorded as an ingest records it: a server whose embedder has these
			// dimensions must not take the vectors for another embedder's and reindex them.
			dims := 0
			if len(d.Chunks) > 0 {
				dims = len(d.Chunks[0].Vector)
			}
			b.Queue(`
				INSERT INTO documents (workspace_id, external_id, title, source_url, mime_type, language, metadata, raw,
					size_bytes, content_hash, extracted_text, status, indexed_version, embedder, embedding_dims, chunk_count, indexed_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'ready', 1, $12, $13, $14, now())
				RETURNING id`,
				workspaceID, ext, d.Title, d.SourceURL, d.MimeType, d.Language, meta, []byte(d.Text),
				len(d.Text), hash[:], d.Text, d.Embedder, dims, len(d.Chunks)).QueryRow(func(row pgx.Row) error {
				return row.Scan(&ids[i])
			})
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("insert documents: %w", err)
		}
		state, err := lockVectorState(ctx, tx, workspaceID)
		if err != nil {
			return err
		}
		ann := state != VectorIndexExact
		var rows [][]any
		for i := range docs {
			for j, c := range docs[i].Chunks {
				heading := c.HeadingPath
				if heading == nil {
					heading = []string{}
				}
				rows = append(rows, []any{workspaceID, ids[i], 1, j, c.Text, heading, c.Start, c.End, c.Tokens,
					docs[i].Embedder, len(c.Vector), pgvector.NewVector(c.Vector), ann})
			}
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"document_chunks"}, chunkColumns, pgx.CopyFromRows(rows))
		if err != nil {
			return fmt.Errorf("insert chunks: %w", err)
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO index_log (workspace_id, kind, entity_id, op)
			SELECT $1, 'document', id, 'upsert' FROM unnest($2::bigint[]) AS id`, workspaceID, ids)
		if err != nil {
			return fmt.Errorf("insert index log: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert indexed documents: %w", unavailable(err))
	}
	return ids, nil
}

// DeleteWorkspaceDocuments deletes every document of the workspace with its chunks, and logs
// the deletions so that every node drops them from its index.
func (db *DB) DeleteWorkspaceDocuments(ctx context.Context, workspaceID int64) (int64, error) {
	var n int64
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			WITH gone AS (DELETE FROM documents WHERE workspace_id = $1 RETURNING id)
			INSERT INTO index_log (workspace_id, kind, entity_id, op) SELECT $1, 'document', id, 'delete' FROM gone`, workspaceID)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete workspace documents: %w", unavailable(err))
	}
	return n, nil
}

// DeleteEvalWorkspace deletes a scratch workspace made by `nubiq eval` and all its data,
// logging the document deletions first so that running nodes drop them from their indexes.
func (db *DB) DeleteEvalWorkspace(ctx context.Context, workspaceID int64) error {
	if _, err := db.DeleteWorkspaceDocuments(ctx, workspaceID); err != nil {
		return err
	}
	if _, err := db.Pool.Exec(ctx, `DELETE FROM workspaces WHERE id = $1`, workspaceID); err != nil {
		return fmt.Errorf("delete workspace %d: %w", workspaceID, unavailable(err))
	}
	return nil
}
