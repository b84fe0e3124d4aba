package nubiq_test

import (
	"testing"
	"time"

	"github.com/nubiq/hub"
)

func TestCursorRoundTripAndKindCheck(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	s := nubiq.Cursor{Kind: "tickets", Time: at, ID: 42}.Encode()
	c, err := nubiq.DecodeCursor("tickets", s)
	if err != nil || c.ID != 42 || !c.Time.Equal(at) {
		t.Fatalf("round trip: %+v, %v", c, err)
	}
	for _, bad := range []string{s[:len(s)-3], "%%%", "eyJrIjoieCJ9"} {
		if _, err := nubiq.DecodeCursor("tickets", bad); nubiq.ErrorField(err) != "cursor" {
			t.Errorf("cursor %q: err = %v, want invalid cursor", bad, err)
		}
	}
	if _, err := nubiq.DecodeCursor("conversations", s); err == nil {
		t.Error("a tickets cursor was accepted by another list")
	}
	if c, err := nubiq.DecodeCursor("tickets", ""); c != nil || err != nil {
		t.Error("empty cursor should be the first page")
	}
}

func TestPageLimit(t *testing.T) {
	for _, tc := range []struct {
		in, want int
		ok       bool
	}{{0, 20, true}, {1, 1, true}, {100, 100, true}, {101, 0, false}, {-1, 0, false}} {
		got, err := nubiq.PageLimit(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("PageLimit(%d) = %d, %v", tc.in, got, err)
		}
	}
}

func TestParseTimeRange(t *testing.T) {
	if _, err := nubiq.ParseTimeRange("created_after", "2026-02-01T00:00:00Z", "created_before", "2026-01-01T00:00:00Z"); nubiq.ErrorField(err) != "created_before" {
		t.Errorf("inverted range: %v", err)
	}
	if _, err := nubiq.ParseTimeRange("created_after", "yesterday", "created_before", ""); nubiq.ErrorField(err) != "created_after" {
		t.Errorf("bad time: %v", err)
	}
}
