package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
)

// Reads a documents import needs to follow the indexing of what it uploaded. The uploads
// themselves go through UploadDocumentsTx, like documents.upload.

// IngestCounts counts documents by indexing status.
type IngestCounts struct {
	Queued     int64
	Processing int64
	Ready      int64
	Failed     int64
	Chunks     int64 // chunks of the ready documents
}

// Total is the number of documents counted.
func (c IngestCounts) Total() int64 { return c.Queued + c.Processing + c.Ready + c.Failed }

// Pending is the number of documents not indexed yet.
func (c IngestCounts) Pending() int64 { return c.Queued + c.Processing }

// CountDocumentsByStatus counts the listed documents of the workspace by status; ids of
// deleted documents (or of another workspace) are not counted.
func (db *DB) CountDocumentsByStatus(ctx context.Context, workspaceID int64, ids []int64) (IngestCounts, error) {
	var c IngestCounts
	err := db.Pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'processing'),
		       count(*) FILTER (WHERE status = 'ready'), count(*) FILTER (WHERE status = 'failed'),
		       coalesce(sum(chunk_count) FILTER (WHERE status = 'ready'), 0)
		FROM documents WHERE workspace_id = $1 AND id = ANY($2::bigint[])`, workspaceID, ids).
		Scan(&c.Queued, &c.Processing, &c.Ready, &c.Failed, &c.Chunks)
	if err != nil {
		return c, fmt.Errorf("count documents by status: %w", unavailable(err))
	}
	return c, nil
}

// UnindexedDocumentIDs lists the workspace's documents that are queued or processing.
func (db *DB) UnindexedDocumentIDs(ctx context.Context, workspaceID int64) ([]int64, error) {
	rows, err := db.Pool.Query(ctx, `SELECT id FROM documents WHERE workspace_id = $1 AND status IN ('queued', 'processing') ORDER BY id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list unindexed documents: %w", unavailable(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list unindexed documents: %w", unavailable(err))
	}
	return ids, nil
}

// FailedDocuments returns up to limit of the listed documents whose indexing failed, by id.
func (db *DB) FailedDocuments(ctx context.Context, workspaceID int64, ids []int64, limit int) ([]nubiq.Document, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+documentColumns+`
		FROM documents d LEFT JOIN river_job j ON j.id = d.job_id
		WHERE d.workspace_id = $1 AND d.id = ANY($2::bigint[]) AND d.status = 'failed'
		ORDER BY d.id LIMIT $3`, workspaceID, ids, limit)
	if err != nil {
		return nil, fmt.Errorf("list failed documents: %w", unavailable(err))
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (nubiq.Document, error) {
		d, err := scanDocument(r)
		if err != nil {
			return nubiq.Document{}, err
		}
		return *d, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list failed documents: %w", unavailable(err))
	}
	return docs, nil
}
