package nubiq_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
)

func TestCurrentUsageWindows(t *testing.T) {
	for _, tc := range []struct{ now, minute, day, month string }{
		{"2025-03-15T10:30:45Z", "2025-03-15T10:30:00Z", "2025-03-15T00:00:00Z", "2025-03-01T00:00:00Z"},
		{"2025-03-15T23:59:59.999+01:00", "2025-03-15T22:59:00Z", "2025-03-15T00:00:00Z", "2025-03-01T00:00:00Z"},
		{"2025-04-01T00:30:00+02:00", "2025-03-31T22:30:00Z", "2025-03-31T00:00:00Z", "2025-03-01T00:00:00Z"},
		{"2024-12-31T23:59:00Z", "2024-12-31T23:59:00Z", "2024-12-31T00:00:00Z", "2024-12-01T00:00:00Z"},
	} {
		now, err := time.Parse(time.RFC3339Nano, tc.now)
		require.NoError(t, err)
		w := nubiq.CurrentUsageWindows(now)
		require.Equal(t, nubiq.UsageWindows{Minute: mustTime(tc.minute), Day: mustTime(tc.day), Month: mustTime(tc.month)}, w, tc.now)
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
