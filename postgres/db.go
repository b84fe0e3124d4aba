// Package postgres holds every SQL statement of Nubiq Hub: the store implementations on pgx,
// the schema migrator and the manager of the embedded local cluster.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/nubiq/hub"
)

// DB is the connection pool every store method runs on.
type DB struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	// River inserts jobs, in the caller's transaction where rows and job belong together. It is
	// insert-only; the server runs its own working client for the workers.
	River *river.Client[pgx.Tx]
}

// Config configures Open. Zero values get defaults.
type Config struct {
	URL      string
	MaxConns int32 // default 20
	Logger   *slog.Logger
}

// Open connects to the database at cfg.URL, making sure the vector extension exists first:
// pgvector's types must be registered on every connection, which needs the extension.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 20
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pcfg.MaxConns = cfg.MaxConns
	pcfg.ConnConfig.ConnectTimeout = 10 * time.Second

	if err := ensureVector(ctx, pcfg.ConnConfig); err != nil {
		return nil, err
	}
	pcfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		return pgxvec.RegisterTypes(ctx, conn)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: cfg.Logger})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("river client: %w", err)
	}
	return &DB{Pool: pool, Logger: cfg.Logger, River: rc}, nil
}

func ensureVector(ctx context.Context, cc *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("connect to database: %w", err)
	}
	defer conn.Close(ctx)
	var have bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')`).Scan(&have); err != nil {
		return fmt.Errorf("check vector extension: %w", err)
	}
	if have {
		return nil
	}
	if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS vector`); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return nil // another node created it at the same moment
		}
		if errors.As(err, &pgErr) && pgErr.Code == "0A000" {
			return fmt.Errorf("the pgvector extension is not installed on the database server (run scripts/setup-postgres or install postgresql-NN-pgvector): %w", err)
		}
		return fmt.Errorf("create vector extension (needs a superuser, or create it once by hand): %w", err)
	}
	return nil
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.Pool.Ping(ctx) }

// InTx runs fn in a transaction, committing when it returns nil and rolling back otherwise.
func (db *DB) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		return unavailable(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// unavailable marks connection-level failures so callers can answer 503 instead of 500.
func unavailable(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || !IsConnectionError(err) {
		return err
	}
	return fmt.Errorf("%w: %w", &nubiq.Error{Code: nubiq.ECodeUnavailable, Message: "database unavailable, retry shortly"}, err)
}

// Unavailable returns err marked unavailable (retry shortly, HTTP 503) when it is a
// connection-level failure that no store function marked, and err unchanged otherwise.
func Unavailable(err error) error {
	if err == nil || nubiq.ErrorCode(err) != nubiq.ECodeInternal {
		return err
	}
	return unavailable(err)
}

// IsConnectionError reports whether err says the database could not be reached or the
// connection broke, rather than that a statement failed: connection exceptions (SQLSTATE
// class 08), the server shutting down or restarting (57P01-57P03), lack of resources such as
// too many connections (class 53), and network errors on the way.
func IsConnectionError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "53") || c == "57P01" || c == "57P02" || c == "57P03"
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr), pgconn.SafeToRetry(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return true
	}
	// pgx reports a connection it already closed (after a broken read) with a plain error.
	return strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "closed pool")
}
