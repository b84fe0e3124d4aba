package mcp

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nubiq/hub/postgres"
)

func TestRateStatusMath(t *testing.T) {
	at := time.Date(2030, 5, 31, 23, 59, 20, 250e6, time.UTC)
	for _, tc := range []struct {
		name                  string
		count                 postgres.RequestCount
		remMin, remDay, retry int
		window                string
		reset                 time.Time
	}{
		{name: "first", count: postgres.RequestCount{Allowed: true, Minute: 1, Day: 1}, remMin: 59, remDay: 9999},
		{name: "last of minute", count: postgres.RequestCount{Allowed: true, Minute: 60, Day: 500}, remMin: 0, remDay: 9500},
		{name: "minute full", count: postgres.RequestCount{Refused: "minute", Minute: 60, Day: 500}, remMin: 0, remDay: 9500,
			window: "minute", retry: 40, reset: time.Date(2030, 5, 31, 23, 60, 0, 0, time.UTC)},
		{name: "day full", count: postgres.RequestCount{Refused: "day", Minute: 12, Day: 10000}, remMin: 48, remDay: 0,
			window: "day", retry: 40, reset: time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)},
		{name: "counts above limits never go negative", count: postgres.RequestCount{Refused: "minute", Minute: 61, Day: 10001}, remMin: 0, remDay: 0,
			window: "minute", retry: 40, reset: time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := rateStatus(&tc.count, 60, 10000, at)
			if s.RemainingMinute != tc.remMin || s.RemainingDay != tc.remDay || s.Allowed != tc.count.Allowed || s.Window != tc.window {
				t.Errorf("status %+v", s)
			}
			if tc.window != "" {
				if !s.ResetAt.Equal(tc.reset) || s.RetryAfter() != tc.retry {
					t.Errorf("reset %v retry %d, want %v %d", s.ResetAt, s.RetryAfter(), tc.reset, tc.retry)
				}
			}
			rec := httptest.NewRecorder()
			s.SetHeaders(rec.Header())
			if len(rec.Header()) != 4 || rec.Header()["X-RateLimit-Limit-Minute"][0] != "60" {
				t.Errorf("headers %v", rec.Header())
			}
		})
	}
	// A refusal in the last instant of a window still says to wait a whole second.
	s := rateStatus(&postgres.RequestCount{Refused: "minute", Minute: 60}, 60, 10000, time.Date(2030, 1, 1, 0, 0, 59, 999e6, time.UTC))
	if s.RetryAfter() != 1 {
		t.Errorf("retry after %d at the end of the window, want 1", s.RetryAfter())
	}
}
