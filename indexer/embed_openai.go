package indexer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// openAIEmbedder calls an OpenAI-compatible POST {base}/embeddings endpoint
// (OpenAI, Ollama, vLLM, llama.cpp, LiteLLM, ...).
type openAIEmbedder struct {
	endpoint   string
	key        string
	model      string
	reqDims    int // sent as "dimensions" when > 0
	dims       int
	batch      int
	timeout    time.Duration
	maxRetries int
	client     *http.Client

	// Backoff without Retry-After: baseDelay·2^attempt, capped at maxDelay,
	// with jitter. A server's Retry-After is honoured up to maxRetryAfter, so
	// a confused server cannot park a worker for hours.
	baseDelay     time.Duration
	maxDelay      time.Duration
	maxRetryAfter time.Duration
}

// ErrEmbeddingEndpoint wraps failures reported by an embedding endpoint.
var ErrEmbeddingEndpoint = errors.New("embedding endpoint")

func newOpenAIEmbedder(ctx context.Context, cfg EmbedderConfig) (*openAIEmbedder, error) {
	e, err := openAIFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	if err := e.probe(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// openAIFromConfig builds the client without contacting the endpoint; cfg
// must have its defaults filled in.
func openAIFromConfig(cfg EmbedderConfig) (*openAIEmbedder, error) {
	if cfg.OpenAIURL == "" {
		return nil, errors.New("openai embedder: OpenAIURL is not set")
	}
	if cfg.OpenAIModel == "" {
		return nil, errors.New("openai embedder: OpenAIModel is not set")
	}
	return &openAIEmbedder{
		endpoint:      strings.TrimRight(cfg.OpenAIURL, "/") + "/embeddings",
		key:           cfg.OpenAIKey,
		model:         cfg.OpenAIModel,
		reqDims:       cfg.OpenAIDims,
		batch:         cfg.BatchSize,
		timeout:       cfg.Timeout,
		maxRetries:    cfg.MaxRetries,
		client:        &http.Client{},
		baseDelay:     500 * time.Millisecond,
		maxDelay:      30 * time.Second,
		maxRetryAfter: 2 * time.Minute,
	}, nil
}

// probe embeds one short text so that Dimensions is known before the first
// real call and a wrong URL, key or model fails at startup, not mid-ingest.
func (e *openAIEmbedder) probe(ctx context.Context) error {
	vs, err := e.embedBatch(ctx, []string{"dimension probe"})
	if err != nil {
		return fmt.Errorf("probe embedding endpoint %s (model %s): %w", e.endpoint, e.model, err)
	}
	e.dims = len(vs[0])
	if e.dims == 0 {
		return fmt.Errorf("probe embedding endpoint %s (model %s): %w: empty vector", e.endpoint, e.model, ErrEmbeddingEndpoint)
	}
	if e.reqDims > 0 && e.dims != e.reqDims {
		return fmt.Errorf("probe embedding endpoint %s (model %s): %w: asked for %d dimensions, got %d",
			e.endpoint, e.model, ErrEmbeddingEndpoint, e.reqDims, e.dims)
	}
	return nil
}

func (e *openAIEmbedder) Name() string    { return "openai:" + e.model }
func (e *openAIEmbedder) Dimensions() int { return e.dims }

func (e *openAIEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for i := 0; i < len(texts); i += e.batch {
		batch := texts[i:min(i+e.batch, len(texts))]
		vs, err := e.embedBatch(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("embed texts %d..%d of %d: %w", i, i+len(batch)-1, len(texts), err)
		}
		for _, v := range vs {
			if len(v) != e.dims {
				return nil, fmt.Errorf("embed texts %d..%d: %w: vector of %d dimensions, want %d",
					i, i+len(batch)-1, ErrEmbeddingEndpoint, len(v), e.dims)
			}
		}
		out = append(out, vs...)
	}
	return out, nil
}

type embeddingRequest struct {
	Model      string   `json:"model"`
	Input      []string `json:"input"`
	Dimensions int      `json:"dimensions,omitempty"`
}

type embeddingResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

// embedBatch sends one request, retrying what is worth retrying.
func (e *openAIEmbedder) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	body, err := json.Marshal(embeddingRequest{Model: e.model, Input: texts, Dimensions: e.reqDims})
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		vs, retryAfter, err := e.post(ctx, body, len(texts))
		if err == nil {
			return vs, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if retryAfter < 0 || attempt >= e.maxRetries {
			if attempt > 0 {
				return nil, fmt.Errorf("after %d attempts: %w", attempt+1, err)
			}
			return nil, err
		}
		wait := min(retryAfter, e.maxRetryAfter)
		if wait == 0 {
			wait = e.backoff(attempt)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func (e *openAIEmbedder) backoff(attempt int) time.Duration {
	d := e.baseDelay << min(attempt, 16)
	if d <= 0 || d > e.maxDelay {
		d = e.maxDelay
	}
	// Up to 25% jitter so that many workers hitting the same limit spread out.
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// post makes one attempt. retryAfter is < 0 if the error is final, 0 to back
// off by the default schedule, or the delay the server asked for.
func (e *openAIEmbedder) post(ctx context.Context, body []byte, n int) (vs [][]float32, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, -1, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if e.key != "" {
		req.Header.Set("Authorization", "Bearer "+e.key)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		// Network errors and per-request timeouts are worth another try.
		return nil, 0, fmt.Errorf("%w: POST %s: %s", ErrEmbeddingEndpoint, e.endpoint, e.redact(err.Error()))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: POST %s: read response: %s", ErrEmbeddingEndpoint, e.endpoint, e.redact(err.Error()))
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("%w: POST %s: %s%s", ErrEmbeddingEndpoint, e.endpoint, resp.Status, e.errorDetail(data))
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return nil, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), err
		}
		return nil, -1, err
	}
	var r embeddingResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, -1, fmt.Errorf("%w: POST %s: decode response: %v", ErrEmbeddingEndpoint, e.endpoint, err)
	}
	if len(r.Data) != n {
		return nil, -1, fmt.Errorf("%w: POST %s: %d vectors for %d inputs", ErrEmbeddingEndpoint, e.endpoint, len(r.Data), n)
	}
	// The API does not promise input order; index does.
	vs = make([][]float32, n)
	for _, d := range r.Data {
		if d.Index < 0 || d.Index >= n || vs[d.Index] != nil {
			return nil, -1, fmt.Errorf("%w: POST %s: bad or repeated index %d", ErrEmbeddingEndpoint, e.endpoint, d.Index)
		}
		if len(d.Embedding) == 0 {
			return nil, -1, fmt.Errorf("%w: POST %s: empty vector at index %d", ErrEmbeddingEndpoint, e.endpoint, d.Index)
		}
		if len(d.Embedding) != len(r.Data[0].Embedding) {
			return nil, -1, fmt.Errorf("%w: POST %s: vectors of different lengths", ErrEmbeddingEndpoint, e.endpoint)
		}
		normalizeL2(d.Embedding)
		vs[d.Index] = d.Embedding
	}
	return vs, 0, nil
}

// errorDetail extracts the message of an OpenAI-style error body, or a short
// prefix of any other body, without the API key should a server echo it.
func (e *openAIEmbedder) errorDetail(body []byte) string {
	var r struct {
		Error json.RawMessage `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &r) == nil && len(r.Error) > 0 {
		var obj struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(r.Error, &obj) == nil && obj.Message != "":
			msg = obj.Message
		case json.Unmarshal(r.Error, &s) == nil:
			msg = s
		}
	}
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	if msg == "" {
		return ""
	}
	return ": " + e.redact(msg)
}

func (e *openAIEmbedder) redact(s string) string {
	if e.key == "" {
		return s
	}
	return strings.ReplaceAll(s, e.key, "[redacted]")
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date. It
// returns 0 (use the default backoff) when the header is absent or invalid,
// and a tiny positive delay for a date already past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return time.Millisecond
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
		return time.Millisecond
	}
	return 0
}
