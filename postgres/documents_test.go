package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

func TestUploadBatchWithTwoVersionsOfOneDocument(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w, err := db.CreateWorkspace(ctx, "batch", "pro")
	require.NoError(t, err)
	var res []nubiq.UploadResult
	require.NoError(t, db.InTx(ctx, func(tx pgx.Tx) error {
		res, err = db.UploadDocumentsTx(ctx, tx, []nubiq.DocumentUpload{
			{WorkspaceID: w.ID, Title: "A", ExternalID: "a", MIMEType: "text/plain", Raw: []byte("one")},
			{WorkspaceID: w.ID, Title: "B", ExternalID: "b", MIMEType: "text/plain", Raw: []byte("bee")},
			{WorkspaceID: w.ID, Title: "A", ExternalID: "a", MIMEType: "text/plain", Raw: []byte("two")},
			{WorkspaceID: w.ID, Title: "A", ExternalID: "a", MIMEType: "text/plain", Raw: []byte("two")},
		})
		return err
	}))
	require.Len(t, res, 4)
	require.True(t, res[0].Created)
	require.Equal(t, res[0].DocumentID, res[2].DocumentID)
	require.Equal(t, 2, res[2].Version)
	require.False(t, res[2].Created)
	require.True(t, res[3].Unchanged)
	require.Zero(t, res[3].JobID)
	d, err := db.GetDocument(ctx, w.ID, res[0].DocumentID)
	require.NoError(t, err)
	require.Equal(t, res[2].JobID, d.Job.ID, "the document points at its latest job")
	require.Equal(t, 2, d.Version)

	// A bad record fails the batch, naming the field.
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		_, err := db.UploadDocumentsTx(ctx, tx, []nubiq.DocumentUpload{{WorkspaceID: w.ID, Title: "", MIMEType: "text/plain", Raw: []byte("x")}})
		return err
	})
	require.Equal(t, "title", nubiq.ErrorField(err))
}

func TestConcurrentUploadsOfOneExternalID(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w, err := db.CreateWorkspace(ctx, "race", "pro")
	require.NoError(t, err)
	const n = 6
	var wg sync.WaitGroup
	results := make([]*nubiq.UploadResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = db.UploadDocument(ctx, nubiq.DocumentUpload{WorkspaceID: w.ID, Title: "Same", ExternalID: "same",
				MIMEType: "text/plain", Raw: fmt.Appendf(nil, "content %d", i)})
		})
	}
	wg.Wait()
	versions := map[int]bool{}
	created := 0
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, results[0].DocumentID, results[i].DocumentID)
		versions[results[i].Version] = true
		if results[i].Created {
			created++
		}
	}
	require.Equal(t, 1, created)
	require.Len(t, versions, n, "each upload is its own version")
	docs, _, err := db.ListDocuments(ctx, nubiq.DocumentFilter{WorkspaceID: w.ID})
	require.NoError(t, err)
	require.Len(t, docs, 1)
	require.Equal(t, n, docs[0].Version)
}

func TestCommitIngestReplacesAndRefusesStale(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w, err := db.CreateWorkspace(ctx, "commit", "pro")
	require.NoError(t, err)
	up, err := db.UploadDocument(ctx, nubiq.DocumentUpload{WorkspaceID: w.ID, Title: "T", ExternalID: "t", MIMEType: "text/plain", Raw: []byte("v1")})
	require.NoError(t, err)
	out := &postgres.IngestOutcome{WorkspaceID: w.ID, DocumentID: up.DocumentID, Version: 1, ExtractedText: "v1 text here",
		Embedder: "test", Dims: 3, Chunks: []postgres.IngestChunk{
			{Index: 0, Text: "v1", Start: 0, End: 2, Tokens: 1, Embedding: []float32{1, 0, 0}},
			{Index: 1, Text: "text here", HeadingPath: []string{"H"}, Start: 3, End: 12, Tokens: 2, Embedding: []float32{0, 1, 0}},
		}}
	for range 2 {
		_, err := db.CommitIngest(ctx, out)
		require.NoError(t, err)
		rows, versions, err := db.DocumentChunkCount(ctx, w.ID, up.DocumentID)
		require.NoError(t, err)
		require.Equal(t, 2, rows)
		require.Equal(t, 1, versions)
	}
	// From another workspace's point of view the document does not exist.
	other, err := db.CreateWorkspace(ctx, "commit other", "pro")
	require.NoError(t, err)
	foreign := *out
	foreign.WorkspaceID = other.ID
	_, err = db.CommitIngest(ctx, &foreign)
	require.ErrorIs(t, err, postgres.ErrStaleIngest)
	_, err = db.GetDocument(ctx, other.ID, up.DocumentID)
	require.Equal(t, nubiq.ECodeNotFound, nubiq.ErrorCode(err))

	// New content arrives: the outcome for version 1 is stale and writes nothing.
	_, err = db.UploadDocument(ctx, nubiq.DocumentUpload{WorkspaceID: w.ID, Title: "T", ExternalID: "t", MIMEType: "text/plain", Raw: []byte("v2")})
	require.NoError(t, err)
	out.Chunks = out.Chunks[:1]
	_, err = db.CommitIngest(ctx, out)
	require.ErrorIs(t, err, postgres.ErrStaleIngest)
	require.ErrorIs(t, db.FailIngest(ctx, w.ID, up.DocumentID, 1, 0, "boom"), postgres.ErrStaleIngest)
	rows, _, err := db.DocumentChunkCount(ctx, w.ID, up.DocumentID)
	require.NoError(t, err)
	require.Equal(t, 2, rows)
	d, err := db.GetDocument(ctx, w.ID, up.DocumentID)
	require.NoError(t, err)
	require.Equal(t, nubiq.DocumentQueued, d.Status)
	require.Equal(t, 1, d.IndexedVersion)

	// A vector of the wrong size is refused, and nothing is half-written.
	out.Version = 2
	out.Chunks = []postgres.IngestChunk{{Index: 0, Text: "v2", End: 2, Tokens: 1, Embedding: []float32{1, 0}}}
	_, err = db.CommitIngest(ctx, out)
	require.Error(t, err)
	require.False(t, errors.Is(err, postgres.ErrStaleIngest))
	rows, versions, err := db.DocumentChunkCount(ctx, w.ID, up.DocumentID)
	require.NoError(t, err)
	require.Equal(t, 2, rows)
	require.Equal(t, 1, versions)
}

func TestEnsureVectorIndex(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	require.NoError(t, db.EnsureVectorIndex(ctx, 8))
	require.NoError(t, db.EnsureVectorIndex(ctx, 8), "again is a no-op")
	var def string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE indexname = $1`, postgres.VectorIndexName(8)).Scan(&def))
	require.Contains(t, def, "hnsw")
	require.Contains(t, def, "WHERE ((dims = 8) AND ann)")
	require.Error(t, db.EnsureVectorIndex(ctx, 3072))
}
