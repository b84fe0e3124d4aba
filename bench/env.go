package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"time"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/server"
)

// benchPlan is the plan of every workspace the run creates: limits far above anything the
// run can reach, so that the limiter does all its work per request and never refuses.
const benchPlan = "bench"

// env is the run's scratch database and what sections share.
type env struct {
	cfg   *Config
	db    *postgres.DB
	table *table
	// corpus is the search section's largest corpus, left loaded for the memory section.
	corpus *searchCorpus
	// indexDir holds the index directory ("index") of a stopped node with that corpus.
	indexDir string
}

func openEnv(ctx context.Context, cfg *Config) (*env, error) {
	if cfg.DatabaseURL == "" {
		return nil, errors.New("a scratch database URL is required")
	}
	db, err := postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL, MaxConns: 40, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, db: db}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM workspaces`).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("count workspaces: %w", err)
	}
	if n > 0 {
		db.Close()
		return nil, fmt.Errorf("the database holds %d workspace(s): the benchmark needs a scratch database of its own, which it fills and empties", n)
	}
	if _, err := db.Pool.Exec(ctx, `
		INSERT INTO plans (name, per_minute, per_day) VALUES ($1, 2000000000, 2000000000)
		ON CONFLICT (name) DO UPDATE SET per_minute = excluded.per_minute, per_day = excluded.per_day`, benchPlan); err != nil {
		db.Close()
		return nil, fmt.Errorf("create bench plan: %w", err)
	}
	return e, nil
}

// close empties what the run made: the database was empty of workspaces when it started.
func (e *env) close() {
	if e.indexDir != "" {
		os.RemoveAll(e.indexDir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := e.db.Pool.Exec(ctx, `TRUNCATE workspaces, index_log CASCADE`); err != nil {
		e.cfg.Logger.Warn("empty the scratch database", "err", err)
	}
	if _, err := e.db.Pool.Exec(ctx, `DELETE FROM plans WHERE name = $1`, benchPlan); err != nil {
		e.cfg.Logger.Warn("remove the bench plan", "err", err)
	}
	e.db.Close()
}

// workspace creates a workspace on the bench plan with a key holding every scope.
func (e *env) workspace(ctx context.Context, name string) (id int64, secret string, err error) {
	w, err := e.db.CreateWorkspace(ctx, name, benchPlan)
	if err != nil {
		return 0, "", err
	}
	_, secret, err = e.db.CreateAPIKey(ctx, postgres.CreateKeyParams{
		WorkspaceID: w.ID, Name: "bench", Scopes: nubiq.AllScopes, ExpiresAt: time.Now().Add(24 * time.Hour),
	})
	if err != nil {
		return 0, "", err
	}
	return w.ID, secret, nil
}

// mcpServer is the MCP endpoint on a real loopback listener, wired as `nubiq serve` wires it.
type mcpServer struct {
	URL      string
	Registry *mcp.Registry
	srv      *http.Server
	done     chan struct{}

	stopBackground context.CancelFunc
}

// startServer serves the endpoint on 127.0.0.1. Every goroutine of the server, down to the
// request handlers, carries the pprof label side=server.
func (e *env) startServer(deps *mcp.Deps) (*mcpServer, error) {
	return e.startServerWith(deps, true)
}

// startServerWith serves the endpoint with or without the plan rate limiter: the tools
// section measures both, to show what counting requests costs.
func (e *env) startServerWith(deps *mcp.Deps, rateLimit bool) (*mcpServer, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	reg := mcp.NewRegistry(deps)
	keys := &mcp.KeyAuthenticator{DB: e.db, Logger: deps.Logger}
	var limiter *mcp.RateLimiter
	cfg := mcp.HandlerConfig{Registry: reg, Auth: keys, Logger: deps.Logger}
	if rateLimit {
		limiter = &mcp.RateLimiter{DB: e.db, Logger: deps.Logger}
		cfg.Limiter = limiter
	}
	h := mcp.NewHandler(cfg)
	root := server.New(server.Config{Logger: deps.Logger, Mounts: map[string]http.Handler{"/api/mcp/": h, "/api/mcp": h}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &mcpServer{
		URL:      "http://" + ln.Addr().String() + "/api/mcp/",
		Registry: reg,
		srv:      &http.Server{Handler: root, ReadHeaderTimeout: 10 * time.Second},
		done:     make(chan struct{}),
	}
	bg, stop := context.WithCancel(context.Background())
	s.stopBackground = stop
	go pprof.Do(bg, pprof.Labels("side", "server"), func(ctx context.Context) {
		defer close(s.done)
		go keys.Run(ctx, 10*time.Second) // batched last-use writes, as serve runs them
		if limiter != nil {
			go limiter.Run(ctx, time.Hour) // leases settled, as serve runs it
		}
		s.srv.Serve(ln) //nolint:errcheck
	})
	return s, nil
}

func (s *mcpServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx) //nolint:errcheck
	s.stopBackground()
	<-s.done
}

// rateLimitNote says what the limiter does per request.
const rateLimitNote = "the plan rate limiter counts requests in Postgres, shared by all replicas (one statement per request, " +
	"or per lease of a block of the budget when a workspace sends many), on a plan whose limits the run cannot reach."
