package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/postgres"
)

// statement is one SQL statement with its arguments, as a tool sent it.
type statement struct {
	SQL  string
	Args []any
}

// recorder is a pgx tracer that keeps every statement sent through its pool.
type recorder struct {
	mu    sync.Mutex
	stmts []statement
}

func (r *recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	r.stmts = append(r.stmts, statement{SQL: d.SQL, Args: append([]any(nil), d.Args...)})
	r.mu.Unlock()
	return ctx
}

func (r *recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *recorder) take() []statement {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stmts
	r.stmts = nil
	return s
}

// capturer runs tools through the registry on a recording pool, to learn exactly which
// statements a call sends: the bare pgx baseline replays them, so that it does the same
// database work as the tool and nothing else.
type capturer struct {
	pool *pgxpool.Pool
	db   *postgres.DB // on the recording pool
	rec  *recorder
	reg  *mcp.Registry
}

// newCapturer connects a recording pool and builds the tools on it with deps (whose DB it
// replaces; dependencies that hold a DB of their own must be given the capturer's db and
// the registry rebuilt, see use).
func newCapturer(ctx context.Context, url string, deps mcp.Deps) (*capturer, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	rec := &recorder{}
	pcfg.MaxConns, pcfg.MinConns = 1, 1
	pcfg.ConnConfig.Tracer = rec
	pcfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error { return pgxvec.RegisterTypes(ctx, conn) }
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	// Connect now, so that the statements of AfterConnect are not taken for the tool's.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	rec.take()
	c := &capturer{pool: pool, rec: rec, db: &postgres.DB{Pool: pool, Logger: deps.Logger}}
	c.use(deps)
	return c, nil
}

// use rebuilds the tools on deps, with the recording DB.
func (c *capturer) use(deps mcp.Deps) {
	deps.DB = c.db
	c.reg = mcp.NewRegistry(&deps)
}

func (c *capturer) close() { c.pool.Close() }

// capture calls tool with args as caller and returns the statements it sent and its result.
func (c *capturer) capture(ctx context.Context, caller *nubiq.Caller, tool string, args json.RawMessage) ([]statement, any, error) {
	c.rec.take()
	out, err := c.reg.Call(ctx, caller, tool, args)
	stmts := c.rec.take()
	if err != nil {
		return nil, nil, fmt.Errorf("capture %s %s: %w", tool, args, err)
	}
	if len(stmts) == 0 {
		return nil, nil, fmt.Errorf("capture %s %s: the tool sent no statement", tool, args)
	}
	return stmts, out, nil
}

// replay runs the statements on one connection, as the tool did, reading every row without
// decoding it: the floor of what the tool's database work costs.
func replay(ctx context.Context, pool *pgxpool.Pool, stmts []statement) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	for _, s := range stmts {
		if len(s.Args) == 0 {
			// pgx sends a statement without arguments with the simple protocol, which is
			// also the only way several statements go in one.
			if _, err := conn.Exec(ctx, s.SQL); err != nil {
				return fmt.Errorf("replay %s: %w", firstLine(s.SQL), err)
			}
			continue
		}
		rows, err := conn.Query(ctx, s.SQL, s.Args...)
		if err != nil {
			return fmt.Errorf("replay %s: %w", firstLine(s.SQL), err)
		}
		for rows.Next() {
			_ = rows.RawValues()
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("replay %s: %w", firstLine(s.SQL), err)
		}
	}
	return nil
}

func firstLine(sql string) string {
	sql = strings.TrimSpace(sql)
	if i := strings.IndexByte(sql, '\n'); i > 0 {
		sql = sql[:i]
	}
	return sql
}
