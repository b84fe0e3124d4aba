package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

const testDims = 16

// ingestDoc uploads a document and commits n chunks with random vectors for it through
// CommitIngest, as the ingest job does, returning the document id and the state the chunks
// were written under.
func ingestDoc(t testing.TB, db *postgres.DB, ws int64, name string, n int, r *rand.Rand) (int64, string) {
	t.Helper()
	ctx := context.Background()
	up, err := db.UploadDocument(ctx, nubiq.DocumentUpload{WorkspaceID: ws, Title: name, ExternalID: name,
		MIMEType: "text/plain", Raw: fmt.Appendf(nil, "%s %d", name, r.Int())})
	require.NoError(t, err)
	state, err := db.CommitIngest(ctx, outcome(ws, up.DocumentID, up.Version, n, r))
	require.NoError(t, err)
	return up.DocumentID, state
}

func outcome(ws, doc int64, version, n int, r *rand.Rand) *postgres.IngestOutcome {
	o := &postgres.IngestOutcome{WorkspaceID: ws, DocumentID: doc, Version: version, ExtractedText: "text",
		Embedder: "test", Dims: testDims}
	for i := range n {
		v := make([]float32, testDims)
		for j := range v {
			v[j] = r.Float32() - 0.5
		}
		o.Chunks = append(o.Chunks, postgres.IngestChunk{Index: i, Text: fmt.Sprint("chunk ", i), End: 1, Tokens: 1, Embedding: v})
	}
	return o
}

// annCounts counts the workspace's chunks in and out of the HNSW index.
func annCounts(t testing.TB, db *postgres.DB, ws int64) (in, out int) {
	t.Helper()
	require.NoError(t, db.Pool.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE ann), count(*) FILTER (WHERE NOT ann) FROM document_chunks WHERE workspace_id = $1`, ws).Scan(&in, &out))
	return in, out
}

func vectorState(t testing.TB, db *postgres.DB, ws int64) string {
	t.Helper()
	var s string
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT vector_index FROM workspaces WHERE id = $1`, ws).Scan(&s))
	return s
}

