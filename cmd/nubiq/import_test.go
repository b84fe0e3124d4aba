package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		ws   string
	}{
		{[]string{"contacts", "a.csv", "--workspace", "Acme"}, []string{"contacts", "a.csv"}, "Acme"},
		{[]string{"--workspace=3", "tickets", "t.jsonl", "u.jsonl"}, []string{"tickets", "t.jsonl", "u.jsonl"}, "3"},
		{[]string{"contacts", "--workspace", "W", "--", "--odd-name.csv"}, []string{"contacts", "--odd-name.csv"}, "W"},
	} {
		fs := newFlags("import", "", "")
		var ws string
		fs.StringVar(&ws, "workspace", "", "")
		pos, err := parseInterspersed(fs, tc.args)
		require.NoError(t, err, tc.args)
		require.Equal(t, tc.pos, pos, tc.args)
		require.Equal(t, tc.ws, ws, tc.args)
	}
}

// TestImportAndSeedCommands runs the commands as a user would, on a real database: the exit
// status reflects failed records, --allow-errors accepts them, and seeding twice is a no-op.
func TestImportAndSeedCommands(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Config{URL: url})
	require.NoError(t, err)
	defer db.Close()
	_, err = db.CreateWorkspace(ctx, "Acme", "pro")
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "contacts.csv")
	require.NoError(t, os.WriteFile(file, []byte("email,name\na@example.com,A\nnot-an-email,B\n"), 0o644))

	common := []string{"--database-url", url, "--quiet", "--log-level", "error"}
	require.Equal(t, 1, run(ctx, append([]string{"import", "contacts", file, "--workspace", "Acme"}, common...)))
	require.Equal(t, 0, run(ctx, append([]string{"import", "contacts", file, "--workspace", "acme", "--allow-errors"}, common...)))
	require.Equal(t, 2, run(ctx, append([]string{"import", "contacts", file}, common...))) // no --workspace
	require.Equal(t, 1, run(ctx, append([]string{"import", "contacts", file, "--workspace", "Nope"}, common...)))
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM contacts`).Scan(&n))
	require.Equal(t, 1, n)

	seed := []string{"seed", "demo", "--database-url", url, "--log-level", "error"}
	require.Equal(t, 0, run(ctx, seed))
	require.Equal(t, 0, run(ctx, seed))
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM workspaces WHERE name = 'Demo'`).Scan(&n))
	require.Equal(t, 1, n)
}

// TestImportDocumentsCommand imports a directory with --wait, working the indexing jobs in
// the command: the documents end ready, and the one that cannot be read fails the exit status.
func TestImportDocumentsCommand(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Config{URL: url})
	require.NoError(t, err)
	defer db.Close()
	ws, err := db.CreateWorkspace(ctx, "Acme", "pro")
	require.NoError(t, err)
	dir := t.TempDir()
	for name, content := range map[string]string{
		"a.md": "# Shifts\n\nPlan shifts a week ahead.", "b.txt": "Rotas repeat weekly.", "c.pdf": "not a pdf",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	common := []string{"--database-url", url, "--data-dir", t.TempDir(), "--quiet", "--log-level", "error", "--workspace", "Acme", "--embedder", "hash"}
	require.Equal(t, 2, run(ctx, append([]string{"import", "contacts", dir, "--wait"}, common...)))
	require.Equal(t, 1, run(ctx, append([]string{"import", "documents", dir, "--wait", "--external-id-prefix", "kb/"}, common...)))
	var ready, failed int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'ready' AND chunk_count > 0), count(*) FILTER (WHERE status = 'failed')
		FROM documents WHERE workspace_id = $1 AND external_id LIKE 'kb/%'`, ws.ID).Scan(&ready, &failed))
	require.Equal(t, 2, ready)
	require.Equal(t, 1, failed)
	// Again: nothing changes, nothing to wait for, and failures already recorded are not
	// this run's.
	require.Equal(t, 0, run(ctx, append([]string{"import", "documents", dir, "--wait", "--external-id-prefix", "kb/"}, common...)))
}
