package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

func TestDeleteOldUsageKeepsEachKindForItsRetention(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	w, err := db.CreateWorkspace(ctx, "Acme", "pro")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	// A request now and requests 2, 40 and 500 days ago.
	for _, ago := range []time.Duration{0, 2 * 24 * time.Hour, 40 * 24 * time.Hour, 500 * 24 * time.Hour} {
		if c, err := db.CountRequest(ctx, w.ID, 7, now.Add(-ago), 60, 10000); err != nil || !c.Allowed {
			t.Fatalf("count: %+v, %v", c, err)
		}
	}
	left := func() map[string]int {
		rows, err := db.Pool.Query(ctx, `SELECT window_kind, count(*) FROM usage_counters GROUP BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[string]int{}
		for rows.Next() {
			var k string
			var n int
			rows.Scan(&k, &n) //nolint:errcheck
			m[k] = n
		}
		return m
	}
	// Each request made a workspace and a key row per minute and day, and a key row per month
	// (now and 2 days ago share June).
	if got := left(); got["minute"] != 8 || got["day"] != 8 || got["month"] != 3 {
		t.Fatalf("before cleanup: %v", got)
	}
	n, err := db.DeleteOldUsage(ctx, now, postgres.DefaultUsageRetention)
	if err != nil {
		t.Fatal(err)
	}
	// Minute rows of the last day only; day rows up to 35 days; month rows up to 400 days (the
	// month of 500 days ago goes).
	got := left()
	if got["minute"] != 2 || got["day"] != 4 || got["month"] != 2 || n != 6+4+1 {
		t.Fatalf("after cleanup: %v, %d deleted", got, n)
	}
}

func TestCountRequestRefusedCostsNothing(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	w, _ := db.CreateWorkspace(ctx, "Acme", "pro")
	at := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	for i := 1; i <= 3; i++ {
		c, err := db.CountRequest(ctx, w.ID, 1, at, 3, 100)
		if err != nil || !c.Allowed || c.Minute != i || c.Day != i {
			t.Fatalf("request %d: %+v, %v", i, c, err)
		}
	}
	for range 5 {
		c, err := db.CountRequest(ctx, w.ID, 1, at, 3, 100)
		if err != nil || c.Allowed || c.Refused != "minute" || c.Minute != 3 || c.Day != 3 {
			t.Fatalf("over the minute: %+v, %v", c, err)
		}
	}
	if n, _ := db.UsageCounter(ctx, w.ID, 0, "day", nubiq.CurrentUsageWindows(at).Day); n != 3 {
		t.Fatalf("day count %d after refusals, want 3", n)
	}
	if n, _ := db.UsageCounter(ctx, w.ID, 1, "month", nubiq.CurrentUsageWindows(at).Month); n != 3 {
		t.Fatalf("key month count %d after refusals, want 3", n)
	}
}

// TestCountRequestExactUnderConcurrency: counts commit asynchronously, and row locks must
// still keep concurrent requests from overshooting a limit or losing a count.
func TestCountRequestExactUnderConcurrency(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	w, _ := db.CreateWorkspace(ctx, "Acme", "pro")
	at := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	const workers, each, limit = 8, 10, 37
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() {
			for range each {
				c, err := db.CountRequest(ctx, w.ID, int64(k%2+1), at, limit, 1000)
				if err != nil {
					t.Error(err)
					return
				}
				if c.Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	win := nubiq.CurrentUsageWindows(at)
	if allowed != limit {
		t.Fatalf("%d requests allowed, want exactly %d", allowed, limit)
	}
	if n, _ := db.UsageCounter(ctx, w.ID, 0, "day", win.Day); n != limit {
		t.Fatalf("day count %d, want %d", n, limit)
	}
	k1, _ := db.UsageCounter(ctx, w.ID, 1, "month", win.Month)
	k2, _ := db.UsageCounter(ctx, w.ID, 2, "month", win.Month)
	if k1+k2 != limit {
		t.Fatalf("keys' month counts %d + %d, want %d in all", k1, k2, limit)
	}
}

func TestSetPlanAndWorkspacePlan(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := db.SetPlan(ctx, nubiq.Plan{Name: "Bad Name", PerMinute: 1, PerDay: 1}); nubiq.ErrorField(err) != "name" {
		t.Errorf("bad name: %v", err)
	}
	if _, err := db.SetPlan(ctx, nubiq.Plan{Name: "bench", PerMinute: 0, PerDay: 1}); nubiq.ErrorField(err) != "per_minute" {
		t.Errorf("zero limit: %v", err)
	}
	if p, err := db.SetPlan(ctx, nubiq.Plan{Name: "bench", PerMinute: 1000000, PerDay: 100000000}); err != nil || p.PerMinute != 1000000 {
		t.Fatalf("set plan: %+v, %v", p, err)
	}
	w, _ := db.CreateWorkspace(ctx, "Acme", "pro")
	if _, err := db.SetWorkspacePlan(ctx, w.ID, "gold"); nubiq.ErrorField(err) != "plan" {
		t.Errorf("unknown plan: %v", err)
	}
	if got, err := db.SetWorkspacePlan(ctx, w.ID, "bench"); err != nil || got.Plan != "bench" {
		t.Fatalf("set workspace plan: %+v, %v", got, err)
	}
	k, secret, _ := db.CreateAPIKey(ctx, postgres.CreateKeyParams{WorkspaceID: w.ID, Name: "k", Scopes: nubiq.AllScopes, ExpiresAt: time.Now().Add(time.Hour)})
	if _, plan, err := db.KeyByHash(ctx, postgres.HashKey(secret)); err != nil || plan.PerMinute != 1000000 {
		t.Fatalf("key %d sees plan %+v, %v", k.ID, plan, err)
	}
}

func TestTouchKeysNeverMovesBack(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	w, _ := db.CreateWorkspace(ctx, "Acme", "pro")
	other, _ := db.CreateWorkspace(ctx, "Other", "pro")
	k, _, _ := db.CreateAPIKey(ctx, postgres.CreateKeyParams{WorkspaceID: w.ID, Name: "k", Scopes: nubiq.AllScopes, ExpiresAt: time.Now().Add(time.Hour)})
	t1 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, batch := range [][]postgres.KeyUse{
		{{KeyID: k.ID, WorkspaceID: w.ID, At: t1}},
		{{KeyID: k.ID, WorkspaceID: w.ID, At: t1.Add(-time.Hour)}},    // a slower replica's older use
		{{KeyID: k.ID, WorkspaceID: other.ID, At: t1.Add(time.Hour)}}, // wrong workspace: ignored
	} {
		if err := db.TouchKeys(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	keys, _ := db.ListAPIKeys(ctx, w.ID)
	if keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(t1) {
		t.Fatalf("last used %v, want %v", keys[0].LastUsedAt, t1)
	}
}

// BenchmarkCountRequest measures the rate-limit statement; the parallel variant hits the same
// workspace rows, whose locks serialise it.
func BenchmarkCountRequest(b *testing.B) {
	db := pgtest.NewDB(b)
	ctx := context.Background()
	w, _ := db.CreateWorkspace(ctx, "Acme", "pro")
	at := time.Now()
	b.ResetTimer()
	for b.Loop() {
		if _, err := db.CountRequest(ctx, w.ID, 1, at, 1<<30, 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCountRequestParallel(b *testing.B) {
	db := pgtest.NewDB(b)
	ctx := context.Background()
	w, _ := db.CreateWorkspace(ctx, "Acme", "pro")
	at := time.Now()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.CountRequest(ctx, w.ID, 1, at, 1<<30, 1<<30); err != nil {
				b.Fatal(err)
			}
		}
	})
}