// A workspace's chunks stay out of the HNSW index while it is small enough to be ranked
// exactly; once it outgrows the threshold they are moved in, later chunks go straight in, and
// the HNSW plan then walks the index and finds what the exact plan finds.
func TestChunksEnterTheVectorIndexWhenTheWorkspaceOutgrowsExactRanking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	require.NoError(t, db.EnsureVectorIndex(ctx, testDims))
	var def string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE indexname = $1`, postgres.VectorIndexName(testDims)).Scan(&def))
	require.Contains(t, def, fmt.Sprintf("WHERE ((dims = %d) AND ann)", testDims))

	ws, err := db.CreateWorkspace(ctx, "grows", "pro")
	require.NoError(t, err)
	other, err := db.CreateWorkspace(ctx, "stays small", "pro")
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(3, 4))
	const threshold = 100
	for i := range 12 {
		_, state := ingestDoc(t, db, ws.ID, fmt.Sprint("doc-", i), 10, r)
		require.Equal(t, postgres.VectorIndexExact, state)
	}
	ingestDoc(t, db, other.ID, "other", 10, r)
	in, out := annCounts(t, db, ws.ID)
	require.Equal(t, 0, in, "a small workspace's chunks stay out of the index")
	require.Equal(t, 120, out)

	due, err := db.VectorIndexDue(ctx, ws.ID, threshold)
	require.NoError(t, err)
	require.True(t, due, "120 chunks > %d", threshold)
	due, err = db.VectorIndexDue(ctx, other.ID, threshold)
	require.NoError(t, err)
	require.False(t, due)
	list, err := db.WorkspacesDueForVectorIndex(ctx, threshold)
	require.NoError(t, err)
	require.Equal(t, []int64{ws.ID}, list)
	st, err := db.WorkspaceVectors(ctx, ws.ID, "test", testDims)
	require.NoError(t, err)
	require.Equal(t, postgres.WorkspaceVectorStats{Chunks: 120, Indexed: false}, st)

	moved, err := db.IndexWorkspaceVectors(ctx, ws.ID, 7)
	require.NoError(t, err)
	require.EqualValues(t, 120, moved)
	require.Equal(t, postgres.VectorIndexHNSW, vectorState(t, db, ws.ID))
	in, out = annCounts(t, db, ws.ID)
	require.Equal(t, [2]int{120, 0}, [2]int{in, out})
	moved, err = db.IndexWorkspaceVectors(ctx, ws.ID, 7)
	require.NoError(t, err)
	require.Zero(t, moved, "again: nothing to do")
	in, out = annCounts(t, db, other.ID)
	require.Equal(t, [2]int{0, 10}, [2]int{in, out}, "other workspaces are left alone")

	// New chunks, and new versions of old documents, go straight into the index.
	_, state := ingestDoc(t, db, ws.ID, "doc-new", 10, r)
	require.Equal(t, postgres.VectorIndexHNSW, state)
	_, state = ingestDoc(t, db, ws.ID, "doc-3", 5, r)
	require.Equal(t, postgres.VectorIndexHNSW, state)
	in, out = annCounts(t, db, ws.ID)
	require.Equal(t, [2]int{125, 0}, [2]int{in, out})
	st, err = db.WorkspaceVectors(ctx, ws.ID, "test", testDims)
	require.NoError(t, err)
	require.Equal(t, postgres.WorkspaceVectorStats{Chunks: 125, Indexed: true}, st)
	due, err = db.VectorIndexDue(ctx, ws.ID, threshold)
	require.NoError(t, err)
	require.False(t, due)

	// The HNSW plan walks the partial index (its predicate is implied by the statement's),
	// custom and generic, and finds what the exact plan finds.
	_, err = db.Pool.Exec(ctx, "ANALYZE document_chunks")
	require.NoError(t, err)
	q := make([]float32, testDims)
	for j := range q {
		q[j] = r.Float32() - 0.5
	}
	for _, generic := range []bool{false, true} {
		plan, err := db.ExplainNearestChunks(ctx, ws.ID, postgres.VectorQuery{Embedder: "test", Vector: q, Limit: 10, Strategy: postgres.VectorHNSW}, generic)
		require.NoError(t, err)
		require.Contains(t, plan, "Index Scan using "+postgres.VectorIndexName(testDims), "generic=%v:\n%s", generic, plan)
	}
	exact, err := db.NearestChunks(ctx, ws.ID, postgres.VectorQuery{Embedder: "test", Vector: q, Limit: 10, Strategy: postgres.VectorExact})
	require.NoError(t, err)
	hnsw, err := db.NearestChunks(ctx, ws.ID, postgres.VectorQuery{Embedder: "test", Vector: q, Limit: 10, Strategy: postgres.VectorHNSW, EfSearch: 200})
	require.NoError(t, err)
	require.Equal(t, exact, hnsw)

	// A workspace that shrinks stays in.
	_, err = db.Pool.Exec(ctx, `DELETE FROM documents WHERE workspace_id = $1`, ws.ID)
	require.NoError(t, err)
	_, state = ingestDoc(t, db, ws.ID, "after", 3, r)
	require.Equal(t, postgres.VectorIndexHNSW, state)
}

// Moving a workspace's chunks into the index while documents are being committed loses none:
// a commit that read "exact" before the move started is waited for, and every later one
// writes into the index.
func TestIndexWorkspaceVectorsDuringIngest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	ws, err := db.CreateWorkspace(ctx, "busy", "pro")
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(5, 6))
	var docs []int64
	for i := range 40 {
		id, _ := ingestDoc(t, db, ws.ID, fmt.Sprint("doc-", i), 10, r)
		docs = append(docs, id)
	}

	// A writer that has read "exact" and not committed yet: the move waits for it, and its
	// chunk ends up in the index.
	held, err := db.UploadDocument(ctx, nubiq.DocumentUpload{WorkspaceID: ws.ID, Title: "held", ExternalID: "held", MIMEType: "text/plain", Raw: []byte("held")})
	require.NoError(t, err)
	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	var state string
	require.NoError(t, tx.QueryRow(ctx, `SELECT vector_index FROM workspaces WHERE id = $1 FOR SHARE`, ws.ID).Scan(&state))
	require.Equal(t, postgres.VectorIndexExact, state)
	_, err = tx.Exec(ctx, `INSERT INTO document_chunks (workspace_id, document_id, document_version, chunk_index, text, start_offset, end_offset, tokens, embedder, dims, embedding, ann)
		VALUES ($1, $2, 1, 0, 'held', 0, 4, 1, 'test', $3, $4, false)`, ws.ID, held.DocumentID, testDims, pgvector.NewVector(make([]float32, testDims)))
	require.NoError(t, err)

	type result struct {
		moved int64
		err   error
	}
	done := make(chan result, 1)
	go func() {
		moved, err := db.IndexWorkspaceVectors(ctx, ws.ID, 5)
		done <- result{moved, err}
	}()
	select {
	case res := <-done:
		t.Fatalf("the move did not wait for a writer that read the old state: %+v", res)
	case <-time.After(300 * time.Millisecond):
	}
	require.Equal(t, postgres.VectorIndexExact, vectorState(t, db, ws.ID))
	require.NoError(t, tx.Commit(ctx))

	// Meanwhile: new documents and new versions of old ones, from several writers.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var states []string
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 10 {
				name := fmt.Sprintf("new-%d-%d", w, i)
				if i%2 == 1 {
					name = fmt.Sprint("doc-", w*10+i) // a new version of an existing document
				}
				up, err := db.UploadDocument(ctx, nubiq.DocumentUpload{WorkspaceID: ws.ID, Title: name, ExternalID: name,
					MIMEType: "text/plain", Raw: fmt.Appendf(nil, "%s %d", name, r.Int())})
				if err != nil {
					t.Error(err)
					return
				}
				state, err := db.CommitIngest(ctx, outcome(ws.ID, up.DocumentID, up.Version, 10, r))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				states = append(states, state)
				mu.Unlock()
			}
		})
	}
	res := <-done
	wg.Wait()
	require.NoError(t, res.err)
	// At least the held chunk and those of the 20 documents no writer touched.
	require.GreaterOrEqual(t, res.moved, int64(201))
	require.Len(t, states, 40)
	require.Contains(t, states, postgres.VectorIndexFilling, "writes overlapped the move")

	require.Equal(t, postgres.VectorIndexHNSW, vectorState(t, db, ws.ID))
	in, out := annCounts(t, db, ws.ID)
	require.Zero(t, out)
	// 40 old documents (20 of them at a new version), 20 new ones, the held one.
	require.Equal(t, 60*10+1, in)
	var perDoc []int
	rows, err := db.Pool.Query(ctx, `SELECT count(*) FROM document_chunks WHERE workspace_id = $1 AND document_id <> $2 GROUP BY document_id`, ws.ID, held.DocumentID)
	require.NoError(t, err)
	perDoc, err = pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	require.Len(t, perDoc, 60)
	for _, n := range perDoc {
		require.Equal(t, 10, n)
	}
}

// An upgrade from a version that indexed every chunk: the migration rewrites nothing (every
// existing chunk counts as in the index), the index over every chunk keeps serving until its
// replacement is valid and is then dropped, and a large workspace is marked indexed without
// moving a row.
func TestVectorIndexUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Config{URL: pgtest.EmptyURL(t)})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	require.NoError(t, db.MigrateUpTo(ctx, 99))

	// Data as the earlier schema held it, with its index.
	var large, small int64
	require.NoError(t, db.Pool.QueryRow(ctx, `INSERT INTO workspaces (name, plan) VALUES ('large', 'pro') RETURNING id`).Scan(&large))
	require.NoError(t, db.Pool.QueryRow(ctx, `INSERT INTO workspaces (name, plan) VALUES ('small', 'pro') RETURNING id`).Scan(&small))
	r := rand.New(rand.NewPCG(8, 9))
	for _, w := range []struct {
		ws   int64
		docs int
	}{{large, 30}, {small, 2}} {
		for i := range w.docs {
			var doc int64
			require.NoError(t, db.Pool.QueryRow(ctx, `INSERT INTO documents (workspace_id, title, mime_type, raw, size_bytes, content_hash, status, indexed_version, embedder, chunk_count)
				VALUES ($1, $2, 'text/plain', 'x', 1, '\x00', 'ready', 1, 'test', 10) RETURNING id`, w.ws, fmt.Sprint("doc ", i)).Scan(&doc))
			for c := range 10 {
				v := make([]float32, testDims)
				for j := range v {
					v[j] = r.Float32() - 0.5
				}
				_, err := db.Pool.Exec(ctx, `INSERT INTO document_chunks (workspace_id, document_id, document_version, chunk_index, text, start_offset, end_offset, tokens, embedder, dims, embedding)
					VALUES ($1, $2, 1, $3, 'text', 0, 4, 1, 'test', $4, $5)`, w.ws, doc, c, testDims, pgvector.NewVector(v))
				require.NoError(t, err)
			}
		}
	}
	legacy := postgres.LegacyVectorIndexName(testDims)
	_, err = db.Pool.Exec(ctx, fmt.Sprintf(`CREATE INDEX %s ON document_chunks USING hnsw ((embedding::vector(%d)) vector_cosine_ops) WHERE dims = %d`,
		legacy, testDims, testDims))
	require.NoError(t, err)
	var fileBefore uint32
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT relfilenode FROM pg_class WHERE relname = 'document_chunks'`).Scan(&fileBefore))

	_, err = db.Migrate(ctx)
	require.NoError(t, err)
	var fileAfter uint32
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT relfilenode FROM pg_class WHERE relname = 'document_chunks'`).Scan(&fileAfter))
	require.Equal(t, fileBefore, fileAfter, "the migration does not rewrite the chunk table")
	for _, ws := range []int64{large, small} {
		in, out := annCounts(t, db, ws)
		require.Equal(t, 0, out)
		require.Positive(t, in)
		require.Equal(t, postgres.VectorIndexExact, vectorState(t, db, ws))
	}

	// Before the new index exists, the old one serves the HNSW statement of an indexed
	// workspace; the maintenance pass finds the large workspace due and marks it indexed
	// without moving a row.
	due, err := db.WorkspacesDueForVectorIndex(ctx, 100)
	require.NoError(t, err)
	require.Equal(t, []int64{large}, due)
	moved, err := db.IndexWorkspaceVectors(ctx, large, 0)
	require.NoError(t, err)
	require.Zero(t, moved)
	require.Equal(t, postgres.VectorIndexHNSW, vectorState(t, db, large))
	_, err = db.Pool.Exec(ctx, "ANALYZE document_chunks")
	require.NoError(t, err)
	q := make([]float32, testDims)
	for j := range q {
		q[j] = r.Float32() - 0.5
	}
	vq := postgres.VectorQuery{Embedder: "test", Vector: q, Limit: 10, Strategy: postgres.VectorHNSW, EfSearch: 200}
	plan, err := db.ExplainNearestChunks(ctx, large, vq, false)
	require.NoError(t, err)
	require.Contains(t, plan, "Index Scan using "+legacy, plan)
	exact, err := db.NearestChunks(ctx, large, postgres.VectorQuery{Embedder: "test", Vector: q, Limit: 10, Strategy: postgres.VectorExact})
	require.NoError(t, err)
	before, err := db.NearestChunks(ctx, large, vq)
	require.NoError(t, err)
	require.Equal(t, exact, before)

	// At startup: the partial index is built and the old one dropped.
	require.NoError(t, db.EnsureVectorIndex(ctx, testDims))
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE indexname = $1`, legacy).Scan(&n))
	require.Zero(t, n)
	plan, err = db.ExplainNearestChunks(ctx, large, vq, false)
	require.NoError(t, err)
	require.Contains(t, plan, "Index Scan using "+postgres.VectorIndexName(testDims), plan)
	after, err := db.NearestChunks(ctx, large, vq)
	require.NoError(t, err)
	require.Equal(t, exact, after)

	// The small workspace's new chunks stay out; its old ones stay in, harmlessly.
	ingestDoc(t, db, small, "new", 4, r)
	in, out := annCounts(t, db, small)
	require.Equal(t, [2]int{20, 4}, [2]int{in, out})
}
