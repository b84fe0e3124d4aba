package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nubiq/hub/indexer"
	"github.com/nubiq/hub/jobs"
	"github.com/nubiq/hub/postgres"
)

// envOr returns the environment variable's value, or def when it is unset or empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// dbFlags are the database settings every command that touches data shares.
type dbFlags struct {
	URL      string
	DataDir  string
	PGPort   int
	PGUser   string
	LogLevel string
}

func (f *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.URL, "database-url", envOr("NUBIQ_DATABASE_URL", ""), "PostgreSQL URL; empty runs the embedded local cluster (env NUBIQ_DATABASE_URL)")
	fs.StringVar(&f.DataDir, "data-dir", envOr("NUBIQ_DATA_DIR", ".nubiq"), "data directory: local cluster, search indexes, model cache (env NUBIQ_DATA_DIR)")
	fs.IntVar(&f.PGPort, "pg-port", envInt("NUBIQ_PG_PORT", 0), "loopback port of the local cluster on first start; 0 picks a free one (env NUBIQ_PG_PORT)")
	fs.StringVar(&f.PGUser, "pg-user", envOr("NUBIQ_PG_USER", "postgres"), "OS user the local cluster runs as when nubiq runs as root (env NUBIQ_PG_USER)")
	fs.StringVar(&f.LogLevel, "log-level", envOr("NUBIQ_LOG_LEVEL", "info"), "debug, info, warn or error (env NUBIQ_LOG_LEVEL)")
}

// database is an open database plus whatever must be released with it.
type database struct {
	*postgres.DB
	cluster *postgres.Cluster
}

// Close closes the pool and stops the local cluster if this process started it.
func (d *database) Close() {
	d.DB.Close()
	if d.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := d.cluster.Stop(ctx); err != nil {
			d.Logger.Error("stop local cluster", "err", err)
		}
	}
}

// openDatabase connects to NUBIQ_DATABASE_URL, or starts (or reuses) the local cluster under
// the data dir and connects to its "nubiq" database.
func openDatabase(ctx context.Context, f *dbFlags, logger *slog.Logger) (*database, error) {
	url := f.URL
	var cluster *postgres.Cluster
	if url == "" {
		var err error
		cluster, err = postgres.StartCluster(ctx, postgres.ClusterConfig{
			Dir: filepath.Join(f.DataDir, "postgres"), Port: f.PGPort, RunAs: f.PGUser, Logger: logger,
		})
		if err != nil {
			return nil, err
		}
		if err := cluster.EnsureDatabase(ctx, "nubiq"); err != nil {
			cluster.Stop(context.WithoutCancel(ctx)) //nolint:errcheck
			return nil, err
		}
		url = cluster.URL("nubiq")
	}
	db, err := postgres.Open(ctx, postgres.Config{URL: url, Logger: logger})
	if err != nil {
		if cluster != nil {
			cluster.Stop(context.WithoutCancel(ctx)) //nolint:errcheck
		}
		return nil, fmt.Errorf("open database: %w", err)
	}
	return &database{DB: db, cluster: cluster}, nil
}

// openMigrated opens the database and applies pending migrations.
func openMigrated(ctx context.Context, f *dbFlags, logger *slog.Logger) (*database, error) {
	db, err := openDatabase(ctx, f, logger)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// embedderFlags choose the embedder, as serve and the admin commands that index share.
type embedderFlags struct {
	kind  string
	url   string
	model string
	path  string
	dims  int
}

func (f *embedderFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.kind, "embedder", envOr("NUBIQ_EMBEDDER", ""), `embedder: "hash", "model2vec", "openai", or empty to choose: an endpoint if --embedder-url is set, else a local or cached model2vec model, else hash (env NUBIQ_EMBEDDER)`)
	fs.StringVar(&f.url, "embedder-url", envOr("NUBIQ_EMBEDDER_URL", ""), "base URL of an OpenAI-compatible embeddings API, e.g. http://localhost:11434/v1; the key comes from NUBIQ_EMBEDDER_KEY (env NUBIQ_EMBEDDER_URL)")
	fs.StringVar(&f.model, "embedder-model", envOr("NUBIQ_EMBEDDER_MODEL", ""), "model: the endpoint's model name, or the Hugging Face id of a model2vec model (default minishlab/potion-base-8M) (env NUBIQ_EMBEDDER_MODEL)")
	fs.StringVar(&f.path, "embedder-path", envOr("NUBIQ_EMBEDDER_PATH", ""), "directory of a local model2vec model (config.json, tokenizer.json, model.safetensors) (env NUBIQ_EMBEDDER_PATH)")
	fs.IntVar(&f.dims, "embedder-dims", envInt("NUBIQ_EMBEDDER_DIMS", 0), "vector size: buckets of the hash embedder (default 256), or the dimensions asked of the endpoint (env NUBIQ_EMBEDDER_DIMS)")
}

// build makes the embedder; the choice and its reason are logged.
func (f *embedderFlags) build(ctx context.Context, dataDir string, logger *slog.Logger) (indexer.Embedder, error) {
	cfg := indexer.EmbedderConfig{
		Kind:          f.kind,
		HashDims:      f.dims,
		Model2VecPath: f.path,
		CacheDir:      filepath.Join(dataDir, "models"),
		OpenAIURL:     f.url,
		OpenAIKey:     os.Getenv("NUBIQ_EMBEDDER_KEY"),
		OpenAIDims:    f.dims,
	}
	if f.kind == indexer.EmbedderOpenAI || (f.kind == "" && f.url != "") {
		cfg.OpenAIModel = f.model
	} else {
		cfg.Model2VecModel = f.model
	}
	e, err := indexer.NewEmbedder(ctx, cfg, logger)
	if err != nil {
		return nil, fmt.Errorf("embedder: %w", err)
	}
	return e, nil
}

// ingestFlags tune the document pipeline.
type ingestFlags struct {
	workers      int
	chunkTokens  int
	chunkOverlap int
}

func (f *ingestFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.workers, "ingest-workers", envInt("NUBIQ_INGEST_WORKERS", 8), "documents this node indexes at once (env NUBIQ_INGEST_WORKERS)")
	fs.IntVar(&f.chunkTokens, "chunk-tokens", envInt("NUBIQ_CHUNK_TOKENS", 300), "target chunk size in tokens (env NUBIQ_CHUNK_TOKENS)")
	fs.IntVar(&f.chunkOverlap, "chunk-overlap", envInt("NUBIQ_CHUNK_OVERLAP", 0), "tokens repeated between neighbouring chunks; 0 means 15% of --chunk-tokens, negative none (env NUBIQ_CHUNK_OVERLAP)")
}

func (f *ingestFlags) config() jobs.IngestConfig {
	return jobs.IngestConfig{Chunk: indexer.ChunkOptions{TargetTokens: f.chunkTokens, OverlapTokens: f.chunkOverlap}}
}
