package reliability_test

import (
	"context"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/mcp/mcptest"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

// privateCluster starts a PostgreSQL cluster of the test's own, which it may stop and start
// at will (the shared test cluster serves other tests), with one migrated database.
func privateCluster(t *testing.T) (*postgres.Cluster, postgres.ClusterConfig, string) {
	t.Helper()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "nubiq-fault-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755)) // the server may run as another user
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := postgres.ClusterConfig{Dir: dir, Fast: true}
	c, err := postgres.StartCluster(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Stop(context.Background()) }) //nolint:errcheck
	require.NoError(t, c.EnsureDatabase(ctx, "nubiq"))
	url := c.URL("nubiq")
	db, err := postgres.Open(ctx, postgres.Config{URL: url})
	require.NoError(t, err)
	_, err = db.Migrate(ctx)
	db.Close()
	require.NoError(t, err)
	return c, cfg, url
}

// slowEmbedder makes each embedding call take a while, so that ingest jobs are mid-flight
// when the database goes away.
type slowEmbedder struct {
	indexer.Embedder
	delay time.Duration
}

func (s slowEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Embedder.Embed(ctx, texts)
}

// TestDatabaseConnectionLossUnderLoad cuts every connection to the database (mid-statement)
// and refuses new ones for a second, while clients read and write through the MCP endpoint
// and workers ingest documents; then lets connections through again. It runs on the shared
// test cluster through a socket proxy; TestPostgresRestartUnderLoad (make reliability) does
// the same with a real restart of a private cluster.
func TestDatabaseConnectionLossUnderLoad(t *testing.T) {
	t.Parallel()
	p := newPGProxy(t, pgtest.URL(t))
	outageUnderLoad(t, p.url, p.cut, p.restore)
}

// TestPostgresRestartUnderLoad stops a real PostgreSQL server (fast shutdown: sessions are
// terminated mid-statement) under load and starts it again. Its private cluster costs an
// initdb, so it runs only with NUBIQ_SLOW_TESTS=1 (make reliability).
func TestPostgresRestartUnderLoad(t *testing.T) {
	if os.Getenv("NUBIQ_SLOW_TESTS") == "" {
		t.Skip("set NUBIQ_SLOW_TESTS=1 (make reliability) to restart a private PostgreSQL cluster under load")
	}
	t.Parallel()
	began := time.Now()
	cluster, ccfg, url := privateCluster(t)
	t.Logf("private cluster ready in %s", time.Since(began).Round(time.Millisecond))
	outageUnderLoad(t, url, func() {
		require.NoError(t, cluster.Stop(context.Background()))
	}, func() {
		var err error
		cluster, err = postgres.StartCluster(context.Background(), ccfg)
		require.NoError(t, err)
		t.Cleanup(func() { cluster.Stop(context.Background()) }) //nolint:errcheck
	})
}

