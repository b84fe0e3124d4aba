package nubiq_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nubiq/hub"
)

func TestKeyExpiryPolicy(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := nubiq.KeyExpiryPolicy{Default: 90 * 24 * time.Hour, Max: 365 * 24 * time.Hour}
	for _, tc := range []struct {
		spec string
		want time.Time
		bad  string // substring of the error message
	}{
		{spec: "", want: now.AddDate(0, 0, 90)},
		{spec: "30d", want: now.AddDate(0, 0, 30)},
		{spec: "2w", want: now.AddDate(0, 0, 14)},
		{spec: "12h", want: now.Add(12 * time.Hour)},
		{spec: "1h30m", want: now.Add(90 * time.Minute)},
		{spec: "365d", want: now.AddDate(0, 0, 365)},
		{spec: "2026-06-01", want: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)},
		{spec: "2026-06-01T10:00:00+02:00", want: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)},
		{spec: "366d", bad: "maximum key lifetime of 365d"},
		{spec: "2030-01-01", bad: "maximum key lifetime"},
		{spec: "2026-02-01", bad: "not in the future"},
		{spec: "0d", bad: "positive whole number of days"},
		{spec: "-5h", bad: "must be positive"},
		{spec: "soon", bad: "use e.g. 90d"},
		{spec: "2026-13-01", bad: "not an RFC 3339 time"},
	} {
		got, err := p.ExpiresAt(tc.spec, now)
		if tc.bad != "" {
			if err == nil || nubiq.ErrorField(err) != "expires" || !strings.Contains(nubiq.ErrorMessage(err), tc.bad) {
				t.Errorf("%q: err = %v, want one containing %q", tc.spec, err, tc.bad)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%q: got %v, %v; want %v", tc.spec, got, err, tc.want)
		}
	}
}
