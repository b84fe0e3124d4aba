package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/nubiq/hub/migrations"
)

// migrateLockID is the advisory lock that serialises migrations when several nodes start at once.
const migrateLockID = 0x6e75626971 // "nubiq"

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migration is one schema migration and whether it has been applied.
type Migration struct {
	Version   int
	Name      string
	AppliedAt time.Time // zero when pending
}

func loadMigrations() ([]Migration, map[int]string, error) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return nil, nil, err
	}
	var list []Migration
	sqls := map[int]string{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		v, _ := strconv.Atoi(m[1])
		if _, dup := sqls[v]; dup {
			return nil, nil, fmt.Errorf("two migrations numbered %04d", v)
		}
		b, err := fs.ReadFile(migrations.FS, e.Name())
		if err != nil {
			return nil, nil, err
		}
		sqls[v] = string(b)
		list = append(list, Migration{Version: v, Name: m[2]})
	}
	slices.SortFunc(list, func(a, b Migration) int { return a.Version - b.Version })
	return list, sqls, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS nubiq_schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies River's migrations and every pending schema migration, each once and in its
// own transaction, under an advisory lock so that several nodes may start at once. It returns
// the migrations it applied.
func (db *DB) Migrate(ctx context.Context) ([]Migration, error) {
	return db.migrate(ctx, math.MaxInt)
}

// migrate applies the pending migrations numbered up to upTo.
func (db *DB) migrate(ctx context.Context, upTo int) ([]Migration, error) {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockID); err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockID) //nolint:errcheck

	// River first: our migrations may reference its tables.
	migrator, err := rivermigrate.New(riverpgxv5.New(db.Pool), nil)
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("river migrations: %w", err)
	}

	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("create migrations table: %w", err)
	}
	all, sqls, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return nil, err
	}
	var done []Migration
	for _, m := range all {
		if _, ok := applied[m.Version]; ok || m.Version > upTo {
			continue
		}
		err := pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sqls[m.Version]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO nubiq_schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return done, fmt.Errorf("apply migration %04d_%s: %w", m.Version, m.Name, err)
		}
		db.Logger.Info("applied migration", "version", m.Version, "name", m.Name)
		m.AppliedAt = time.Now()
		done = append(done, m)
	}
	return done, nil
}

// MigrationStatus lists every known migration with its applied time (zero when pending).
func (db *DB) MigrationStatus(ctx context.Context) ([]Migration, error) {
	all, _, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	defer conn.Release()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('nubiq_schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return all, nil
	}
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return nil, err
	}
	for i := range all {
		all[i].AppliedAt = applied[all[i].Version]
	}
	return all, nil
}

// Migrated reports whether every known migration has been applied (for /readyz).
func (db *DB) Migrated(ctx context.Context) (bool, error) {
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		return false, err
	}
	for _, m := range st {
		if m.AppliedAt.IsZero() {
			return false, nil
		}
	}
	return true, nil
}

func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[int]time.Time, error) {
	rows, err := conn.Query(ctx, `SELECT version, applied_at FROM nubiq_schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	out := map[int]time.Time{}
	for rows.Next() {
		var v int
		var at time.Time
		if err := rows.Scan(&v, &at); err != nil {
			return nil, err
		}
		out[v] = at
	}
	return out, rows.Err()
}