// outageUnderLoad runs readers, writers and ingest workers on the database at url, calls
// down, waits a second, calls up, and checks: every request got an answer in bounded time —
// a result, or "unavailable" as a tool error or an HTTP 503 with Retry-After, never an
// internal error, a dropped connection or a hang; the service recovered by itself within
// seconds; every acknowledged write is there afterwards; every document ends ready with one
// set of chunks.
func outageUnderLoad(t *testing.T, url string, down, up func()) {
	ctx := context.Background()
	began := time.Now()
	db, err := postgres.Open(ctx, postgres.Config{URL: url})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	env := mcptest.New(t, db)
	ws := env.Workspace(t, "Acme", "pro")
	key := env.Key(t, ws)
	rc := newRawClient(env.URL, key)

	runner, err := jobs.NewRunner(&jobs.Deps{DB: db, Embedder: slowEmbedder{indexer.NewHashEmbedder(32), 300 * time.Millisecond}},
		jobs.Config{IngestWorkers: 2, FetchCooldown: 10 * time.Millisecond, JobTimeout: 20 * time.Second, RescueStuckJobsAfter: 30 * time.Second})
	require.NoError(t, err)
	require.NoError(t, runner.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		runner.Stop(sctx) //nolint:errcheck
	})
	const docs = 12
	for i := range docs {
		o := rc.call(ctx, "documents.upload", map[string]any{"title": fmt.Sprintf("Guide %d", i), "external_id": fmt.Sprintf("g%d", i),
			"content": fmt.Sprintf("# Guide %d\n\nHow to reset the router, step %d. Unplug it, wait, plug it back.", i, i)})
		require.True(t, o.ok(), o.String())
	}

	// Steady load: readers and writers until stopped.
	type record struct {
		at time.Time
		o  outcome
	}
	var (
		mu      sync.Mutex
		records []record
		created []int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var o outcome
				if w%2 == 0 {
					o = rc.call(ctx, "tickets.list", map[string]any{"limit": 5})
				} else {
					o = rc.call(ctx, "tickets.create", map[string]any{"subject": fmt.Sprintf("load %d-%d", w, i)})
				}
				mu.Lock()
				records = append(records, record{time.Now(), o})
				if o.ok() && w%2 == 1 {
					var out struct {
						ID int64 `json:"id"`
					}
					if err := jsonUnmarshal(o.Result, &out); err == nil && out.ID > 0 {
						created = append(created, out.ID)
					}
				}
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}

	time.Sleep(700 * time.Millisecond)
	stopAt := time.Now()
	down()
	time.Sleep(time.Second)
	up()
	upAt := time.Now()

	// Recovery: the first success after the restart, then a second of load.
	var recoveredAt time.Time
	for deadline := time.Now().Add(15 * time.Second); recoveredAt.IsZero() && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		for _, r := range records {
			if r.at.After(upAt) && r.o.ok() {
				recoveredAt = r.at
				break
			}
		}
		mu.Unlock()
	}
	require.False(t, recoveredAt.IsZero(), "no successful request within 15s of the database coming back")
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	failed := 0
	for _, r := range records {
		o := r.o
		require.Less(t, o.Took, 12*time.Second, "a request took %s", o.Took)
		switch {
		case o.ok():
		case o.Status == 503:
			require.NotEmpty(t, o.RetryAfter, "503 without Retry-After: %s", o)
			failed++
		case o.Status == 200 && o.ToolCode == nubiq.ECodeUnavailable:
			failed++
		default:
			t.Errorf("at %s: %s", r.at.Sub(stopAt).Round(time.Millisecond), o)
		}
		if r.at.After(recoveredAt.Add(500*time.Millisecond)) && !o.ok() {
			t.Errorf("failure %s after recovery: %s", r.at.Sub(recoveredAt), o)
		}
	}
	t.Logf("%d requests in %s, %d answered unavailable during the outage; database away %s, service recovered %s after it came back",
		len(records), time.Since(began).Round(time.Millisecond), failed, upAt.Sub(stopAt).Round(time.Millisecond), recoveredAt.Sub(upAt).Round(time.Millisecond))
	require.Greater(t, failed, 0, "the outage was not noticed: the test did not test anything")

	// Nothing acknowledged is lost.
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE workspace_id = $1 AND id = ANY($2)`, ws, created).Scan(&n))
	require.Equal(t, len(created), n, "acknowledged tickets missing after the restart")

	// Ingest finished for every document, with one set of chunks each.
	deadline := time.Now().Add(45 * time.Second)
	for {
		var pending int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM documents WHERE workspace_id = $1 AND status <> 'ready'`, ws).Scan(&pending))
		if pending == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d documents not ready 45s after the restart", pending)
		time.Sleep(100 * time.Millisecond)
	}
	var bad int
	require.NoError(t, db.Pool.QueryRow(ctx, `
		SELECT count(*) FROM (
			SELECT d.id FROM documents d LEFT JOIN document_chunks c ON c.workspace_id = d.workspace_id AND c.document_id = d.id
			WHERE d.workspace_id = $1
			GROUP BY d.id, d.chunk_count
			HAVING count(c.*) = 0 OR count(c.*) <> d.chunk_count OR count(DISTINCT c.chunk_index) <> count(c.*)
			    OR count(DISTINCT c.document_version) <> 1) x`, ws).Scan(&bad))
	require.Zero(t, bad, "documents without exactly one set of chunks")
	var retried int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'ingest_document' AND attempt > 1`).Scan(&retried))
	t.Logf("all %d documents ready %s after the restart; %d ingest jobs were retried", docs, time.Since(upAt).Round(time.Millisecond), retried)
	require.Greater(t, retried, 0, "no ingest job was caught by the outage: the test did not test it")
}

// pgProxy forwards a Unix socket to the database's, and can cut every connection and refuse
// new ones until restored: a database that vanishes mid-statement, then comes back.
type pgProxy struct {
	url    string
	target string
	ln     net.Listener
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newPGProxy(t *testing.T, dbURL string) *pgProxy {
	t.Helper()
	u, err := neturl.Parse(dbURL)
	require.NoError(t, err)
	q := u.Query()
	dir, err := os.MkdirTemp("", "nqp")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	name := ".s.PGSQL." + q.Get("port")
	p := &pgProxy{target: filepath.Join(q.Get("host"), name), conns: map[net.Conn]bool{}}
	p.ln, err = net.Listen("unix", filepath.Join(dir, name))
	require.NoError(t, err)
	t.Cleanup(func() { p.ln.Close(); p.cut() })
	q.Set("host", dir)
	u.RawQuery = q.Encode()
	p.url = u.String()
	go p.accept()
	return p
}

func (p *pgProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = true
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *pgProxy) pipe(c net.Conn) {
	s, err := net.Dial("unix", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[s] = true
	p.mu.Unlock()
	go func() { io.Copy(s, c); s.Close() }() //nolint:errcheck
	io.Copy(c, s)                            //nolint:errcheck
	c.Close()
}

func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *pgProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
