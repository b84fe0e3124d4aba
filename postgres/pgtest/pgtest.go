// Package pgtest gives tests a real, migrated PostgreSQL database of their own.
//
// Databases come from NUBIQ_TEST_DATABASE_URL's server when set (its role needs CREATEDB),
// else from a local test cluster that the first test process starts under the temp dir and
// later ones reuse (scripts/test stops it when the suite ends). Each call clones a migrated
// template database, so a fresh database costs a CREATE DATABASE, not a migration run.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nubiq/hub/migrations"
	"github.com/nubiq/hub/postgres"
)

var (
	setupOnce sync.Once
	adminURL  string
	template  string
	setupErr  error
)

// ClusterDir is where the shared local test cluster lives.
func ClusterDir() string {
	if d := os.Getenv("NUBIQ_TEST_CLUSTER_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("nubiq-test-cluster-%d", os.Getuid()))
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if u := os.Getenv("NUBIQ_TEST_DATABASE_URL"); u != "" {
		adminURL = u
	} else {
		c, err := postgres.StartCluster(ctx, postgres.ClusterConfig{Dir: ClusterDir(), Fast: true})
		if err != nil {
			setupErr = err
			return
		}
		adminURL = c.URL("postgres")
	}
	template, setupErr = ensureTemplate(ctx)
}

// ensureTemplate creates (once per schema version) a migrated database to clone from.
func ensureTemplate(ctx context.Context) (string, error) {
	h := sha256.New()
	fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error { //nolint:errcheck
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(migrations.FS, p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	name := "nubiq_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12]

	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(ctx)
	// Serialise template creation across concurrently running test packages.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(727374)`); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock(727374)`) //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()) //nolint:errcheck
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest: create template: %w", err)
	}
	db, err := postgres.Open(ctx, postgres.Config{URL: withDB(adminURL, name)})
	if err != nil {
		return "", err
	}
	_, err = db.Migrate(ctx)
	db.Close()
	if err != nil {
		return "", fmt.Errorf("pgtest: migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" IS_TEMPLATE true"); err != nil {
		return "", err
	}
	return name, nil
}

// URL returns the URL of a fresh, migrated database that is dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	setupOnce.Do(setup)
	if setupErr != nil {
		t.Fatalf("pgtest: %v", setupErr)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	ctx := context.Background()
	if err := postgres.EnsureDatabase(ctx, adminURL, name, template); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { dropDB(name) })
	return withDB(adminURL, name)
}

// NewDB returns an open pool on a fresh, migrated database, closed and dropped at test end.
func NewDB(t testing.TB) *postgres.DB {
	t.Helper()
	u := URL(t)
	db, err := postgres.Open(context.Background(), postgres.Config{URL: u, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("pgtest: open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

func withDB(u, name string) string { return replaceDBName(u, name) }

// EmptyURL returns the URL of a fresh database with no schema at all, dropped at test end.
func EmptyURL(t testing.TB) string {
	t.Helper()
	setupOnce.Do(setup)
	if setupErr != nil {
		t.Fatalf("pgtest: %v", setupErr)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "e_" + hex.EncodeToString(b)
	ctx := context.Background()
	if err := postgres.EnsureDatabase(ctx, adminURL, name, ""); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { dropDB(name) })
	return withDB(adminURL, name)
}

func dropDB(name string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)") //nolint:errcheck
}
