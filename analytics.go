package nubiq

import (
	"strings"
	"time"

	// Time zone names must resolve the same on every host, including minimal containers
	// without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// Analytics periods: the default length when none is given and the longest allowed.
const (
	DefaultPeriodDays = 30
	MaxPeriodYears    = 2
)

// Period is the half-open interval [From, To) an analytics report covers, and the time zone
// its dates and buckets are read in.
type Period struct {
	From     time.Time      `json:"from"`
	To       time.Time      `json:"to"`
	TimeZone string         `json:"timezone"`
	Location *time.Location `json:"-"`
}

// ParseTimeZone resolves an IANA time zone name; "" is UTC.
func ParseTimeZone(field, name string) (*time.Location, string, error) {
	if name == "" {
		return time.UTC, "UTC", nil
	}
	bad := Invalidf(field, "must be an IANA time zone name such as UTC, Europe/Paris or America/New_York, got %q", name)
	// "Local" would mean the server's zone, which a caller cannot know.
	if len(name) > 64 || strings.EqualFold(name, "local") {
		return nil, "", bad
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, "", bad
	}
	return loc, loc.String(), nil
}

// parsePeriodBound reads an RFC 3339 time, or a date (YYYY-MM-DD) meaning that day's local
// midnight in loc.
func parsePeriodBound(field, s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, Invalidf(field, "must be an RFC 3339 time such as 2026-03-01T00:00:00Z or a date such as 2026-03-01 (midnight in timezone), got %q", s)
	}
	return t.UTC(), nil
}

// ParsePeriod reads the from, to and timezone inputs of an analytics tool. A missing to is
// now; a missing from is DefaultPeriodDays before to. The period may span at most
// MaxPeriodYears.
func ParsePeriod(from, to, timezone string, now time.Time) (Period, error) {
	var p Period
	var err error
	if p.Location, p.TimeZone, err = ParseTimeZone("timezone", timezone); err != nil {
		return p, err
	}
	if p.From, err = parsePeriodBound("from", from, p.Location); err != nil {
		return p, err
	}
	if p.To, err = parsePeriodBound("to", to, p.Location); err != nil {
		return p, err
	}
	if p.To.IsZero() {
		p.To = now.UTC()
	}
	if p.From.IsZero() {
		p.From = p.To.AddDate(0, 0, -DefaultPeriodDays)
	}
	if !p.From.Before(p.To) {
		return p, Invalidf("to", "must be after from (%s), got %s", p.From.Format(time.RFC3339), p.To.Format(time.RFC3339))
	}
	if p.To.After(p.From.In(p.Location).AddDate(MaxPeriodYears, 0, 0)) {
		return p, Invalidf("from", "the period from %s to %s is longer than the %d years allowed", p.From.Format(time.RFC3339), p.To.Format(time.RFC3339), MaxPeriodYears)
	}
	return p, nil
}

// Bucket intervals of a time series.
const (
	IntervalDay   = "day"
	IntervalWeek  = "week"
	IntervalMonth = "month"
)

// MaxSeriesBuckets bounds the length of a time series, so that a response stays readable.
const MaxSeriesBuckets = 400

// BucketStarts returns the start of every interval bucket that overlaps p, in p's time zone:
// local midnights for days, Mondays for weeks, the 1st for months. It stops after max+1
// buckets, so a caller can tell that there are too many.
func (p Period) BucketStarts(interval string, max int) []time.Time {
	trunc := func(t time.Time) time.Time {
		t = t.In(p.Location)
		y, m, d := t.Date()
		switch interval {
		case IntervalWeek:
			wd := (int(t.Weekday()) + 6) % 7 // days since Monday
			return time.Date(y, m, d-wd, 0, 0, 0, 0, p.Location)
		case IntervalMonth:
			return time.Date(y, m, 1, 0, 0, 0, 0, p.Location)
		}
		return time.Date(y, m, d, 0, 0, 0, 0, p.Location)
	}
	step := func(t time.Time) time.Time {
		y, m, d := t.Date()
		switch interval {
		case IntervalWeek:
			return time.Date(y, m, d+7, 0, 0, 0, 0, p.Location)
		case IntervalMonth:
			return time.Date(y, m+1, 1, 0, 0, 0, 0, p.Location)
		}
		return time.Date(y, m, d+1, 0, 0, 0, 0, p.Location)
	}
	var out []time.Time
	for b := trunc(p.From); b.Before(p.To) && len(out) <= max; b = step(b) {
		out = append(out, b.UTC())
	}
	return out
}

// Overview is the KPI summary of a period.
type Overview struct {
	Period        Period                `json:"period"`
	Conversations OverviewConversations `json:"conversations"`
	FirstResponse DurationStats         `json:"first_response" jsonschema:"time from a conversation's creation to the first agent reply, over conversations opened in the period that got one"`
	Resolution    DurationStats         `json:"resolution" jsonschema:"time from creation to resolved_at, over conversations resolved in the period"`
	CSAT          CSATSummary           `json:"csat" jsonschema:"satisfaction ratings given in the period"`
	Tickets       OverviewTickets       `json:"tickets"`
}

