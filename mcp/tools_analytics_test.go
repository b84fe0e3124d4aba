package mcp_test

import (
	"strconv"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/mcp/mcptest"
)

// analyticsFixture is a workspace whose figures are worked out by hand below, around the
// start of daylight saving time in New York: 2026-03-08 02:00 EST (07:00Z) becomes 03:00 EDT,
// so local midnight is 05:00Z up to March 8 and 04:00Z from March 9.
type analyticsFixture struct {
	env                *mcptest.Env
	ws, other          int64
	email, widget, sms int64
	c                  map[string]int64 // conversations by fixture name
	ada, bob, cy       int64
}

func newAnalyticsFixture(t *testing.T) *analyticsFixture {
	env := mcptest.New(t, nil, mcptest.WithDeps(func(d *mcp.Deps) {
		d.Now = func() time.Time { return ts("2026-03-10T00:00:00Z") }
	}))
	f := &analyticsFixture{env: env, c: map[string]int64{}}
	f.ws = env.Workspace(t, "Acme Support", "pro")
	f.other = env.Workspace(t, "Globex Support", "pro")
	a := rowsFx{t, env, f.ws}
	b := rowsFx{t, env, f.other}

	f.email = a.channel("email", "Support mailbox")
	f.widget = a.channel("web_widget", "Site chat")
	f.sms = a.channel("sms", "SMS line") // never used: its series is all zeros
	f.ada = a.contact(contactRow{Name: "Ada", Created: "2026-01-01T00:00:00Z"})
	f.bob = a.contact(contactRow{Name: "Bob", Created: "2026-01-01T00:00:00Z"})
	f.cy = a.contact(contactRow{Name: "Cy", Created: "2026-01-01T00:00:00Z"})

	//  name  created (UTC)         New York local     channel  status    first resp  resolved after
	//  c1    03-07 04:30           03-06 23:30 EST    email    resolved  60 s        1 h   (03-07 00:30 EST)
	//  c2    03-07 05:30           03-07 00:30 EST    email    open      120 s       -
	//  c3    03-08 04:30           03-07 23:30 EST    widget   pending   300 s       -
	//  c4    03-08 05:30           03-08 00:30 EST    widget   resolved  -           2 h   (03-08 03:30 EDT)
	//  c5    03-09 03:30           03-08 23:30 EDT    email    closed    30 s        10 min (03-08 23:40 EDT)
	//  c6    03-09 04:30           03-09 00:30 EDT    none     open      -           -
	//  c7    02-20 12:00           (before period)    email    resolved  -           15 days (03-07 07:00 EST)
	//  c8    01-10 12:00           (before period)    email    open      -           -
	for _, c := range []struct {
		name, created, status string
		channel, contact      int64
		first, resolved       time.Duration
	}{
		{"c1", "2026-03-07T04:30:00Z", "resolved", f.email, f.ada, 60 * time.Second, time.Hour},
		{"c2", "2026-03-07T05:30:00Z", "open", f.email, f.bob, 120 * time.Second, 0},
		{"c3", "2026-03-08T04:30:00Z", "pending", f.widget, f.cy, 300 * time.Second, 0},
		{"c4", "2026-03-08T05:30:00Z", "resolved", f.widget, f.ada, 0, 2 * time.Hour},
		{"c5", "2026-03-09T03:30:00Z", "closed", f.email, f.bob, 30 * time.Second, 10 * time.Minute},
		{"c6", "2026-03-09T04:30:00Z", "open", 0, 0, 0, 0},
		{"c7", "2026-02-20T12:00:00Z", "resolved", f.email, f.cy, 0, 15 * 24 * time.Hour},
		{"c8", "2026-01-10T12:00:00Z", "open", f.email, f.ada, 0, 0},
	} {
		f.c[c.name] = a.conversation(conversationRow{Contact: c.contact, Channel: c.channel, Subject: c.name, Status: c.status,
			Created: c.created, FirstResponse: c.first, Resolved: c.resolved})
	}
	// Ratings: four in the period (5, 3, 4, 1), one before it.
	a.rating(f.c["c1"], f.ada, 5, "Great, thanks!", "2026-03-07T06:00:00Z")
	a.rating(f.c["c2"], f.bob, 3, "   ", "2026-03-08T08:00:00Z")
	a.rating(f.c["c5"], f.bob, 4, "Quick answer", "2026-03-09T03:50:00Z")
	a.rating(f.c["c7"], f.cy, 1, "Took two weeks", "2026-03-07T13:00:00Z")
	a.rating(f.c["c8"], f.ada, 2, "Old news", "2026-02-01T00:00:00Z")
	a.ticket(f.ada, "open", "open", "normal", "2026-03-01T00:00:00Z")
	a.ticket(f.ada, "pending", "pending", "normal", "2026-03-01T00:00:00Z")
	a.ticket(f.ada, "on hold", "on_hold", "normal", "2026-03-01T00:00:00Z")
	a.ticket(f.ada, "solved", "solved", "normal", "2026-03-01T00:00:00Z")
	a.ticket(f.ada, "closed", "closed", "normal", "2026-03-01T00:00:00Z")

	// Another workspace, busy in the same period: none of it may count.
	bc := b.channel("email", "Globex mailbox")
	gus := b.contact(contactRow{Name: "Gus", Created: "2026-01-01T00:00:00Z"})
	for i := range 3 {
		id := b.conversation(conversationRow{Contact: gus, Channel: bc, Status: "resolved", Created: "2026-03-07T12:00:00Z",
			FirstResponse: time.Duration(i+1) * time.Hour, Resolved: 5 * time.Hour})
		b.rating(id, gus, 1, "Globex secret", "2026-03-07T20:00:00Z")
	}
	b.ticket(gus, "Globex", "open", "normal", "2026-03-01T00:00:00Z")
	return f
}

