package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nubiq/hub"
)

// Analytics read the period as a half-open interval [from, to) of instants; the time zone
// only decides where day, week and month buckets start. Durations come out in seconds.

// analyticsErr maps a time zone that Go knows but this server's PostgreSQL does not (their
// tz databases can differ in age) to a refusal naming the field.
func analyticsErr(what string, p nubiq.Period, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22023" {
		return nubiq.Invalidf("timezone", "time zone %q is not known to the database; use another IANA name", p.TimeZone)
	}
	return fmt.Errorf("%s: %w", what, unavailable(err))
}

// round1 rounds to one decimal, keeping nil as nil.
func round1(v *float64) *float64 {
	if v == nil {
		return nil
	}
	r := math.Round(*v*10) / 10
	return &r
}

func round2(v *float64) *float64 {
	if v == nil {
		return nil
	}
	r := math.Round(*v*100) / 100
	return &r
}

// Overview computes the KPI summary of a period. "Now" counts (open, pending conversations,
// open tickets) ignore the period.
func (db *DB) Overview(ctx context.Context, workspaceID int64, p nubiq.Period) (*nubiq.Overview, error) {
	o := &nubiq.Overview{Period: p}
	err := db.Pool.QueryRow(ctx, `
		WITH opened AS (
			SELECT count(*) AS n,
			       count(first_response_at) AS frt_n,
			       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_response_at - created_at)::float8) AS frt_median,
			       avg(extract(epoch FROM first_response_at - created_at)::float8) AS frt_mean
			FROM conversations
			WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3
		), resolved AS (
			SELECT count(*) AS n,
			       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - created_at)::float8) AS median,
			       avg(extract(epoch FROM resolved_at - created_at)::float8) AS mean
			FROM conversations
			WHERE workspace_id = $1 AND resolved_at >= $2 AND resolved_at < $3
		), now_counts AS (
			SELECT count(*) FILTER (WHERE status = 'open') AS open, count(*) FILTER (WHERE status = 'pending') AS pending
			FROM conversations
			WHERE workspace_id = $1 AND status IN ('open', 'pending')
		), csat AS (
			SELECT count(*) AS n, avg(score)::float8 AS average
			FROM satisfaction_ratings
			WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3
		), tickets AS (
			SELECT count(*) AS open
			FROM tickets
			WHERE workspace_id = $1 AND status NOT IN ('solved', 'closed')
		)
		SELECT opened.n, resolved.n, now_counts.open, now_counts.pending,
		       opened.frt_n, opened.frt_median, opened.frt_mean,
		       resolved.n, resolved.median, resolved.mean,
		       csat.average, csat.n, tickets.open
		FROM opened, resolved, now_counts, csat, tickets`,
		workspaceID, p.From, p.To,
	).Scan(&o.Conversations.Opened, &o.Conversations.Resolved, &o.Conversations.OpenNow, &o.Conversations.PendingNow,
		&o.FirstResponse.Count, &o.FirstResponse.MedianSeconds, &o.FirstResponse.MeanSeconds,
		&o.Resolution.Count, &o.Resolution.MedianSeconds, &o.Resolution.MeanSeconds,
		&o.CSAT.Average, &o.CSAT.Responses, &o.Tickets.OpenNow)
	if err != nil {
		return nil, analyticsErr("analytics overview", p, err)
	}
	o.FirstResponse.MedianSeconds = round1(o.FirstResponse.MedianSeconds)
	o.FirstResponse.MeanSeconds = round1(o.FirstResponse.MeanSeconds)
	o.Resolution.MedianSeconds = round1(o.Resolution.MedianSeconds)
	o.Resolution.MeanSeconds = round1(o.Resolution.MeanSeconds)
	o.CSAT.Average = round2(o.CSAT.Average)
	return o, nil
}

// groupExpr is how a conversation is assigned to a group for each split; the values are
// fixed SQL, never caller text.
var groupExpr = map[string]string{
	"":                   `'all'`,
	nubiq.SplitByChannel: `coalesce(c.channel_id::text, 'none')`,
	nubiq.SplitByStatus:  `c.status`,
}

// groupsSQL lists the groups of each split, with a label, a channel kind and an order. Every
// status is listed, and every channel of the workspace, so that series are complete even
// where they are all zero; "none" appears only when conversations without a channel count.
var groupsSQL = map[string]string{
	"": `SELECT 'all'::text AS key, ''::text AS label, ''::text AS kind, 0::bigint AS ord`,
	nubiq.SplitByStatus: `SELECT * FROM (VALUES ('open', 'Open', '', 1::bigint), ('pending', 'Pending', '', 2),
		('snoozed', 'Snoozed', '', 3), ('resolved', 'Resolved', '', 4), ('closed', 'Closed', '', 5)) AS s (key, label, kind, ord)`,
	nubiq.SplitByChannel: `SELECT id::text AS key, name AS label, kind, id AS ord FROM channels WHERE workspace_id = $1
		UNION ALL
		SELECT 'none', 'No channel', '', 0 WHERE EXISTS (
			SELECT 1 FROM conversations c WHERE c.workspace_id = $1 AND c.channel_id IS NULL
			AND ((c.created_at >= $2 AND c.created_at < $3) OR (c.resolved_at >= $2 AND c.resolved_at < $3)))`,
}

