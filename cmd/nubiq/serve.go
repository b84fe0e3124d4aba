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

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/mcp"
	"github.com/nubiq/hub/postgres"
	"github.com/nubiq/hub/server"
)

func init() {
	register(&command{name: "serve", summary: "run the server: MCP endpoint, workers, search indexes", run: runServe})
}

type serveFlags struct {
	db              dbFlags
	embedder        embedderFlags
	ingest          ingestFlags
	index           indexFlags
	maxUpload       int64
	addr            string
	noMigrate       bool
	shutdownTimeout time.Duration
	allowedOrigins  string
	maxBodyBytes    string
	mail            mailFlags
	notifRetention  time.Duration
	webhookPrivate  bool
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	f.db.register(fs)
	f.embedder.register(fs)
	f.ingest.register(fs)
	f.index.register(fs)
	fs.Int64Var(&f.maxUpload, "max-upload-bytes", int64(envInt("NUBIQ_MAX_UPLOAD_BYTES", nubiq.DefaultMaxUploadBytes)), "largest document documents.upload accepts, in bytes (env NUBIQ_MAX_UPLOAD_BYTES)")
	fs.StringVar(&f.addr, "addr", envOr("NUBIQ_ADDR", "127.0.0.1:8080"), "listen address (env NUBIQ_ADDR)")
	fs.BoolVar(&f.noMigrate, "no-migrate", envOr("NUBIQ_NO_MIGRATE", "") != "", "do not apply migrations on start (env NUBIQ_NO_MIGRATE)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", envDuration("NUBIQ_SHUTDOWN_TIMEOUT", 20*time.Second), "how long in-flight requests may take to finish on SIGTERM")
	fs.StringVar(&f.allowedOrigins, "allowed-origins", envOr("NUBIQ_ALLOWED_ORIGINS", ""), "comma-separated browser origins (https://app.example.com) allowed to call /api/mcp/, or *; requests without Origin are always allowed (env NUBIQ_ALLOWED_ORIGINS)")
	f.mail.register(fs)
	fs.BoolVar(&f.webhookPrivate, "webhook-allow-private", envOr("NUBIQ_WEBHOOK_ALLOW_PRIVATE", "") != "", "let channel webhooks reach loopback, private and link-local addresses; off by default so that no workspace can make the server call its neighbours (env NUBIQ_WEBHOOK_ALLOW_PRIVATE)")
	fs.DurationVar(&f.notifRetention, "notification-retention", envDuration("NUBIQ_NOTIFICATION_RETENTION", 30*24*time.Hour), "how long notification events are kept before deletion (env NUBIQ_NOTIFICATION_RETENTION)")
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
	emb, err := f.embedder.build(ctx, f.db.DataDir, logger)
	if err != nil {
		return err
	}
	// The workers index documents, deliver outbound messages and send invitation emails.
	runner, err := jobs.NewRunner(&jobs.Deps{DB: db.DB, Logger: logger, Mail: mail, Embedder: emb, Ingest: f.ingest.config(),
		Maintenance: jobs.MaintenanceConfig{NotificationRetention: f.notifRetention},
		Delivery:    jobs.DeliveryConfig{AllowPrivateNetworks: f.webhookPrivate}},
		jobs.Config{IngestWorkers: f.ingest.workers})
	if err != nil {
		return err
	}
	// The runner outlives ctx: on shutdown it is stopped explicitly, letting running jobs end;
	// jobs still running when the timeout ends are cancelled and retried later by any node.
	if err := runner.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
		defer cancel()
		if err := runner.Stop(sctx); err != nil {
			logger.Warn("stop workers", "err", err)
		}
	}()
	if !mail.Configured() {
		logger.Info("no SMTP server configured (NUBIQ_SMTP_HOST, NUBIQ_SMTP_FROM): invitations are created without email")
	}
	go prepareVectors(ctx, db.DB, emb, logger)
	searchSvc, stopSearch, err := startSearch(ctx, db.DB, f.db.DataDir, emb, &f.index, logger)
	if err != nil {
		return err
	}
	defer stopSearch()

	// The body limit must leave room for the largest upload in base64 plus the JSON-RPC envelope.
	if need := (f.maxUpload+2)/3*4 + (1 << 20); maxBody < need {
		logger.Info("raising the MCP body limit to fit the largest upload", "max_body_bytes", need, "max_upload_bytes", f.maxUpload)
		maxBody = need
	}
	deps := &mcp.Deps{DB: db.DB, Logger: logger, Search: searchSvc, SendInvitations: mail.Configured(), MaxUploadBytes: f.maxUpload}
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
	if handler, err = mountAdmin(ctx, handler, db, logger, f.maxUpload); err != nil {
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

// prepareVectors makes the database ready for the node's embedder: the HNSW index for its
// dimensions, and a reindex of every workspace's documents whose vectors another embedder
// made (vectors of different embedders cannot be compared). Both can take a while on a large
// knowledge base, so they run beside serving.
func prepareVectors(ctx context.Context, db *postgres.DB, emb indexer.Embedder, logger *slog.Logger) {
	name, dims := emb.Name(), emb.Dimensions()
	wss, err := db.ListWorkspaces(ctx)
	if err != nil {
		logger.Error("check documents for embedder change", "err", err)
	}
	for _, w := range wss {
		res, err := db.ReindexStaleEmbeddings(ctx, w.ID, name, dims)
		if err != nil {
			logger.Error("reindex after embedder change", "workspace", w.ID, "err", err)
			continue
		}
		if res != nil {
			logger.Info("embedder changed: reindexing documents embedded by another",
				"workspace", w.ID, "embedder", name, "dimensions", dims, "documents", res.Run.Total, "reindex_run", res.Run.ID)
		}
	}
	start := time.Now()
	if err := db.EnsureVectorIndex(ctx, dims); err != nil {
		if ctx.Err() == nil {
			logger.Warn("no HNSW vector index; vector search scans instead", "dimensions", dims, "err", err)
		}
		return
	}
	logger.Info("vector index ready", "index", postgres.VectorIndexName(dims), "took", time.Since(start).Round(time.Millisecond).String())
}
