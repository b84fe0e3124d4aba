package mcp

import (
	"context"

	"github.com/nubiq/hub"
)

func analyticsTools(d *Deps) []*Tool {
	return []*Tool{
		describePeriod(NewTool(ToolSpec{Name: "analytics.overview", Title: "Support KPIs", Scope: nubiq.ScopeAnalyticsRead, ReadOnly: true,
			Description: "Key support metrics over a period in a time zone: conversations opened and resolved, currently open and pending, first-response and resolution times, CSAT and open tickets." + periodHelp},
			d.analyticsOverview)),
		describePeriod(NewTool(ToolSpec{Name: "analytics.conversations", Title: "Conversation volume over time", Scope: nubiq.ScopeAnalyticsRead, ReadOnly: true,
			Description: "Conversation counts over time by day, week or month, optionally split by channel or status." +
				" Each bucket counts conversations opened (created) and resolved in it; buckets follow the calendar of the time zone (weeks start on Monday), and every bucket is listed, zero or not." + periodHelp},
			d.analyticsConversations).
			Enum("interval", nubiq.IntervalDay, nubiq.IntervalWeek, nubiq.IntervalMonth).
			Enum("split_by", nubiq.SplitByChannel, nubiq.SplitByStatus)),
		describePeriod(NewTool(ToolSpec{Name: "analytics.satisfaction", Title: "Customer satisfaction", Scope: nubiq.ScopeAnalyticsRead, ReadOnly: true,
			Description: "CSAT over a period: average score, distribution over 1-5, response rate and the latest comments." +
				" The response rate is the share of conversations resolved in the period that received a rating." + periodHelp},
			d.analyticsSatisfaction)),
	}
}

const periodHelp = " The period is from (inclusive) to to (exclusive), by default the last 30 days, at most 2 years; a plain date such as 2026-03-01 means midnight in timezone."

// The period inputs every analytics tool takes. They are repeated in each input struct rather
// than embedded, so that decoding errors name the plain field.
const (
	fromHelp     = "start of the period, inclusive: an RFC 3339 time or a date (YYYY-MM-DD, midnight in timezone); default 30 days before to"
	toHelp       = "end of the period, exclusive: an RFC 3339 time or a date (YYYY-MM-DD, midnight in timezone); default now"
	timeZoneHelp = "IANA time zone name (e.g. Europe/Paris) for dates and buckets; default UTC"
)

type periodIn struct {
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
	TimeZone string `json:"timezone,omitempty"`
}

// describePeriod documents the period inputs of t.
func describePeriod(t *Tool) *Tool {
	return t.Describe("from", fromHelp).Describe("to", toHelp).Describe("timezone", timeZoneHelp)
}

func (d *Deps) period(from, to, timezone string) (nubiq.Period, error) {
	return nubiq.ParsePeriod(from, to, timezone, d.now())
}

func (d *Deps) analyticsOverview(ctx context.Context, in periodIn) (nubiq.Overview, error) {
	if d.DB == nil {
		return nubiq.Overview{}, errNotAvailable("analytics.overview")
	}
	p, err := d.period(in.From, in.To, in.TimeZone)
	if err != nil {
		return nubiq.Overview{}, err
	}
	o, err := d.DB.Overview(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, p)
	if err != nil {
		return nubiq.Overview{}, err
	}
	return *o, nil
}

type conversationSeriesIn struct {
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
	TimeZone string `json:"timezone,omitempty"`
	Interval string `json:"interval,omitempty" jsonschema:"bucket size: day, week (starting Monday) or month; default day"`
	SplitBy  string `json:"split_by,omitempty" jsonschema:"also give one series per channel or per current status"`
}

func (d *Deps) analyticsConversations(ctx context.Context, in conversationSeriesIn) (nubiq.ConversationSeries, error) {
	var zero nubiq.ConversationSeries
	if d.DB == nil {
		return zero, errNotAvailable("analytics.conversations")
	}
	p, err := d.period(in.From, in.To, in.TimeZone)
	if err != nil {
		return zero, err
	}
	if in.Interval == "" {
		in.Interval = nubiq.IntervalDay
	}
	switch in.Interval {
	case nubiq.IntervalDay, nubiq.IntervalWeek, nubiq.IntervalMonth:
	default:
		return zero, nubiq.Invalidf("interval", "must be day, week or month, got %q", in.Interval)
	}
	switch in.SplitBy {
	case "", nubiq.SplitByChannel, nubiq.SplitByStatus:
	default:
		return zero, nubiq.Invalidf("split_by", "must be channel or status (or omitted), got %q", in.SplitBy)
	}
	if n := len(p.BucketStarts(in.Interval, nubiq.MaxSeriesBuckets)); n > nubiq.MaxSeriesBuckets {
		return zero, nubiq.Invalidf("interval", "a %s series over this period has more than %d buckets; use a longer interval or a shorter period", in.Interval, nubiq.MaxSeriesBuckets)
	}
	s, err := d.DB.ConversationSeries(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, p, in.Interval, in.SplitBy)
	if err != nil {
		return zero, err
	}
	return *s, nil
}

type satisfactionIn struct {
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
	TimeZone string `json:"timezone,omitempty"`
	Comments *int   `json:"comments,omitempty" jsonschema:"how many of the latest comments to return, 0 to 50; default 10"`
}

func (d *Deps) analyticsSatisfaction(ctx context.Context, in satisfactionIn) (nubiq.Satisfaction, error) {
	var zero nubiq.Satisfaction
	if d.DB == nil {
		return zero, errNotAvailable("analytics.satisfaction")
	}
	p, err := d.period(in.From, in.To, in.TimeZone)
	if err != nil {
		return zero, err
	}
	n := nubiq.DefaultRatingComments
	if in.Comments != nil {
		n = *in.Comments
		if n < 0 || n > nubiq.MaxRatingComments {
			return zero, nubiq.Invalidf("comments", "must be between 0 and %d, got %d", nubiq.MaxRatingComments, n)
		}
	}
	s, err := d.DB.Satisfaction(ctx, nubiq.CallerFromContext(ctx).WorkspaceID, p, n)
	if err != nil {
		return zero, err
	}
	return *s, nil
}
