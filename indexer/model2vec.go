package indexer

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// StaticModel is a model2vec static embedding model: a tokenizer and one
// vector per token, pooled by mean. It reproduces StaticModel.encode of the
// Python model2vec library, including vocabulary-quantized models (a token to
// row mapping and per-token weights).
type StaticModel struct {
	tok       *hfTokenizer
	emb       []float32 // rows × dim, row-major
	rows, dim int
	mapping   []int32   // token id → row; nil: identity
	weights   []float64 // token id → weight; nil: all 1
	normalize bool
	// medianTokenLen bounds the characters looked at before tokenizing, the
	// cheap pre-truncation the Python library does (max tokens × median
	// token length, in characters).
	medianTokenLen int
}

// DefaultModel2VecMaxTokens is the truncation length of StaticModel.Encode, the
// Python library's default for encode.
const DefaultModel2VecMaxTokens = 512

// model2VecFiles must all be present for a model directory to load.
var model2VecFiles = []string{"config.json", "tokenizer.json", "model.safetensors"}

// LoadStaticModel loads a model2vec model from a directory holding
// config.json, tokenizer.json and model.safetensors.
func LoadStaticModel(dir string) (*StaticModel, error) {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("load model2vec model %s: %w", dir, err)
		}
		return b, nil
	}
	cfgData, err := read("config.json")
	if err != nil {
		return nil, err
	}
	tokData, err := read("tokenizer.json")
	if err != nil {
		return nil, err
	}
	stData, err := read("model.safetensors")
	if err != nil {
		return nil, err
	}
	m, err := newStaticModel(cfgData, tokData, stData)
	if err != nil {
		return nil, fmt.Errorf("load model2vec model %s: %w", dir, err)
	}
	return m, nil
}

func newStaticModel(cfgData, tokData, stData []byte) (*StaticModel, error) {
	var cfg struct {
		Normalize *bool `json:"normalize"`
	}
	if err := json.Unmarshal(cfgData, &cfg); err != nil {
		return nil, fmt.Errorf("parse config.json: %w", err)
	}
	tok, err := parseTokenizer(tokData)
	if err != nil {
		return nil, err
	}
	tensors, err := parseSafetensors(stData)
	if err != nil {
		return nil, err
	}
	m := &StaticModel{tok: tok, normalize: cfg.Normalize != nil && *cfg.Normalize}

	embT, ok := tensors["embeddings"]
	if !ok {
		embT, ok = tensors["embedding.weight"] // sentence-transformers layout
	}
	if !ok {
		return nil, errors.New("model.safetensors has no \"embeddings\" tensor")
	}
	if len(embT.Shape) != 2 {
		return nil, fmt.Errorf("embeddings tensor has shape %v, want 2 dimensions", embT.Shape)
	}
	m.rows, m.dim = embT.Shape[0], embT.Shape[1]
	if m.emb, err = embT.float32s(); err != nil {
		return nil, fmt.Errorf("embeddings tensor: %w", err)
	}
	if m.dim == 0 {
		return nil, errors.New("embeddings tensor has no columns")
	}

	if t, ok := tensors["mapping"]; ok {
		if m.mapping, err = t.int32s(); err != nil {
			return nil, fmt.Errorf("mapping tensor: %w", err)
		}
		for id, row := range m.mapping {
			if row < 0 || int(row) >= m.rows {
				return nil, fmt.Errorf("mapping tensor: token %d maps to row %d of %d", id, row, m.rows)
			}
		}
	}
	if t, ok := tensors["weights"]; ok {
		if m.weights, err = t.float64s(); err != nil {
			return nil, fmt.Errorf("weights tensor: %w", err)
		}
	}

	// Every token id must have a vector, or encoding would index out of range.
	maxID := len(tok.vocab) - 1
	if m.mapping != nil {
		if len(m.mapping) <= maxID {
			return nil, fmt.Errorf("mapping tensor covers %d tokens, tokenizer has %d", len(m.mapping), maxID+1)
		}
	} else if m.rows <= maxID {
		return nil, fmt.Errorf("embeddings tensor has %d rows, tokenizer has %d tokens", m.rows, maxID+1)
	}
	if m.weights != nil && len(m.weights) <= maxID {
		return nil, fmt.Errorf("weights tensor covers %d tokens, tokenizer has %d", len(m.weights), maxID+1)
	}

	m.medianTokenLen = medianTokenLength(tok.vocab)
	return m, nil
}

