package jobs_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

// childDBEnv makes the test binary run an ingest worker node instead of the tests: the crash
// test starts it as a separate process so that it can kill it with SIGKILL mid-job.
const childDBEnv = "NUBIQ_TEST_INGEST_CHILD_DB"

func TestMain(m *testing.M) {
	if url := os.Getenv(childDBEnv); url != "" {
		os.Exit(ingestChild(url))
	}
	os.Exit(m.Run())
}

// ingestChild works ingest jobs with an embedder that announces "embedding" on stdout and
// then hangs, until the process is killed.
func ingestChild(url string) int {
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	emb := &gateEmbedder{Embedder: indexer.NewHashEmbedder(64), entered: make(chan struct{}, 100), release: make(chan struct{})}
	go func() {
		<-emb.entered
		fmt.Println("embedding")
	}()
	r, err := jobs.NewRunner(&jobs.Deps{DB: db, Embedder: emb}, jobs.Config{FetchCooldown: 10 * time.Millisecond})
	if err == nil {
		err = r.Start(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	select {}
}

// gateEmbedder wraps an embedder: each Embed call signals entered, then waits for release
// (closed: no waiting) or for its context to end.
type gateEmbedder struct {
	indexer.Embedder
	name    func() string
	entered chan struct{}
	release chan struct{}
}

func (g *gateEmbedder) Name() string {
	if g.name != nil {
		return g.name()
	}
	return g.Embedder.Name()
}

func (g *gateEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Embedder.Embed(ctx, texts)
}

func startRunner(t testing.TB, db *postgres.DB, emb indexer.Embedder, cfg jobs.Config) *jobs.Runner {
	t.Helper()
	return startRunnerWith(t, &jobs.Deps{DB: db, Embedder: emb}, cfg)
}

// startRunnerWith runs the workers with deps through a real River client until the test ends,
// polling for jobs every few milliseconds.
func startRunnerWith(t testing.TB, deps *jobs.Deps, cfg jobs.Config) *jobs.Runner {
	t.Helper()
	if cfg.FetchCooldown == 0 {
		cfg.FetchCooldown = 5 * time.Millisecond
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := jobs.NewRunner(deps, cfg)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Stop(ctx) //nolint:errcheck
	})
	return r
}

// waitDoc polls until cond holds for the document or the timeout passes.
func waitDoc(t testing.TB, db *postgres.DB, ws, id int64, timeout time.Duration, cond func(*nubiq.Document) bool) *nubiq.Document {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, err := db.GetDocument(context.Background(), ws, id)
		require.NoError(t, err)
		if cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("document %d: condition not reached in %s; last: status %s version %d indexed %d error %q job %+v",
				id, timeout, d.Status, d.Version, d.IndexedVersion, d.Error, d.Job)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readyAt(version int) func(*nubiq.Document) bool {
	return func(d *nubiq.Document) bool { return d.Status == nubiq.DocumentReady && d.IndexedVersion == version }
}

func upload(t testing.TB, db *postgres.DB, ws int64, extID, text string) *nubiq.UploadResult {
	t.Helper()
	r, err := db.UploadDocument(context.Background(), nubiq.DocumentUpload{
		WorkspaceID: ws, Title: "Guide " + extID, ExternalID: extID, MIMEType: indexer.MIMEMarkdown, Raw: []byte(text),
	})
	require.NoError(t, err)
	return r
}

// longText is a markdown document of several chunks whose words depend on seed.
func longText(seed string, sections int) string {
	var b strings.Builder
	for s := range sections {
		fmt.Fprintf(&b, "# Section %d of %s\n\n", s, seed)
		for p := range 4 {
			fmt.Fprintf(&b, "Paragraph %d explains how %s configures the widget %d, with retries, timeouts and logs. ", p, seed, s*10+p)
			b.WriteString(strings.Repeat("The agent reconnects after a network failure and keeps its queue on disk. ", 5))
			b.WriteString("\n\n")
		}
	}
	return b.String()
}

type chunkStats struct {
	rows, versions, minVersion, distinctIndexes, dims int
}

func chunks(t testing.TB, db *postgres.DB, ws, id int64) chunkStats {
	t.Helper()
	var s chunkStats
	require.NoError(t, db.Pool.QueryRow(context.Background(), `
		SELECT count(*), count(DISTINCT document_version), COALESCE(min(document_version), 0), count(DISTINCT chunk_index),
		       COALESCE(max(dims), 0)
		FROM document_chunks WHERE workspace_id = $1 AND document_id = $2`, ws, id).
		Scan(&s.rows, &s.versions, &s.minVersion, &s.distinctIndexes, &s.dims))
	return s
}

// TestIngestSurvivesKillMidJob kills a worker process with SIGKILL while it embeds a new
// version, then lets a fresh node rescue the stuck job: the document must end with exactly
// one set of chunks, of the new version — and keep the old version's chunks meanwhile.
func TestIngestSurvivesKillMidJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	db, err := postgres.Open(ctx, postgres.Config{URL: url})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	w, err := db.CreateWorkspace(ctx, "crash", "pro")
	require.NoError(t, err)

	// Version 1, indexed normally.
	first := startRunner(t, db, indexer.NewHashEmbedder(64), jobs.Config{})
	v1 := upload(t, db, w.ID, "guide", longText("alpha", 3))
	d := waitDoc(t, db, w.ID, v1.DocumentID, 20*time.Second, readyAt(1))
	require.NoError(t, first.Stop(ctx))
	v1Chunks := chunks(t, db, w.ID, v1.DocumentID)
	require.Equal(t, d.ChunkCount, v1Chunks.rows)

	// Version 2, picked up by a separate worker process that hangs while embedding.
	v2 := upload(t, db, w.ID, "guide", longText("beta", 5))
	require.Equal(t, 2, v2.Version)
	require.Equal(t, v1.DocumentID, v2.DocumentID)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDBEnv+"="+url)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill() //nolint:errcheck
			cmd.Wait()         //nolint:errcheck
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "embedding" {
				line <- sc.Text()
			}
		}
	}()
	select {
	case <-line:
	case <-time.After(30 * time.Second):
		t.Fatal("worker process never started embedding")
	}
	mid, err := db.GetDocument(ctx, w.ID, v1.DocumentID)
	require.NoError(t, err)
	require.Equal(t, nubiq.DocumentProcessing, mid.Status)
	require.Equal(t, "running", mid.Job.State)

	require.NoError(t, cmd.Process.Kill()) // SIGKILL
	cmd.Wait()                             //nolint:errcheck
	killed = true

	// The crash left the job running and the old chunks in place: never none.
	after := chunks(t, db, w.ID, v1.DocumentID)
	require.Equal(t, v1Chunks, after)
	var state string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, v2.JobID).Scan(&state))
	require.Equal(t, "running", state)

	// A new node rescues the stuck job (once the dead node's leadership lapses) and retries it.
	startRunner(t, db, indexer.NewHashEmbedder(64), jobs.Config{JobTimeout: 5 * time.Second, RescueStuckJobsAfter: 5 * time.Second})
	final := waitDoc(t, db, w.ID, v1.DocumentID, 90*time.Second, readyAt(2))
	got := chunks(t, db, w.ID, v1.DocumentID)
	require.Equal(t, final.ChunkCount, got.rows, "one set of chunks")
	require.Equal(t, 1, got.versions)
	require.Equal(t, 2, got.minVersion)
	require.Equal(t, got.rows, got.distinctIndexes)
	require.Equal(t, 64, got.dims)
	require.Greater(t, got.rows, v1Chunks.rows, "the new version is longer")
	job := waitJob(t, db, v2.JobID, "completed")
	require.Equal(t, 2, job.Attempt, "the killed attempt and the rescued one")
}

