package jobs_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/postgres/pgtest"
)

var benchWords = strings.Fields(`account agent alert api archive backup billing browser cache card channel
chat client cluster config connect contact customer dashboard data delete deploy device disk domain email
error export feature file filter firewall folder gateway group guide help import inbox index install
invoice key language license limit link login message mobile network notification order password payment
permission phone plan policy port privacy profile proxy queue refund region report request reset role
router schedule search security server session settings setup share shipping storage subscription support
sync team ticket timeout token update upgrade upload user version webhook widget workspace`)

// benchDocument is a help-center style markdown article of 2 to 6 sections.
func benchDocument(r *rand.Rand, i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Article %d: %s %s\n\n", i, benchWords[r.IntN(len(benchWords))], benchWords[r.IntN(len(benchWords))])
	for s := range 2 + r.IntN(5) {
		fmt.Fprintf(&b, "## Step %d\n\n", s+1)
		for range 2 + r.IntN(3) {
			n := 25 + r.IntN(40)
			for w := range n {
				if w > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(benchWords[r.IntN(len(benchWords))])
			}
			b.WriteString(".\n\n")
		}
	}
	return b.String()
}

// BenchmarkIngest measures end-to-end ingest throughput with the hash embedder: documents
// uploaded one by one (as documents.upload does) by 4 concurrent clients while one node's
// workers extract, chunk, embed and write them, timed from the first upload until every
// document is ready. The HNSW index for the embedder's dimensions exists, as on a server.
// NUBIQ_BENCH_DOCS sets the corpus size (default 2000); run with
// -benchtime=1x.
func BenchmarkIngest(b *testing.B) {
	docs := 2000
	if v, err := strconv.Atoi(os.Getenv("NUBIQ_BENCH_DOCS")); err == nil && v > 0 {
		docs = v
	}
	workers := 0
	if v, err := strconv.Atoi(os.Getenv("NUBIQ_BENCH_WORKERS")); err == nil && v > 0 {
		workers = v
	}
	ctx := context.Background()
	db := pgtest.NewDB(b)
	r := rand.New(rand.NewPCG(1, 2))
	corpus := make([]string, docs)
	for i := range corpus {
		corpus[i] = benchDocument(r, i)
	}
	// As serve does: chunk inserts maintain the HNSW graph. NUBIQ_BENCH_HNSW=0 leaves it out.
	if os.Getenv("NUBIQ_BENCH_HNSW") != "0" {
		require.NoError(b, db.EnsureVectorIndex(ctx, indexer.DefaultHashDims))
	}
	startRunner(b, db, indexer.NewHashEmbedder(indexer.DefaultHashDims), jobs.Config{IngestWorkers: workers, FetchCooldown: 10 * time.Millisecond})

	var chunks, totalDocs int
	var elapsed time.Duration
	b.ResetTimer()
	for n := range b.N {
		w, err := db.CreateWorkspace(ctx, fmt.Sprint("bench ", n), "enterprise")
		require.NoError(b, err)
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for c := range 4 {
			wg.Go(func() {
				for i := c; i < docs; i += 4 {
					_, err := db.UploadDocument(ctx, nubiq.DocumentUpload{WorkspaceID: w.ID, Title: fmt.Sprint("Article ", i),
						ExternalID: fmt.Sprint("a", i), MIMEType: indexer.MIMEMarkdown, Raw: []byte(corpus[i])})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		require.NoError(b, <-errs)
		uploaded := time.Since(start)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		require.NoError(b, db.WaitDocuments(wctx, w.ID, 20*time.Millisecond))
		cancel()
		elapsed += time.Since(start)
		var ready, c int
		require.NoError(b, db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'ready'), COALESCE(sum(chunk_count), 0) FROM documents WHERE workspace_id = $1`, w.ID).Scan(&ready, &c))
		require.Equal(b, docs, ready)
		chunks += c
		totalDocs += docs
		b.Logf("%d documents, %d chunks: uploaded in %s, all ready after %s", docs, c, uploaded.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	}
	b.StopTimer()
	b.ReportMetric(float64(chunks)/elapsed.Seconds(), "chunks/s")
	b.ReportMetric(float64(totalDocs)/elapsed.Seconds(), "docs/s")
	b.ReportMetric(0, "ns/op")
}
