package mcp_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/mcp/mcptest"
	"github.com/nubiq/hub/postgres"
)

// checkHeaders asserts the four X-RateLimit-* headers.
func checkHeaders(t *testing.T, r response, limMin, remMin, limDay, remDay int) {
	t.Helper()
	for h, want := range map[string]int{
		"X-RateLimit-Limit-Minute": limMin, "X-RateLimit-Remaining-Minute": remMin,
		"X-RateLimit-Limit-Day": limDay, "X-RateLimit-Remaining-Day": remDay,
	} {
		if got := r.Header.Get(h); got != strconv.Itoa(want) {
			t.Errorf("%s = %q, want %d (status %d)", h, got, want, r.Status)
		}
	}
}

// checkRefused asserts a 429 for window, with Retry-After and the JSON body.
func checkRefused(t *testing.T, r response, window string, retryAfter int, resetAt time.Time) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", r.Status, r.Body)
	}
	if got := r.Header.Get("Retry-After"); got != strconv.Itoa(retryAfter) {
		t.Errorf("Retry-After = %q, want %d", got, retryAfter)
	}
	e := r.errorBody(t)
	if e["code"] != nubiq.ECodeRateLimited || e["window"] != window || e["reset_at"] != resetAt.Format(time.RFC3339) || e["message"] == "" {
		t.Errorf("429 body %s, want code rate_limited, window %s, reset_at %s", r.Body, window, resetAt.Format(time.RFC3339))
	}
}

func TestRateLimitMinuteEdges(t *testing.T) {
	t.Parallel()
	// A clock under the test's control: the window cannot turn in the middle of the test.
	clk := newClock(time.Date(2030, 1, 1, 10, 0, 30, 0, time.UTC))
	env := mcptest.New(t, nil, mcptest.WithRateLimits(clk.Now))
	ctx := context.Background()
	ws := env.Workspace(t, "Acme", "pro")
	key := env.Key(t, ws)

	for i := 1; i <= 60; i++ {
		r := post(t, env.URL, key, toolsList, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("request %d of the minute: %d %s", i, r.Status, r.Body)
		}
		checkHeaders(t, r, 60, 60-i, 10000, 10000-i)
	}
	r := post(t, env.URL, key, toolsList, nil)
	checkRefused(t, r, "minute", 30, time.Date(2030, 1, 1, 10, 1, 0, 0, time.UTC))
	checkHeaders(t, r, 60, 0, 10000, 9940)

	clk.Set(time.Date(2030, 1, 1, 10, 0, 59, 500e6, time.UTC))
	checkRefused(t, post(t, env.URL, key, toolsList, nil), "minute", 1, time.Date(2030, 1, 1, 10, 1, 0, 0, time.UTC))

	// Another workspace has its own budget.
	other := env.Key(t, env.Workspace(t, "Other", "enterprise"))
	r = post(t, env.URL, other, toolsList, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("other workspace: %d %s", r.Status, r.Body)
	}
	checkHeaders(t, r, 300, 299, 100000, 99999)

	// The next minute starts afresh; the refused requests used up nothing of the day.
	clk.Set(time.Date(2030, 1, 1, 10, 1, 0, 0, time.UTC))
	r = post(t, env.URL, key, toolsList, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("first request of the next minute: %d %s", r.Status, r.Body)
	}
	checkHeaders(t, r, 60, 59, 10000, 9939)

	// The key's own rows, for usage reporting, count the requests let through.
	keys, _ := env.DB.ListAPIKeys(ctx, ws)
	w := nubiq.CurrentUsageWindows(time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC))
	for _, c := range []struct {
		kind  string
		start time.Time
		want  int
	}{{"minute", w.Minute, 60}, {"day", w.Day, 61}, {"month", w.Month, 61}} {
		got, err := env.DB.UsageCounter(ctx, ws, keys[0].ID, c.kind, c.start)
		if err != nil || got != c.want {
			t.Errorf("key's %s count = %d, %v; want %d", c.kind, got, err, c.want)
		}
	}
}

