package indexer

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// sharedFixture returns the path of shared/fixtures/<rel>, found by walking up
// from the package directory, and skips the test if the shared data is absent.
func sharedFixture(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		p := filepath.Join(dir, "shared", "fixtures", rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skipf("shared fixture %s not found in any parent of the package directory (expected ../shared/fixtures beside the module)", rel)
		}
		dir = parent
	}
}

func readReference(t *testing.T, path string) [][]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var v [][]float64
	require.NoError(t, json.Unmarshal(b, &v))
	return v
}

func requireRelClose(t *testing.T, want []float64, got []float32, rel float64) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		diff := math.Abs(want[i] - float64(got[i]))
		tol := rel * math.Max(math.Abs(want[i]), math.Abs(float64(got[i])))
		require.LessOrEqualf(t, diff, tol, "component %d: want %.9g, got %.9g", i, want[i], got[i])
	}
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

// The reference vectors come from the Python library's StaticModel.encode; the
// inputs are those of model2vec-rs's test_rust_matches_python.rs, where these
// fixtures originate: "hello world" (short) and "hello" repeated 1000 times,
// space-separated (long, which exercises truncation to 512 tokens).
func TestStaticModelMatchesPython(t *testing.T) {
	root := sharedFixture(t, "model2vec")
	long := strings.TrimSpace(strings.Repeat("hello ", 1000))
	tests := []struct {
		model, reference, input string
	}{
		{"test-model-float32", "embeddings_short.json", "hello world"},
		{"test-model-float32", "embeddings_long.json", long},
		{"test-model-vocab-quantized", "embeddings_vocab_quantized.json", long},
	}
	for _, tc := range tests {
		t.Run(tc.model+"/"+tc.reference, func(t *testing.T) {
			m, err := LoadStaticModel(filepath.Join(root, tc.model))
			require.NoError(t, err)
			want := readReference(t, filepath.Join(root, tc.reference))
			require.Len(t, want, 1)
			got := m.Encode([]string{tc.input}, DefaultModel2VecMaxTokens)
			requireRelClose(t, want[0], got[0], 1e-5)
		})
	}
}

func TestStaticModelQuantizedDTypes(t *testing.T) {
	root := sharedFixture(t, "model2vec")
	base, err := LoadStaticModel(filepath.Join(root, "test-model-float32"))
	require.NoError(t, err)
	texts := []string{"hello world", "The quick brown fox jumps over the lazy dog.", "zürich café naïve"}
	want := base.Encode(texts, DefaultModel2VecMaxTokens)
	for _, name := range []string{"test-model-float16", "test-model-int8"} {
		t.Run(name, func(t *testing.T) {
			m, err := LoadStaticModel(filepath.Join(root, name))
			require.NoError(t, err)
			got := m.Encode(texts, DefaultModel2VecMaxTokens)
			for i := range texts {
				require.Greater(t, cosine(want[i], got[i]), 0.99, "text %q", texts[i])
			}
		})
	}
}

func TestStaticModelTokenize(t *testing.T) {
	root := sharedFixture(t, "model2vec")
	m, err := LoadStaticModel(filepath.Join(root, "test-model-float32"))
	require.NoError(t, err)
	vocab := m.tok.vocab
	toks := func(text string) []string {
		var out []string
		for _, id := range m.Tokenize(text, 0) {
			out = append(out, vocab[id])
		}
		return out
	}
	tests := []struct {
		in   string
		want []string
	}{
		{"hello world", []string{"hello", "world"}},
		{"Hello, World!", []string{"hello", ",", "world", "!"}},
		{"Café  naïve\tRÉSUMÉ", []string{"cafe", "naive", "resume"}},
		{"unaffable", []string{"una", "##ffa", "##ble"}}, // greedy longest match first
		{"中文", []string{"中", "文"}},
		{"[MASK] hello", []string{"[MASK]", "hello"}},
		{"hello \x00\u200b world", []string{"hello", "world"}},
		{"", nil},
		{strings.Repeat("a", 101), nil}, // over max_input_chars_per_word: [UNK], dropped
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, toks(tc.in), "input %q", tc.in)
	}

	// Truncation keeps the first maxTokens tokens.
	ids := m.Tokenize(strings.Repeat("hello ", 50), 7)
	require.Len(t, ids, 7)
}

func TestUnigramTokenize(t *testing.T) {
	root := sharedFixture(t, "model2vec")
	m, err := LoadStaticModel(filepath.Join(root, "test-model-vocab-quantized"))
	require.NoError(t, err)
	vocab := m.tok.vocab
	var got []string
	for _, id := range m.Tokenize("Hello, hello world!", 0) {
		got = append(got, vocab[id])
	}
	require.Equal(t, "▁hello", got[0])
	require.Contains(t, got, "▁,")
	require.Contains(t, got, "▁!")
	require.Equal(t, "▁hello▁,▁hello▁world▁!", strings.Join(got, ""))
	require.Equal(t, 64, m.Dimensions())
}

