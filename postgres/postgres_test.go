package postgres_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/postgres/pgtest"
)

func TestMigrateFreshDatabaseAndRerunIsNoop(t *testing.T) {
	ctx := context.Background()
	// A bare database, not the migrated template, to prove migrations apply from empty.
	url := pgtest.EmptyURL(t)
	db, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	ok, err := db.Migrated(ctx)
	if err != nil || ok {
		t.Fatalf("fresh database: Migrated = %v, %v; want false, nil", ok, err)
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 {
		t.Fatal("no migrations applied on an empty database")
	}
	again, err := db.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Fatalf("second run applied %d migrations, want 0", len(again))
	}
	if ok, err := db.Migrated(ctx); err != nil || !ok {
		t.Fatalf("Migrated = %v, %v after migrating", ok, err)
	}
	var ext string
	if err := db.Pool.QueryRow(ctx, `SELECT extversion FROM pg_extension WHERE extname = 'vector'`).Scan(&ext); err != nil {
		t.Fatalf("vector extension missing: %v", err)
	}
	var riverTable bool
	if err := db.Pool.QueryRow(ctx, `SELECT to_regclass('river_job') IS NOT NULL`).Scan(&riverTable); err != nil || !riverTable {
		t.Fatalf("river_job table missing: %v", err)
	}
	// Every workspace-data table carries workspace_id.
	rows, err := db.Pool.Query(ctx, `
		SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r'
		  AND c.relname NOT LIKE 'river%' AND c.relname NOT IN ('plans', 'workspaces', 'nubiq_schema_migrations',
		      'search_index_generations', 'search_index_nodes') -- node-level index state, not workspace data
		  AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id')`)
	if err != nil {
		t.Fatal(err)
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Fatalf("tables without workspace_id: %v", missing)
	}
}

func TestConcurrentMigrateIsSerialised(t *testing.T) {
	ctx := context.Background()
	url := pgtest.EmptyURL(t)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			db, err := postgres.Open(ctx, postgres.Config{URL: url})
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			_, err = db.Migrate(ctx)
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestClusterRestartKeepsDataAndRunsUnprivileged(t *testing.T) {
	ctx := context.Background()
	// Not t.TempDir(): its parent is private to us, and the server's OS user must be able to
	// enter the directory when the tests run as root.
	dir, err := os.MkdirTemp("", "nubiq-cluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	c, err := postgres.StartCluster(ctx, postgres.ClusterConfig{Dir: dir, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	if !c.Started() {
		t.Fatal("a new cluster should be started by this process")
	}
	if err := c.EnsureDatabase(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(ctx, postgres.Config{URL: c.URL("app")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO workspaces (name, plan) VALUES ('kept', 'pro')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if os.Geteuid() == 0 {
		pid := readPostmasterPID(t, filepath.Join(dir, "pg", "postmaster.pid"))
		st, err := os.Stat("/proc/" + strconv.Itoa(pid))
		if err != nil {
			t.Fatal(err)
		}
		if st.Sys().(*syscall.Stat_t).Uid == 0 {
			t.Fatal("server runs as root")
		}
	}

	// A second start on the same directory reuses the running server.
	c2, err := postgres.StartCluster(ctx, postgres.ClusterConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if c2.Started() {
		t.Fatal("second StartCluster should reuse the running server")
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	c3, err := postgres.StartCluster(ctx, postgres.ClusterConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c3.Stop(context.Background()) })
	if !c3.Started() {
		t.Fatal("restart after stop should start the server")
	}
	conn, err := pgx.Connect(ctx, c3.URL("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM workspaces WHERE name = 'kept'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("data after restart: n=%d err=%v", n, err)
	}
}

func readPostmasterPID(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}