// ConversationSeries counts conversations opened (created_at) and resolved (resolved_at) per
// bucket of interval in the period's time zone, optionally per group of splitBy. Buckets
// are local calendar units (date_trunc on local time), so a day that crosses a daylight
// saving change lasts 23 or 25 hours. Every bucket of every group is present, zero or not.
func (db *DB) ConversationSeries(ctx context.Context, workspaceID int64, p nubiq.Period, interval, splitBy string) (*nubiq.ConversationSeries, error) {
	gexpr, ok := groupExpr[splitBy]
	if !ok {
		return nil, fmt.Errorf("conversation series: unknown split %q", splitBy)
	}
	switch interval {
	case nubiq.IntervalDay, nubiq.IntervalWeek, nubiq.IntervalMonth:
	default:
		return nil, fmt.Errorf("conversation series: unknown interval %q", interval)
	}
	rows, err := db.Pool.Query(ctx, `
		WITH buckets AS (
			SELECT b AS local_start, (b AT TIME ZONE $5::text) AS start
			FROM generate_series(
				date_trunc($4::text, $2::timestamptz AT TIME ZONE $5::text),
				date_trunc($4::text, ($3::timestamptz - interval '1 microsecond') AT TIME ZONE $5::text),
				('1 ' || $4::text)::interval) AS b
		), groups AS (`+groupsSQL[splitBy]+`
		), opened AS (
			SELECT date_trunc($4::text, c.created_at AT TIME ZONE $5::text) AS bucket, `+gexpr+` AS key, count(*) AS n
			FROM conversations c
			WHERE c.workspace_id = $1 AND c.created_at >= $2 AND c.created_at < $3
			GROUP BY 1, 2
		), resolved AS (
			SELECT date_trunc($4::text, c.resolved_at AT TIME ZONE $5::text) AS bucket, `+gexpr+` AS key, count(*) AS n
			FROM conversations c
			WHERE c.workspace_id = $1 AND c.resolved_at >= $2 AND c.resolved_at < $3
			GROUP BY 1, 2
		)
		SELECT g.key, g.label, g.kind, b.start, to_char(b.local_start, 'YYYY-MM-DD'),
		       coalesce(o.n, 0), coalesce(r.n, 0)
		FROM groups g CROSS JOIN buckets b
		LEFT JOIN opened o ON o.bucket = b.local_start AND o.key = g.key
		LEFT JOIN resolved r ON r.bucket = b.local_start AND r.key = g.key
		ORDER BY g.ord, g.key, b.local_start`,
		workspaceID, p.From, p.To, interval, p.TimeZone)
	if err != nil {
		return nil, analyticsErr("conversation series", p, err)
	}
	defer rows.Close()
	s := &nubiq.ConversationSeries{Period: p, Interval: interval, SplitBy: splitBy, Points: []nubiq.SeriesPoint{}, Series: []nubiq.SeriesGroup{}}
	var groups []nubiq.SeriesGroup
	for rows.Next() {
		var key, label, kind string
		var pt nubiq.SeriesPoint
		if err := rows.Scan(&key, &label, &kind, &pt.Start, &pt.Date, &pt.Opened, &pt.Resolved); err != nil {
			return nil, fmt.Errorf("conversation series: %w", err)
		}
		pt.Start = pt.Start.UTC()
		if n := len(groups); n == 0 || groups[n-1].Key != key {
			groups = append(groups, nubiq.SeriesGroup{Key: key, Label: label, ChannelKind: kind, Points: []nubiq.SeriesPoint{}})
		}
		g := &groups[len(groups)-1]
		g.Points = append(g.Points, pt)
		g.Opened += pt.Opened
		g.Resolved += pt.Resolved
	}
	if err := rows.Err(); err != nil {
		return nil, analyticsErr("conversation series", p, err)
	}
	// Totals per bucket: each conversation is in exactly one group, so the groups add up.
	for i, g := range groups {
		for j, pt := range g.Points {
			if i == 0 {
				s.Points = append(s.Points, nubiq.SeriesPoint{Start: pt.Start, Date: pt.Date})
			}
			s.Points[j].Opened += pt.Opened
			s.Points[j].Resolved += pt.Resolved
		}
	}
	if len(groups) == 0 {
		// A channel split of a workspace without channels or unchannelled conversations:
		// nothing counts, but the buckets are still listed.
		starts, err := db.bucketStarts(ctx, p, interval)
		if err != nil {
			return nil, err
		}
		s.Points = starts
	}
	if splitBy != "" && groups != nil {
		s.Series = groups
	}
	return s, nil
}