// medianTokenLength follows int(np.median(...)) over token lengths in
// characters: the mean of the two middle values for an even count, truncated.
func medianTokenLength(vocab []string) int {
	lens := make([]int, 0, len(vocab))
	for _, t := range vocab {
		lens = append(lens, utf8.RuneCountInString(t))
	}
	if len(lens) == 0 {
		return 1
	}
	sort.Ints(lens)
	n := len(lens)
	if n%2 == 1 {
		return max(lens[n/2], 1)
	}
	return max((lens[n/2-1]+lens[n/2])/2, 1)
}

// Dimensions is the length of the vectors the model produces.
func (m *StaticModel) Dimensions() int { return m.dim }

// Tokenize returns the token ids Encode pools for text, truncated to maxTokens
// (no limit if maxTokens <= 0), with unknown tokens removed.
func (m *StaticModel) Tokenize(text string, maxTokens int) []int {
	if maxTokens > 0 {
		text = truncateRunes(text, maxTokens*m.medianTokenLen)
	}
	ids := m.tok.encode(text)
	// Unknown tokens carry no meaning and would pull every text with an
	// unusual character towards the same point.
	ids = slices.DeleteFunc(ids, func(id int) bool { return id < 0 || id == m.tok.unkID })
	if maxTokens > 0 && len(ids) > maxTokens {
		ids = ids[:maxTokens]
	}
	return ids
}

// Encode embeds each text as the (weighted) mean of its token vectors,
// normalised to unit length if the model's config asks for it. Texts are cut to
// maxTokens tokens (no limit if maxTokens <= 0); a text without known tokens
// gets the zero vector.
func (m *StaticModel) Encode(texts []string, maxTokens int) [][]float32 {
	out := make([][]float32, len(texts))
	backing := make([]float32, len(texts)*m.dim)
	sum := make([]float64, m.dim)
	for i, text := range texts {
		v := backing[i*m.dim : (i+1)*m.dim : (i+1)*m.dim]
		out[i] = v
		m.pool(m.Tokenize(text, maxTokens), sum, v)
	}
	return out
}

func (m *StaticModel) pool(ids []int, sum []float64, out []float32) {
	if len(ids) == 0 {
		return
	}
	clear(sum)
	for _, id := range ids {
		row := id
		if m.mapping != nil {
			row = int(m.mapping[id])
		}
		vec := m.emb[row*m.dim : (row+1)*m.dim]
		if m.weights != nil {
			w := m.weights[id]
			for j, x := range vec {
				sum[j] += float64(x) * w
			}
		} else {
			for j, x := range vec {
				sum[j] += float64(x)
			}
		}
	}
	n := float64(len(ids))
	var sq float64
	for j := range sum {
		sum[j] /= n
		sq += sum[j] * sum[j]
	}
	scale := 1.0
	if m.normalize {
		scale = 1 / (math.Sqrt(sq) + 1e-32)
	}
	for j, x := range sum {
		out[j] = float32(x * scale)
	}
}

func truncateRunes(s string, n int) string {
	if n <= 0 || len(s) <= n {
		return s
	}
	i := 0
	for at := range s {
		if i == n {
			return s[:at]
		}
		i++
	}
	return s
}

// --- safetensors ---

type tensor struct {
	DType   string `json:"dtype"`
	Shape   []int  `json:"shape"`
	Offsets [2]int `json:"data_offsets"`
	data    []byte
}

