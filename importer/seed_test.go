package importer_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub/importer"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/postgres/pgtest"
)

func TestSeedDemoIsCompleteAndIdempotent(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	e := &env{t: t, db: db}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

	res, err := importer.SeedDemo(ctx, db, "Demo", now)
	require.NoError(t, err)
	require.True(t, res.Created)
	ws := res.Workspace.ID
	require.Equal(t, "pro", res.Workspace.Plan)
	require.Equal(t, int64(200), res.Contacts)
	require.Equal(t, int64(300), res.Conversations)
	require.Greater(t, res.Messages, int64(900))
	require.GreaterOrEqual(t, res.Articles, 15)

	q := func(sql string) int64 { return e.count(sql, ws) }
	require.Equal(t, int64(1), q(`SELECT count(*) FROM members WHERE workspace_id = $1 AND role = 'owner'`))
	require.Equal(t, int64(2), q(`SELECT count(*) FROM members WHERE workspace_id = $1 AND role = 'admin'`))
	require.Equal(t, int64(1), q(`SELECT count(*) FROM members WHERE workspace_id = $1 AND status = 'invited' AND invitation_token_hash IS NOT NULL`))
	require.Equal(t, int64(3), q(`SELECT count(*) FROM teams WHERE workspace_id = $1`))
	require.Equal(t, int64(4), q(`SELECT count(DISTINCT kind) FROM channels WHERE workspace_id = $1 AND kind IN ('email', 'web_widget', 'sms', 'api')`))
	require.Equal(t, int64(1), q(`SELECT count(*) FROM channels WHERE workspace_id = $1 AND kind = 'api' AND config->>'webhook_url' LIKE 'https://%'`))
	require.Equal(t, int64(0), q(`SELECT count(*) FROM channels c WHERE workspace_id = $1 AND config::text LIKE '%demo_%'`)) // secrets stay in channel_secrets
	require.Equal(t, int64(1), q(`SELECT count(*) FROM widget_configs WHERE workspace_id = $1 AND channel_id IS NOT NULL`))
	// The demo's settings and secrets are in the form the tools read.
	widgets, _, err := db.ListWidgets(ctx, ws, "", 0)
	require.NoError(t, err)
	require.Equal(t, "bottom-right", widgets[0].Settings.Position)
	require.NotNil(t, widgets[0].Settings.BusinessHours.Days.Mon)
	require.Equal(t, int64(1), q(`SELECT count(*) FROM channel_secrets s JOIN channels c ON c.id = s.channel_id WHERE c.workspace_id = $1 AND c.kind = 'api' AND s.secrets ? 'webhook_secret'`))
	require.Equal(t, int64(5), q(`SELECT count(DISTINCT status) FROM conversations WHERE workspace_id = $1`))
	require.Equal(t, int64(4), q(`SELECT count(DISTINCT priority) FROM conversations WHERE workspace_id = $1`))
	require.Equal(t, int64(4), q(`SELECT count(DISTINCT channel_id) FROM conversations WHERE workspace_id = $1`))
	require.Greater(t, q(`SELECT count(DISTINCT assignee_member_id) FROM conversations WHERE workspace_id = $1`), int64(4))
	require.Zero(t, q(`SELECT count(*) FROM conversations WHERE workspace_id = $1 AND created_at > '2026-06-01T12:00:00Z'`))
	require.Zero(t, q(`SELECT count(*) FROM conversations WHERE workspace_id = $1 AND created_at < '2026-03-03T10:00:00Z'`)) // 90 days
	require.Zero(t, q(`SELECT count(*) FROM conversations WHERE workspace_id = $1 AND status IN ('resolved', 'closed') AND (resolved_at IS NULL OR first_response_at IS NULL)`))
	require.Zero(t, q(`SELECT count(*) FROM conversations WHERE workspace_id = $1 AND first_response_at < created_at`))
	require.Greater(t, q(`SELECT count(*) FROM satisfaction_ratings WHERE workspace_id = $1 AND comment <> ''`), int64(50))
	require.Greater(t, q(`SELECT count(*) FROM tickets WHERE workspace_id = $1 AND conversation_id IS NOT NULL`), int64(30))
	require.Greater(t, q(`SELECT count(*) FROM messages WHERE workspace_id = $1 AND private`), int64(0))
	require.Equal(t, int64(res.Articles), q(`SELECT count(*) FROM documents WHERE workspace_id = $1 AND status = 'queued' AND mime_type = 'text/markdown'`))
	require.Equal(t, int64(res.Articles), e.count(`SELECT count(*) FROM river_job WHERE kind = 'ingest_document' AND queue = 'ingest' AND (args->>'workspace_id')::bigint = $1`, ws))
	// Through the upload path: each document records its job, and keeps its article date.
	require.Equal(t, int64(res.Articles), q(`SELECT count(*) FROM documents d JOIN river_job j ON j.id = d.job_id WHERE d.workspace_id = $1`))
	require.Zero(t, q(`SELECT count(*) FROM documents WHERE workspace_id = $1 AND created_at > '2026-03-01T00:00:00Z'`))
	// Everything searchable is in the index log for the indexer.
	require.Equal(t, int64(200), q(`SELECT count(*) FROM index_log WHERE workspace_id = $1 AND kind = 'contact'`))
	require.Equal(t, int64(300), q(`SELECT count(*) FROM index_log WHERE workspace_id = $1 AND kind = 'conversation'`))
	require.Equal(t, res.Messages, q(`SELECT count(*) FROM index_log WHERE workspace_id = $1 AND kind = 'message'`))

	again, err := importer.SeedDemo(ctx, db, "demo", now.Add(time.Hour))
	require.NoError(t, err)
	require.False(t, again.Created)
	require.Equal(t, ws, again.Workspace.ID)
	require.Equal(t, int64(300), e.count(`SELECT count(*) FROM conversations`))
	require.Equal(t, int64(1), e.count(`SELECT count(*) FROM workspaces`))
}

// TestSeedDemoArticlesGetIndexed works the ingest queue as a server does: every help-center
// article of the demo becomes ready with chunks.
func TestSeedDemoArticlesGetIndexed(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	res, err := importer.SeedDemo(ctx, db, "Demo", time.Now())
	require.NoError(t, err)
	ids, err := db.UnindexedDocumentIDs(ctx, res.Workspace.ID)
	require.NoError(t, err)
	require.Len(t, ids, res.Articles)
	runner, err := jobs.NewRunner(&jobs.Deps{DB: db, Embedder: indexer.NewHashEmbedder(64)},
		jobs.Config{IngestOnly: true, FetchCooldown: 10 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, runner.Start(ctx))
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		runner.Stop(sctx) //nolint:errcheck
	}()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ix, err := importer.WaitIndexed(wctx, importer.WaitConfig{DB: db, WorkspaceID: res.Workspace.ID, Poll: 20 * time.Millisecond}, ids)
	require.NoError(t, err)
	require.Equal(t, int64(res.Articles), ix.Ready)
	require.Zero(t, ix.Failed)
	require.GreaterOrEqual(t, ix.Chunks, int64(res.Articles))
}