func TestRateLimitDayEdge(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2030, 1, 1, 23, 59, 0, 0, time.UTC))
	env := mcptest.New(t, nil, mcptest.WithRateLimits(clk.Now))
	if _, err := env.DB.SetPlan(context.Background(), nubiq.Plan{Name: "tiny", PerMinute: 100, PerDay: 5}); err != nil {
		t.Fatal(err)
	}
	key := env.Key(t, env.Workspace(t, "Acme", "tiny"))
	for i := 1; i <= 5; i++ {
		if r := post(t, env.URL, key, toolsList, nil); r.Status != http.StatusOK {
			t.Fatalf("request %d of the day: %d %s", i, r.Status, r.Body)
		}
	}
	r := post(t, env.URL, key, toolsList, nil)
	checkRefused(t, r, "day", 60, time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC))
	// The refused request took nothing of the minute either.
	checkHeaders(t, r, 100, 95, 5, 0)
	clk.Set(time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC))
	if r := post(t, env.URL, key, toolsList, nil); r.Status != http.StatusOK {
		t.Fatalf("first request of the next day: %d %s", r.Status, r.Body)
	}
}

// Two servers on one database share one budget, in turn and under concurrent load.
func TestRateLimitSharedByTwoServers(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC))
	a := mcptest.New(t, nil, mcptest.WithRateLimits(clk.Now))
	b := mcptest.New(t, a.DB, mcptest.WithRateLimits(clk.Now))
	key := a.Key(t, a.Workspace(t, "Acme", "pro"))
	servers := []*mcptest.Env{a, b}

	for i := 1; i <= 60; i++ {
		r := post(t, servers[i%2].URL, key, toolsList, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("request %d (server %d): %d %s", i, i%2+1, r.Status, r.Body)
		}
		checkHeaders(t, r, 60, 60-i, 10000, 10000-i)
	}
	for _, s := range servers {
		checkRefused(t, post(t, s.URL, key, toolsList, nil), "minute", 60, time.Date(2030, 1, 1, 10, 1, 0, 0, time.UTC))
	}

	clk.Set(time.Date(2030, 1, 1, 10, 1, 0, 0, time.UTC))
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			r := post(t, servers[i%2].URL, key, toolsList, nil)
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusOK] != 60 || statuses[http.StatusTooManyRequests] != 40 {
		t.Fatalf("100 concurrent requests over two servers: %v, want 60 × 200 and 40 × 429", statuses)
	}
}

