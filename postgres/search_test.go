package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

var words = strings.Fields(`account agent answer billing browser cancel card change charge chat
	connect contact customer data delete device download email error export file invoice issue
	key language license login mobile network order password payment phone plan price privacy
	profile refund report reset router security server setting share shipping sign storage
	subscription support sync team ticket trial update upgrade upload user verify wifi window`)

func sentence(r *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = words[r.IntN(len(words))]
	}
	return strings.Join(w, " ")
}

// seedChunks writes n one-chunk documents into the workspace, every fifth with metadata
// tier=gold and MIME type text/html.
func seedChunks(t testing.TB, db *postgres.DB, ws int64, n int, r *rand.Rand) {
	t.Helper()
	emb := indexer.NewHashEmbedder(256)
	ctx := context.Background()
	for start := 0; start < n; start += 500 {
		var docs []postgres.IndexedDocument
		var texts []string
		for i := start; i < min(n, start+500); i++ {
			text := sentence(r, 12)
			texts = append(texts, text)
			d := postgres.IndexedDocument{Title: fmt.Sprintf("doc %d", i), MimeType: "text/plain", Text: text, Embedder: "hash"}
			if i%5 == 0 {
				d.MimeType, d.Metadata = "text/html", map[string]any{"tier": "gold"}
			}
			docs = append(docs, d)
		}
		vecs, err := emb.Embed(ctx, texts)
		require.NoError(t, err)
		for i := range docs {
			docs[i].Chunks = []postgres.IndexedChunk{{Text: texts[i], End: len(texts[i]), Tokens: 12, Vector: vecs[i]}}
		}
		_, err = db.InsertIndexedDocuments(ctx, ws, docs)
		require.NoError(t, err)
	}
}

