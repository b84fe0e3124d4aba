package indexer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// hfTokenizer is the subset of a Hugging Face tokenizers pipeline
// (tokenizer.json) that static embedding models use: added tokens, a
// normalizer, a pre-tokenizer and a WordPiece or Unigram model. Only token ids
// are produced; offsets, post-processing and decoding are not needed to pool
// embeddings. It is read-only after loading, so safe for concurrent use.
type hfTokenizer struct {
	added      []addedToken // non-normalized added tokens, longest first
	normalizer normalizer
	pre        preTokenizer
	model      tokenModel
	vocab      []string // by id, "" where an id has no token
	unkID      int      // -1 if the model has none
}

type addedToken struct {
	content string
	id      int
}

type normalizer func(string) string
type preTokenizer func(string) []string

type tokenModel interface {
	// tokenize appends the ids of one pre-tokenized word.
	tokenize(word string, ids []int) []int
}

// errUnsupportedTokenizer marks a tokenizer.json this package cannot run.
var errUnsupportedTokenizer = errors.New("unsupported tokenizer")

type tokenizerJSON struct {
	AddedTokens []struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		Normalized bool   `json:"normalized"`
	} `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	Model        json.RawMessage `json:"model"`
}

func parseTokenizer(data []byte) (*hfTokenizer, error) {
	var tj tokenizerJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		return nil, fmt.Errorf("parse tokenizer.json: %w", err)
	}
	t := &hfTokenizer{unkID: -1}
	var err error
	if t.normalizer, err = buildNormalizer(tj.Normalizer); err != nil {
		return nil, err
	}
	if t.pre, err = buildPreTokenizer(tj.PreTokenizer); err != nil {
		return nil, err
	}
	if err = t.buildModel(tj.Model); err != nil {
		return nil, err
	}
	for _, a := range tj.AddedTokens {
		if a.ID < 0 {
			return nil, fmt.Errorf("added token %q: negative id", a.Content)
		}
		for a.ID >= len(t.vocab) {
			t.vocab = append(t.vocab, "")
		}
		if t.vocab[a.ID] == "" {
			t.vocab[a.ID] = a.Content
		}
		// Normalized added tokens are matched after normalization in the Rust
		// library; they are regular vocabulary entries in every model seen so
		// far, so the model finds them anyway.
		if !a.Normalized && a.Content != "" {
			t.added = append(t.added, addedToken{content: a.Content, id: a.ID})
		}
	}
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].content) > len(t.added[j].content) })
	return t, nil
}

// encode returns the token ids of text, without special tokens around it.
func (t *hfTokenizer) encode(text string) []int {
	var ids []int
	for text != "" {
		// Added tokens are cut out of the raw text first, as the Rust
		// library does, so "[MASK]" stays one token whatever the normalizer.
		at, tok := t.nextAdded(text)
		if at < 0 {
			ids = t.encodeSegment(text, ids)
			break
		}
		ids = t.encodeSegment(text[:at], ids)
		ids = append(ids, tok.id)
		text = text[at+len(tok.content):]
	}
	return ids
}

func (t *hfTokenizer) nextAdded(text string) (int, addedToken) {
	best, bestTok := -1, addedToken{}
	for _, a := range t.added {
		if i := strings.Index(text, a.content); i >= 0 && (best < 0 || i < best) {
			best, bestTok = i, a // longest first, so ties keep the longer one
		}
	}
	return best, bestTok
}

func (t *hfTokenizer) encodeSegment(s string, ids []int) []int {
	if s == "" {
		return ids
	}
	if t.normalizer != nil {
		s = t.normalizer(s)
	}
	var words []string
	if t.pre != nil {
		words = t.pre(s)
	} else {
		words = []string{s}
	}
	for _, w := range words {
		if w != "" {
			ids = t.model.tokenize(w, ids)
		}
	}
	return ids
}

// --- normalizers ---

type typed struct {
	Type string `json:"type"`
}

func buildNormalizer(raw json.RawMessage) (normalizer, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var ty typed
	if err := json.Unmarshal(raw, &ty); err != nil {
		return nil, fmt.Errorf("parse normalizer: %w", err)
	}
	switch ty.Type {
	case "BertNormalizer":
		var c struct {
			CleanText          bool  `json:"clean_text"`
			HandleChineseChars bool  `json:"handle_chinese_chars"`
			StripAccents       *bool `json:"strip_accents"`
			Lowercase          bool  `json:"lowercase"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("parse BertNormalizer: %w", err)
		}
		// Unset strip_accents follows lowercase, as in the Rust library.
		strip := c.Lowercase
		if c.StripAccents != nil {
			strip = *c.StripAccents
		}
		return func(s string) string {
			if c.CleanText {
				s = bertCleanText(s)
			}
			if c.HandleChineseChars {
				s = padChineseChars(s)
			}
			if strip {
				s = stripAccents(s)
			}
			if c.Lowercase {
				s = lowercase(s)
			}
			return s
		}, nil
	case "Sequence":
		var c struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("parse Sequence normalizer: %w", err)
		}
		var seq []normalizer
		for _, r := range c.Normalizers {
			n, err := buildNormalizer(r)
			if err != nil {
				return nil, err
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return func(s string) string {
			for _, n := range seq {
				s = n(s)
			}
			return s
		}, nil
	case "Lowercase":
		return lowercase, nil
	case "StripAccents":
		return func(s string) string { return removeNonspacingMarks(s) }, nil
	case "NFD":
		return norm.NFD.String, nil
	case "NFC":
		return norm.NFC.String, nil
	case "NFKD":
		return norm.NFKD.String, nil
	case "NFKC":
		return norm.NFKC.String, nil
	case "Strip":
		var c struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("parse Strip normalizer: %w", err)
		}
		return func(s string) string {
			if c.Left {
				s = strings.TrimLeftFunc(s, unicode.IsSpace)
			}
			if c.Right {
				s = strings.TrimRightFunc(s, unicode.IsSpace)
			}
			return s
		}, nil
	case "Prepend":
		var c struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("parse Prepend normalizer: %w", err)
		}
		return func(s string) string {
			if s == "" {
				return s
			}
			return c.Prepend + s
		}, nil
	case "Replace":
		var c struct {
			Pattern struct {
				String *string `json:"String"`
				Regex  *string `json:"Regex"`
			} `json:"pattern"`
			Content string `json:"content"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("parse Replace normalizer: %w", err)
		}
		switch {
		case c.Pattern.String != nil:
			old := *c.Pattern.String
			if old == "" {
				return nil, nil
			}
			return func(s string) string { return strings.ReplaceAll(s, old, c.Content) }, nil
		case c.Pattern.Regex != nil:
			re, err := compileOnigLike(*c.Pattern.Regex)
			if err != nil {
				return nil, fmt.Errorf("Replace normalizer pattern %q: %w", *c.Pattern.Regex, err)
			}
			return func(s string) string { return re.ReplaceAllLiteralString(s, c.Content) }, nil
		}
		return nil, fmt.Errorf("Replace normalizer without pattern: %w", errUnsupportedTokenizer)
	}
	return nil, fmt.Errorf("normalizer %q: %w", ty.Type, errUnsupportedTokenizer)
}

// compileOnigLike compiles a tokenizers (Oniguruma) pattern with Go's RE2,
// widening \s to Unicode whitespace as Oniguruma does; patterns RE2 cannot
// express fail here rather than match differently.
func compileOnigLike(p string) (*regexp.Regexp, error) {
	p = strings.ReplaceAll(p, `\s`, `[\s\p{Z}\x{85}]`)
	return regexp.Compile(p)
}

// bertCleanText drops NUL, U+FFFD and control characters and turns every
// whitespace character into a plain space.
func bertCleanText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == 0 || r == utf8.RuneError || isBertControl(r):
		case isBertWhitespace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isBertWhitespace(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || unicode.IsSpace(r)
}

func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) {
		return true
	}
	// Unassigned code points count as "other" (Cn) too.
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) ||
		(r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) ||
		(r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) ||
		(r >= 0x2F800 && r <= 0x2FA1F)
}

func padChineseChars(s string) string {
	if !strings.ContainsFunc(s, isChineseChar) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		if isChineseChar(r) {
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func stripAccents(s string) string {
	return removeNonspacingMarks(norm.NFD.String(s))
}

func removeNonspacingMarks(s string) string {
	if !strings.ContainsFunc(s, isMn) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isMn(r) {
			return -1
		}
		return r
	}, s)
}

func isMn(r rune) bool { return r >= 0x300 && unicode.Is(unicode.Mn, r) }

// lowercase maps each character to its lowercase form. Go's simple case
// mapping differs from Rust's char::to_lowercase only for U+0130, which Rust
// maps to two characters.
func lowercase(s string) string {
	if strings.ContainsRune(s, 'İ') {
		s = strings.ReplaceAll(s, "İ", "i\u0307")
	}
	return strings.ToLower(s)
}

// --- pre-tokenizers ---

func buildPreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var ty typed
	if err := json.Unmarshal(raw, &ty); err != nil {
		return nil, fmt.Errorf("parse pre_tokenizer: %w", err)
	}
	switch ty.Type {
	case "BertPreTokenizer":
		return splitWhitespaceAndPunct, nil
	case "WhitespaceSplit":
		return strings.Fields, nil
	case "Whitespace":
		return splitWordsAndSymbols, nil
	case "Metaspace":
		var c struct {
			Replacement    string `json:"replacement"`
			PrependScheme  string `json:"prepend_scheme"`
			AddPrefixSpace *bool  `json:"add_prefix_space"`
			Split          *bool  `json:"split"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("parse Metaspace: %w", err)
		}
		if c.Replacement == "" {
			c.Replacement = "▁"
		}
		prepend := true // "always", and the old add_prefix_space default
		switch {
		case c.PrependScheme == "never":
			prepend = false
		case c.PrependScheme == "" && c.AddPrefixSpace != nil:
			prepend = *c.AddPrefixSpace
		}
		split := c.Split == nil || *c.Split
		return func(s string) []string {
			s = strings.ReplaceAll(s, " ", c.Replacement)
			if prepend && !strings.HasPrefix(s, c.Replacement) {
				s = c.Replacement + s
			}
			if !split {
				return []string{s}
			}
			return splitMergedWithNext(s, c.Replacement)
		}, nil
	case "Sequence":
		var c struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("parse Sequence pre_tokenizer: %w", err)
		}
		var seq []preTokenizer
		for _, r := range c.PreTokenizers {
			p, err := buildPreTokenizer(r)
			if err != nil {
				return nil, err
			}
			if p != nil {
				seq = append(seq, p)
			}
		}
		return func(s string) []string {
			parts := []string{s}
			for _, p := range seq {
				var next []string
				for _, part := range parts {
					next = append(next, p(part)...)
				}
				parts = next
			}
			return parts
		}, nil
	}
	return nil, fmt.Errorf("pre_tokenizer %q: %w", ty.Type, errUnsupportedTokenizer)
}

func isBertPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '!' && r <= '/' || r >= ':' && r <= '@' || r >= '[' && r <= '`' || r >= '{' && r <= '~'
	}
	return unicode.IsPunct(r)
}

// splitWhitespaceAndPunct drops whitespace and isolates each punctuation
// character, like BertPreTokenizer.
func splitWhitespaceAndPunct(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		switch {
		case unicode.IsSpace(r):
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		case isBertPunct(r):
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			out = append(out, s[i:i+utf8.RuneLen(r)])
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

func isRegexWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r) || unicode.Is(unicode.Pc, r)
}

// splitWordsAndSymbols implements the Whitespace pre-tokenizer, \w+|[^\w\s]+.
func splitWordsAndSymbols(s string) []string {
	var out []string
	start, kind := -1, 0 // kind 1: word run, 2: symbol run
	for i, r := range s {
		k := 2
		if unicode.IsSpace(r) {
			k = 0
		} else if isRegexWordRune(r) {
			k = 1
		}
		if k != kind && start >= 0 {
			out = append(out, s[start:i])
			start = -1
		}
		if k != 0 && start < 0 {
			start = i
		}
		kind = k
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// splitMergedWithNext splits before every occurrence of sep, keeping sep at
// the start of the following piece.
func splitMergedWithNext(s, sep string) []string {
	var out []string
	for {
		i := strings.Index(s[min(len(sep), len(s)):], sep)
		if i < 0 {
			if s != "" {
				out = append(out, s)
			}
			return out
		}
		i += min(len(sep), len(s))
		out = append(out, s[:i])
		s = s[i:]
	}
}

// --- models ---

func (t *hfTokenizer) buildModel(raw json.RawMessage) error {
	var ty typed
	if err := json.Unmarshal(raw, &ty); err != nil {
		return fmt.Errorf("parse tokenizer model: %w", err)
	}
	switch ty.Type {
	case "WordPiece":
		var c struct {
			UnkToken          string         `json:"unk_token"`
			Prefix            *string        `json:"continuing_subword_prefix"`
			MaxInputCharsWord int            `json:"max_input_chars_per_word"`
			Vocab             map[string]int `json:"vocab"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("parse WordPiece model: %w", err)
		}
		wp := &wordPiece{vocab: c.Vocab, prefix: "##", maxChars: c.MaxInputCharsWord, unk: -1}
		if c.Prefix != nil {
			wp.prefix = *c.Prefix
		}
		if wp.maxChars <= 0 {
			wp.maxChars = 100
		}
		if id, ok := c.Vocab[c.UnkToken]; ok {
			wp.unk = id
		} else {
			return fmt.Errorf("WordPiece unk_token %q not in vocabulary", c.UnkToken)
		}
		for tok, id := range c.Vocab {
			if id < 0 || id > 1<<24 {
				return fmt.Errorf("WordPiece token %q: id %d out of range", tok, id)
			}
			if id >= len(t.vocab) {
				t.vocab = append(t.vocab, make([]string, id+1-len(t.vocab))...)
			}
			t.vocab[id] = tok
		}
		t.model, t.unkID = wp, wp.unk
		return nil
	case "Unigram":
		var c struct {
			UnkID       *int              `json:"unk_id"`
			ByteFallbck bool              `json:"byte_fallback"`
			Vocab       []json.RawMessage `json:"vocab"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("parse Unigram model: %w", err)
		}
		if c.ByteFallbck {
			return fmt.Errorf("Unigram with byte_fallback: %w", errUnsupportedTokenizer)
		}
		u := &unigram{ids: make(map[string]int, len(c.Vocab)), unk: -1}
		u.scores = make([]float64, len(c.Vocab))
		minScore := math.Inf(1)
		t.vocab = make([]string, len(c.Vocab))
		for id, r := range c.Vocab {
			var pair []json.RawMessage
			var piece string
			var score float64
			if err := json.Unmarshal(r, &pair); err != nil || len(pair) != 2 {
				return fmt.Errorf("Unigram vocab entry %d: want [piece, score]", id)
			}
			if err := json.Unmarshal(pair[0], &piece); err != nil {
				return fmt.Errorf("Unigram vocab entry %d: %w", id, err)
			}
			if err := json.Unmarshal(pair[1], &score); err != nil {
				return fmt.Errorf("Unigram vocab entry %d: %w", id, err)
			}
			if _, dup := u.ids[piece]; !dup {
				u.ids[piece] = id
			}
			u.scores[id] = score
			minScore = min(minScore, score)
			u.maxLen = max(u.maxLen, len(piece))
			t.vocab[id] = piece
		}
		// Unknown characters cost more than the rarest piece, as in sentencepiece.
		u.unkScore = minScore - 10
		if c.UnkID != nil {
			if *c.UnkID < 0 || *c.UnkID >= len(c.Vocab) {
				return fmt.Errorf("Unigram unk_id %d out of range", *c.UnkID)
			}
			u.unk = *c.UnkID
		}
		t.model, t.unkID = u, u.unk
		return nil
	}
	return fmt.Errorf("tokenizer model %q: %w", ty.Type, errUnsupportedTokenizer)
}

type wordPiece struct {
	vocab    map[string]int
	prefix   string
	maxChars int
	unk      int
}

func (wp *wordPiece) tokenize(word string, ids []int) []int {
	if utf8.RuneCountInString(word) > wp.maxChars {
		return append(ids, wp.unk)
	}
	mark := len(ids)
	var buf []byte
	for start := 0; start < len(word); {
		end := len(word)
		found := -1
		for end > start {
			var id int
			var ok bool
			if start > 0 {
				buf = append(append(buf[:0], wp.prefix...), word[start:end]...)
				id, ok = wp.vocab[string(buf)]
			} else {
				id, ok = wp.vocab[word[start:end]]
			}
			if ok {
				found = id
				break
			}
			// Step back one whole character.
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if found < 0 {
			return append(ids[:mark], wp.unk)
		}
		ids = append(ids, found)
		start = end
	}
	return ids
}

type unigram struct {
	ids      map[string]int
	scores   []float64
	maxLen   int // longest piece, in bytes
	unk      int
	unkScore float64
}

// tokenize finds the most likely segmentation (Viterbi), falling back to the
// unknown token for single characters no piece covers.
func (u *unigram) tokenize(word string, ids []int) []int {
	type node struct {
		score float64
		start int // -1: not reached
		id    int
	}
	n := len(word)
	best := make([]node, n+1)
	for i := range best {
		best[i].start = -1
	}
	best[0].start = 0
	for start := 0; start < n; {
		if best[start].start < 0 {
			// Unreachable positions only occur inside a character.
			start++
			continue
		}
		_, charLen := utf8.DecodeRuneInString(word[start:])
		base := best[start].score
		single := false
		limit := min(n, start+u.maxLen)
		for end := start + charLen; end <= limit; {
			if id, ok := u.ids[word[start:end]]; ok {
				cand := base + u.scores[id]
				if best[end].start < 0 || cand > best[end].score {
					best[end] = node{score: cand, start: start, id: id}
				}
				if end-start == charLen {
					single = true
				}
			}
			if end == n {
				break
			}
			_, size := utf8.DecodeRuneInString(word[end:])
			end += size
		}
		if !single {
			end := start + charLen
			cand := base + u.unkScore
			if best[end].start < 0 || cand > best[end].score {
				best[end] = node{score: cand, start: start, id: u.unk}
			}
		}
		start += charLen
	}
	mark := len(ids)
	for end := n; end > 0; end = best[end].start {
		id := best[end].id
		// Runs of unknown characters become one unknown token (fuse_unk).
		if id == u.unk && len(ids) > mark && ids[len(ids)-1] == u.unk {
			continue
		}
		ids = append(ids, id)
	}
	// Reverse the freshly appended, backtracked ids into text order.
	for i, j := mark, len(ids)-1; i < j; i, j = i+1, j-1 {
		ids[i], ids[j] = ids[j], ids[i]
	}
	return ids
}