func (db *DB) bucketStarts(ctx context.Context, p nubiq.Period, interval string) ([]nubiq.SeriesPoint, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT b AT TIME ZONE $4::text, to_char(b, 'YYYY-MM-DD')
		FROM generate_series(
			date_trunc($3::text, $1::timestamptz AT TIME ZONE $4::text),
			date_trunc($3::text, ($2::timestamptz - interval '1 microsecond') AT TIME ZONE $4::text),
			('1 ' || $3::text)::interval) AS b
		ORDER BY b`, p.From, p.To, interval, p.TimeZone)
	if err != nil {
		return nil, analyticsErr("conversation series buckets", p, err)
	}
	pts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (nubiq.SeriesPoint, error) {
		var pt nubiq.SeriesPoint
		err := r.Scan(&pt.Start, &pt.Date)
		pt.Start = pt.Start.UTC()
		return pt, err
	})
	if err != nil {
		return nil, analyticsErr("conversation series buckets", p, err)
	}
	return pts, nil
}

// Satisfaction computes the CSAT report of a period: ratings given in the period, and the
// response rate over conversations resolved in it. comments bounds the latest comments.
func (db *DB) Satisfaction(ctx context.Context, workspaceID int64, p nubiq.Period, comments int) (*nubiq.Satisfaction, error) {
	s := &nubiq.Satisfaction{Period: p, Comments: []nubiq.RatingComment{}}
	d := &s.Distribution
	err := db.Pool.QueryRow(ctx, `
		WITH ratings AS (
			SELECT count(*) AS n, avg(score)::float8 AS average,
			       count(*) FILTER (WHERE score = 1) AS s1, count(*) FILTER (WHERE score = 2) AS s2,
			       count(*) FILTER (WHERE score = 3) AS s3, count(*) FILTER (WHERE score = 4) AS s4,
			       count(*) FILTER (WHERE score = 5) AS s5
			FROM satisfaction_ratings
			WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3
		), resolved AS (
			SELECT count(*) AS n,
			       count(*) FILTER (WHERE EXISTS (
			           SELECT 1 FROM satisfaction_ratings s WHERE s.workspace_id = $1 AND s.conversation_id = c.id)) AS rated
			FROM conversations c
			WHERE c.workspace_id = $1 AND c.resolved_at >= $2 AND c.resolved_at < $3
		)
		SELECT ratings.n, ratings.average, ratings.s1, ratings.s2, ratings.s3, ratings.s4, ratings.s5,
		       resolved.n, resolved.rated
		FROM ratings, resolved`, workspaceID, p.From, p.To,
	).Scan(&s.Responses, &s.Average, &d.One, &d.Two, &d.Three, &d.Four, &d.Five, &s.ResolvedConversations, &s.RatedResolved)
	if err != nil {
		return nil, analyticsErr("satisfaction", p, err)
	}
	s.Average = round2(s.Average)
	if s.ResolvedConversations > 0 {
		r := math.Round(float64(s.RatedResolved)/float64(s.ResolvedConversations)*10000) / 10000
		s.ResponseRate = &r
	}
	if comments <= 0 {
		return s, nil
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT s.conversation_id, coalesce(s.contact_id, 0), coalesce(ct.name, ''), s.score, s.comment, s.created_at
		FROM satisfaction_ratings s
		LEFT JOIN contacts ct ON ct.workspace_id = s.workspace_id AND ct.id = s.contact_id
		WHERE s.workspace_id = $1 AND s.created_at >= $2 AND s.created_at < $3 AND btrim(s.comment) <> ''
		ORDER BY s.created_at DESC, s.id DESC
		LIMIT $4`, workspaceID, p.From, p.To, comments)
	if err != nil {
		return nil, analyticsErr("satisfaction comments", p, err)
	}
	s.Comments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (nubiq.RatingComment, error) {
		var c nubiq.RatingComment
		err := r.Scan(&c.ConversationID, &c.ContactID, &c.ContactName, &c.Score, &c.Comment, &c.CreatedAt)
		c.CreatedAt = c.CreatedAt.UTC()
		return c, err
	})
	if err != nil {
		return nil, analyticsErr("satisfaction comments", p, err)
	}
	if s.Comments == nil {
		s.Comments = []nubiq.RatingComment{}
	}
	return s, nil
}