func TestAnalyticsOverview(t *testing.T) {
	t.Parallel()
	f := newAnalyticsFixture(t)
	cs := f.env.Client(t, f.env.Key(t, f.ws, nubiq.ScopeAnalyticsRead))

	var o nubiq.Overview
	mustCallSchema(t, f.env, cs, "analytics.overview", map[string]any{
		"from": "2026-03-06", "to": "2026-03-10", "timezone": "America/New_York"}, &o)
	require.Equal(t, ts("2026-03-06T05:00:00Z"), o.Period.From)
	require.Equal(t, ts("2026-03-10T04:00:00Z"), o.Period.To)
	require.Equal(t, "America/New_York", o.Period.TimeZone)
	require.Equal(t, nubiq.OverviewConversations{Opened: 6, Resolved: 4, OpenNow: 3, PendingNow: 1}, o.Conversations)
	// First responses of c1..c6: 30, 60, 120, 300 s.
	require.Equal(t, 4, o.FirstResponse.Count)
	require.Equal(t, 90.0, *o.FirstResponse.MedianSeconds)
	require.Equal(t, 127.5, *o.FirstResponse.MeanSeconds)
	// Resolved in the period: c5 600 s, c1 3600 s, c4 7200 s, c7 15 days.
	require.Equal(t, 4, o.Resolution.Count)
	require.Equal(t, 5400.0, *o.Resolution.MedianSeconds)
	require.Equal(t, 326850.0, *o.Resolution.MeanSeconds)
	require.Equal(t, 4, o.CSAT.Responses)
	require.Equal(t, 3.25, *o.CSAT.Average)
	require.Equal(t, 3, o.Tickets.OpenNow)

	t.Run("the same dates in UTC cut elsewhere", func(t *testing.T) {
		// 03-06T00Z..03-09T03Z: c1..c4 opened, first responses 60, 120, 300 s; c1, c4, c7
		// resolved (c5 only at 03:40).
		var u nubiq.Overview
		mustCallSchema(t, f.env, cs, "analytics.overview", map[string]any{"from": "2026-03-06", "to": "2026-03-09T03:00:00Z"}, &u)
		require.Equal(t, "UTC", u.Period.TimeZone)
		require.Equal(t, ts("2026-03-06T00:00:00Z"), u.Period.From)
		require.Equal(t, 4, u.Conversations.Opened)
		require.Equal(t, 3, u.Conversations.Resolved)
		require.Equal(t, 3, u.FirstResponse.Count)
		require.Equal(t, 160.0, *u.FirstResponse.MeanSeconds)
		require.Equal(t, 120.0, *u.FirstResponse.MedianSeconds)
		require.Equal(t, 7200.0, *u.Resolution.MedianSeconds) // 3600, 7200, 1296000
	})

	t.Run("default period is the last 30 days", func(t *testing.T) {
		var d nubiq.Overview
		mustCallSchema(t, f.env, cs, "analytics.overview", map[string]any{}, &d)
		require.Equal(t, ts("2026-02-08T00:00:00Z"), d.Period.From)
		require.Equal(t, ts("2026-03-10T00:00:00Z"), d.Period.To)
		require.Equal(t, "UTC", d.Period.TimeZone)
		require.Equal(t, 7, d.Conversations.Opened) // c1..c7
		require.Equal(t, 4, d.Conversations.Resolved)
	})

	t.Run("an empty period has counts but no averages", func(t *testing.T) {
		var e nubiq.Overview
		mustCallSchema(t, f.env, cs, "analytics.overview", map[string]any{"from": "2025-01-01", "to": "2025-02-01"}, &e)
		require.Zero(t, e.Conversations.Opened)
		require.Zero(t, e.FirstResponse.Count)
		require.Nil(t, e.FirstResponse.MedianSeconds)
		require.Nil(t, e.Resolution.MedianSeconds)
		require.Nil(t, e.CSAT.Average)
		require.Equal(t, 3, e.Conversations.OpenNow, "current counts ignore the period")
		require.Equal(t, 3, e.Tickets.OpenNow)
	})

	t.Run("another workspace sees only its own", func(t *testing.T) {
		ocs := f.env.Client(t, f.env.Key(t, f.other, nubiq.ScopeAnalyticsRead))
		var g nubiq.Overview
		mustCallSchema(t, f.env, ocs, "analytics.overview", map[string]any{"from": "2026-03-06", "to": "2026-03-10"}, &g)
		require.Equal(t, nubiq.OverviewConversations{Opened: 3, Resolved: 3}, g.Conversations)
		require.Equal(t, 7200.0, *g.FirstResponse.MedianSeconds)
		require.Equal(t, 1.0, *g.CSAT.Average)
		require.Equal(t, 1, g.Tickets.OpenNow)
	})

	t.Run("bad input names the field", func(t *testing.T) {
		periodErrors(t, cs, "analytics.overview")
	})
}

