package mcp

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
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

// RateLimiter enforces plan limits with counters in Postgres: one statement per request
// (postgres.CountRequest), so that every replica shares one budget per workspace. Windows are
// fixed UTC minutes and days. A refused request does not use up budget (see CountRequest).
type RateLimiter struct {
	DB *postgres.DB
	// Now is the clock windows are taken from; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Retention says how long old counter rows are kept; default postgres.DefaultUsageRetention.
	Retention postgres.UsageRetention
}

func (l *RateLimiter) now() time.Time {
	if l.Now != nil {
		return l.Now().UTC()
	}
	return time.Now().UTC()
}

// Allow implements Limiter.
func (l *RateLimiter) Allow(ctx context.Context, c *nubiq.Caller) (*RateStatus, error) {
	if c.PerMinute <= 0 || c.PerDay <= 0 {
		return nil, fmt.Errorf("workspace %d: plan %q has no limits", c.WorkspaceID, c.Plan)
	}
	now := l.now()
	count, err := l.DB.CountRequest(ctx, c.WorkspaceID, c.KeyID, now, c.PerMinute, c.PerDay)
	if err != nil {
		return nil, err
	}
	return rateStatus(count, c.PerMinute, c.PerDay, now), nil
}

// Run deletes old counter rows every interval (default 1h) until ctx ends. Every replica may
// run it: deleting rows that another replica just deleted is harmless.
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
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := l.DB.DeleteOldUsage(ctx, l.now(), keep)
		if err != nil && ctx.Err() == nil {
			logger.Warn("delete old usage counters", "err", err)
		} else if n > 0 {
			logger.Info("deleted old usage counters", "rows", n)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
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
