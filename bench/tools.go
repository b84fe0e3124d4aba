package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp"
)

// Targets of the tool-call section (issue #8): tickets.get at concurrency 8.
const (
	targetToolCallsPerSecond = 3000
	targetToolRatio          = 0.5
)

// toolWorkload is one tool called with a rotating set of arguments.
type toolWorkload struct {
	tool string
	args []json.RawMessage
	// stmts[i] are the statements the tool sent for args[i].
	stmts [][]statement
}

func runTools(ctx context.Context, e *env) (*SectionResult, error) {
	cfg := e.cfg
	res := &SectionResult{Available: true, Note: "mcp: stateless JSON-RPC POSTs over loopback HTTP with a real key, " +
		"no initialize (" + protocol2025 + " and " + protocol2026 + " eras); pgx: the very statements the tool sent, " +
		"captured through a pgx tracer and replayed on a pooled connection, rows read undecoded. " +
		"The server authenticates each request (key lookup by hash, cached for 2s), checks scopes, runs the tool and encodes JSON; " +
		rateLimitNote + " mcp/2026-nolimit: the same calls on a server without the rate limiter. " +
		"http+pgx: the same client posting the same requests to a bare net/http handler that replays the same statements " +
		"and answers a fixed JSON-RPC result (no authentication, rate limit, validation or encoding): what HTTP on loopback costs."}

	ws, key, err := e.workspace(ctx, "bench-tools")
	if err != nil {
		return nil, err
	}
	n := max(200, int(5000*cfg.Scale))
	if err := seedSupport(ctx, e, ws, n); err != nil {
		return nil, err
	}
	var ticketIDs []int64
	rows, err := e.db.Pool.Query(ctx, `SELECT id FROM tickets WHERE workspace_id = $1 ORDER BY id`, ws)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ticketIDs = append(ticketIDs, id)
	}
	rows.Close()

	deps := mcp.Deps{Logger: cfg.Logger}
	capt, err := newCapturer(ctx, cfg.DatabaseURL, deps)
	if err != nil {
		return nil, err
	}
	defer capt.close()
	caller := &nubiq.Caller{WorkspaceID: ws, Plan: benchPlan, Scopes: nubiq.AllScopes, ExpiresAt: time.Now().Add(time.Hour)}

	rng := rand.New(rand.NewPCG(1, 2))
	getTicket := &toolWorkload{tool: "tickets.get"}
	for range min(500, len(ticketIDs)) {
		getTicket.args = append(getTicket.args, json.RawMessage(fmt.Sprintf(`{"id":%d}`, ticketIDs[rng.IntN(len(ticketIDs))])))
	}
	listConv := &toolWorkload{tool: "conversations.list", args: []json.RawMessage{
		json.RawMessage(`{}`), json.RawMessage(`{"status":"open"}`), json.RawMessage(`{"limit":20,"status":"pending"}`),
	}}
	workloads := []*toolWorkload{getTicket, listConv}
	for _, w := range workloads {
		for _, a := range w.args {
			stmts, _, err := capt.capture(ctx, caller, w.tool, a)
			if err != nil {
				return nil, err
			}
			w.stmts = append(w.stmts, stmts)
		}
	}

	srv, err := e.startServer(&mcp.Deps{DB: e.db, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	defer srv.close()
	unlimited, err := e.startServerWith(&mcp.Deps{DB: e.db, Logger: cfg.Logger}, false)
	if err != nil {
		return nil, err
	}
	defer unlimited.close()
	floorStmts := map[string][]statement{}
	for _, w := range workloads {
		for i, a := range w.args {
			floorStmts[string(a)] = w.stmts[i]
		}
	}
	floor, err := startHTTPFloor(e.db.Pool, floorStmts)
	if err != nil {
		return nil, err
	}
	defer floor.close()

	for _, w := range workloads {
		for _, conc := range cfg.Concurrency {
			vs := []variant{{name: "pgx", label: "baseline", op: func(ctx context.Context, worker, i int) error {
				return replay(ctx, e.db.Pool, w.stmts[pick(worker, i, len(w.stmts))])
			}}}
			// Both protocol eras; the same calls on a server without the rate limiter (the
			// difference is what counting requests costs); and the bare HTTP floor.
			for _, c := range []struct{ name, url, proto string }{
				{"mcp/" + protocol2025[:4], srv.URL, protocol2025},
				{"mcp/" + protocol2026[:4], srv.URL, protocol2026},
				{"mcp/2026-nolimit", unlimited.URL, protocol2026},
				{"http+pgx", floor.URL, protocol2025},
			} {
				client, err := newRPCClient(c.url, key, c.proto, conc)
				if err != nil {
					return nil, err
				}
				defer client.close()
				vs = append(vs, variant{name: c.name, label: "client", op: func(ctx context.Context, worker, i int) error {
					_, err := client.call(ctx, worker, i, w.tool, w.args[pick(worker, i, len(w.args))])
					return err
				}})
			}
			rs, err := compare(ctx, conc, cfg.Warmup, cfg.Duration, cfg.Rounds, vs)
			if err != nil {
				return nil, fmt.Errorf("%s c=%d: %w", w.tool, conc, err)
			}
			bare := rs[0].row(w.tool, vs[0].name, conc, "calls/s")
			httpRow := rs[len(rs)-1].row(w.tool, vs[len(vs)-1].name, conc, "calls/s")
			httpRow.Ratio, httpRow.RatioOf = httpRow.PerSecond/bare.PerSecond, "of pgx"
			for i, r := range rs[1 : len(rs)-1] {
				row := r.row(w.tool, vs[i+1].name, conc, "calls/s")
				row.Ratio, row.RatioOf = row.PerSecond/bare.PerSecond, fmt.Sprintf("of pgx (%.2f of http+pgx)", row.PerSecond/httpRow.PerSecond)
				if w.tool == "tickets.get" && conc == 8 && !strings.HasSuffix(row.Path, "-nolimit") {
					row.Target = fmt.Sprintf("≥%d/s, ≥%.0f%% of pgx", targetToolCallsPerSecond, targetToolRatio*100)
					row.Met = boolPtr(row.PerSecond >= targetToolCallsPerSecond && row.Ratio >= targetToolRatio)
				}
				e.table.row(SectionTools, row)
				res.Rows = append(res.Rows, row)
			}
			e.table.row(SectionTools, httpRow)
			e.table.row(SectionTools, bare)
			res.Rows = append(res.Rows, httpRow, bare)
		}
	}
	return res, nil
}

// pick spreads workers over a rotating argument list so that concurrent calls differ.
func pick(worker, i, n int) int { return (worker*7919 + i) % n }

// seedSupport fills a workspace with n tickets and n conversations and the members, teams,
// contacts and channels they refer to, generated in the database: COPY-speed, no round trip
// per row.
func seedSupport(ctx context.Context, e *env, ws int64, n int) error {
	stmts := []string{
		`INSERT INTO members (workspace_id, email, name, role, status)
		 SELECT $1, 'agent' || g || '@example.com', 'Agent ' || g, CASE WHEN g = 1 THEN 'owner' ELSE 'agent' END, 'active'
		 FROM generate_series(1, 20) g`,
		`INSERT INTO teams (workspace_id, name) SELECT $1, t FROM unnest(ARRAY['Billing', 'Technical', 'Onboarding', 'Escalations']) t`,
		`INSERT INTO channels (workspace_id, kind, name) VALUES ($1, 'email', 'Support email'), ($1, 'web_widget', 'Website chat'), ($1, 'api', 'API')`,
		`INSERT INTO contacts (workspace_id, name, email, company, created_at)
		 SELECT $1, 'Customer ' || g, 'customer' || g || '@example.org', 'Company ' || (g % 211), now() - g * interval '1 minute'
		 FROM generate_series(1, $2::int) g`,
		`WITH ids AS (
		   SELECT (SELECT min(id) FROM contacts WHERE workspace_id = $1) AS ct, (SELECT count(*) FROM contacts WHERE workspace_id = $1) AS nct,
		          (SELECT min(id) FROM members WHERE workspace_id = $1) AS m, (SELECT min(id) FROM teams WHERE workspace_id = $1) AS tm,
		          (SELECT min(id) FROM channels WHERE workspace_id = $1) AS ch)
		 INSERT INTO conversations (workspace_id, contact_id, channel_id, subject, status, priority, assignee_member_id, assignee_team_id,
		                            tags, created_at, updated_at, last_message_at)
		 SELECT $1, ids.ct + (g % ids.nct), ids.ch + (g % 3),
		        (ARRAY['Card not arriving', 'Refund for duplicate charge', 'Cannot reset my password', 'Exchange rate question',
		               'Transfer pending for three days', 'How do I close my account', 'Top-up failed', 'Verify my identity'])[1 + g % 8] || ' #' || g,
		        (ARRAY['open', 'open', 'pending', 'snoozed', 'resolved', 'closed'])[1 + g % 6],
		        (ARRAY['low', 'normal', 'normal', 'high', 'urgent'])[1 + g % 5],
		        CASE WHEN g % 4 = 0 THEN NULL ELSE ids.m + (g % 20) END, CASE WHEN g % 3 = 0 THEN ids.tm + (g % 4) END,
		        CASE g % 4 WHEN 0 THEN ARRAY['billing'] WHEN 1 THEN ARRAY['card', 'vip'] WHEN 2 THEN ARRAY[]::text[] ELSE ARRAY['transfer'] END,
		        now() - g * interval '2 minutes', now() - g * interval '1 minute', now() - g * interval '1 minute'
		 FROM ids, generate_series(1, $2::int) g`,
		`WITH ids AS (
		   SELECT (SELECT min(id) FROM contacts WHERE workspace_id = $1) AS ct, (SELECT count(*) FROM contacts WHERE workspace_id = $1) AS nct,
		          (SELECT min(id) FROM members WHERE workspace_id = $1) AS m, (SELECT min(id) FROM teams WHERE workspace_id = $1) AS tm,
		          (SELECT min(id) FROM conversations WHERE workspace_id = $1) AS cv)
		 INSERT INTO tickets (workspace_id, subject, description, status, priority, assignee_member_id, assignee_team_id, contact_id,
		                      conversation_id, tags, custom_fields, created_at, updated_at)
		 SELECT $1,
		        (ARRAY['Chargeback dispute', 'Account locked after password change', 'Wrong amount on statement', 'Card delivery delayed',
		               'API returns 500 on transfers', 'Request for invoice copy'])[1 + g % 6] || ' (' || g || ')',
		        'The customer reports that ' || (ARRAY['the payment was declined twice', 'the transfer has not arrived',
		               'the app shows a different balance', 'the card never arrived'])[1 + g % 4] ||
		        '. Steps taken so far: verified identity, checked the ledger, escalated to the payments team. Awaiting confirmation from the processor.',
		        (ARRAY['open', 'pending', 'on_hold', 'solved', 'closed'])[1 + g % 5],
		        (ARRAY['low', 'normal', 'normal', 'high', 'urgent'])[1 + g % 5],
		        CASE WHEN g % 5 = 0 THEN NULL ELSE ids.m + (g % 20) END, CASE WHEN g % 2 = 0 THEN ids.tm + (g % 4) END,
		        ids.ct + (g % ids.nct), CASE WHEN g % 3 = 0 THEN ids.cv + g - 1 END,
		        CASE g % 4 WHEN 0 THEN ARRAY['billing'] WHEN 1 THEN ARRAY['card', 'vip'] WHEN 2 THEN ARRAY[]::text[] ELSE ARRAY['api', 'bug'] END,
		        jsonb_build_object('plan', (ARRAY['pro', 'enterprise'])[1 + g % 2], 'region', (ARRAY['eu', 'us', 'apac'])[1 + g % 3]),
		        now() - g * interval '3 minutes', now() - g * interval '1 minute'
		 FROM ids, generate_series(1, $2::int) g`,
		`ANALYZE members, teams, channels, contacts, conversations, tickets`,
	}
	for _, s := range stmts {
		args := []any{ws, n}
		switch {
		case strings.HasPrefix(s, "ANALYZE"):
			args = nil
		case !strings.Contains(s, "$2"):
			args = args[:1]
		}
		if _, err := e.db.Pool.Exec(ctx, s, args...); err != nil {
			return fmt.Errorf("seed support data: %s: %w", firstLine(s), err)
		}
	}
	return nil
}