// waitJob waits for a job to reach a final state (River records it just after the work
// returns) and requires it to be want.
func waitJob(t testing.TB, db *postgres.DB, id int64, want string) nubiq.DocumentJob {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j := nubiq.DocumentJob{ID: id}
		require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT state, attempt FROM river_job WHERE id = $1`, id).
			Scan(&j.State, &j.Attempt))
		switch j.State {
		case "completed", "cancelled", "discarded":
			require.Equal(t, want, j.State)
			return j
		}
		require.True(t, time.Now().Before(deadline), "job %d still %s", id, j.State)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIngestRetryAfterCommitKeepsOneSet reruns an ingest job that had already committed (a
// node that died between writing the chunks and recording the job as done).
func TestIngestRetryAfterCommitKeepsOneSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w, err := db.CreateWorkspace(ctx, "retry", "pro")
	require.NoError(t, err)
	startRunner(t, db, indexer.NewHashEmbedder(32), jobs.Config{})
	r := upload(t, db, w.ID, "doc", longText("gamma", 4))
	d := waitDoc(t, db, w.ID, r.DocumentID, 20*time.Second, readyAt(1))
	waitJob(t, db, r.JobID, "completed")
	before := chunks(t, db, w.ID, r.DocumentID)
	var logRows int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM index_log WHERE workspace_id = $1 AND entity_id = $2 AND kind = 'document' AND op = 'upsert'`,
		w.ID, r.DocumentID).Scan(&logRows))
	require.Equal(t, 1, logRows)

	// Make the queue forget it finished the job: it runs again.
	_, err = db.Pool.Exec(ctx, `UPDATE river_job SET state = 'available', finalized_at = NULL, scheduled_at = now() WHERE id = $1`, r.JobID)
	require.NoError(t, err)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var state string
		var attempt int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT state, attempt FROM river_job WHERE id = $1`, r.JobID).Scan(&state, &attempt))
		if state == "completed" && attempt == 2 {
			break
		}
		require.True(t, time.Now().Before(deadline), "job did not run again: %s attempt %d", state, attempt)
		time.Sleep(20 * time.Millisecond)
	}
	again := chunks(t, db, w.ID, r.DocumentID)
	require.Equal(t, before, again)
	d2, err := db.GetDocument(ctx, w.ID, r.DocumentID)
	require.NoError(t, err)
	require.Equal(t, d.ChunkCount, d2.ChunkCount)
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM index_log WHERE workspace_id = $1 AND entity_id = $2 AND kind = 'document' AND op = 'upsert'`,
		w.ID, r.DocumentID).Scan(&logRows))
	require.Equal(t, 2, logRows, "each commit tells the search side")
}

