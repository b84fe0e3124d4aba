package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nubiq/hub/jobs"
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
	allowedOrigins  string
	maxBodyBytes    string
	mail            mailFlags
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	f.db.register(fs)
	fs.StringVar(&f.addr, "addr", envOr("NUBIQ_ADDR", "127.0.0.1:8080"), "listen address (env NUBIQ_ADDR)")
	fs.BoolVar(&f.noMigrate, "no-migrate", envOr("NUBIQ_NO_MIGRATE", "") != "", "do not apply migrations on start (env NUBIQ_NO_MIGRATE)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", envDuration("NUBIQ_SHUTDOWN_TIMEOUT", 20*time.Second), "how long in-flight requests may take to finish on SIGTERM")
	fs.StringVar(&f.allowedOrigins, "allowed-origins", envOr("NUBIQ_ALLOWED_ORIGINS", ""), "comma-separated browser origins (https://app.example.com) allowed to call /api/mcp/, or *; requests without Origin are always allowed (env NUBIQ_ALLOWED_ORIGINS)")
	f.mail.register(fs)
	fs.StringVar(&f.maxBodyBytes, "max-body-bytes", envOr("NUBIQ_MAX_BODY_BYTES", strconv.Itoa(mcp.DefaultMaxBodyBytes)), "largest MCP request body in bytes; larger ones get 413 (env NUBIQ_MAX_BODY_BYTES)")
}

// mcpConfig checks the endpoint settings.
func (f *serveFlags) mcpConfig() (origins []string, maxBody int64, err error) {
	for _, o := range strings.Split(f.allowedOrigins, ",") {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "" {
			continue
		}
		if u, perr := url.Parse(o); o != "*" && (perr != nil || u.Scheme == "" || u.Host == "" || u.Path != "") {
			return nil, 0, fmt.Errorf("--allowed-origins (NUBIQ_ALLOWED_ORIGINS): %q is not an origin; write scheme://host[:port], e.g. https://app.example.com", o)
		}
		origins = append(origins, o)
	}
	maxBody, err = strconv.ParseInt(strings.TrimSpace(f.maxBodyBytes), 10, 64)
	if err != nil || maxBody < 1024 {
		return nil, 0, fmt.Errorf("--max-body-bytes (NUBIQ_MAX_BODY_BYTES): %q is not a number of bytes of at least 1024", f.maxBodyBytes)
	}
	return origins, maxBody, nil
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
	origins, maxBody, err := f.mcpConfig()
	if err != nil {
		return err
	}
	mail, err := f.mail.config(f.addr)
	if err != nil {
		return err
	}
	var db *database
	if f.noMigrate {
		db, err = openDatabase(ctx, &f.db, logger)
	} else {
		db, err = openMigrated(ctx, &f.db, logger)
	}
	if err != nil {
		return err
	}
	defer db.Close()

	keys := &mcp.KeyAuthenticator{DB: db.DB, Logger: logger}
	limiter := &mcp.RateLimiter{DB: db.DB, Logger: logger}
	// The workers deliver outbound messages and send invitation emails. River refuses a rescue
	// delay shorter than the job timeout, hence both set.
	runner, err := jobs.NewRunner(&jobs.Deps{DB: db.DB, Logger: logger, Mail: mail},
		jobs.Config{JobTimeout: 5 * time.Minute, RescueStuckJobsAfter: 6 * time.Minute})
	if err != nil {
		return err
	}
	if err := runner.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	if !mail.Configured() {
		logger.Info("no SMTP server configured (NUBIQ_SMTP_HOST, NUBIQ_SMTP_FROM): invitations are created without email")
	}

	deps := &mcp.Deps{DB: db.DB, Logger: logger, SendInvitations: mail.Configured()}
	mcpHandler := mcp.NewHandler(mcp.HandlerConfig{
		Registry:       mcp.NewRegistry(deps),
		Auth:           keys,
		Limiter:        limiter,
		Logger:         logger,
		AllowedOrigins: origins,
		MaxBodyBytes:   maxBody,
	})
	// Background upkeep: key last-use times are written in batches (and once more after the
	// last request), old rate-limit counters are deleted hourly.
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	background.Go(func() { keys.Run(bgCtx, 10*time.Second) })
	background.Go(func() { limiter.Run(bgCtx, time.Hour) })
	defer func() {
		stopBackground()
		background.Wait()
	}()
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
	// Jobs still running when the timeout ends are cancelled and retried later by any node.
	if err := runner.Stop(sctx); err != nil {
		logger.Warn("stop workers", "err", err)
	}
	return nil
}
