package nubiq

import (
	"encoding/base64"
	"encoding/json"
	"time"
)

// Paging defaults shared by every list tool.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// PageLimit validates a requested page size: 0 means the default; 1..MaxPageSize is allowed.
func PageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultPageSize, nil
	case n < 1 || n > MaxPageSize:
		return 0, Invalidf("limit", "must be between 1 and %d, got %d", MaxPageSize, n)
	}
	return n, nil
}

// Cursor is a keyset position: the sort key and id of the last row of a page. It travels as
// an opaque string tagged with the list it belongs to, so a cursor from one list (or one
// sort order) is refused by another rather than silently misread.
type Cursor struct {
	Kind string    `json:"k"`
	Time time.Time `json:"t,omitzero"`
	Num  float64   `json:"n,omitempty"`
	Str  string    `json:"s,omitempty"`
	ID   int64     `json:"i"`
}

// Encode returns the opaque form.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses an opaque cursor for the list kind. An empty string is the first page
// (nil, nil).
func DecodeCursor(kind, s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	bad := Invalidf("cursor", "not a valid cursor for this list; pass next_cursor back unchanged, or omit it for the first page")
	if len(s) > 512 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Kind != kind {
		return nil, bad
	}
	return &c, nil
}

// ParseTime parses an optional RFC 3339 timestamp input; "" is the zero time.
func ParseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, Invalidf(field, "must be an RFC 3339 timestamp such as 2026-01-31T09:00:00Z, got %q", s)
	}
	return t.UTC(), nil
}

// TimeRange is an optional half-open interval [From, To) for list filters.
type TimeRange struct {
	From, To time.Time
}

// ParseTimeRange parses a pair of optional RFC 3339 inputs named fromField and toField and
// checks that from is before to.
func ParseTimeRange(fromField, from, toField, to string) (TimeRange, error) {
	var r TimeRange
	var err error
	if r.From, err = ParseTime(fromField, from); err != nil {
		return r, err
	}
	if r.To, err = ParseTime(toField, to); err != nil {
		return r, err
	}
	if !r.From.IsZero() && !r.To.IsZero() && !r.From.Before(r.To) {
		return r, Invalidf(toField, "must be after %s", fromField)
	}
	return r, nil
}
