package reliability_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp/mcptest"
)

// loadMode is on under make load: longer runs, figures printed.
func loadMode() bool { return os.Getenv("NUBIQ_LOAD") != "" }

// frozenClock holds the rate limiter inside one window until moved on.
type frozenClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *frozenClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *frozenClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestLoadRateLimitAtTwiceTheLimit sends twice a Pro workspace's per-minute limit within each
// of several one-minute windows, from concurrent clients on loopback: exactly the limit is
// served per window, every other request gets 429 with Retry-After and the X-RateLimit
// headers, and nothing answers 5xx. The limiter's clock is held inside each window, so the
// windows are exact whatever the machine's speed (make load runs more windows).
func TestLoadRateLimitAtTwiceTheLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &frozenClock{t: time.Date(2026, 3, 2, 10, 0, 5, 0, time.UTC)}
	env := mcptest.New(t, nil, mcptest.WithRateLimits(clock.Now))
	ws := env.Workspace(t, "Acme", "pro")
	rc := newRawClient(env.URL, env.Key(t, ws, nubiq.ScopeTicketsRead))
	const limit = 60 // pro, per minute
	windows := 2
	if loadMode() {
		windows = 10
	}
	start := time.Now()
	for w := range windows {
		var mu sync.Mutex
		counts := map[int]int{}
		var wg sync.WaitGroup
		jobsCh := make(chan struct{}, 2*limit)
		for range 2 * limit {
			jobsCh <- struct{}{}
		}
		close(jobsCh)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range jobsCh {
					o := rc.call(ctx, "tickets.list", map[string]any{"limit": 1})
					mu.Lock()
					counts[o.Status]++
					mu.Unlock()
					switch o.Status {
					case 200:
						if !o.ok() {
							t.Errorf("window %d: %s", w, o)
						}
					case 429:
						if o.RetryAfter == "" || !strings.Contains(string(o.Body), "rate_limited") {
							t.Errorf("window %d: 429 without Retry-After or code: %s", w, o)
						}
					default:
						t.Errorf("window %d: %s", w, o)
					}
				}
			}()
		}
		wg.Wait()
		require.Equal(t, map[int]int{200: limit, 429: limit}, counts, "window %d", w)
		clock.Add(time.Minute)
	}
	t.Logf("%d windows of %d requests (twice the Pro limit of %d/min): exactly %d served and %d refused with 429 in each, no 5xx; %s",
		windows, 2*limit, limit, limit, limit, time.Since(start).Round(time.Millisecond))
}

