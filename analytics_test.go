package nubiq_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
)

func TestParsePeriod(t *testing.T) {
	now := time.Date(2026, 3, 10, 15, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name, from, to, tz  string
		wantFrom, wantTo, z string
		field               string
	}{
		{name: "defaults", wantFrom: "2026-02-08T15:04:05Z", wantTo: "2026-03-10T15:04:05Z", z: "UTC"},
		{name: "only to", to: "2026-03-01T00:00:00Z", wantFrom: "2026-01-30T00:00:00Z", wantTo: "2026-03-01T00:00:00Z", z: "UTC"},
		{name: "only from", from: "2026-03-01T00:00:00+01:00", wantFrom: "2026-02-28T23:00:00Z", wantTo: "2026-03-10T15:04:05Z", z: "UTC"},
		{name: "dates are local midnights", from: "2026-03-06", to: "2026-03-10", tz: "America/New_York",
			wantFrom: "2026-03-06T05:00:00Z", wantTo: "2026-03-10T04:00:00Z", z: "America/New_York"},
		{name: "dates in UTC", from: "2026-03-06", to: "2026-03-10", wantFrom: "2026-03-06T00:00:00Z", wantTo: "2026-03-10T00:00:00Z", z: "UTC"},
		{name: "exactly two years", from: "2024-02-29", to: "2026-02-28", tz: "Europe/Paris",
			wantFrom: "2024-02-28T23:00:00Z", wantTo: "2026-02-27T23:00:00Z", z: "Europe/Paris"},
		{name: "over two years", from: "2024-01-01", to: "2026-01-02", field: "from"},
		{name: "empty period", from: "2026-03-01T00:00:00Z", to: "2026-03-01T00:00:00Z", field: "to"},
		{name: "reversed", from: "2026-03-02", to: "2026-03-01", field: "to"},
		{name: "from in the future, to defaulted", from: "2027-01-01", field: "to"},
		{name: "bad from", from: "yesterday", field: "from"},
		{name: "bad to", to: "2026-13-01", field: "to"},
		{name: "unknown zone", tz: "Mars/Olympus_Mons", field: "timezone"},
		{name: "server zone", tz: "Local", field: "timezone"},
		{name: "zone checked before dates", from: "bad", tz: "Nowhere", field: "timezone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := nubiq.ParsePeriod(tc.from, tc.to, tc.tz, now)
			if tc.field != "" {
				require.Error(t, err)
				require.Equal(t, tc.field, nubiq.ErrorField(err), err.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantFrom, p.From.Format(time.RFC3339))
			require.Equal(t, tc.wantTo, p.To.Format(time.RFC3339))
			require.Equal(t, tc.z, p.TimeZone)
		})
	}
}

func TestBucketStarts(t *testing.T) {
	for _, tc := range []struct {
		name, from, to, tz, interval string
		want                         []string
	}{
		{name: "days across spring forward", from: "2026-03-06", to: "2026-03-10", tz: "America/New_York", interval: "day",
			want: []string{"2026-03-06T05:00:00Z", "2026-03-07T05:00:00Z", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"}},
		{name: "days across fall back", from: "2026-10-31", to: "2026-11-03", tz: "America/New_York", interval: "day",
			want: []string{"2026-10-31T04:00:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"}},
		{name: "weeks start on Monday", from: "2026-03-06", to: "2026-03-10", tz: "America/New_York", interval: "week",
			want: []string{"2026-03-02T05:00:00Z", "2026-03-09T04:00:00Z"}},
		{name: "months", from: "2026-01-15", to: "2026-03-02", tz: "UTC", interval: "month",
			want: []string{"2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"}},
		{name: "a partial first day", from: "2026-03-06T12:00:00Z", to: "2026-03-07T00:00:01Z", tz: "UTC", interval: "day",
			want: []string{"2026-03-06T00:00:00Z", "2026-03-07T00:00:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := nubiq.ParsePeriod(tc.from, tc.to, tc.tz, time.Now())
			require.NoError(t, err)
			var got []string
			for _, b := range p.BucketStarts(tc.interval, 100) {
				got = append(got, b.Format(time.RFC3339))
			}
			require.Equal(t, tc.want, got)
		})
	}
	p, err := nubiq.ParsePeriod("2024-01-01", "2025-12-31", "UTC", time.Now())
	require.NoError(t, err)
	require.Len(t, p.BucketStarts("day", 400), 401, "counting stops one past the bound")
	require.Len(t, p.BucketStarts("week", 400), 105)
}
