package indexer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHashEmbedder(t *testing.T) {
	e := NewHashEmbedder(0)
	require.Equal(t, "hash", e.Name())
	require.Equal(t, DefaultHashDims, e.Dimensions())

	texts := []string{
		"How do I reset my password?",
		"how do i RESET my password",
		"Resetting passwords for your account",
		"Invoices are sent on the first of the month.",
		"",
		"Zürich café 東京",
	}
	vs, err := e.Embed(context.Background(), texts)
	require.NoError(t, err)
	require.Len(t, vs, len(texts))
	for i, v := range vs {
		require.Len(t, v, DefaultHashDims)
		if texts[i] == "" {
			require.Zero(t, dot32(v, v))
			continue
		}
		require.InDelta(t, 1, dot32(v, v), 1e-5, "text %q", texts[i])
	}

	// Case and punctuation do not matter; shared fragments make texts closer.
	require.InDelta(t, 1, cosine(vs[0], vs[1]), 1e-6)
	require.Greater(t, cosine(vs[0], vs[2]), cosine(vs[0], vs[3]))

	// Deterministic across calls and instances.
	again, err := NewHashEmbedder(DefaultHashDims).Embed(context.Background(), texts[:1])
	require.NoError(t, err)
	require.Equal(t, vs[0], again[0])

	// Word order matters a little (bigrams), not much.
	ab, _ := e.Embed(context.Background(), []string{"open ticket", "ticket open"})
	c := cosine(ab[0], ab[1])
	require.Less(t, c, 0.9999)
	require.Greater(t, c, 0.7)
}

func TestHashEmbedderDims(t *testing.T) {
	for _, d := range []int{1, 7, 64, 1024} {
		vs, err := NewHashEmbedder(d).Embed(context.Background(), []string{"some words here"})
		require.NoError(t, err)
		require.Len(t, vs[0], d)
		require.InDelta(t, 1, dot32(vs[0], vs[0]), 1e-5)
	}
}

func TestHashEmbedderCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewHashEmbedder(0).Embed(ctx, []string{"x"})
	require.ErrorIs(t, err, context.Canceled)
}

func TestNewEmbedderSelection(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))

	e, err := NewEmbedder(context.Background(), EmbedderConfig{CacheDir: t.TempDir(), HashDims: 32}, logger)
	require.NoError(t, err)
	require.Equal(t, "hash", e.Name())
	require.Equal(t, 32, e.Dimensions())
	require.Contains(t, buf.String(), "embedder=hash")
	require.Contains(t, buf.String(), "reason=")

	_, err = NewEmbedder(context.Background(), EmbedderConfig{Kind: "word2vec"}, nil)
	require.ErrorIs(t, err, ErrUnknownEmbedder)

	// A named model that is not cached is not downloaded implicitly.
	e, err = NewEmbedder(context.Background(), EmbedderConfig{
		CacheDir: t.TempDir(), HubURL: "http://127.0.0.1:1", Model2VecModel: "acme/absent",
	}, nil)
	require.NoError(t, err)
	require.Equal(t, "hash", e.Name())

	// An explicit local path that does not load is an error, not a silent fallback.
	_, err = NewEmbedder(context.Background(), EmbedderConfig{Model2VecPath: t.TempDir()}, nil)
	require.Error(t, err)
}

// shortChunks are typical short passages of a support knowledge base.
func shortChunks(n int) []string {
	topics := []string{"password reset", "billing invoice", "API rate limits", "webhook retries", "SSO login"}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Article %d: how to handle %s when the customer reports error code %d after upgrading their plan.",
			i, topics[i%len(topics)], 400+i%100)
	}
	return out
}

// BenchmarkHashEmbed reports chunks/s for ~100-character chunks on one goroutine.
func BenchmarkHashEmbed(b *testing.B) {
	e := NewHashEmbedder(DefaultHashDims)
	chunks := shortChunks(1024)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if _, err := e.Embed(ctx, chunks); err != nil {
			b.Fatal(err)
		}
		n += len(chunks)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "chunks/s")
}
