package indexer

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testKey = "sk-test-secret-123"

// fakeEmbeddings speaks the OpenAI embeddings wire format. Vector i of a
// request is (len(input[i]), 1, 0, ...) before normalisation, so tests can tell
// which input a vector belongs to. respond may override a request's answer.
type fakeEmbeddings struct {
	dims int

	mu       sync.Mutex
	requests []embeddingRequest
	respond  func(call int, w http.ResponseWriter, req embeddingRequest) bool
}

func (f *fakeEmbeddings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+testKey {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"message":"Incorrect API key provided: ` + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") + `"}}`))
		return
	}
	var req embeddingRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	call := len(f.requests)
	f.requests = append(f.requests, req)
	respond := f.respond
	f.mu.Unlock()
	if respond != nil && respond(call, w, req) {
		return
	}
	dims := f.dims
	if req.Dimensions > 0 {
		dims = req.Dimensions
	}
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]item, len(req.Input))
	// Reversed, to check that the client orders by index.
	for i := range req.Input {
		v := make([]float32, dims)
		v[0] = float32(len(req.Input[i]))
		if dims > 1 {
			v[1] = 1
		}
		data[len(req.Input)-1-i] = item{Object: "embedding", Index: i, Embedding: v}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model})
}

func (f *fakeEmbeddings) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func newFake(t *testing.T, dims int) (*fakeEmbeddings, *httptest.Server) {
	f := &fakeEmbeddings{dims: dims}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// fastOpenAI builds an embedder whose backoff is short enough for tests.
func fastOpenAI(t *testing.T, cfg EmbedderConfig) (*openAIEmbedder, error) {
	t.Helper()
	e, err := openAIFromConfig(cfg.withDefaults())
	require.NoError(t, err)
	e.baseDelay, e.maxDelay = time.Millisecond, 50*time.Millisecond
	if err := e.probe(context.Background()); err != nil {
		return nil, err
	}
	return e, nil
}

func TestOpenAIEmbedder(t *testing.T) {
	f, srv := newFake(t, 3)
	e, err := NewEmbedder(context.Background(), EmbedderConfig{
		OpenAIURL: srv.URL + "/v1/", OpenAIKey: testKey, OpenAIModel: "text-embedding-3-small", BatchSize: 4,
	}, nil)
	require.NoError(t, err)
	require.Equal(t, "openai:text-embedding-3-small", e.Name())
	require.Equal(t, 3, e.Dimensions())
	require.Equal(t, 1, f.calls(), "one probe at construction")

	texts := make([]string, 10)
	for i := range texts {
		texts[i] = strings.Repeat("x", i+1)
	}
	vs, err := e.Embed(context.Background(), texts)
	require.NoError(t, err)
	require.Len(t, vs, 10)
	require.Equal(t, 4, f.calls(), "probe + ceil(10/4) batches")
	for i, v := range vs {
		require.InDelta(t, 1, dot32(v, v), 1e-6)
		// Un-normalised (len, 1, 0): the ratio identifies the input.
		require.InDelta(t, float64(i+1), float64(v[0]/v[1]), 1e-4)
	}
	require.Equal(t, "text-embedding-3-small", f.requests[1].Model)
	require.Len(t, f.requests[3].Input, 2)
	require.Zero(t, f.requests[1].Dimensions)
}

func TestOpenAIEmbedderDimensionsRequested(t *testing.T) {
	f, srv := newFake(t, 8)
	e, err := fastOpenAI(t, EmbedderConfig{OpenAIURL: srv.URL + "/v1", OpenAIKey: testKey, OpenAIModel: "m", OpenAIDims: 5})
	require.NoError(t, err)
	require.Equal(t, 5, e.Dimensions())
	require.Equal(t, 5, f.requests[0].Dimensions)

	// An endpoint that ignores "dimensions" is caught at startup.
	f.respond = func(_ int, w http.ResponseWriter, _ embeddingRequest) bool {
		body, _ := json.Marshal(map[string]any{"data": []map[string]any{{"index": 0, "embedding": []float32{1, 2}}}})
		_, _ = w.Write(body)
		return true
	}
	_, err = fastOpenAI(t, EmbedderConfig{OpenAIURL: srv.URL + "/v1", OpenAIKey: testKey, OpenAIModel: "m", OpenAIDims: 5})
	require.ErrorContains(t, err, "asked for 5 dimensions, got 2")
}

func TestOpenAIEmbedderRetries(t *testing.T) {
	tests := []struct {
		name      string
		fail      func(w http.ResponseWriter)
		failures  int
		wantErr   string
		wantCalls int
		minWait   time.Duration
	}{
		{
			name: "429 with Retry-After seconds, then success",
			fail: func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			failures: 1, wantCalls: 2, minWait: 900 * time.Millisecond,
		},
		{
			name: "429 with Retry-After date in the past, then success",
			fail: func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusTooManyRequests)
			},
			failures: 1, wantCalls: 2,
		},
		{
			name:     "500 twice, then success",
			fail:     func(w http.ResponseWriter) { http.Error(w, "upstream hiccup", http.StatusInternalServerError) },
			failures: 2, wantCalls: 3,
		},
		{
			name: "persistent 503",
			fail: func(w http.ResponseWriter) {
				http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusServiceUnavailable)
			},
			failures: 100, wantCalls: 4, wantErr: "after 4 attempts: embedding endpoint: POST",
		},
		{
			name: "400 is not retried",
			fail: func(w http.ResponseWriter) {
				http.Error(w, `{"error":{"message":"input too long"}}`, http.StatusBadRequest)
			},
			failures: 100, wantCalls: 1, wantErr: "400 Bad Request: input too long",
		},
		{
			name: "wrong count of vectors",
			fail: func(w http.ResponseWriter) {
				_, _ = w.Write([]byte(`{"data":[{"index":0,"embedding":[1,0,0]}]}`))
			},
			failures: 100, wantCalls: 1, wantErr: "1 vectors for 2 inputs",
		},
		{
			name: "repeated index",
			fail: func(w http.ResponseWriter) {
				_, _ = w.Write([]byte(`{"data":[{"index":0,"embedding":[1,0,0]},{"index":0,"embedding":[0,1,0]}]}`))
			},
			failures: 100, wantCalls: 1, wantErr: "bad or repeated index 0",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFake(t, 3)
			e, err := fastOpenAI(t, EmbedderConfig{OpenAIURL: srv.URL + "/v1", OpenAIKey: testKey, OpenAIModel: "m"})
			require.NoError(t, err)
			f.respond = func(call int, w http.ResponseWriter, _ embeddingRequest) bool {
				if call-1 < tc.failures { // call 0 was the probe
					tc.fail(w)
					return true
				}
				return false
			}
			start := time.Now()
			vs, err := e.Embed(context.Background(), []string{"a", "bb"})
			require.Equal(t, tc.wantCalls, f.calls()-1)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.ErrorIs(t, err, ErrEmbeddingEndpoint)
				require.NotContains(t, err.Error(), testKey)
				return
			}
			require.NoError(t, err)
			require.Len(t, vs, 2)
			require.GreaterOrEqual(t, time.Since(start), tc.minWait)
		})
	}
}