// parseSafetensors reads the safetensors layout: a little-endian uint64 header
// length, a JSON header naming each tensor's dtype, shape and byte range, then
// the data.
func parseSafetensors(b []byte) (map[string]*tensor, error) {
	if len(b) < 8 {
		return nil, errors.New("safetensors: file too short")
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > uint64(len(b)-8) || n > 100<<20 {
		return nil, fmt.Errorf("safetensors: header length %d exceeds file", n)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		return nil, fmt.Errorf("safetensors: parse header: %w", err)
	}
	data := b[8+n:]
	out := make(map[string]*tensor, len(header))
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		t := &tensor{}
		if err := json.Unmarshal(raw, t); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		size, ok := dtypeSize[t.DType]
		if !ok {
			return nil, fmt.Errorf("safetensors: tensor %q: unsupported dtype %s", name, t.DType)
		}
		count := 1
		for _, d := range t.Shape {
			if d < 0 || (d > 0 && count > math.MaxInt32/d) {
				return nil, fmt.Errorf("safetensors: tensor %q: bad shape %v", name, t.Shape)
			}
			count *= d
		}
		lo, hi := t.Offsets[0], t.Offsets[1]
		if lo < 0 || hi < lo || hi > len(data) || hi-lo != count*size {
			return nil, fmt.Errorf("safetensors: tensor %q: byte range [%d,%d) does not fit shape %v of %s in %d bytes",
				name, lo, hi, t.Shape, t.DType, len(data))
		}
		t.data = data[lo:hi]
		out[name] = t
	}
	return out, nil
}

var dtypeSize = map[string]int{
	"F64": 8, "F32": 4, "F16": 2, "BF16": 2,
	"I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
}

func (t *tensor) float64s() ([]float64, error) {
	d := t.data
	switch t.DType {
	case "F64":
		out := make([]float64, len(d)/8)
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(d[i*8:]))
		}
		return out, nil
	case "F32", "F16", "BF16", "I8":
		f, err := t.float32s()
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(f))
		for i, x := range f {
			out[i] = float64(x)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported dtype %s", t.DType)
}

// float32s decodes floating point and int8 tensors. Int8 values are used as
// they are: quantised models store no scale, and pooling is followed by
// normalisation, which removes any common scale anyway.
func (t *tensor) float32s() ([]float32, error) {
	d := t.data
	switch t.DType {
	case "F32":
		out := make([]float32, len(d)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d[i*4:]))
		}
		return out, nil
	case "F64":
		out := make([]float32, len(d)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(d[i*8:])))
		}
		return out, nil
	case "F16":
		out := make([]float32, len(d)/2)
		for i := range out {
			out[i] = float16to32(binary.LittleEndian.Uint16(d[i*2:]))
		}
		return out, nil
	case "BF16":
		out := make([]float32, len(d)/2)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(d[i*2:])) << 16)
		}
		return out, nil
	case "I8":
		out := make([]float32, len(d))
		for i, b := range d {
			out[i] = float32(int8(b))
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported dtype %s for vectors", t.DType)
}

func (t *tensor) int32s() ([]int32, error) {
	d := t.data
	switch t.DType {
	case "I32":
		out := make([]int32, len(d)/4)
		for i := range out {
			out[i] = int32(binary.LittleEndian.Uint32(d[i*4:]))
		}
		return out, nil
	case "I64":
		out := make([]int32, len(d)/8)
		for i := range out {
			v := int64(binary.LittleEndian.Uint64(d[i*8:]))
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, fmt.Errorf("value %d out of range", v)
			}
			out[i] = int32(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported dtype %s for indices", t.DType)
}

func float16to32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	case frac == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: exact as a float32.
	f := float32(frac) / (1 << 24)
	if sign != 0 {
		f = -f
	}
	return f
}

// --- the Embedder ---

// model2VecEmbedder adapts a StaticModel to Embedder.
type model2VecEmbedder struct {
	name  string
	model *StaticModel
}

// NewModel2VecEmbedder wraps a loaded model; name is the part after
// "model2vec:" in Name.
func NewModel2VecEmbedder(name string, m *StaticModel) Embedder {
	return &model2VecEmbedder{name: "model2vec:" + name, model: m}
}

func (e *model2VecEmbedder) Name() string    { return e.name }
func (e *model2VecEmbedder) Dimensions() int { return e.model.dim }

func (e *model2VecEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	const chunk = 256
	out := make([][]float32, 0, len(texts))
	for i := 0; i < len(texts); i += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		vs := e.model.Encode(texts[i:min(i+chunk, len(texts))], DefaultModel2VecMaxTokens)
		// Models saved with normalize=false still owe callers unit vectors.
		if !e.model.normalize {
			for _, v := range vs {
				normalizeL2(v)
			}
		}
		out = append(out, vs...)
	}
	return out, nil
}