// TestLoadMixed runs closed-loop clients as fast as they go for a fixed duration on a seeded
// workspace: reads, writes and searches, with ingest workers running, then reports throughput,
// latency percentiles and errors per operation. Any internal error, 5xx or transport failure
// fails it. Under make load it runs NUBIQ_LOAD_DURATION (default 2m) with NUBIQ_LOAD_CLIENTS
// (default 16); in the test suite, 2 seconds with 4.
func TestLoadMixed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	duration, clients := 2*time.Second, 4
	if loadMode() {
		duration, clients = 2*time.Minute, 16
		if d, err := time.ParseDuration(os.Getenv("NUBIQ_LOAD_DURATION")); err == nil {
			duration = d
		}
		if n, err := strconv.Atoi(os.Getenv("NUBIQ_LOAD_CLIENTS")); err == nil && n > 0 {
			clients = n
		}
	}
	sd := newSeeded(t, nil, "Load")
	env, wsID := sd.env, sd.ws["Load"]
	rc := newRawClient(env.URL, env.Key(t, wsID))
	var ids struct{ tickets, contacts, conversations []int64 }
	for q, dst := range map[string]*[]int64{
		`SELECT id FROM tickets WHERE workspace_id = $1`:                                         &ids.tickets,
		`SELECT id FROM contacts WHERE workspace_id = $1`:                                        &ids.contacts,
		`SELECT id FROM conversations WHERE workspace_id = $1 AND status IN ('open', 'pending')`: &ids.conversations,
	} {
		rows, err := env.DB.Pool.Query(ctx, q, wsID)
		require.NoError(t, err)
		for rows.Next() {
			var id int64
			require.NoError(t, rows.Scan(&id))
			*dst = append(*dst, id)
		}
		require.NotEmpty(t, *dst, q)
	}
	words := []string{"refund", "shift swap", "timesheet export", "password reset", "payroll", "invoice", "mobile app", "sync"}
	type op struct {
		name, kind string
		weight     int
		args       func(r *rand.Rand) (string, map[string]any)
	}
	pick := func(r *rand.Rand, s []int64) int64 { return s[r.IntN(len(s))] }
	ops := []op{
		{"tickets.list", "read", 15, func(r *rand.Rand) (string, map[string]any) { return "tickets.list", map[string]any{"limit": 20} }},
		{"tickets.get", "read", 15, func(r *rand.Rand) (string, map[string]any) {
			return "tickets.get", map[string]any{"id": pick(r, ids.tickets)}
		}},
		{"conversations.list", "read", 10, func(r *rand.Rand) (string, map[string]any) {
			return "conversations.list", map[string]any{"status": "open", "limit": 20}
		}},
		{"conversations.get", "read", 10, func(r *rand.Rand) (string, map[string]any) {
			return "conversations.get", map[string]any{"id": pick(r, ids.conversations)}
		}},
		{"contacts.get", "read", 10, func(r *rand.Rand) (string, map[string]any) {
			return "contacts.get", map[string]any{"id": pick(r, ids.contacts)}
		}},
		{"tickets.create", "write", 8, func(r *rand.Rand) (string, map[string]any) {
			return "tickets.create", map[string]any{"subject": "Load " + words[r.IntN(len(words))], "contact_id": pick(r, ids.contacts)}
		}},
		{"tickets.update", "write", 6, func(r *rand.Rand) (string, map[string]any) {
			return "tickets.update", map[string]any{"id": pick(r, ids.tickets), "priority": []string{"low", "normal", "high"}[r.IntN(3)]}
		}},
		{"conversations.reply", "write", 6, func(r *rand.Rand) (string, map[string]any) {
			return "conversations.reply", map[string]any{"id": pick(r, ids.conversations), "body": "Looking into it.", "private": true}
		}},
		{"documents.upload", "write", 2, func(r *rand.Rand) (string, map[string]any) {
			n := r.IntN(50)
			return "documents.upload", map[string]any{"title": fmt.Sprintf("Load note %d", n), "external_id": fmt.Sprintf("load-%d", n),
				"content": fmt.Sprintf("# Note %d\n\nHow to handle %s in the app.", n, words[r.IntN(len(words))])}
		}},
		{"documents.search", "search", 8, func(r *rand.Rand) (string, map[string]any) {
			return "documents.search", map[string]any{"query": words[r.IntN(len(words))]}
		}},
		{"conversations.search", "search", 5, func(r *rand.Rand) (string, map[string]any) {
			return "conversations.search", map[string]any{"query": words[r.IntN(len(words))]}
		}},
		{"contacts.search", "search", 5, func(r *rand.Rand) (string, map[string]any) {
			return "contacts.search", map[string]any{"query": "anna"}
		}},
	}
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	type sample struct {
		op   int
		took time.Duration
		res  outcome
	}
	var mu sync.Mutex
	var samples []sample
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 7))
			var local []sample
			for time.Now().Before(deadline) {
				n := r.IntN(total)
				i := 0
				for n >= ops[i].weight {
					n -= ops[i].weight
					i++
				}
				tool, args := ops[i].args(r)
				o := rc.call(ctx, tool, args)
				o.Body, o.Result = nil, nil
				local = append(local, sample{i, o.Took, o})
			}
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()

	var report strings.Builder
	fmt.Fprintf(&report, "mixed load: %d clients for %s: %d requests, %.0f/s\n", clients, duration, len(samples), float64(len(samples))/duration.Seconds())
	fmt.Fprintf(&report, "%-22s %6s %8s %8s %8s %8s  %s\n", "operation", "kind", "count", "p50", "p95", "p99", "errors")
	byOp := map[int][]sample{}
	for _, s := range samples {
		byOp[s.op] = append(byOp[s.op], s)
	}
	pct := func(d []time.Duration, p float64) time.Duration {
		if len(d) == 0 {
			return 0
		}
		return d[min(len(d)-1, int(float64(len(d))*p))]
	}
	var all []time.Duration
	for i, o := range ops {
		ss := byOp[i]
		var ds []time.Duration
		errs := map[string]int{}
		for _, s := range ss {
			ds = append(ds, s.took)
			if !s.res.ok() {
				code := s.res.ToolCode
				if code == "" {
					code = strings.SplitN(s.res.String(), ":", 2)[0]
				}
				errs[code]++
				if code == nubiq.ECodeInternal || s.res.Status >= 500 || s.res.Transport != nil || s.res.RPCError != "" {
					t.Errorf("%s: %s", o.name, s.res)
				}
			}
		}
		sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
		all = append(all, ds...)
		var e []string
		for k, v := range errs {
			e = append(e, fmt.Sprintf("%s:%d", k, v))
		}
		slices.Sort(e)
		fmt.Fprintf(&report, "%-22s %6s %8d %8s %8s %8s  %s\n", o.name, o.kind, len(ss), pct(ds, .5).Round(10*time.Microsecond),
			pct(ds, .95).Round(10*time.Microsecond), pct(ds, .99).Round(10*time.Microsecond), strings.Join(e, " "))
	}
	slices.Sort(all)
	fmt.Fprintf(&report, "%-22s %6s %8d %8s %8s %8s\n", "all", "", len(all), pct(all, .5).Round(10*time.Microsecond),
		pct(all, .95).Round(10*time.Microsecond), pct(all, .99).Round(10*time.Microsecond))
	t.Log("\n" + report.String())
	require.NotEmpty(t, samples)
}