// periodErrors checks the refusals every analytics tool shares.
func periodErrors(t *testing.T, cs *sdk.ClientSession, tool string) {
	t.Helper()
	mustFailField(t, cs, tool, map[string]any{"timezone": "Mars/Olympus_Mons"}, "invalid", "timezone")
	mustFailField(t, cs, tool, map[string]any{"timezone": "Local"}, "invalid", "timezone")
	mustFailField(t, cs, tool, map[string]any{"timezone": 5}, "invalid", "timezone")
	mustFailField(t, cs, tool, map[string]any{"from": "last month"}, "invalid", "from")
	mustFailField(t, cs, tool, map[string]any{"to": "2026-02-30"}, "invalid", "to")
	mustFailField(t, cs, tool, map[string]any{"from": "2026-03-05", "to": "2026-03-01"}, "invalid", "to")
	mustFailField(t, cs, tool, map[string]any{"from": "2020-01-01", "to": "2026-01-01"}, "invalid", "from")
	mustFailField(t, cs, tool, map[string]any{"period": "30d"}, "invalid", "period")
}

func summarize(points []nubiq.SeriesPoint) (opened, resolved []int) {
	for _, p := range points {
		opened = append(opened, p.Opened)
		resolved = append(resolved, p.Resolved)
	}
	return opened, resolved
}

