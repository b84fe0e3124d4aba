package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub"
)

// Which chunks are in the HNSW index.
//
// Maintaining an HNSW graph costs every inserted row a walk of the graph, and bounds ingest
// (docs/SEARCH.md, BENCHMARKS.md). Search ranks the vectors of a workspace of up to
// VectorExactMax chunks exactly, without the index, so chunks of such workspaces are written
// outside it (document_chunks.ann false; the HNSW indexes are partial on ann). A workspace
// that outgrows the threshold has its chunks moved into the index by IndexWorkspaceVectors,
// and from then on its new chunks are written into it. Search walks the index for a
// workspace only once every chunk of it is in (state VectorIndexHNSW).

// VectorExactMax is the chunk count up to which a workspace's vectors are ranked exactly and
// kept out of the HNSW index. Search and ingest both default to it: one number, so that they
// cannot drift apart. Measured on a 100,000-chunk table (256 dimensions, 50 results): exact
// 5.7 ms at 10k chunks and 16.6 ms at 20k; HNSW 11 ms and 7 ms (docs/SEARCH.md).
const VectorExactMax = 15000

// Workspace vector-index states (workspaces.vector_index).
const (
	// VectorIndexExact: new chunks are written outside the HNSW index; search ranks exactly.
	VectorIndexExact = "exact"
	// VectorIndexFilling: the workspace's chunks are being moved into the index; new chunks
	// are written into it; search still ranks exactly.
	VectorIndexFilling = "filling"
	// VectorIndexHNSW: every chunk of the workspace is in the index.
	VectorIndexHNSW = "hnsw"
)

// lockVectorState reads the workspace's vector-index state for a transaction that writes
// chunks, and holds a share lock on the workspace row until it commits. IndexWorkspaceVectors
// changes the state with an UPDATE of that row, which waits for such writers; so once it has
// committed "filling", every chunk written under "exact" is committed too, and every later
// writer sees "filling" (READ COMMITTED re-reads a row whose locker committed a change).
func lockVectorState(ctx context.Context, tx pgx.Tx, workspaceID int64) (string, error) {
	var state string
	err := tx.QueryRow(ctx, `SELECT vector_index FROM workspaces WHERE id = $1 FOR SHARE`, workspaceID).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nubiq.NotFoundf("no workspace %d", workspaceID)
	} else if err != nil {
		return "", fmt.Errorf("read workspace vector index state: %w", err)
	}
	return state, nil
}

// WorkspaceVectorStats is what picks a workspace's vector plan.
type WorkspaceVectorStats struct {
	// Chunks counts the workspace's chunks embedded by the embedder asked about.
	Chunks int64
	// Indexed: every chunk of the workspace is in the HNSW index (state VectorIndexHNSW).
	Indexed bool
}

