package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
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

func TestLeaseRequests(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	w, _ := db.CreateWorkspace(ctx, "Acme", "pro")
	at := time.Date(2030, 1, 1, 10, 0, 30, 0, time.UTC)
	win := nubiq.CurrentUsageWindows(at)
	lease := func(key int64, want, perMinute, perDay int, pending []postgres.KeyCount) *postgres.RequestLease {
		t.Helper()
		l, err := db.LeaseRequests(ctx, w.ID, key, at, want, perMinute, perDay, pending)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	counter := func(key int64, kind string) int {
		t.Helper()
		start := map[string]time.Time{"minute": win.Minute, "day": win.Day, "month": win.Month}[kind]
		n, err := db.UsageCounter(ctx, w.ID, key, kind, start)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// What is asked, while far from the limits; the asking request is its key's at once.
	if l := lease(1, 50, 6400, 100000, nil); l.Granted != 50 || l.Minute != 50 || l.Day != 50 || l.Refused != "" {
		t.Fatalf("first lease: %+v", l)
	}
	if counter(1, "minute") != 1 || counter(1, "month") != 1 {
		t.Fatalf("asking key counted %d/%d, want 1", counter(1, "minute"), counter(1, "month"))
	}
	// Capped at a 64th of what is left: (6400 - 50) / 64 = 99. The 49 served from the first
	// lease are written with it, for two keys.
	pending := []postgres.KeyCount{{KeyID: 1, Windows: win, Count: 30}, {KeyID: 2, Windows: win, Count: 19}}
	if l := lease(2, 500, 6400, 100000, pending); l.Granted != 99 || l.Minute != 149 {
		t.Fatalf("capped lease: %+v", l)
	}
	if counter(1, "day") != 31 || counter(2, "day") != 20 || counter(2, "month") != 20 {
		t.Fatalf("key counts %d, %d after the flush, want 31 and 20", counter(1, "day"), counter(2, "day"))
	}
	// Unused slots given back, served ones written.
	if err := db.SettleRequests(ctx, w.ID, win, 90, []postgres.KeyCount{{KeyID: 2, Windows: win, Count: 8}}); err != nil {
		t.Fatal(err)
	}
	if counter(0, "minute") != 59 || counter(0, "day") != 59 || counter(2, "minute") != 28 {
		t.Fatalf("after settling: workspace %d/%d, key 2 %d; want 59/59 and 28", counter(0, "minute"), counter(0, "day"), counter(2, "minute"))
	}
	if counter(0, "minute") != counter(1, "minute")+counter(2, "minute") {
		t.Fatalf("workspace minute %d != keys' %d + %d", counter(0, "minute"), counter(1, "minute"), counter(2, "minute"))
	}
	// Near a limit, one slot at a time, then none; the tighter window decides.
	if l := lease(1, 500, 100, 100000, nil); l.Granted != 1 || l.Minute != 60 {
		t.Fatalf("near the minute limit: %+v", l)
	}
	if l := lease(1, 500, 1000, 60, nil); l.Granted != 0 || l.Refused != "day" || l.Minute != 60 || l.Day != 60 {
		t.Fatalf("day full: %+v", l)
	}
	if l := lease(1, 500, 60, 1000, nil); l.Granted != 0 || l.Refused != "minute" {
		t.Fatalf("minute full: %+v", l)
	}
	if counter(0, "minute") != 60 || counter(1, "minute") != 32 {
		t.Fatalf("refusals counted: workspace %d, key 1 %d; want 60 and 32", counter(0, "minute"), counter(1, "minute"))
	}
}

// TestLeasesAndCountsExactUnderConcurrency: nodes leasing blocks, serving them, giving back
// what they did not serve, and counting single requests, all at once, never exceed the limit,
// and the counts written add up to exactly what was served.
func TestLeasesAndCountsExactUnderConcurrency(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	w, _ := db.CreateWorkspace(ctx, "Acme", "pro")
	at := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	win := nubiq.CurrentUsageWindows(at)
	const limit = 3000
	var served atomic.Int64
	var wg sync.WaitGroup
	for k := range 8 {
		wg.Go(func() {
			key := int64(k%3 + 1)
			for i := 0; ; i++ {
				if k%4 == 0 { // counts request by request
					c, err := db.CountRequest(ctx, w.ID, key, at, limit, 1000000)
					if err != nil {
						t.Error(err)
						return
					}
					if !c.Allowed {
						return
					}
					served.Add(1)
					continue
				}
				l, err := db.LeaseRequests(ctx, w.ID, key, at, 10+i%40, limit, 1000000, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if l.Granted == 0 {
					return
				}
				// Serve all but a few, give those back.
				unused := min(l.Granted-1, i%3)
				n := l.Granted - unused
				served.Add(int64(n))
				var pending []postgres.KeyCount
				if n > 1 {
					pending = []postgres.KeyCount{{KeyID: key, Windows: win, Count: n - 1}}
				}
				if err := db.SettleRequests(ctx, w.ID, win, unused, pending); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	ws, _ := db.UsageCounter(ctx, w.ID, 0, "minute", win.Minute)
	keys := 0
	for key := int64(1); key <= 3; key++ {
		n, _ := db.UsageCounter(ctx, w.ID, key, "month", win.Month)
		keys += n
	}
	if int64(ws) != served.Load() || int64(keys) != served.Load() || served.Load() > limit {
		t.Fatalf("served %d (limit %d); workspace counted %d, keys %d", served.Load(), limit, ws, keys)
	}
	// Slots given back while others were refused are still there: the rest of the budget is
	// served one by one, and then not one more.
	for served.Load() < limit {
		c, err := db.CountRequest(ctx, w.ID, 1, at, limit, 1000000)
		if err != nil || !c.Allowed {
			t.Fatalf("after %d served of %d: %+v, %v", served.Load(), limit, c, err)
		}
		served.Add(1)
	}
	if c, err := db.CountRequest(ctx, w.ID, 1, at, limit, 1000000); err != nil || c.Allowed {
		t.Fatalf("one more than the limit: %+v, %v", c, err)
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
