package mcp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/postgres"
)

// Limiter decides whether a caller's request may proceed under its workspace's plan limits.
type Limiter interface {
	Allow(ctx context.Context, c *nubiq.Caller) (*RateStatus, error)
}

// RateStatus is where a workspace stands in its windows after a request.
type RateStatus struct {
	LimitMinute, RemainingMinute int
	LimitDay, RemainingDay       int
	MinuteResetAt, DayResetAt    time.Time
	// At is when the request was counted.
	At time.Time
	// Allowed is false when the request was refused; Window then names the full window
	// ("minute" or "day") and ResetAt says when it turns.
	Allowed bool
	Window  string
	ResetAt time.Time
}

// rateStatus computes a RateStatus from the counts after a request at now.
func rateStatus(c *postgres.RequestCount, perMinute, perDay int, now time.Time) *RateStatus {
	w := nubiq.CurrentUsageWindows(now)
	s := &RateStatus{
		LimitMinute: perMinute, RemainingMinute: max(0, perMinute-c.Minute),
		LimitDay: perDay, RemainingDay: max(0, perDay-c.Day),
		MinuteResetAt: w.Minute.Add(time.Minute), DayResetAt: w.Day.AddDate(0, 0, 1),
		Allowed: c.Allowed, Window: c.Refused, At: now,
	}
	switch c.Refused {
	case "minute":
		s.ResetAt, s.RemainingMinute = s.MinuteResetAt, 0
	case "day":
		s.ResetAt, s.RemainingDay = s.DayResetAt, 0
	}
	return s
}

// RetryAfter is the whole number of seconds, at least 1, until the refused window turns.
func (s *RateStatus) RetryAfter() int {
	return max(1, int(math.Ceil(s.ResetAt.Sub(s.At).Seconds())))
}

// SetHeaders writes the X-RateLimit-* headers every authenticated response carries, spelled
// as documented (Go would canonicalise them to X-Ratelimit-…; HTTP does not care, people do).
func (s *RateStatus) SetHeaders(h http.Header) {
	h["X-RateLimit-Limit-Minute"] = []string{strconv.Itoa(s.LimitMinute)}
	h["X-RateLimit-Remaining-Minute"] = []string{strconv.Itoa(s.RemainingMinute)}
	h["X-RateLimit-Limit-Day"] = []string{strconv.Itoa(s.LimitDay)}
	h["X-RateLimit-Remaining-Day"] = []string{strconv.Itoa(s.RemainingDay)}
}

// RateLimiter enforces plan limits with counters in Postgres, shared by every replica, so
// that a workspace has one budget whichever node serves it. Windows are fixed UTC minutes and
// days. A refused request does not use up budget (see postgres.CountRequest); once a window is
// full, this node refuses the workspace's requests without a statement for LeaseTTL.
//
// A request is counted with one statement (postgres.CountRequest) while its workspace sends
// few. When a workspace sends many through this node (at least two in the last tenth of a
// second), the node leases a block of its budget in one statement (postgres.LeaseRequests):
// about a tenth of a second's worth, never more than a small share of what is left, and one
// at a time near the limit. Requests are then served from the lease and their keys' usage
// rows are written when the lease is used up, or within LeaseTTL. Limits are never exceeded;
// what a lease changes is that slots leased to one node and not yet served are missing to the
// others for up to LeaseTTL, and that a node that dies holding a lease leaves its unused
// slots counted (at most a 64th of the budget left when it was taken) and its last LeaseTTL of
// key usage unwritten.
type RateLimiter struct {
	DB *postgres.DB
	// Now is the clock windows are taken from; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Retention says how long old counter rows are kept; default postgres.DefaultUsageRetention.
	Retention postgres.UsageRetention
	// LeaseTTL is how long a lease's unused slots and served counts stay with this node
	// before they are given back and written (default 250ms); negative turns leasing off.
	LeaseTTL time.Duration

	mu         sync.Mutex
	workspaces map[int64]*workspaceBudget

	statements, fromLease atomic.Int64
}

// RateLimiterStats says how the limiter has decided so far.
type RateLimiterStats struct {
	// Statements is the number of counting and leasing round trips to the database;
	// FromLease the number of requests let through from a lease without one.
	Statements, FromLease int64
}

// Stats returns how the limiter has decided so far.
func (l *RateLimiter) Stats() RateLimiterStats {
	return RateLimiterStats{Statements: l.statements.Load(), FromLease: l.fromLease.Load()}
}

// workspaceBudget is what this node holds of a workspace's budget.
type workspaceBudget struct {
	mu sync.Mutex
	// Requests seen in the current and the previous tenth of a second: how much to lease.
	bucket        time.Time
	seen, seenPrv int

	// The lease: left unused slots of windows w, taken at; minute and day are the
	// workspace's counts once it was granted, every slot included.
	w           nubiq.UsageWindows
	left        int
	minute, day int
	at          time.Time
	pending     map[postgres.KeyCount]int // served, by key and windows (Count 0)

	// A window found full stays full until it turns, unless another node gives back slots
	// of a lease: requests are refused here without asking the database again for LeaseTTL.
	full      *postgres.RequestCount
	fullUntil time.Time
	fullW     nubiq.UsageWindows
}

