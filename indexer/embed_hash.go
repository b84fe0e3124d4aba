package indexer

import (
	"context"
	"math"
	"sync"
	"unicode"
	"unicode/utf8"
)

// HashEmbedder is a deterministic, offline embedder that needs no model: the
// "hashing trick" over lowercased word unigrams, word bigrams and character
// 3- to 5-grams of each word, each hashed (FNV-1a) into one of D buckets with
// a sign taken from the hash, with sublinear term frequency and L2
// normalisation.
//
// It is lexical, not semantic: two texts are close when they share words or
// word fragments, so it copes with inflections and typos but knows nothing of
// synonyms ("car" and "automobile" are unrelated to it). It exists so that
// vector and hybrid search work out of the box and in tests; configure a
// model2vec model or an embedding endpoint for real semantic search.
type HashEmbedder struct {
	dims int
	pool sync.Pool // *hashScratch
}

type hashScratch struct {
	acc   []float32
	runes []rune
}

// Feature weights: a whole word says more than any one of its many fragments,
// and a bigram is rarer, hence more specific, than a unigram.
const (
	hashWeightWord   = 1.0
	hashWeightBigram = 0.7
	hashWeightGram   = 0.25
)

// Seeds keep the three feature families apart, so the word "the" and the
// trigram "the" land in unrelated buckets.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211

	seedWord   = fnvOffset64
	seedBigram = fnvOffset64 ^ 0x9e3779b97f4a7c15
	seedGram   = fnvOffset64 ^ 0xc2b2ae3d27d4eb4f
)

// NewHashEmbedder returns a hash embedder with dims buckets (DefaultHashDims if
// dims <= 0).
func NewHashEmbedder(dims int) *HashEmbedder {
	if dims <= 0 {
		dims = DefaultHashDims
	}
	return &HashEmbedder{dims: dims}
}

// Name implements Embedder.
func (h *HashEmbedder) Name() string { return EmbedderHash }

// Dimensions implements Embedder.
func (h *HashEmbedder) Dimensions() int { return h.dims }

// Embed implements Embedder. It never fails except for a cancelled context.
func (h *HashEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	// One backing array keeps a batch to two allocations.
	backing := make([]float32, len(texts)*h.dims)
	s, _ := h.pool.Get().(*hashScratch)
	if s == nil {
		s = &hashScratch{acc: make([]float32, h.dims)}
	}
	defer h.pool.Put(s)
	for i, t := range texts {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		v := backing[i*h.dims : (i+1)*h.dims : (i+1)*h.dims]
		h.embedOne(s, t, v)
		out[i] = v
	}
	return out, nil
}

func (h *HashEmbedder) embedOne(s *hashScratch, text string, out []float32) {
	acc := s.acc
	clear(acc)
	var prevWord uint64
	havePrev := false
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !isWordRune(r) {
			i += size
			continue
		}
		// Collect one lowercased word as runes.
		runes := s.runes[:0]
		for i < len(text) {
			r, size = utf8.DecodeRuneInString(text[i:])
			if !isWordRune(r) {
				break
			}
			runes = append(runes, unicode.ToLower(r))
			i += size
		}
		s.runes = runes

		w := uint64(seedWord)
		for _, r := range runes {
			w = fnvRune(w, r)
		}
		h.add(acc, w, hashWeightWord)
		if havePrev {
			h.add(acc, mix64(prevWord*31+w)^seedBigram, hashWeightBigram)
		}
		prevWord, havePrev = w, true

		// Character n-grams over the word framed by spaces, so prefixes and
		// suffixes are features of their own.
		n := len(runes) + 2
		at := func(j int) rune {
			if j == 0 || j == n-1 {
				return ' '
			}
			return runes[j-1]
		}
		if n < 3 {
			continue
		}
		for start := 0; start+3 <= n; start++ {
			g := uint64(seedGram)
			for k := 0; k < 5 && start+k < n; k++ {
				g = fnvRune(g, at(start+k))
				if k >= 2 {
					h.add(acc, g, hashWeightGram)
				}
			}
		}
	}

	var sum float64
	for j, x := range acc {
		if x == 0 {
			continue
		}
		// Sublinear tf: a word repeated ten times should not drown the rest.
		y := float32(math.Log1p(math.Abs(float64(x))))
		if x < 0 {
			y = -y
		}
		out[j] = y
		sum += float64(y) * float64(y)
	}
	if sum == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(sum))
	for j := range out {
		out[j] *= inv
	}
}

func (h *HashEmbedder) add(acc []float32, hash uint64, weight float32) {
	// FNV's low bits depend only on the low bits of the input bytes, so mix
	// before taking a bucket. The sign comes from the top bit, independent of
	// the bucket, so collisions cancel out on average instead of piling up.
	hash = mix64(hash)
	b := (hash & 0x7fffffffffffffff) % uint64(len(acc))
	if hash>>63 == 1 {
		weight = -weight
	}
	acc[b] += weight
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

func fnvRune(h uint64, r rune) uint64 {
	if r < utf8.RuneSelf {
		return (h ^ uint64(r)) * fnvPrime64
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	for _, b := range buf[:n] {
		h = (h ^ uint64(b)) * fnvPrime64
	}
	return h
}

// mix64 is the splitmix64 finaliser; it spreads a combined pair of word
// hashes so that (a, b) and (b, a) end up far apart.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