// TestReindexWhileRunningIsNotLost asks for a reindex while the document's job is running,
// after the embedder changed: the running job must not have the last word.
func TestReindexWhileRunningIsNotLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w, err := db.CreateWorkspace(ctx, "reindex", "pro")
	require.NoError(t, err)
	var mu sync.Mutex
	model := "model-1"
	emb := &gateEmbedder{Embedder: indexer.NewHashEmbedder(32), entered: make(chan struct{}, 10), release: make(chan struct{}),
		name: func() string { mu.Lock(); defer mu.Unlock(); return model }}
	// One ingest worker, held by the gated job, so the job queued by the reindex request
	// deterministically waits, and a second request can be seen joining it.
	startRunner(t, db, emb, jobs.Config{IngestWorkers: 1})
	r := upload(t, db, w.ID, "doc", longText("delta", 2))
	select {
	case <-emb.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("job never started embedding")
	}
	mu.Lock()
	model = "model-2"
	mu.Unlock()

	res, err := db.Reindex(ctx, nubiq.ReindexRequest{WorkspaceID: w.ID, DocumentIDs: []int64{r.DocumentID}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Queued, "the running job cannot serve a request made after it started")
	require.Equal(t, 0, res.Deduplicated)
	require.NotEqual(t, r.JobID, res.JobID)

	// A second request while the new job waits joins it.
	res2, err := db.Reindex(ctx, nubiq.ReindexRequest{WorkspaceID: w.ID, DocumentIDs: []int64{r.DocumentID}})
	require.NoError(t, err)
	require.Equal(t, 0, res2.Queued)
	require.Equal(t, 1, res2.Deduplicated)
	require.Equal(t, res.JobID, res2.JobID)

	close(emb.release)
	waitJob(t, db, res.JobID, "completed")
	d := waitDoc(t, db, w.ID, r.DocumentID, time.Second, readyAt(1))
	require.Equal(t, "model-2", d.Embedder)
	s := chunks(t, db, w.ID, r.DocumentID)
	require.Equal(t, d.ChunkCount, s.rows)
	var embedders []string
	rows, err := db.Pool.Query(ctx, `SELECT DISTINCT embedder FROM document_chunks WHERE workspace_id = $1 AND document_id = $2`, w.ID, r.DocumentID)
	require.NoError(t, err)
	for rows.Next() {
		var e string
		require.NoError(t, rows.Scan(&e))
		embedders = append(embedders, e)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"model-2"}, embedders)
	for _, id := range []int64{res.Run.ID, res2.Run.ID} {
		run := waitRun(t, db, w.ID, id)
		require.Equal(t, nubiq.ReindexRun{ID: id, Scope: run.Scope, Status: nubiq.ReindexDone, Total: 1, Done: 1,
			CreatedAt: run.CreatedAt, FinishedAt: run.FinishedAt}, *run)
	}
	waitJob(t, db, r.JobID, "completed") // the stale job ends quietly
}

