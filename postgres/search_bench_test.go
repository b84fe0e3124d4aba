package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

// TestVectorStrategyLatency measures exact and HNSW nearest-chunk queries for workspaces of
// several sizes in a table of 100,000 chunks, to choose the size from which search switches
// to the HNSW index (search.DefaultExactScanMax). It takes minutes, so it runs only with
// NUBIQ_VECTOR_BENCH=1:
//
//	NUBIQ_VECTOR_BENCH=1 go test ./postgres -run TestVectorStrategyLatency -v -timeout 30m
func TestVectorStrategyLatency(t *testing.T) {
	if os.Getenv("NUBIQ_VECTOR_BENCH") == "" {
		t.Skip("set NUBIQ_VECTOR_BENCH=1 to measure")
	}
	db := pgtest.NewDB(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 7))
	sizes := []int{1000, 5000, 10000, 20000, 50000}
	ws := map[int]int64{}
	total := 0
	began := time.Now()
	for _, n := range append(sizes, 100000-sumInts(sizes)) {
		w, err := db.CreateWorkspace(ctx, fmt.Sprintf("ws-%d-%d", n, total), "pro")
		require.NoError(t, err)
		ws[n] = w.ID
		// Every workspace's chunks in the index, small ones too: the measurement compares
		// both plans at every size, to place the threshold.
		_, err = db.IndexWorkspaceVectors(ctx, w.ID, 0)
		require.NoError(t, err)
		seedChunks(t, db, w.ID, n, r)
		total += n
	}
	t.Logf("loaded %d chunks in %s", total, time.Since(began).Round(time.Second))
	began = time.Now()
	_, err := db.Pool.Exec(ctx, "SET maintenance_work_mem = '1GB'")
	require.NoError(t, err)
	require.NoError(t, db.EnsureVectorIndex(ctx, 256))
	t.Logf("HNSW index built in %s", time.Since(began).Round(time.Second))
	_, err = db.Pool.Exec(ctx, "ANALYZE document_chunks")
	require.NoError(t, err)

	emb := indexer.NewHashEmbedder(256)
	var queries [][]float32
	for range 40 {
		v, err := emb.Embed(ctx, []string{sentence(r, 5)})
		require.NoError(t, err)
		queries = append(queries, v[0])
	}
	measure := func(wsID int64, strategy string, ef int) (time.Duration, [][]int64) {
		var lat []time.Duration
		var ids [][]int64
		for _, q := range queries {
			t0 := time.Now()
			res, err := db.NearestChunks(ctx, wsID, postgres.VectorQuery{Embedder: "hash", Vector: q, Limit: 50, Strategy: strategy, EfSearch: ef})
			require.NoError(t, err)
			lat = append(lat, time.Since(t0))
			var got []int64
			for _, n := range res[:min(10, len(res))] {
				got = append(got, n.ChunkID)
			}
			ids = append(ids, got)
		}
		slices.Sort(lat)
		return lat[len(lat)/2], ids
	}
	var sb string
	require.NoError(t, db.Pool.QueryRow(ctx, "SHOW shared_buffers").Scan(&sb))
	t.Logf("shared_buffers %s", sb)
	if os.Getenv("NUBIQ_VECTOR_BENCH_PLANS") != "" {
		for _, n := range []int{1000, 20000, 50000} {
			for _, st := range []string{postgres.VectorExact, postgres.VectorHNSW} {
				plan, err := db.ExplainNearestChunks(ctx, ws[n], postgres.VectorQuery{Embedder: "hash", Vector: queries[0], Limit: 50, Strategy: st, EfSearch: 100}, false, "ANALYZE", "BUFFERS")
				require.NoError(t, err)
				t.Logf("%d chunks, %s:\n%s", n, st, plan)
			}
		}
	}
	t.Logf("%-8s %-12s %-12s %-12s %s", "chunks", "exact p50", "hnsw40 p50", "hnsw100 p50", "hnsw100 recall@10")
	for _, n := range sizes {
		measure(ws[n], postgres.VectorExact, 0) // warm the cache
		exact, truth := measure(ws[n], postgres.VectorExact, 0)
		h40, _ := measure(ws[n], postgres.VectorHNSW, 40)
		h100, got := measure(ws[n], postgres.VectorHNSW, 100)
		hit, all := 0, 0
		for i := range truth {
			for _, id := range truth[i] {
				all++
				if slices.Contains(got[i], id) {
					hit++
				}
			}
		}
		t.Logf("%-8d %-12s %-12s %-12s %.3f", n, exact.Round(10*time.Microsecond), h40.Round(10*time.Microsecond),
			h100.Round(10*time.Microsecond), float64(hit)/float64(all))
	}
}

func sumInts(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}