func TestAnalyticsConversations(t *testing.T) {
	t.Parallel()
	f := newAnalyticsFixture(t)
	cs := f.env.Client(t, f.env.Key(t, f.ws, nubiq.ScopeAnalyticsRead))
	ny := map[string]any{"from": "2026-03-06", "to": "2026-03-10", "timezone": "America/New_York"}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range ny {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	series := func(args map[string]any) nubiq.ConversationSeries {
		t.Helper()
		var s nubiq.ConversationSeries
		mustCallSchema(t, f.env, cs, "analytics.conversations", args, &s)
		return s
	}

	t.Run("days in New York across the DST change", func(t *testing.T) {
		s := series(ny)
		require.Equal(t, "day", s.Interval)
		require.Empty(t, s.Series)
		var starts, dates []string
		for _, p := range s.Points {
			starts = append(starts, p.Start.Format(time.RFC3339))
			dates = append(dates, p.Date)
		}
		require.Equal(t, []string{"2026-03-06T05:00:00Z", "2026-03-07T05:00:00Z", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"}, starts)
		require.Equal(t, []string{"2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09"}, dates)
		opened, resolved := summarize(s.Points)
		require.Equal(t, []int{1, 2, 2, 1}, opened)   // c1 | c2 c3 | c4 c5 | c6
		require.Equal(t, []int{0, 2, 2, 0}, resolved) // - | c1 c7 | c4 c5 | -
	})

	t.Run("the same instants by UTC day", func(t *testing.T) {
		s := series(map[string]any{"from": "2026-03-06", "to": "2026-03-10"})
		opened, resolved := summarize(s.Points)
		require.Equal(t, []int{0, 2, 2, 2}, opened)   // - | c1 c2 | c3 c4 | c5 c6
		require.Equal(t, []int{0, 2, 1, 1}, resolved) // - | c1 c7 | c4 | c5
		require.Equal(t, "2026-03-09T00:00:00Z", s.Points[3].Start.Format(time.RFC3339))
	})

	t.Run("weeks and months", func(t *testing.T) {
		w := series(with(map[string]any{"interval": "week"}))
		require.Len(t, w.Points, 2)
		require.Equal(t, "2026-03-02", w.Points[0].Date)
		require.Equal(t, ts("2026-03-02T05:00:00Z"), w.Points[0].Start)
		require.Equal(t, ts("2026-03-09T04:00:00Z"), w.Points[1].Start)
		opened, resolved := summarize(w.Points)
		require.Equal(t, []int{5, 1}, opened)
		require.Equal(t, []int{4, 0}, resolved)

		m := series(map[string]any{"from": "2026-01-01", "to": "2026-04-01", "timezone": "America/New_York", "interval": "month"})
		require.Len(t, m.Points, 3)
		require.Equal(t, ts("2026-03-01T05:00:00Z"), m.Points[2].Start)
		opened, resolved = summarize(m.Points)
		require.Equal(t, []int{1, 1, 6}, opened)   // c8 | c7 | c1..c6
		require.Equal(t, []int{0, 0, 4}, resolved) // c7 was resolved in March
	})

	t.Run("split by channel, every channel and bucket present", func(t *testing.T) {
		s := series(with(map[string]any{"split_by": "channel"}))
		require.Equal(t, "channel", s.SplitBy)
		got := map[string][2][]int{}
		var keys []string
		for _, g := range s.Series {
			keys = append(keys, g.Key)
			o, r := summarize(g.Points)
			got[g.Key] = [2][]int{o, r}
			require.Len(t, g.Points, 4)
		}
		email, widget, sms := strconv.FormatInt(f.email, 10), strconv.FormatInt(f.widget, 10), strconv.FormatInt(f.sms, 10)
		require.Equal(t, []string{"none", email, widget, sms}, keys, "no channel first, then channels by id; no other workspace's channel")
		require.Equal(t, [2][]int{{0, 0, 0, 1}, {0, 0, 0, 0}}, got["none"])
		require.Equal(t, [2][]int{{1, 1, 1, 0}, {0, 2, 1, 0}}, got[email])
		require.Equal(t, [2][]int{{0, 1, 1, 0}, {0, 0, 1, 0}}, got[widget])
		require.Equal(t, [2][]int{{0, 0, 0, 0}, {0, 0, 0, 0}}, got[sms])
		require.Equal(t, "Support mailbox", s.Series[1].Label)
		require.Equal(t, "email", s.Series[1].ChannelKind)
		require.Equal(t, 3, s.Series[1].Opened)
		require.Equal(t, 3, s.Series[1].Resolved)
		opened, resolved := summarize(s.Points)
		require.Equal(t, []int{1, 2, 2, 1}, opened, "the totals are there when split too")
		require.Equal(t, []int{0, 2, 2, 0}, resolved)
	})

	t.Run("split by status", func(t *testing.T) {
		s := series(with(map[string]any{"split_by": "status"}))
		got := map[string][2][]int{}
		var keys []string
		for _, g := range s.Series {
			keys = append(keys, g.Key)
			o, r := summarize(g.Points)
			got[g.Key] = [2][]int{o, r}
		}
		require.Equal(t, []string{"open", "pending", "snoozed", "resolved", "closed"}, keys)
		require.Equal(t, [2][]int{{0, 1, 0, 1}, {0, 0, 0, 0}}, got["open"])     // c2, c6
		require.Equal(t, [2][]int{{0, 1, 0, 0}, {0, 0, 0, 0}}, got["pending"])  // c3
		require.Equal(t, [2][]int{{0, 0, 0, 0}, {0, 0, 0, 0}}, got["snoozed"])  // none
		require.Equal(t, [2][]int{{1, 0, 1, 0}, {0, 2, 1, 0}}, got["resolved"]) // c1, c4; c7 resolved only
		require.Equal(t, [2][]int{{0, 0, 1, 0}, {0, 0, 1, 0}}, got["closed"])   // c5
	})

	t.Run("channel split without channels still lists the buckets", func(t *testing.T) {
		empty := f.env.Workspace(t, "Empty", "pro")
		ecs := f.env.Client(t, f.env.Key(t, empty, nubiq.ScopeAnalyticsRead))
		var s nubiq.ConversationSeries
		mustCallSchema(t, f.env, ecs, "analytics.conversations", with(map[string]any{"split_by": "channel"}), &s)
		require.Empty(t, s.Series)
		require.Len(t, s.Points, 4)
		require.Equal(t, ts("2026-03-09T04:00:00Z"), s.Points[3].Start)
		require.Equal(t, "2026-03-09", s.Points[3].Date)
	})

	t.Run("bad input names the field", func(t *testing.T) {
		periodErrors(t, cs, "analytics.conversations")
		mustFailField(t, cs, "analytics.conversations", with(map[string]any{"interval": "hour"}), "invalid", "interval")
		mustFailField(t, cs, "analytics.conversations", with(map[string]any{"split_by": "agent"}), "invalid", "split_by")
		mustFailField(t, cs, "analytics.conversations", map[string]any{"from": "2024-03-10", "to": "2026-03-10"}, "invalid", "interval")
		// The same two years by week are fine.
		s := series(map[string]any{"from": "2024-03-10", "to": "2026-03-10", "interval": "week"})
		require.Len(t, s.Points, 106)
	})
}

func TestAnalyticsSatisfaction(t *testing.T) {
	t.Parallel()
	f := newAnalyticsFixture(t)
	cs := f.env.Client(t, f.env.Key(t, f.ws, nubiq.ScopeAnalyticsRead))
	ny := map[string]any{"from": "2026-03-06", "to": "2026-03-10", "timezone": "America/New_York"}

	var s nubiq.Satisfaction
	mustCallSchema(t, f.env, cs, "analytics.satisfaction", ny, &s)
	require.Equal(t, 4, s.Responses)
	require.Equal(t, 3.25, *s.Average)
	require.Equal(t, nubiq.ScoreDistribution{One: 1, Two: 0, Three: 1, Four: 1, Five: 1}, s.Distribution)
	// Resolved in the period: c1, c4, c5, c7; rated: c1, c5, c7.
	require.Equal(t, 4, s.ResolvedConversations)
	require.Equal(t, 3, s.RatedResolved)
	require.Equal(t, 0.75, *s.ResponseRate)
	var comments []string
	for _, c := range s.Comments {
		comments = append(comments, c.Comment)
	}
	require.Equal(t, []string{"Quick answer", "Took two weeks", "Great, thanks!"}, comments, "newest first, blank comments left out")
	require.Equal(t, f.c["c5"], s.Comments[0].ConversationID)
	require.Equal(t, f.bob, s.Comments[0].ContactID)
	require.Equal(t, "Bob", s.Comments[0].ContactName)
	require.Equal(t, 4, s.Comments[0].Score)
	require.Equal(t, ts("2026-03-09T03:50:00Z"), s.Comments[0].CreatedAt)

	t.Run("the distribution keeps every score", func(t *testing.T) {
		r := mcptest.Call(t, cs, "analytics.satisfaction", map[string]any{"from": "2025-01-01", "to": "2025-02-01"})
		require.Nil(t, r.Error)
		require.Contains(t, string(r.JSON), `"distribution":{"1":0,"2":0,"3":0,"4":0,"5":0}`)
		var e nubiq.Satisfaction
		mustCallSchema(t, f.env, cs, "analytics.satisfaction", map[string]any{"from": "2025-01-01", "to": "2025-02-01"}, &e)
		require.Nil(t, e.Average)
		require.Nil(t, e.ResponseRate)
		require.Empty(t, e.Comments)
	})

	t.Run("comment count", func(t *testing.T) {
		var two nubiq.Satisfaction
		mustCallSchema(t, f.env, cs, "analytics.satisfaction", map[string]any{"from": "2026-03-06", "to": "2026-03-10", "comments": 2}, &two)
		require.Len(t, two.Comments, 2)
		require.Equal(t, "Quick answer", two.Comments[0].Comment)
		var none nubiq.Satisfaction
		mustCallSchema(t, f.env, cs, "analytics.satisfaction", map[string]any{"from": "2026-03-06", "to": "2026-03-10", "comments": 0}, &none)
		require.Empty(t, none.Comments)
		require.Equal(t, 4, none.Responses)
	})

	t.Run("another workspace's ratings never show", func(t *testing.T) {
		for _, c := range s.Comments {
			require.NotEqual(t, "Globex secret", c.Comment)
		}
		ocs := f.env.Client(t, f.env.Key(t, f.other, nubiq.ScopeAnalyticsRead))
		var g nubiq.Satisfaction
		mustCallSchema(t, f.env, ocs, "analytics.satisfaction", ny, &g)
		require.Equal(t, 3, g.Responses)
		require.Equal(t, nubiq.ScoreDistribution{One: 3}, g.Distribution)
		require.Equal(t, 1.0, *g.ResponseRate)
	})

	t.Run("bad input names the field", func(t *testing.T) {
		periodErrors(t, cs, "analytics.satisfaction")
		mustFailField(t, cs, "analytics.satisfaction", map[string]any{"comments": 51}, "invalid", "comments")
		mustFailField(t, cs, "analytics.satisfaction", map[string]any{"comments": -1}, "invalid", "comments")
		mustFailField(t, cs, "analytics.satisfaction", map[string]any{"comments": "all"}, "invalid", "comments")
	})

	t.Run("needs analytics:read", func(t *testing.T) {
		ncs := f.env.Client(t, f.env.Key(t, f.ws, nubiq.ScopeContactsRead))
		mcptest.MustFail(t, ncs, "analytics.satisfaction", map[string]any{}, "forbidden")
	})
}