// WorkspaceVectors counts the workspace's chunks embedded by embedder and says whether all of
// them are in the HNSW index.
func (db *DB) WorkspaceVectors(ctx context.Context, workspaceID int64, embedder string, dims int) (WorkspaceVectorStats, error) {
	var s WorkspaceVectorStats
	err := db.Pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM document_chunks WHERE workspace_id = $1 AND dims = $2 AND embedder = $3),
		       COALESCE((SELECT vector_index = 'hnsw' FROM workspaces WHERE id = $1), false)`,
		workspaceID, dims, embedder).Scan(&s.Chunks, &s.Indexed)
	if err != nil {
		return s, fmt.Errorf("count chunks: %w", unavailable(err))
	}
	return s, nil
}

// VectorIndexDue reports whether the workspace has more than threshold chunks and not all of
// them are in the HNSW index yet: IndexWorkspaceVectors has work to do. It reads at most
// threshold+1 index entries.
func (db *DB) VectorIndexDue(ctx context.Context, workspaceID int64, threshold int64) (bool, error) {
	var due bool
	err := db.Pool.QueryRow(ctx, `
		SELECT w.vector_index <> 'hnsw'
		   AND (SELECT count(*) FROM (SELECT 1 FROM document_chunks c WHERE c.workspace_id = w.id LIMIT $2 + 1) x) > $2
		FROM workspaces w WHERE w.id = $1`, workspaceID, threshold).Scan(&due)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("check workspace %d vector index: %w", workspaceID, unavailable(err))
	}
	return due, nil
}

// WorkspacesDueForVectorIndex lists the workspaces for which VectorIndexDue holds. It counts
// only the chunks of workspaces not yet indexed, at most threshold+1 each.
func (db *DB) WorkspacesDueForVectorIndex(ctx context.Context, threshold int64) ([]int64, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT w.id FROM workspaces w
		WHERE w.vector_index <> 'hnsw'
		  AND (SELECT count(*) FROM (SELECT 1 FROM document_chunks c WHERE c.workspace_id = w.id LIMIT $1 + 1) x) > $1
		ORDER BY w.id`, threshold)
	if err != nil {
		return nil, fmt.Errorf("list workspaces due for the vector index: %w", unavailable(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list workspaces due for the vector index: %w", unavailable(err))
	}
	return ids, nil
}

// VectorIndexBatch is how many chunks IndexWorkspaceVectors moves into the index per
// transaction: each row costs an HNSW insert (a few milliseconds), so a batch holds its row
// locks for about a second, and a document being re-ingested meanwhile waits at most that.
const VectorIndexBatch = 200

// IndexWorkspaceVectors moves every chunk of the workspace into the HNSW index and marks the
// workspace VectorIndexHNSW, after which search may walk the index for it. It returns how many
// chunks it moved. Each batch is its own short transaction; run again after an interruption,
// it goes on where it stopped. Ingest may go on meanwhile: chunks written from the moment the
// workspace is marked "filling" go straight into the index.
func (db *DB) IndexWorkspaceVectors(ctx context.Context, workspaceID int64, batch int) (int64, error) {
	if batch <= 0 {
		batch = VectorIndexBatch
	}
	// Waits for transactions writing chunks under "exact" (lockVectorState) to commit.
	var state string
	err := db.Pool.QueryRow(ctx, `
		WITH f AS (UPDATE workspaces SET vector_index = 'filling' WHERE id = $1 AND vector_index = 'exact' RETURNING vector_index)
		SELECT COALESCE((SELECT vector_index FROM f), (SELECT vector_index FROM workspaces WHERE id = $1), '')`, workspaceID).Scan(&state)
	if err != nil {
		return 0, fmt.Errorf("index workspace %d vectors: %w", workspaceID, unavailable(err))
	}
	if state == "" {
		return 0, nubiq.NotFoundf("no workspace %d", workspaceID)
	}
	if state == VectorIndexHNSW {
		return 0, nil
	}
	var moved int64
	for range 3 {
		// No chunk outside the index can appear any more: collect them once.
		rows, err := db.Pool.Query(ctx, `SELECT id FROM document_chunks WHERE workspace_id = $1 AND NOT ann ORDER BY id`, workspaceID)
		if err != nil {
			return moved, fmt.Errorf("index workspace %d vectors: %w", workspaceID, unavailable(err))
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return moved, fmt.Errorf("index workspace %d vectors: %w", workspaceID, unavailable(err))
		}
		for lo := 0; lo < len(ids); lo += batch {
			tag, err := db.Pool.Exec(ctx, `UPDATE document_chunks SET ann = true WHERE workspace_id = $1 AND id = ANY($2) AND NOT ann`,
				workspaceID, ids[lo:min(lo+batch, len(ids))])
			if err != nil {
				return moved, fmt.Errorf("index workspace %d vectors: %w", workspaceID, unavailable(err))
			}
			moved += tag.RowsAffected()
		}
		tag, err := db.Pool.Exec(ctx, `
			UPDATE workspaces SET vector_index = 'hnsw'
			WHERE id = $1 AND vector_index = 'filling'
			  AND NOT EXISTS (SELECT 1 FROM document_chunks WHERE workspace_id = $1 AND NOT ann)`, workspaceID)
		if err != nil {
			return moved, fmt.Errorf("index workspace %d vectors: %w", workspaceID, unavailable(err))
		}
		if tag.RowsAffected() == 1 {
			return moved, nil
		}
		err = db.Pool.QueryRow(ctx, `SELECT vector_index FROM workspaces WHERE id = $1`, workspaceID).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return moved, nubiq.NotFoundf("no workspace %d", workspaceID)
		} else if err != nil {
			return moved, fmt.Errorf("index workspace %d vectors: %w", workspaceID, unavailable(err))
		}
		if state == VectorIndexHNSW { // another run finished first
			return moved, nil
		}
	}
	return moved, fmt.Errorf("index workspace %d vectors: chunks outside the index kept appearing", workspaceID)
}
