package jobs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
	"github.com/nubiq/hub/search"
)

// Ingest keeps a small workspace's chunks out of the HNSW index and search ranks it exactly;
// when the workspace outgrows the threshold, the ingest that notices queues the vector-index
// job, which moves its chunks in, after which search walks the index, and the statement it
// sends is planned on the index.
func TestIngestMovesAWorkspaceIntoTheVectorIndexWhenItOutgrowsExactRanking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	emb := indexer.NewHashEmbedder(64)
	require.NoError(t, db.EnsureVectorIndex(ctx, emb.Dimensions()))
	const threshold = 40
	startRunnerWith(t, &jobs.Deps{DB: db, Embedder: emb,
		Ingest: jobs.IngestConfig{VectorExactMax: threshold, VectorCheckEvery: time.Millisecond}}, jobs.Config{})
	ws, err := db.CreateWorkspace(ctx, "growing", "pro")
	require.NoError(t, err)
	svc := search.New(search.Config{DB: db, Embedder: emb, ExactScanMax: threshold})

	var docs []int64
	total := func() int {
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM document_chunks WHERE workspace_id = $1`, ws.ID).Scan(&n))
		return n
	}
	// Below the threshold: out of the index, ranked exactly.
	for i := 0; total() <= threshold/2; i++ {
		up := upload(t, db, ws.ID, fmt.Sprint("small-", i), longText(fmt.Sprint("small", i), 3))
		waitDoc(t, db, ws.ID, up.DocumentID, 20*time.Second, readyAt(1))
		docs = append(docs, up.DocumentID)
	}
	var out int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT ann) FROM document_chunks WHERE workspace_id = $1`, ws.ID).Scan(&out))
	require.Equal(t, total(), out)
	strategy, err := svc.VectorStrategy(ctx, ws.ID)
	require.NoError(t, err)
	require.Equal(t, postgres.VectorExact, strategy)

	// Beyond it.
	for i := 0; total() <= threshold; i++ {
		up := upload(t, db, ws.ID, fmt.Sprint("more-", i), longText(fmt.Sprint("more", i), 3))
		waitDoc(t, db, ws.ID, up.DocumentID, 20*time.Second, readyAt(1))
		docs = append(docs, up.DocumentID)
	}
	require.Eventually(t, func() bool {
		var state string
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT vector_index FROM workspaces WHERE id = $1`, ws.ID).Scan(&state))
		return state == postgres.VectorIndexHNSW
	}, 20*time.Second, 20*time.Millisecond)
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT ann) FROM document_chunks WHERE workspace_id = $1`, ws.ID).Scan(&out))
	require.Zero(t, out)

	// A new service (the old one caches what it counted for a while) walks the index now.
	svc = search.New(search.Config{DB: db, Embedder: emb, ExactScanMax: threshold})
	strategy, err = svc.VectorStrategy(ctx, ws.ID)
	require.NoError(t, err)
	require.Equal(t, postgres.VectorHNSW, strategy)
	_, err = db.Pool.Exec(ctx, "ANALYZE document_chunks")
	require.NoError(t, err)
	vecs, err := emb.Embed(ctx, []string{"agent reconnects after a network failure"})
	require.NoError(t, err)
	vq := postgres.VectorQuery{Embedder: emb.Name(), Vector: vecs[0], Limit: 10, Strategy: strategy}
	plan, err := db.ExplainNearestChunks(ctx, ws.ID, vq, false)
	require.NoError(t, err)
	require.Contains(t, plan, "Index Scan using "+postgres.VectorIndexName(emb.Dimensions()), plan)
	hnsw, err := db.NearestChunks(ctx, ws.ID, vq)
	require.NoError(t, err)
	vq.Strategy = postgres.VectorExact
	exact, err := db.NearestChunks(ctx, ws.ID, vq)
	require.NoError(t, err)
	require.Len(t, hnsw, 10)
	require.Equal(t, exact[0], hnsw[0])

	// Later documents go straight into the index.
	up := upload(t, db, ws.ID, "after", longText("after", 2))
	waitDoc(t, db, ws.ID, up.DocumentID, 20*time.Second, readyAt(1))
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT ann) FROM document_chunks WHERE workspace_id = $1`, ws.ID).Scan(&out))
	require.Zero(t, out)
}

// The maintenance pass queues the vector-index job for a workspace that outgrew the threshold
// without an ingest noticing (here: chunks written by another path).
func TestMaintenanceQueuesTheVectorIndexJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	ws, err := db.CreateWorkspace(ctx, "loaded", "pro")
	require.NoError(t, err)
	emb := indexer.NewHashEmbedder(16)
	var docs []postgres.IndexedDocument
	for i := range 30 {
		text := fmt.Sprint("loaded document number ", i)
		vecs, err := emb.Embed(ctx, []string{text})
		require.NoError(t, err)
		docs = append(docs, postgres.IndexedDocument{Title: text, MimeType: "text/plain", Text: text, Embedder: emb.Name(),
			Chunks: []postgres.IndexedChunk{{Text: text, End: len(text), Tokens: 4, Vector: vecs[0]}}})
	}
	_, err = db.InsertIndexedDocuments(ctx, ws.ID, docs)
	require.NoError(t, err)
	startRunnerWith(t, &jobs.Deps{DB: db, Embedder: emb,
		Ingest:      jobs.IngestConfig{VectorExactMax: 20},
		Maintenance: jobs.MaintenanceConfig{Interval: 200 * time.Millisecond}}, jobs.Config{})
	require.Eventually(t, func() bool {
		var state string
		var out int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT vector_index, (SELECT count(*) FROM document_chunks WHERE workspace_id = $1 AND NOT ann)
			FROM workspaces WHERE id = $1`, ws.ID).Scan(&state, &out))
		return state == postgres.VectorIndexHNSW && out == 0
	}, 20*time.Second, 20*time.Millisecond)
}