// A workspace sending many requests is served from leased blocks of its budget: on one
// server exactly its limit is served; over two, never more, and once the servers have settled
// their leases the workspace's and the keys' counts are exactly what was served.
func TestRateLimitLeasesUnderLoad(t *testing.T) {
	t.Parallel()
	const limit, sent = 3000, 4000
	for _, servers := range []int{1, 2} {
		t.Run(strconv.Itoa(servers)+" servers", func(t *testing.T) {
			clk := newClock(time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC))
			var limiters []*mcp.RateLimiter
			var envs []*mcptest.Env
			for i := range servers {
				lim := &mcp.RateLimiter{Now: clk.Now}
				var db *postgres.DB
				if i > 0 {
					db = envs[0].DB
				}
				env := mcptest.New(t, db, mcptest.WithHandlerConfig(func(c *mcp.HandlerConfig) { c.Limiter = lim }))
				lim.DB = env.DB
				limiters, envs = append(limiters, lim), append(envs, env)
			}
			ctx := context.Background()
			if _, err := envs[0].DB.SetPlan(ctx, nubiq.Plan{Name: "bulk", PerMinute: limit, PerDay: 1000000}); err != nil {
				t.Fatal(err)
			}
			ws := envs[0].Workspace(t, "Acme", "bulk")
			keys := []string{envs[0].Key(t, ws), envs[0].Key(t, ws)}

			var mu sync.Mutex
			statuses := map[int]int{}
			var wg sync.WaitGroup
			for g := range 16 {
				wg.Go(func() {
					for i := g; i < sent; i += 16 {
						r := post(t, envs[i%servers].URL, keys[i%2], `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil)
						mu.Lock()
						statuses[r.Status]++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			served := statuses[http.StatusOK]
			if served+statuses[http.StatusTooManyRequests] != sent || served > limit || (servers == 1 && served != limit) {
				t.Fatalf("%d requests over %d server(s): %v; limit %d", sent, servers, statuses, limit)
			}
			for _, l := range limiters {
				if err := l.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			w := nubiq.CurrentUsageWindows(clk.Now())
			counted, _ := envs[0].DB.UsageCounter(ctx, ws, 0, "minute", w.Minute)
			day, _ := envs[0].DB.UsageCounter(ctx, ws, 0, "day", w.Day)
			list, _ := envs[0].DB.ListAPIKeys(ctx, ws)
			perKey := 0
			for _, k := range list {
				n, _ := envs[0].DB.UsageCounter(ctx, ws, k.ID, "month", w.Month)
				perKey += n
			}
			if counted != served || day != served || perKey != served {
				t.Fatalf("served %d; counted minute %d, day %d, keys %d", served, counted, day, perKey)
			}
			var st mcp.RateLimiterStats
			for _, l := range limiters {
				st.Statements += l.Stats().Statements
				st.FromLease += l.Stats().FromLease
			}
			if st.Statements > int64(sent/4) || st.FromLease < int64(served/2) {
				t.Errorf("%d statements for %d requests, %d served from leases: blocks were not leased", st.Statements, sent, st.FromLease)
			}
			t.Logf("%d servers: %d served of %d sent (limit %d), %d statements, %d served from leases",
				servers, served, sent, limit, st.Statements, st.FromLease)
		})
	}
}

// Tool errors and protocol errors carry the headers too.
func TestRateLimitHeadersOnToolAndProtocolErrors(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC))
	env := mcptest.New(t, nil, mcptest.WithRateLimits(clk.Now))
	ws := env.Workspace(t, "Acme", "pro")
	key := env.Key(t, ws, nubiq.ScopeTicketsRead)

	r := post(t, env.URL, key, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"tickets.create","arguments":{}}}`, nil)
	res, rerr := r.message(t)
	if r.Status != http.StatusOK || rerr != nil || !strings.Contains(string(res), `"isError":true`) {
		t.Fatalf("refused tool call: %d %s", r.Status, r.Body)
	}
	checkHeaders(t, r, 60, 59, 10000, 9999)

	r = post(t, env.URL, key, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"no.such.tool","arguments":{}}}`, nil)
	if _, rerr := r.message(t); rerr == nil {
		t.Fatalf("unknown tool answered without a JSON-RPC error: %s", r.Body)
	}
	checkHeaders(t, r, 60, 58, 10000, 9998)
}

// BenchmarkAuthenticatedRequest measures round trips through authentication (cached key),
// the rate-limit statement (or none) and the MCP server, from parallel clients.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	for _, limits := range []bool{false, true} {
		var opts []mcptest.Option
		if limits {
			opts = append(opts, mcptest.WithRateLimits(nil))
		}
		env := mcptest.New(b, nil, opts...)
		ctx := context.Background()
		if _, err := env.DB.SetPlan(ctx, nubiq.Plan{Name: "bench", PerMinute: 1 << 30, PerDay: 1 << 30}); err != nil {
			b.Fatal(err)
		}
		key := env.Key(b, env.Workspace(b, "Acme", "bench"))
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		for _, body := range []string{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, toolsList} {
			name := map[bool]string{true: "limits", false: "nolimits"}[limits] + "/" + map[bool]string{true: "ping", false: "tools.list"}[body != toolsList]
			b.Run(name, func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						req, _ := http.NewRequest(http.MethodPost, env.URL, strings.NewReader(body))
						req.Header.Set("Authorization", "Bearer "+key)
						req.Header.Set("Content-Type", "application/json")
						req.Header.Set("Accept", "application/json, text/event-stream")
						res, err := client.Do(req)
						if err != nil {
							b.Fatal(err)
						}
						io.Copy(io.Discard, res.Body) //nolint:errcheck
						res.Body.Close()
						if res.StatusCode != http.StatusOK {
							b.Fatalf("status %d", res.StatusCode)
						}
					}
				})
			})
		}
	}
}