func newModel2VecEmbedder(ctx context.Context, cfg EmbedderConfig, allowDownload bool) (Embedder, error) {
	if cfg.Model2VecPath != "" {
		m, err := LoadStaticModel(cfg.Model2VecPath)
		if err != nil {
			return nil, err
		}
		return NewModel2VecEmbedder(filepath.Base(filepath.Clean(cfg.Model2VecPath)), m), nil
	}
	dir := model2VecCacheDir(cfg.CacheDir, cfg.Model2VecModel)
	if dir == "" {
		return nil, fmt.Errorf("model2vec model %q: want a Hugging Face repository id such as %q",
			cfg.Model2VecModel, DefaultModel2VecModel)
	}
	if !modelFilesPresent(dir) {
		if !allowDownload {
			return nil, fmt.Errorf("model2vec model %s is not in %s", cfg.Model2VecModel, cfg.CacheDir)
		}
		client := &http.Client{Timeout: 10 * cfg.Timeout}
		if err := DownloadModel2Vec(ctx, client, cfg.HubURL, cfg.Model2VecModel, dir); err != nil {
			return nil, err
		}
	}
	m, err := LoadStaticModel(dir)
	if err != nil {
		return nil, err
	}
	_, name, _ := strings.Cut(cfg.Model2VecModel, "/")
	return NewModel2VecEmbedder(name, m), nil
}

var repoIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)

// model2VecCacheDir is where repo is kept under cacheDir, or "" if repo is
// not a plain "owner/name" (which also keeps it from escaping cacheDir).
func model2VecCacheDir(cacheDir, repo string) string {
	if !repoIDPattern.MatchString(repo) || strings.Contains(repo, "..") {
		return ""
	}
	owner, name, _ := strings.Cut(repo, "/")
	return filepath.Join(cacheDir, "model2vec", owner+"--"+name)
}

func modelFilesPresent(dir string) bool {
	for _, f := range model2VecFiles {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// DownloadModel2Vec fetches the files of model2vec model repo from a Hugging
// Face compatible hub ({hubURL}/{repo}/resolve/main/{file}) into dir. Each file
// is written to a temporary name and renamed into place, so a crash or a
// concurrent download never leaves a truncated file under its real name;
// files already present are kept.
func DownloadModel2Vec(ctx context.Context, client *http.Client, hubURL, repo, dir string) error {
	if !repoIDPattern.MatchString(repo) || strings.Contains(repo, "..") {
		return fmt.Errorf("download model2vec model %q: not a repository id", repo)
	}
	if client == nil {
		client = http.DefaultClient
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("download model2vec model %s: %w", repo, err)
	}
	for _, f := range model2VecFiles {
		dst := filepath.Join(dir, f)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		u, err := url.JoinPath(hubURL, repo, "resolve", "main", f)
		if err != nil {
			return fmt.Errorf("download model2vec model %s: %w", repo, err)
		}
		if err := downloadFile(ctx, client, u, dst); err != nil {
			return fmt.Errorf("download model2vec model %s: %s: %w", repo, f, err)
		}
	}
	return nil
}

func downloadFile(ctx context.Context, client *http.Client, u, dst string) (err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("GET %s: got %d of %d bytes", u, n, resp.ContentLength)
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