func TestOpenAIEmbedderErrorsHideKey(t *testing.T) {
	_, srv := newFake(t, 3)
	wrong := "sk-wrong-key-456"
	_, err := NewEmbedder(context.Background(), EmbedderConfig{
		OpenAIURL: srv.URL + "/v1", OpenAIKey: wrong, OpenAIModel: "m",
	}, nil)
	require.Error(t, err)
	require.ErrorContains(t, err, "401 Unauthorized")
	require.NotContains(t, err.Error(), wrong)
	require.Contains(t, err.Error(), "[redacted]")
}

func TestOpenAIEmbedderUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	_, err = NewEmbedder(context.Background(), EmbedderConfig{
		OpenAIURL: "http://" + addr + "/v1", OpenAIKey: testKey, OpenAIModel: "m", MaxRetries: -1,
	}, nil)
	require.ErrorContains(t, err, "probe embedding endpoint http://"+addr+"/v1/embeddings")
	require.NotContains(t, err.Error(), testKey)

	_, err = NewEmbedder(context.Background(), EmbedderConfig{Kind: "openai", OpenAIModel: "m"}, nil)
	require.ErrorContains(t, err, "OpenAIURL is not set")
}

func TestOpenAIEmbedderCancellation(t *testing.T) {
	f, srv := newFake(t, 3)
	e, err := fastOpenAI(t, EmbedderConfig{OpenAIURL: srv.URL + "/v1", OpenAIKey: testKey, OpenAIModel: "m"})
	require.NoError(t, err)
	f.respond = func(_ int, w http.ResponseWriter, _ embeddingRequest) bool {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = e.Embed(ctx, []string{"a"})
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestOpenAIEmbedderPerRequestTimeout(t *testing.T) {
	f, srv := newFake(t, 3)
	e, err := fastOpenAI(t, EmbedderConfig{
		OpenAIURL: srv.URL + "/v1", OpenAIKey: testKey, OpenAIModel: "m", Timeout: 100 * time.Millisecond, MaxRetries: 1,
	})
	require.NoError(t, err)
	f.respond = func(call int, w http.ResponseWriter, _ embeddingRequest) bool {
		if call == 1 {
			time.Sleep(400 * time.Millisecond) // first real attempt hangs
			return true
		}
		return false
	}
	vs, err := e.Embed(context.Background(), []string{"a"})
	require.NoError(t, err)
	require.Len(t, vs, 1)
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"garbage":                       0,
		"2":                             2 * time.Second,
		"0":                             time.Millisecond,
		"0.5":                           500 * time.Millisecond,
		"Fri, 02 Jan 2026 03:04:15 GMT": 10 * time.Second,
		"Fri, 02 Jan 2026 03:00:00 GMT": time.Millisecond,
	}
	for in, want := range tests {
		require.Equal(t, want, parseRetryAfter(in, now), "Retry-After %q", in)
	}
}