func TestNearestChunksStrategiesAndPlans(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	small, err := db.CreateWorkspace(ctx, "small", "pro")
	require.NoError(t, err)
	large, err := db.CreateWorkspace(ctx, "large", "pro")
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 2))
	seedChunks(t, db, small.ID, 200, r)
	seedChunks(t, db, large.ID, 3000, r)
	// The large workspace's chunks are moved into the HNSW index, as when a workspace
	// outgrows exact ranking; the small one's stay out.
	moved, err := db.IndexWorkspaceVectors(ctx, large.ID, 0)
	require.NoError(t, err)
	require.EqualValues(t, 3000, moved)
	require.NoError(t, db.EnsureVectorIndex(ctx, 256))
	require.NoError(t, db.EnsureVectorIndex(ctx, 256), "idempotent")
	_, err = db.Pool.Exec(ctx, "ANALYZE document_chunks")
	require.NoError(t, err)

	emb := indexer.NewHashEmbedder(256)
	vecs, err := emb.Embed(ctx, []string{"refund my payment", "router password reset wifi", "export data privacy"})
	require.NoError(t, err)

	for _, ws := range []*nubiq.Workspace{small, large} {
		for qi, v := range vecs {
			if ws == small {
				// Outside the index: only the exact plan finds them.
				hnsw, err := db.NearestChunks(ctx, ws.ID, postgres.VectorQuery{Embedder: "hash", Vector: v, Limit: 20, Strategy: postgres.VectorHNSW})
				require.NoError(t, err)
				require.Empty(t, hnsw)
			}
			exact, err := db.NearestChunks(ctx, ws.ID, postgres.VectorQuery{Embedder: "hash", Vector: v, Limit: 20, Strategy: postgres.VectorExact})
			require.NoError(t, err)
			require.Len(t, exact, 20)
			require.True(t, slices.IsSortedFunc(exact, func(a, b postgres.ChunkNeighbor) int {
				switch {
				case a.Distance < b.Distance:
					return -1
				case a.Distance > b.Distance:
					return 1
				}
				return 0
			}))
			if ws == small {
				continue
			}
			hnsw, err := db.NearestChunks(ctx, ws.ID, postgres.VectorQuery{Embedder: "hash", Vector: v, Limit: 20, Strategy: postgres.VectorHNSW, EfSearch: 100})
			require.NoError(t, err)
			require.Len(t, hnsw, 20, "%s query %d: the workspace filter must not starve the index walk", ws.Name, qi)
			found := 0
			for _, n := range hnsw {
				if slices.ContainsFunc(exact, func(e postgres.ChunkNeighbor) bool { return e.ChunkID == n.ChunkID }) {
					found++
				}
			}
			require.GreaterOrEqual(t, found, 16, "%s query %d: HNSW recall@20", ws.Name, qi)
		}
	}

	// Filters, checked against every chunk ranked in Go.
	var gold, html int
	rows, err := db.Pool.Query(ctx, `SELECT d.mime_type, d.metadata ->> 'tier' FROM document_chunks c JOIN documents d ON d.id = c.document_id WHERE c.workspace_id = $1`, large.ID)
	require.NoError(t, err)
	for rows.Next() {
		var mime string
		var tier *string
		require.NoError(t, rows.Scan(&mime, &tier))
		if tier != nil {
			gold++
		}
		if mime == "text/html" {
			html++
		}
	}
	require.NoError(t, rows.Err())
	for _, strategy := range []string{postgres.VectorExact, postgres.VectorHNSW} {
		res, err := db.NearestChunks(ctx, large.ID, postgres.VectorQuery{Embedder: "hash", Vector: vecs[0], Limit: 5000, Strategy: strategy,
			Filter: postgres.DocumentFilter{Metadata: map[string]string{"tier": "gold"}, MimeType: "text/html"}})
		require.NoError(t, err, strategy)
		require.Len(t, res, gold)
	}
	res, err := db.NearestChunks(ctx, large.ID, postgres.VectorQuery{Embedder: "hash", Vector: vecs[0], Limit: 10, Strategy: postgres.VectorExact,
		Filter: postgres.DocumentFilter{DocumentIDs: []int64{res0(t, db, small.ID)}}})
	require.NoError(t, err)
	require.Empty(t, res, "another workspace's document id")
	future := time.Now().Add(time.Hour)
	res, err = db.NearestChunks(ctx, large.ID, postgres.VectorQuery{Embedder: "hash", Vector: vecs[0], Limit: 10, Strategy: postgres.VectorExact,
		Filter: postgres.DocumentFilter{Updated: nubiq.TimeRange{From: future}}})
	require.NoError(t, err)
	require.Empty(t, res)
	res, err = db.NearestChunks(ctx, large.ID, postgres.VectorQuery{Embedder: "other", Vector: vecs[0], Limit: 10, Strategy: postgres.VectorExact})
	require.NoError(t, err)
	require.Empty(t, res, "vectors of another embedder are not comparable")

	// Plans, custom and generic (pgx may cache statements): the HNSW statement walks the HNSW
	// index; the exact one reaches the workspace's rows through the workspace index, never
	// the HNSW index nor a scan of every workspace; neither compiles with JIT.
	for _, generic := range []bool{false, true} {
		plan, err := db.ExplainNearestChunks(ctx, large.ID, postgres.VectorQuery{Embedder: "hash", Vector: vecs[0], Limit: 10, Strategy: postgres.VectorHNSW}, generic)
		require.NoError(t, err)
		require.Contains(t, plan, "Index Scan using "+postgres.VectorIndexName(256), "generic=%v:\n%s", generic, plan)
		for _, ws := range []int64{small.ID, large.ID} {
			plan, err = db.ExplainNearestChunks(ctx, ws, postgres.VectorQuery{Embedder: "hash", Vector: vecs[0], Limit: 10, Strategy: postgres.VectorExact}, generic)
			require.NoError(t, err)
			require.NotContains(t, plan, postgres.VectorIndexName(256), plan)
			require.NotContains(t, plan, "Seq Scan", plan)
			require.Contains(t, plan, "document_chunks_workspace_idx", plan)
		}
	}
	plan, err := db.ExplainNearestChunks(ctx, large.ID, postgres.VectorQuery{Embedder: "hash", Vector: vecs[0], Limit: 10, Strategy: postgres.VectorHNSW}, false, "ANALYZE")
	require.NoError(t, err)
	require.NotContains(t, plan, "JIT", plan)
}

func res0(t *testing.T, db *postgres.DB, ws int64) int64 {
	var id int64
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT min(id) FROM documents WHERE workspace_id = $1`, ws).Scan(&id))
	return id
}

// Documents loaded in bulk record their embedder and dimensions as an ingest does: a server
// with that embedder finds nothing to reindex, one with other dimensions reindexes them all.
func TestInsertIndexedDocumentsRecordEmbedder(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	ws, err := db.CreateWorkspace(ctx, "Acme", "pro")
	require.NoError(t, err)
	seedChunks(t, db, ws.ID, 20, rand.New(rand.NewPCG(3, 4)))
	res, err := db.ReindexStaleEmbeddings(ctx, ws.ID, "hash", 256)
	require.NoError(t, err)
	require.Nil(t, res, "documents loaded with hash/256 vectors taken for another embedder's")
	res, err = db.ReindexStaleEmbeddings(ctx, ws.ID, "hash", 128)
	require.NoError(t, err)
	require.NotNil(t, res)
	require.Equal(t, 20, res.Run.Total)
}
