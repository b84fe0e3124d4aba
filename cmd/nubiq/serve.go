package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/server"
)

func init() {
	register(&command{name: "serve", summary: "run the server: MCP endpoint, workers, search indexes", run: runServe})
}

type serveFlags struct {
	db              dbFlags
	addr            string
	noMigrate       bool
	shutdownTimeout time.Duration
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	f.db.register(fs)
	fs.StringVar(&f.addr, "addr", envOr("NUBIQ_ADDR", "127.0.0.1:8080"), "listen address (env NUBIQ_ADDR)")
	fs.BoolVar(&f.noMigrate, "no-migrate", envOr("NUBIQ_NO_MIGRATE", "") != "", "do not apply migrations on start (env NUBIQ_NO_MIGRATE)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", envDuration("NUBIQ_SHUTDOWN_TIMEOUT", 20*time.Second), "how long in-flight requests may take to finish on SIGTERM")
}

func runServe(ctx context.Context, args []string) error {
	var f serveFlags
	fs := newFlags("serve", "[flags]", `
Runs Nubiq Hub: the MCP endpoint at /api/mcp/, /healthz and /readyz, background workers and
the node's search indexes. Without NUBIQ_DATABASE_URL it starts (or reuses) a private
PostgreSQL cluster under the data directory and stops it on SIGINT/SIGTERM.`)
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	logger := newLogger(f.db.LogLevel)
	return serve(ctx, &f, logger, nil)
}

// serve runs until ctx is cancelled. ready, when non-nil, receives the bound address once the
// server accepts connections.
func serve(ctx context.Context, f *serveFlags, logger *slog.Logger, ready chan<- string) error {
	var (
		db  *database
		err error
	)
	if f.noMigrate {
		db, err = openDatabase(ctx, &f.db, logger)
	} else {
		db, err = openMigrated(ctx, &f.db, logger)
	}
	if err != nil {
		return err
	}
	defer db.Close()

	deps := &mcp.Deps{DB: db.DB, Logger: logger}
	mcpHandler := mcp.NewHandler(mcp.HandlerConfig{
		Registry: mcp.NewRegistry(deps),
		Auth:     &mcp.KeyAuthenticator{DB: db.DB},
		Logger:   logger,
	})
	handler := server.New(server.Config{
		Logger: logger,
		Mounts: map[string]http.Handler{"/api/mcp/": mcpHandler, "/api/mcp": mcpHandler},
		Ready: func(ctx context.Context) error {
			if err := db.Ping(ctx); err != nil {
				return fmt.Errorf("database unreachable: %w", err)
			}
			ok, err := db.Migrated(ctx)
			if err != nil {
				return fmt.Errorf("read migrations: %w", err)
			} else if !ok {
				return errors.New("migrations pending")
			}
			return nil
		},
	})
	if handler, err = mountAdmin(ctx, handler, db, logger, nil); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("serving", "addr", ln.Addr().String(), "mcp", "http://"+ln.Addr().String()+"/api/mcp/")
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "timeout", f.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("shutdown", "err", err)
	}
	return nil
}
