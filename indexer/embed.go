// Package indexer turns uploaded documents into searchable chunks: extraction,
// chunking, embedding and upkeep of the local keyword index.
package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Embedder turns texts into vectors. Implementations are safe for concurrent use.
type Embedder interface {
	// Name identifies the vector space, e.g. "hash", "model2vec:potion-base-8M" or
	// "openai:text-embedding-3-small". Vectors from embedders with different names
	// (or dimensions) must not be compared.
	Name() string
	Dimensions() int
	// Embed returns one unit-length vector per text, in input order. A text that
	// yields no features at all (empty, or only unknown tokens) gets the zero vector.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Embedder kinds accepted in EmbedderConfig.Kind.
const (
	EmbedderHash      = "hash"
	EmbedderModel2Vec = "model2vec"
	EmbedderOpenAI    = "openai"
)

// Defaults filled in by EmbedderConfig.withDefaults.
const (
	DefaultHashDims       = 256
	DefaultModel2VecModel = "minishlab/potion-base-8M"
	DefaultHubURL         = "https://huggingface.co"
	DefaultOpenAIBatch    = 64
	DefaultOpenAITimeout  = 30 * time.Second
	DefaultOpenAIRetries  = 3
)

// EmbedderConfig selects and configures an Embedder. The zero value is valid: it
// picks the best embedder available without touching the network (see NewEmbedder).
type EmbedderConfig struct {
	// Kind is "hash", "model2vec", "openai", or "" to choose automatically.
	Kind string

	// HashDims is the number of buckets of the hash embedder (default 256).
	HashDims int

	// Model2VecPath is a local directory holding config.json, tokenizer.json and
	// model.safetensors. It takes precedence over Model2VecModel.
	Model2VecPath string
	// Model2VecModel is a Hugging Face repository id ("owner/name"), downloaded
	// into CacheDir on first use when Kind is "model2vec" (default
	// "minishlab/potion-base-8M").
	Model2VecModel string
	// CacheDir holds downloaded models (default: the user cache dir + "/nubiq/models").
	CacheDir string
	// HubURL is the base URL of the model hub (default https://huggingface.co).
	HubURL string

	// OpenAIURL is the base URL of an OpenAI-compatible API, e.g.
	// http://localhost:11434/v1; requests go to {OpenAIURL}/embeddings.
	OpenAIURL   string
	OpenAIKey   string
	OpenAIModel string
	// OpenAIDims asks the endpoint for vectors of this size (the "dimensions"
	// request field); 0 leaves it to the model and learns it from a probe call.
	OpenAIDims int
	// BatchSize is the number of inputs per request (default 64).
	BatchSize int
	// Timeout bounds each HTTP request, model downloads included (default 30s
	// for embedding requests; downloads get ten times as long).
	Timeout time.Duration
	// MaxRetries is how often a request failing with 429, 5xx or a network error
	// is retried (default 3; negative means never).
	MaxRetries int
}

func (c EmbedderConfig) withDefaults() EmbedderConfig {
	if c.HashDims <= 0 {
		c.HashDims = DefaultHashDims
	}
	if c.Model2VecModel == "" {
		c.Model2VecModel = DefaultModel2VecModel
	}
	if c.CacheDir == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			c.CacheDir = filepath.Join(dir, "nubiq", "models")
		} else {
			c.CacheDir = filepath.Join(os.TempDir(), "nubiq-models")
		}
	}
	if c.HubURL == "" {
		c.HubURL = DefaultHubURL
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultOpenAIBatch
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultOpenAITimeout
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultOpenAIRetries
	} else if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	return c
}

// ErrUnknownEmbedder is returned for an EmbedderConfig.Kind that names no embedder.
var ErrUnknownEmbedder = errors.New("unknown embedder kind")

// NewEmbedder builds the embedder cfg asks for. With an empty Kind it takes, in
// order: the OpenAI-compatible endpoint if OpenAIURL is set; a model2vec model
// from Model2VecPath or already in the cache; else the hash embedder. The
// automatic choice never downloads, because the server may run without network
// access and should still start; set Kind to "model2vec" to allow the download.
func NewEmbedder(ctx context.Context, cfg EmbedderConfig, logger *slog.Logger) (Embedder, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()

	switch cfg.Kind {
	case EmbedderHash:
		return chosen(logger, NewHashEmbedder(cfg.HashDims), "configured")
	case EmbedderModel2Vec:
		e, err := newModel2VecEmbedder(ctx, cfg, true)
		if err != nil {
			return nil, err
		}
		return chosen(logger, e, "configured")
	case EmbedderOpenAI:
		e, err := newOpenAIEmbedder(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return chosen(logger, e, "configured")
	case "":
	default:
		return nil, fmt.Errorf("new embedder %q: %w", cfg.Kind, ErrUnknownEmbedder)
	}

	if cfg.OpenAIURL != "" {
		e, err := newOpenAIEmbedder(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return chosen(logger, e, "an OpenAI-compatible endpoint is configured")
	}
	if cfg.Model2VecPath != "" {
		e, err := newModel2VecEmbedder(ctx, cfg, false)
		if err != nil {
			return nil, err
		}
		return chosen(logger, e, "a local model2vec model is configured")
	}
	if dir := model2VecCacheDir(cfg.CacheDir, cfg.Model2VecModel); dir != "" && modelFilesPresent(dir) {
		e, err := newModel2VecEmbedder(ctx, cfg, false)
		if err != nil {
			return nil, err
		}
		return chosen(logger, e, "a model2vec model is in the cache")
	}
	return chosen(logger, NewHashEmbedder(cfg.HashDims),
		"no embedding endpoint or local model2vec model; lexical hashing only")
}

func chosen(logger *slog.Logger, e Embedder, reason string) (Embedder, error) {
	logger.Info("embedder selected", "embedder", e.Name(), "dimensions", e.Dimensions(), "reason", reason)
	return e, nil
}

// normalizeL2 scales v to unit length in place; the zero vector stays zero.
func normalizeL2(v []float32) {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return
	}
	inv := 1 / math.Sqrt(sum)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}