const leaseBucket = 100 * time.Millisecond

// maxLease bounds a lease whatever the rate: a tenth of a second at 10,000 requests a second.
const maxLease = 1000

func (l *RateLimiter) now() time.Time {
	if l.Now != nil {
		return l.Now().UTC()
	}
	return time.Now().UTC()
}

func (l *RateLimiter) leaseTTL() time.Duration {
	if l.LeaseTTL == 0 {
		return 250 * time.Millisecond
	}
	return l.LeaseTTL
}

func (l *RateLimiter) budget(workspaceID int64) *workspaceBudget {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.workspaces == nil {
		l.workspaces = map[int64]*workspaceBudget{}
	}
	b := l.workspaces[workspaceID]
	if b == nil {
		b = &workspaceBudget{}
		l.workspaces[workspaceID] = b
	}
	return b
}

// Allow implements Limiter.
func (l *RateLimiter) Allow(ctx context.Context, c *nubiq.Caller) (*RateStatus, error) {
	if c.PerMinute <= 0 || c.PerDay <= 0 {
		return nil, fmt.Errorf("workspace %d: plan %q has no limits", c.WorkspaceID, c.Plan)
	}
	now := l.now()
	w := nubiq.CurrentUsageWindows(now)
	b := l.budget(c.WorkspaceID)
	b.mu.Lock()
	if b.full != nil && sameWindows(b.fullW, w) && now.Before(b.fullUntil) {
		count := *b.full
		b.mu.Unlock()
		return rateStatus(&count, c.PerMinute, c.PerDay, now), nil
	}
	b.full = nil
	if !sameWindows(b.w, w) && (b.left > 0 || len(b.pending) > 0) {
		// The windows turned: what is left of the lease belongs to windows gone by.
		if err := l.settle(ctx, c.WorkspaceID, b); err != nil {
			b.mu.Unlock()
			return nil, err
		}
	}
	if b.left > 0 {
		b.left--
		l.fromLease.Add(1)
		b.pending[postgres.KeyCount{KeyID: c.KeyID, Windows: b.w}]++
		count := postgres.RequestCount{Allowed: true, Minute: b.minute - b.left, Day: b.day - b.left}
		b.mu.Unlock()
		return rateStatus(&count, c.PerMinute, c.PerDay, now), nil
	}
	if bucket := now.Truncate(leaseBucket); !bucket.Equal(b.bucket) {
		b.seenPrv = 0
		if bucket.Sub(b.bucket) == leaseBucket {
			b.seenPrv = b.seen
		}
		b.bucket, b.seen = bucket, 0
	}
	b.seen++
	want := min(maxLease, max(b.seen, b.seenPrv))
	if want < 2 || l.leaseTTL() < 0 {
		// Few requests: count this one by itself, concurrently with the workspace's others.
		b.mu.Unlock()
		l.statements.Add(1)
		count, err := l.DB.CountRequest(ctx, c.WorkspaceID, c.KeyID, now, c.PerMinute, c.PerDay)
		if err != nil {
			return nil, err
		}
		if !count.Allowed {
			l.remember(b, count, w, now)
		}
		return rateStatus(count, c.PerMinute, c.PerDay, now), nil
	}
	// Many requests: lease a block while holding the workspace's lock, so that the requests
	// arriving meanwhile wait for it rather than lease blocks of their own.
	defer b.mu.Unlock()
	pending := b.pendingCounts()
	l.statements.Add(1)
	lease, err := l.DB.LeaseRequests(ctx, c.WorkspaceID, c.KeyID, now, want, c.PerMinute, c.PerDay, pending)
	if err != nil {
		return nil, err
	}
	b.pending = map[postgres.KeyCount]int{}
	b.w, b.left, b.minute, b.day, b.at = w, max(0, lease.Granted-1), lease.Minute, lease.Day, now
	count := &postgres.RequestCount{Allowed: lease.Granted > 0, Refused: lease.Refused, Minute: lease.Minute - b.left, Day: lease.Day - b.left}
	if !count.Allowed {
		count.Minute, count.Day = lease.Minute, lease.Day
		if lease.Refused == "minute" {
			count.Minute = c.PerMinute
		} else {
			count.Day = c.PerDay
		}
		l.rememberLocked(b, count, w, now)
	}
	return rateStatus(count, c.PerMinute, c.PerDay, now), nil
}

func sameWindows(a, b nubiq.UsageWindows) bool {
	return a.Minute.Equal(b.Minute) && a.Day.Equal(b.Day) && a.Month.Equal(b.Month)
}