// OverviewConversations counts conversations.
type OverviewConversations struct {
	Opened     int `json:"opened" jsonschema:"conversations created in the period"`
	Resolved   int `json:"resolved" jsonschema:"conversations whose resolved_at falls in the period"`
	OpenNow    int `json:"open_now" jsonschema:"conversations open right now, whatever the period"`
	PendingNow int `json:"pending_now" jsonschema:"conversations pending right now, whatever the period"`
}

// DurationStats summarises durations in seconds. Median and mean are absent when Count is 0.
type DurationStats struct {
	Count         int      `json:"count"`
	MedianSeconds *float64 `json:"median_seconds,omitempty"`
	MeanSeconds   *float64 `json:"mean_seconds,omitempty"`
}

// CSATSummary is the average score (1 to 5) and how many ratings it is over; Average is
// absent when there are none.
type CSATSummary struct {
	Average   *float64 `json:"average,omitempty"`
	Responses int      `json:"responses"`
}

// OverviewTickets counts tickets.
type OverviewTickets struct {
	OpenNow int `json:"open_now" jsonschema:"tickets neither solved nor closed right now, whatever the period"`
}

// Ways to split a conversation time series.
const (
	SplitByChannel = "channel"
	SplitByStatus  = "status"
)

// ConversationSeries is conversation volume over time: one point per bucket, every bucket
// present, and when split, one series per group.
type ConversationSeries struct {
	Period   Period        `json:"period"`
	Interval string        `json:"interval"`
	SplitBy  string        `json:"split_by,omitempty"`
	Points   []SeriesPoint `json:"points" jsonschema:"every bucket of the period, oldest first, over all conversations"`
	Series   []SeriesGroup `json:"series" jsonschema:"one series per group when split_by is set, each with every bucket; empty otherwise"`
}

// SeriesGroup is the time series of one channel or status.
type SeriesGroup struct {
	Key         string        `json:"key" jsonschema:"status name, or channel id (\"none\" for conversations without a channel)"`
	Label       string        `json:"label"`
	ChannelKind string        `json:"channel_kind,omitempty"`
	Opened      int           `json:"opened" jsonschema:"total opened over the period"`
	Resolved    int           `json:"resolved" jsonschema:"total resolved over the period"`
	Points      []SeriesPoint `json:"points"`
}

// SeriesPoint counts conversations in one bucket. The first and last buckets may be cut by
// the period's bounds; only conversations within the period count.
type SeriesPoint struct {
	Start    time.Time `json:"start" jsonschema:"the bucket's start, the local midnight of date in the time zone, in UTC"`
	Date     string    `json:"date" jsonschema:"the bucket's first local date (YYYY-MM-DD) in the time zone"`
	Opened   int       `json:"opened" jsonschema:"conversations created in the bucket"`
	Resolved int       `json:"resolved" jsonschema:"conversations whose resolved_at falls in the bucket"`
}

// Satisfaction is the CSAT report of a period.
type Satisfaction struct {
	Period       Period            `json:"period"`
	Average      *float64          `json:"average,omitempty" jsonschema:"mean score of ratings given in the period; absent when there are none"`
	Responses    int               `json:"responses" jsonschema:"ratings given in the period"`
	Distribution ScoreDistribution `json:"distribution"`
	// Response rate: the share of conversations resolved in the period that have a rating.
	ResolvedConversations int             `json:"resolved_conversations" jsonschema:"conversations whose resolved_at falls in the period"`
	RatedResolved         int             `json:"rated_resolved" jsonschema:"of those, how many have a rating"`
	ResponseRate          *float64        `json:"response_rate,omitempty" jsonschema:"rated_resolved divided by resolved_conversations, 0 to 1; absent when nothing was resolved"`
	Comments              []RatingComment `json:"comments" jsonschema:"the latest ratings with a comment, newest first"`
}

// ScoreDistribution counts ratings per score; every score is present.
type ScoreDistribution struct {
	One   int `json:"1"`
	Two   int `json:"2"`
	Three int `json:"3"`
	Four  int `json:"4"`
	Five  int `json:"5"`
}

// RatingComment is a rating with its comment.
type RatingComment struct {
	ConversationID int64     `json:"conversation_id"`
	ContactID      int64     `json:"contact_id,omitempty"`
	ContactName    string    `json:"contact_name,omitempty"`
	Score          int       `json:"score"`
	Comment        string    `json:"comment"`
	CreatedAt      time.Time `json:"created_at"`
}

// Comment list bounds of the satisfaction report.
const (
	DefaultRatingComments = 10
	MaxRatingComments     = 50
)
