package nubiq

import (
	"strconv"
	"strings"
	"time"
)

// KeyExpiryPolicy bounds API key lifetimes: every key expires, by Default when no expiry is
// asked for, and never later than Max after creation.
type KeyExpiryPolicy struct {
	Default time.Duration
	Max     time.Duration
}

// DefaultKeyExpiryPolicy is 90 days by default and a year at most.
var DefaultKeyExpiryPolicy = KeyExpiryPolicy{Default: 90 * 24 * time.Hour, Max: 365 * 24 * time.Hour}

// ParseLifetime parses a key lifetime: a whole number of days ("90d"), weeks ("2w"), hours
// ("12h") or minutes ("30m"), or any Go duration ("1h30m").
func ParseLifetime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n := len(s); n >= 2 {
		unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[n-1]]
		if unit != 0 {
			v, err := strconv.Atoi(s[:n-1])
			if err != nil || v <= 0 || v > 100000 {
				return 0, Invalidf("expires", "%q is not a positive whole number of %s", s, map[byte]string{'d': "days", 'w': "weeks"}[s[n-1]])
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, Invalidf("expires", "%q is not a lifetime; use e.g. 90d, 2w, 12h or 30m, or an RFC 3339 date such as 2027-01-31 or 2027-01-31T12:00:00Z", s)
	}
	if d <= 0 {
		return 0, Invalidf("expires", "%q must be positive", s)
	}
	return d, nil
}

// ExpiresAt resolves an expiry given as a lifetime ("90d", "12h"), an RFC 3339 time or a date
// (midnight UTC), or empty for the default, and checks it against the policy at now.
func (p KeyExpiryPolicy) ExpiresAt(spec string, now time.Time) (time.Time, error) {
	now = now.UTC()
	spec = strings.TrimSpace(spec)
	var at time.Time
	switch {
	case spec == "":
		at = now.Add(p.Default)
	case len(spec) >= 10 && spec[4] == '-':
		t, err := time.Parse(time.RFC3339, spec)
		if err != nil {
			t, err = time.Parse(time.DateOnly, spec)
		}
		if err != nil {
			return time.Time{}, Invalidf("expires", "%q is not an RFC 3339 time (2027-01-31T12:00:00Z) or a date (2027-01-31)", spec)
		}
		at = t.UTC()
	default:
		d, err := ParseLifetime(spec)
		if err != nil {
			return time.Time{}, err
		}
		at = now.Add(d)
	}
	if !at.After(now) {
		return time.Time{}, Invalidf("expires", "%s is not in the future", at.Format(time.RFC3339))
	}
	if p.Max > 0 && at.Sub(now) > p.Max {
		return time.Time{}, Invalidf("expires", "%s is more than the maximum key lifetime of %s from now (latest allowed: %s)",
			at.Format(time.RFC3339), FormatLifetime(p.Max), now.Add(p.Max).Format(time.RFC3339))
	}
	return at.Truncate(time.Second), nil
}

// FormatLifetime writes whole days as "90d" and anything else as a Go duration.
func FormatLifetime(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}