func (l *RateLimiter) remember(b *workspaceBudget, count *postgres.RequestCount, w nubiq.UsageWindows, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l.rememberLocked(b, count, w, now)
}

func (l *RateLimiter) rememberLocked(b *workspaceBudget, count *postgres.RequestCount, w nubiq.UsageWindows, now time.Time) {
	c := *count
	hold := l.leaseTTL()
	if hold < 0 {
		hold = 250 * time.Millisecond
	}
	b.full, b.fullW, b.fullUntil = &c, w, now.Add(hold)
}

// pendingCounts lists the served counts not yet written, in key order.
func (b *workspaceBudget) pendingCounts() []postgres.KeyCount {
	out := make([]postgres.KeyCount, 0, len(b.pending))
	for k, n := range b.pending {
		k.Count = n
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b postgres.KeyCount) int { return cmp.Compare(a.KeyID, b.KeyID) })
	return out
}

// settle gives back the lease's unused slots and writes its served counts; b.mu is held.
func (l *RateLimiter) settle(ctx context.Context, workspaceID int64, b *workspaceBudget) error {
	if err := l.DB.SettleRequests(ctx, workspaceID, b.w, b.left, b.pendingCounts()); err != nil {
		return err
	}
	b.left, b.pending = 0, nil
	return nil
}

// Flush gives back every lease's unused slots and writes the counts served from leases: what
// Run does every LeaseTTL, and what a server does last when it stops.
func (l *RateLimiter) Flush(ctx context.Context) error {
	return l.flush(ctx, time.Time{})
}

// flush settles the leases not used since before (all with a zero time) and forgets the
// workspaces idle for a while.
func (l *RateLimiter) flush(ctx context.Context, before time.Time) error {
	l.mu.Lock()
	ids := make([]int64, 0, len(l.workspaces))
	for id := range l.workspaces {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	var errs []error
	for _, id := range ids {
		b := l.budget(id)
		b.mu.Lock()
		if (b.left > 0 || len(b.pending) > 0) && (before.IsZero() || b.at.Before(before)) {
			if err := l.settle(ctx, id, b); err != nil {
				errs = append(errs, err)
			}
		}
		idle := b.left == 0 && len(b.pending) == 0 && !before.IsZero() && b.bucket.Before(before.Add(-time.Minute)) &&
			(b.full == nil || b.fullUntil.Before(before))
		b.mu.Unlock()
		if idle {
			l.mu.Lock()
			delete(l.workspaces, id)
			l.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// Run settles leases every LeaseTTL and deletes old counter rows every interval (default 1h)
// until ctx ends, then settles every lease. Every replica may run it: deleting rows that
// another replica just deleted is harmless.
func (l *RateLimiter) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Hour
	}
	logger := l.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	keep := l.Retention
	if keep == (postgres.UsageRetention{}) {
		keep = postgres.DefaultUsageRetention
	}
	deleteOld := func() {
		n, err := l.DB.DeleteOldUsage(ctx, l.now(), keep)
		if err != nil && ctx.Err() == nil {
			logger.Warn("delete old usage counters", "err", err)
		} else if n > 0 {
			logger.Info("deleted old usage counters", "rows", n)
		}
	}
	deleteOld()
	t := time.NewTicker(interval)
	defer t.Stop()
	ttl := l.leaseTTL()
	if ttl < 0 {
		ttl = time.Minute
	}
	settle := time.NewTicker(ttl)
	defer settle.Stop()
	for {
		select {
		case <-t.C:
			deleteOld()
		case <-settle.C:
			if err := l.flush(ctx, l.now().Add(-ttl)); err != nil && ctx.Err() == nil {
				logger.Warn("settle rate limit leases", "err", err)
			}
		case <-ctx.Done():
			// The last leases are given back even though ctx has ended.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := l.Flush(fctx); err != nil {
				logger.Warn("settle rate limit leases", "err", err)
			}
			cancel()
			return
		}
	}
}

// rateLimitedBody is the JSON body of a 429.
type rateLimitedBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Window  string `json:"window"`
	ResetAt string `json:"reset_at"`
	// RetryAfter repeats the Retry-After header, in seconds.
	RetryAfter int `json:"retry_after"`
}

func writeRateLimited(w http.ResponseWriter, s *RateStatus, plan string) {
	limit := s.LimitMinute
	per := "minute"
	if s.Window == "day" {
		limit, per = s.LimitDay, "day"
	}
	retry := s.RetryAfter()
	body := rateLimitedBody{
		Code: nubiq.ECodeRateLimited,
		Message: fmt.Sprintf("rate limit exceeded: the %s plan allows %d requests per %s for this workspace; retry after %d seconds (at %s)",
			plan, limit, per, retry, s.ResetAt.UTC().Format(time.RFC3339)),
		Window: s.Window, ResetAt: s.ResetAt.UTC().Format(time.RFC3339), RetryAfter: retry,
	}
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": body})
}