func TestStaticModelEmptyText(t *testing.T) {
	root := sharedFixture(t, "model2vec")
	m, err := LoadStaticModel(filepath.Join(root, "test-model-float32"))
	require.NoError(t, err)
	got := m.Encode([]string{"", "   ", "\x00"}, DefaultModel2VecMaxTokens)
	for _, v := range got {
		require.Equal(t, []float32{0, 0}, v)
	}
}

func TestParseSafetensorsRejectsBadInput(t *testing.T) {
	header := func(h string) []byte {
		b := make([]byte, 8, 8+len(h)+8)
		b[0] = byte(len(h))
		return append(append(b, h...), make([]byte, 8)...)
	}
	tests := map[string][]byte{
		"short":          {1, 2},
		"header too big": {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{'},
		"bad json":       header(`{"a":`),
		"bad dtype":      header(`{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}`),
		"out of range":   header(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`),
		"shape mismatch": header(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`),
	}
	for name, b := range tests {
		_, err := parseSafetensors(b)
		require.Error(t, err, name)
	}
	ok, err := parseSafetensors(header(`{"__metadata__":{"x":"y"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`))
	require.NoError(t, err)
	require.Len(t, ok, 1)
}

func TestFloat16(t *testing.T) {
	tests := map[uint16]float32{
		0x0000: 0, 0x3c00: 1, 0xc000: -2, 0x3555: 0.333251953125,
		0x0001: 5.960464477539063e-08, 0x7bff: 65504,
	}
	for in, want := range tests {
		require.Equal(t, want, float16to32(in), "%#04x", in)
	}
	require.True(t, math.IsInf(float64(float16to32(0x7c00)), 1))
	require.True(t, math.IsNaN(float64(float16to32(0x7e00))))
}

// hubServer serves model directories under root at /{owner}/{name}/resolve/main/{file}.
func hubServer(t *testing.T, repos map[string]string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		for repo, dir := range repos {
			prefix := "/" + repo + "/resolve/main/"
			if file, ok := strings.CutPrefix(r.URL.Path, prefix); ok && !strings.Contains(file, "/") {
				http.ServeFile(w, r, filepath.Join(dir, file))
				return
			}
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestNewEmbedderModel2VecDownload(t *testing.T) {
	root := sharedFixture(t, "model2vec")
	srv, hits := hubServer(t, map[string]string{"acme/tiny-m2v": filepath.Join(root, "test-model-float32")})
	cache := t.TempDir()
	cfg := EmbedderConfig{Kind: "model2vec", Model2VecModel: "acme/tiny-m2v", CacheDir: cache, HubURL: srv.URL}

	e, err := NewEmbedder(context.Background(), cfg, nil)
	require.NoError(t, err)
	require.Equal(t, "model2vec:tiny-m2v", e.Name())
	require.Equal(t, 2, e.Dimensions())
	require.EqualValues(t, 3, hits.Load())

	vs, err := e.Embed(context.Background(), []string{"hello world"})
	require.NoError(t, err)
	requireRelClose(t, readReference(t, filepath.Join(root, "embeddings_short.json"))[0], vs[0], 1e-5)

	// No temporary files are left behind.
	entries, err := os.ReadDir(filepath.Join(cache, "model2vec", "acme--tiny-m2v"))
	require.NoError(t, err)
	require.Len(t, entries, 3)

	// Second use: from the cache, no requests.
	_, err = NewEmbedder(context.Background(), cfg, nil)
	require.NoError(t, err)
	require.EqualValues(t, 3, hits.Load())

	// The automatic choice finds the cached model too.
	cfg.Kind = ""
	e, err = NewEmbedder(context.Background(), cfg, nil)
	require.NoError(t, err)
	require.Equal(t, "model2vec:tiny-m2v", e.Name())
	require.EqualValues(t, 3, hits.Load())
}

func TestNewEmbedderModel2VecDownloadFailures(t *testing.T) {
	root := sharedFixture(t, "model2vec")
	srv, _ := hubServer(t, map[string]string{"acme/tiny-m2v": filepath.Join(root, "test-model-float32")})
	tests := map[string]string{
		"missing repo":  "acme/nothing-here",
		"path escape":   "../etc",
		"not a repo id": "justaname",
	}
	for name, repo := range tests {
		t.Run(name, func(t *testing.T) {
			cache := t.TempDir()
			_, err := NewEmbedder(context.Background(),
				EmbedderConfig{Kind: "model2vec", Model2VecModel: repo, CacheDir: cache, HubURL: srv.URL}, nil)
			require.Error(t, err)
			// Nothing half-written is left where a later start would trust it.
			require.False(t, modelFilesPresent(model2VecCacheDir(cache, repo)))
		})
	}
}

func TestModel2VecEmbedderUnitVectors(t *testing.T) {
	root := sharedFixture(t, "model2vec")
	e, err := NewEmbedder(context.Background(),
		EmbedderConfig{Model2VecPath: filepath.Join(root, "test-model-vocab-quantized")}, nil)
	require.NoError(t, err)
	require.Equal(t, "model2vec:test-model-vocab-quantized", e.Name())
	vs, err := e.Embed(context.Background(), []string{"how do I reset my password?", "billing and invoices"})
	require.NoError(t, err)
	for _, v := range vs {
		require.Len(t, v, 64)
		require.InDelta(t, 1, dot32(v, v), 1e-5)
	}
}

func dot32(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func FuzzWordPiece(f *testing.F) {
	root := sharedFixture(f, "model2vec")
	wp, err := LoadStaticModel(filepath.Join(root, "test-model-float32"))
	require.NoError(f, err)
	uni, err := LoadStaticModel(filepath.Join(root, "test-model-vocab-quantized"))
	require.NoError(f, err)
	for _, s := range []string{
		"", "hello world", "Héllo Wörld ÀÉÎÕÜ", "中文字符 and 日本語のテキスト", "한국어",
		"İstanbul ǅ ß ﬁ", "e\u0301\u0301\u0301", strings.Repeat("supercalifragilistic", 20),
		strings.Repeat("x", 100), strings.Repeat("x", 101), "\xff\xfe invalid \xc3", "\x00\x01\x7f\u200b\ufeff",
		"[UNK][CLS] [MASK]x[SEP]", "emoji 🤖🏳️‍🌈 tokens", "\U0010FFFF\U000E0001", "tab\tnew\nline\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range []*StaticModel{wp, uni} {
			ids := m.Tokenize(s, 0)
			for _, id := range ids {
				if id < 0 || id >= len(m.tok.vocab) || id == m.tok.unkID {
					t.Fatalf("input %q: bad id %d", s, id)
				}
			}
			if len(m.Tokenize(s, 3)) > 3 {
				t.Fatalf("input %q: truncation ignored", s)
			}
			m.Encode([]string{s}, DefaultModel2VecMaxTokens)
		}
	})
}

// Token ids as produced by the reference tokenizers implementation
// (tokenizers.js 0.2.0, add_special_tokens false), unknown tokens included.
func TestTokenizerMatchesReference(t *testing.T) {
	root := sharedFixture(t, "model2vec")
	tests := []struct {
		model, text string
		want        []int
	}{
		{"test-model-float32", "Hello, World! How's it going?", []int{6598, 16, 1094, 5, 1135, 11, 61, 1015, 1189, 35}},
		{"test-model-float32", "Café naïve RÉSUMÉ Zürich", []int{6674, 14749, 12752, 9210}},
		{"test-model-float32", "中文字符 and 日本語のテキスト", []int{752, 867, 1, 1, 1004, 870, 882, 956, 677, 29245, 29233, 29239, 29246}},
		{"test-model-float32", "e-mail: foo@bar.com (test) [x] {y} $5.00 50%", []int{47, 17, 4659, 30, 28385, 36, 2353, 18, 3018, 12, 2237, 13, 37, 66, 39, 69, 67, 71, 8, 25, 18, 3008, 1759, 9}},
		{"test-model-float32", "İstanbul ß ﬁ Ǆ", []int{8966, 102, 990, 1}},
		{"test-model-float32", "русский текст", []int{201, 28754, 28753, 28753, 22931, 14420, 203, 14296, 22931, 28753, 21925}},
		{"test-model-vocab-quantized", "Hello, World! How's it going?", []int{6594, 13, 1091, 2, 1132, 8, 58, 1012, 1185, 32}},
		{"test-model-vocab-quantized", "Café naïve RÉSUMÉ Zürich", []int{6670, 14745, 12748, 9206}},
		{"test-model-vocab-quantized", "中文字符 and 日本語のテキスト", []int{749, 864, 1, 1001, 867, 879, 953, 674, 29241, 29229, 29235, 29242}},
		{"test-model-vocab-quantized", "e-mail: foo@bar.com (test) [x] {y} $5.00 50%", []int{44, 14, 4655, 27, 28381, 33, 2349, 15, 3014, 9, 2233, 10, 34, 63, 36, 66, 64, 68, 5, 22, 15, 3004, 1755, 6}},
		{"test-model-vocab-quantized", "İstanbul ß ﬁ Ǆ", []int{8962, 99, 987, 1}},
		{"test-model-vocab-quantized", "русский текст", []int{198, 28750, 28749, 28749, 22927, 14416, 200, 14292, 22927, 28749, 21921}},
	}
	models := map[string]*StaticModel{}
	for _, tc := range tests {
		m := models[tc.model]
		if m == nil {
			var err error
			m, err = LoadStaticModel(filepath.Join(root, tc.model))
			require.NoError(t, err)
			models[tc.model] = m
		}
		require.Equal(t, tc.want, m.tok.encode(tc.text), "%s: %q", tc.model, tc.text)
	}
}