func waitRun(t testing.TB, db *postgres.DB, ws, id int64) *nubiq.ReindexRun {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		run, err := db.GetReindexRun(context.Background(), ws, id)
		require.NoError(t, err)
		if run.Status != nubiq.ReindexRunning {
			return run
		}
		require.True(t, time.Now().Before(deadline), "run %d still running: %+v", id, run)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEmbedderChangeReindexes indexes with one embedder, then asks for the documents made by
// any other to be redone, as a node configured with a new embedder does at startup.
func TestEmbedderChangeReindexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w, err := db.CreateWorkspace(ctx, "embedder", "pro")
	require.NoError(t, err)
	other, err := db.CreateWorkspace(ctx, "other", "pro")
	require.NoError(t, err)
	old := startRunner(t, db, indexer.NewHashEmbedder(32), jobs.Config{})
	var ids []int64
	for i := range 3 {
		ids = append(ids, upload(t, db, w.ID, fmt.Sprint("doc", i), longText(fmt.Sprint("e", i), 1)).DocumentID)
	}
	otherDoc := upload(t, db, other.ID, "x", longText("x", 1)).DocumentID
	for _, id := range ids {
		waitDoc(t, db, w.ID, id, 20*time.Second, readyAt(1))
	}
	waitDoc(t, db, other.ID, otherDoc, 20*time.Second, readyAt(1))
	require.NoError(t, old.Stop(ctx))

	none, err := db.ReindexStaleEmbeddings(ctx, w.ID, "hash", 32)
	require.NoError(t, err)
	require.Nil(t, none, "nothing to do while the embedder is unchanged")

	res, err := db.ReindexStaleEmbeddings(ctx, w.ID, "hash", 48)
	require.NoError(t, err)
	require.NotNil(t, res)
	require.Equal(t, 3, res.Run.Total)
	require.Equal(t, 3, res.Queued)
	again, err := db.ReindexStaleEmbeddings(ctx, w.ID, "hash", 48)
	require.NoError(t, err)
	require.Nil(t, again, "a second node starting finds the run already going")

	startRunner(t, db, indexer.NewHashEmbedder(48), jobs.Config{})
	run := waitRun(t, db, w.ID, res.Run.ID)
	require.Equal(t, nubiq.ReindexDone, run.Status)
	require.Equal(t, 3, run.Done)
	for _, id := range ids {
		d, err := db.GetDocument(ctx, w.ID, id)
		require.NoError(t, err)
		require.Equal(t, 48, d.EmbeddingDims)
		require.Equal(t, 48, chunks(t, db, w.ID, id).dims)
	}
	require.Equal(t, 32, chunks(t, db, other.ID, otherDoc).dims, "another workspace is its own business")
}

// TestFailedIngestIsReadable uploads content with no text and content that keeps failing.
func TestFailedIngestIsReadable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w, err := db.CreateWorkspace(ctx, "fail", "pro")
	require.NoError(t, err)
	startRunner(t, db, failingEmbedder{indexer.NewHashEmbedder(16)}, jobs.Config{})

	empty, err := db.UploadDocument(ctx, nubiq.DocumentUpload{WorkspaceID: w.ID, Title: "Blank", MIMEType: indexer.MIMEHTML,
		Raw: []byte("<html><head><title>x</title></head><body>  <p> </p></body></html>")})
	require.NoError(t, err)
	d := waitDoc(t, db, w.ID, empty.DocumentID, 20*time.Second, func(d *nubiq.Document) bool { return d.Status == nubiq.DocumentFailed })
	require.Contains(t, d.Error, "no text could be extracted")
	require.Equal(t, 0, d.ChunkCount)
	waitJob(t, db, empty.JobID, "cancelled")
	var kind, data string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT kind, data::text FROM notification_events WHERE workspace_id = $1 AND subject_id = $2`,
		w.ID, empty.DocumentID).Scan(&kind, &data))
	require.Equal(t, "document.failed", kind)
	require.Contains(t, data, "no text could be extracted")

	// Reindexing it fails again; the run says so.
	res, err := db.Reindex(ctx, nubiq.ReindexRequest{WorkspaceID: w.ID, DocumentIDs: []int64{empty.DocumentID}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Queued)
	run := waitRun(t, db, w.ID, res.Run.ID)
	require.Equal(t, nubiq.ReindexFailed, run.Status)
	require.Equal(t, 1, run.Failed)
	require.Equal(t, 0, run.Done)
	require.NotNil(t, run.FinishedAt)

	// Transient failures retry; on the last attempt the document is marked failed. Start at the
	// last attempt rather than wait out the backoff.
	bad, err := db.UploadDocument(ctx, nubiq.DocumentUpload{WorkspaceID: w.ID, Title: "Fine text", MIMEType: indexer.MIMEPlain,
		Raw: []byte("This text is fine but the embedding service is down.")})
	require.NoError(t, err)
	waitDoc(t, db, w.ID, bad.DocumentID, 20*time.Second, func(d *nubiq.Document) bool { return d.Job != nil && d.Job.State == "retryable" })
	_, err = db.Pool.Exec(ctx, `UPDATE river_job SET attempt = max_attempts - 1, scheduled_at = now(), state = 'available' WHERE id = $1`, bad.JobID)
	require.NoError(t, err)
	d = waitDoc(t, db, w.ID, bad.DocumentID, 20*time.Second, func(d *nubiq.Document) bool { return d.Status == nubiq.DocumentFailed })
	require.Contains(t, d.Error, "indexing failed after 5 attempts")
	require.Contains(t, d.Error, "embedding service unavailable")
}

type failingEmbedder struct{ indexer.Embedder }

func (failingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return nil, fmt.Errorf("embedding service unavailable (503)")
}
