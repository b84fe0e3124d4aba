package mcp_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/mcp/mcptest"
	"github.com/nubiq/hub/postgres"
)

func TestBillingUsage(t *testing.T) {
	t.Parallel()
	// A fixed clock in the past, so that counters written at the real time (by a rate limiter
	// in front of the tools) never fall into the windows read here.
	var clock atomic.Int64
	setNow := func(s string) { clock.Store(ts(s).UnixNano()) }
	setNow("2025-03-15T10:30:45Z")
	env := mcptest.New(t, nil, mcptest.WithDeps(func(d *mcp.Deps) { d.Now = func() time.Time { return time.Unix(0, clock.Load()) } }))
	ws := env.Workspace(t, "Acme Support", "pro")
	other := env.Workspace(t, "Globex Support", "enterprise")
	ctx := context.Background()

	newKey := func(ws int64, name string, scopes ...nubiq.Scope) (*nubiq.APIKey, string) {
		t.Helper()
		if len(scopes) == 0 {
			scopes = []nubiq.Scope{nubiq.ScopeTicketsRead}
		}
		k, secret, err := env.DB.CreateAPIKey(ctx, postgres.CreateKeyParams{WorkspaceID: ws, Name: name, Scopes: scopes, ExpiresAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		return k, secret
	}
	billing, secret := newKey(ws, "billing dashboard", nubiq.ScopeBillingRead)
	bot, _ := newKey(ws, "ci-bot")
	agent, _ := newKey(ws, "support-agent")
	revoked, _ := newKey(ws, "old laptop")
	_, err := env.DB.RevokeAPIKey(ctx, ws, revoked.ID)
	require.NoError(t, err)
	expired, _ := newKey(ws, "trial")
	_, err = env.DB.Pool.Exec(ctx, `UPDATE api_keys SET expires_at = $1 WHERE id = $2`, ts("2025-03-01T00:00:00Z"), expired.ID)
	require.NoError(t, err)
	otherKey, otherSecret := newKey(other, "globex", nubiq.ScopeBillingRead)

	counter := func(ws, key int64, kind, start string, n int) {
		t.Helper()
		_, err := env.DB.Pool.Exec(ctx, `INSERT INTO usage_counters (workspace_id, key_id, window_kind, window_start, count)
			VALUES ($1, $2, $3, $4, $5)`, ws, key, kind, ts(start), n)
		require.NoError(t, err)
	}
	// Rows as the rate limiter keeps them (see postgres.DB.Usage): per key for every window,
	// the workspace total (key 0) for minutes and days.
	counter(ws, 0, "minute", "2025-03-15T10:30:00Z", 7)
	counter(ws, 0, "minute", "2025-03-15T10:29:00Z", 50) // the previous minute
	counter(ws, 0, "day", "2025-03-15T00:00:00Z", 1234)
	counter(ws, 0, "day", "2025-03-14T00:00:00Z", 9999) // yesterday
	counter(ws, bot.ID, "minute", "2025-03-15T10:30:00Z", 5)
	counter(ws, bot.ID, "day", "2025-03-15T00:00:00Z", 1000)
	counter(ws, bot.ID, "month", "2025-03-01T00:00:00Z", 20000)
	counter(ws, agent.ID, "minute", "2025-03-15T10:30:00Z", 2)
	counter(ws, agent.ID, "day", "2025-03-15T00:00:00Z", 234)
	counter(ws, agent.ID, "month", "2025-03-01T00:00:00Z", 5000)
	counter(ws, agent.ID, "month", "2025-02-01T00:00:00Z", 777) // last month
	counter(ws, revoked.ID, "month", "2025-03-01T00:00:00Z", 40)
	counter(ws, 424242, "month", "2025-03-01T00:00:00Z", 100) // a key deleted since
	counter(other, 0, "minute", "2025-03-15T10:30:00Z", 59)
	counter(other, 0, "day", "2025-03-15T00:00:00Z", 5000)
	counter(other, otherKey.ID, "month", "2025-03-01T00:00:00Z", 88000)

	cs := env.Client(t, secret)
	var u nubiq.Usage
	mustCallSchema(t, env, cs, "billing.usage", map[string]any{}, &u)
	require.Equal(t, nubiq.Plan{Name: "pro", PerMinute: 60, PerDay: 10000}, u.Plan)
	require.Equal(t, nubiq.UsageWindows{Minute: ts("2025-03-15T10:30:00Z"), Day: ts("2025-03-15T00:00:00Z"), Month: ts("2025-03-01T00:00:00Z")}, u.Windows)
	require.Equal(t, nubiq.WorkspaceUsage{
		UsageCounts:     nubiq.UsageCounts{Minute: 7, Day: 1234, Month: 20000 + 5000 + 40 + 100},
		RemainingMinute: 53, RemainingDay: 8766,
	}, u.Workspace)
	require.Equal(t, []nubiq.KeyUsage{
		{ID: billing.ID, Name: "billing dashboard", Prefix: billing.Prefix, Status: "active"},
		{ID: bot.ID, Name: "ci-bot", Prefix: bot.Prefix, Status: "active", UsageCounts: nubiq.UsageCounts{Minute: 5, Day: 1000, Month: 20000}},
		{ID: agent.ID, Name: "support-agent", Prefix: agent.Prefix, Status: "active", UsageCounts: nubiq.UsageCounts{Minute: 2, Day: 234, Month: 5000}},
		{ID: revoked.ID, Name: "old laptop", Prefix: revoked.Prefix, Status: "revoked", UsageCounts: nubiq.UsageCounts{Month: 40}},
		{ID: expired.ID, Name: "trial", Prefix: expired.Prefix, Status: "expired"},
	}, u.Keys)

	t.Run("another workspace sees its own plan and keys", func(t *testing.T) {
		var g nubiq.Usage
		mustCallSchema(t, env, env.Client(t, otherSecret), "billing.usage", map[string]any{}, &g)
		require.Equal(t, nubiq.Plan{Name: "enterprise", PerMinute: 300, PerDay: 100000}, g.Plan)
		require.Equal(t, nubiq.UsageCounts{Minute: 59, Day: 5000, Month: 88000}, g.Workspace.UsageCounts)
		require.Equal(t, 241, g.Workspace.RemainingMinute)
		require.Len(t, g.Keys, 1)
		require.Equal(t, otherKey.ID, g.Keys[0].ID)
	})

	t.Run("over the limit leaves nothing remaining", func(t *testing.T) {
		_, err := env.DB.Pool.Exec(ctx, `UPDATE usage_counters SET count = 75 WHERE workspace_id = $1 AND key_id = 0 AND window_kind = 'minute' AND window_start = $2`,
			ws, ts("2025-03-15T10:30:00Z"))
		require.NoError(t, err)
		var o nubiq.Usage
		mustCallSchema(t, env, cs, "billing.usage", map[string]any{}, &o)
		require.Equal(t, 75, o.Workspace.Minute)
		require.Zero(t, o.Workspace.RemainingMinute)
	})

	t.Run("a new minute starts from zero", func(t *testing.T) {
		setNow("2025-03-15T10:31:00Z")
		defer setNow("2025-03-15T10:30:45Z")
		var n nubiq.Usage
		mustCallSchema(t, env, cs, "billing.usage", map[string]any{}, &n)
		require.Zero(t, n.Workspace.Minute)
		require.Equal(t, 1234, n.Workspace.Day)
		require.Zero(t, n.Keys[1].Minute)
		require.Equal(t, 1000, n.Keys[1].Day)
	})

	t.Run("bad input and scope", func(t *testing.T) {
		mustFailField(t, cs, "billing.usage", map[string]any{"key_id": bot.ID}, "invalid", "key_id")
		mcptest.MustFail(t, env.Client(t, env.Key(t, ws, nubiq.ScopeAnalyticsRead)), "billing.usage", map[string]any{}, "forbidden")
	})
}
