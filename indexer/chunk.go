package indexer

import (
	"slices"
	"strings"
	"unicode"
)

// ChunkOptions controls ChunkText. Zero values select the defaults.
type ChunkOptions struct {
	// TargetTokens is the size chunks are packed up to; default 300.
	TargetTokens int
	// OverlapTokens is roughly how much of a chunk's end is repeated at the
	// start of the next chunk of the same section, so that a passage cut at
	// a boundary is still found whole in one of them. Default 15% of
	// TargetTokens (45 for the default target); negative disables overlap.
	OverlapTokens int
	// MaxTokens is a hard cap on Chunk.Tokens; default 2×TargetTokens.
	MaxTokens int
}

// Chunk is a contiguous span of the text given to ChunkText.
type Chunk struct {
	Index int
	Text  string
	// HeadingPath lists the headings enclosing the chunk, outermost first,
	// e.g. ["Install", "Linux"]; empty before the first heading.
	HeadingPath []string
	// Start and End are offsets in runes (Unicode code points) into the
	// chunked text: Text == string([]rune(text)[Start:End]).
	Start, End int
	// Tokens is EstimateTokens(Text).
	Tokens int
}

type chunkConfig struct {
	target, overlap, max int
	unit                 int // largest indivisible piece, so that overlap+unit <= max
}

func (o ChunkOptions) config() chunkConfig {
	c := chunkConfig{target: o.TargetTokens, overlap: o.OverlapTokens, max: o.MaxTokens}
	if c.target <= 0 {
		c.target = 300
	}
	if c.max <= 0 {
		c.max = 2 * c.target
	}
	c.target = min(c.target, c.max)
	switch {
	case c.overlap == 0:
		c.overlap = c.target * 15 / 100
	case c.overlap < 0:
		c.overlap = 0
	}
	c.overlap = min(c.overlap, c.target/2)
	c.unit = min(c.target, c.max-c.overlap)
	return c
}

// EstimateTokens approximates the number of subword tokens a typical BPE
// tokenizer produces, cheaply and without a vocabulary. Runs of letters
// count one token per started 6 runes (most common words are one token,
// long or rare words several), runs of digits one per started 3 digits,
// every other symbol or punctuation rune one token, and every CJK ideograph
// or kana/hangul syllable one token; whitespace is free. On English prose
// this lands within about 20% of real tokenizers. Because each run is
// rounded up, splitting a text never lowers the sum of its parts' estimates,
// which is what lets ChunkText enforce MaxTokens from the sizes of pieces.
func EstimateTokens(s string) int {
	var t tokenCounter
	for _, r := range s {
		t.add(r)
	}
	return t.done()
}

func estimateRunes(rs []rune) int {
	var t tokenCounter
	for _, r := range rs {
		t.add(r)
	}
	return t.done()
}

type tokenCounter struct {
	n, run int
	digits bool
}

func (t *tokenCounter) flush() {
	if t.run > 0 {
		if t.digits {
			t.n += (t.run + 2) / 3
		} else {
			t.n += (t.run + 5) / 6
		}
	}
	t.run = 0
}

func (t *tokenCounter) add(r rune) {
	switch {
	case r < 0x80 && (r|0x20 >= 'a' && r|0x20 <= 'z'):
		t.letter(false)
	case r >= '0' && r <= '9':
		t.letter(true)
	case r == ' ' || r == '\n' || r == '\t' || r == '\r' || r == '\v' || r == '\f':
		t.flush()
	case r < 0x80:
		t.flush()
		t.n++
	case isCJK(r):
		t.flush()
		t.n++
	case unicode.IsLetter(r) || unicode.IsMark(r):
		t.letter(false)
	case unicode.IsDigit(r):
		t.letter(true)
	case unicode.IsSpace(r):
		t.flush()
	default:
		t.flush()
		t.n++
	}
}

func (t *tokenCounter) letter(digit bool) {
	if t.run > 0 && t.digits != digit {
		t.flush()
	}
	t.digits = digit
	t.run++
}

func (t *tokenCounter) done() int {
	t.flush()
	return t.n
}

func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// ChunkText splits normalised text (see Extract) into chunks for indexing
// and embedding. The text is divided into sections at markdown headings;
// each section is packed from whole paragraphs (lines, sentences, words and
// finally runes when a piece alone is too large) up to TargetTokens, never
// crossing into another section except to merge small neighbouring sections
// under the same parent. The first chunk of a section starts with its
// heading line. Consecutive chunks of a section overlap by up to
// OverlapTokens, starting the overlap at a sentence boundary where one fits.
// The result is deterministic and contains no empty chunks.
func ChunkText(text string, opts ChunkOptions) []Chunk {
	c := &chunker{cfg: opts.config(), rs: []rune(text)}
	var out []Chunk
	for _, g := range c.groups(c.sections()) {
		out = c.pack(g, out)
	}
	return out
}

type chunker struct {
	cfg chunkConfig
	rs  []rune
}

type span struct{ start, end, tokens int }

type section struct {
	path        []string
	units       []span
	tokens      int
	headingOnly bool
}

func (c *chunker) tokens(start, end int) int { return estimateRunes(c.rs[start:end]) }

func isSpace(r rune) bool { return unicode.IsSpace(r) }

// trim narrows [start, end) to exclude surrounding whitespace.
func (c *chunker) trim(start, end int) (int, int) {
	for start < end && isSpace(c.rs[start]) {
		start++
	}
	for end > start && isSpace(c.rs[end-1]) {
		end--
	}
	return start, end
}

// sections splits the text into blocks (paragraphs, fenced code, heading
// lines) and groups them under the heading that precedes them.
func (c *chunker) sections() []section {
	rs := c.rs
	var (
		secs     []section
		cur      = section{headingOnly: false}
		stack    []headingEntry
		blockBeg = -1
		fence    rune
		fenceLen int
	)
	endBlock := func(end int) {
		if blockBeg < 0 {
			return
		}
		if s, e := c.trim(blockBeg, end); s < e {
			cur.units = c.split(s, e, 0, cur.units)
			cur.headingOnly = false
		}
		blockBeg = -1
	}
	for ls := 0; ls < len(rs); {
		le := ls
		for le < len(rs) && rs[le] != '\n' {
			le++
		}
		next := le + 1
		line := rs[ls:le]

		if fence != 0 {
			if ch, n := runeFence(line); ch == fence && n >= fenceLen && onlyFence(line, ch) {
				endBlock(le)
				fence = 0
			}
			ls = next
			continue
		}
		switch {
		case blankRunes(line):
			endBlock(le)
		default:
			if level, title, ok := runeHeading(line); ok {
				endBlock(ls)
				if len(cur.units) > 0 {
					secs = append(secs, cur)
				}
				for len(stack) > 0 && stack[len(stack)-1].level >= level {
					stack = stack[:len(stack)-1]
				}
				stack = append(stack, headingEntry{level, title})
				cur = section{path: headingPath(stack), headingOnly: true}
				s, e := c.trim(ls, le)
				cur.units = c.split(s, e, 0, nil)
				break
			}
			if ch, n := runeFence(line); ch != 0 {
				endBlock(ls)
				fence, fenceLen = ch, n
				blockBeg = ls
				break
			}
			if blockBeg < 0 {
				blockBeg = ls
			}
		}
		ls = next
	}
	endBlock(len(rs))
	if len(cur.units) > 0 {
		secs = append(secs, cur)
	}
	for i := range secs {
		for _, u := range secs[i].units {
			secs[i].tokens += u.tokens
		}
	}
	return secs
}

type headingEntry struct {
	level int
	title string
}

func headingPath(stack []headingEntry) []string {
	p := make([]string, len(stack))
	for i, h := range stack {
		p[i] = h.title
	}
	return p
}

func blankRunes(line []rune) bool {
	for _, r := range line {
		if !isSpace(r) {
			return false
		}
	}
	return true
}

// maxHeadingTitle bounds a heading's length in HeadingPath; the full line
// is still part of the chunk text.
const maxHeadingTitle = 200

func runeHeading(line []rune) (int, string, bool) {
	i := 0
	for i < len(line) && i < 3 && line[i] == ' ' {
		i++
	}
	n := 0
	for i+n < len(line) && line[i+n] == '#' {
		n++
	}
	if n == 0 || n > 6 || i+n >= len(line) || (line[i+n] != ' ' && line[i+n] != '\t') {
		return 0, "", false
	}
	title := strings.TrimSpace(string(line[i+n:]))
	if t := strings.TrimRight(title, "#"); t != title && (t == "" || strings.HasSuffix(t, " ")) {
		title = strings.TrimSpace(t)
	}
	title = cleanInline(title)
	if title == "" {
		return 0, "", false
	}
	if r := []rune(title); len(r) > maxHeadingTitle {
		title = string(r[:maxHeadingTitle])
	}
	return n, title, true
}

func runeFence(line []rune) (rune, int) {
	i := 0
	for i < len(line) && i < 3 && line[i] == ' ' {
		i++
	}
	if i >= len(line) || (line[i] != '`' && line[i] != '~') {
		return 0, 0
	}
	ch, n := line[i], 0
	for i+n < len(line) && line[i+n] == ch {
		n++
	}
	if n < 3 {
		return 0, 0
	}
	return ch, n
}

func onlyFence(line []rune, ch rune) bool {
	for _, r := range line {
		if r != ch && !isSpace(r) {
			return false
		}
	}
	return true
}

// split appends [start, end) as units no larger than cfg.unit, dividing
// oversized pieces by line, then sentence, then word, then rune.
func (c *chunker) split(start, end, level int, out []span) []span {
	t := c.tokens(start, end)
	if t <= c.cfg.unit {
		return append(out, span{start, end, t})
	}
	var pieces []span
	switch level {
	case 0:
		pieces = c.pieces(start, end, c.lineStart)
	case 1:
		pieces = c.pieces(start, end, c.sentenceStart)
	case 2:
		return c.words(start, end, out)
	}
	if len(pieces) <= 1 {
		return c.split(start, end, level+1, out)
	}
	for _, p := range pieces {
		out = c.split(p.start, p.end, level+1, out)
	}
	return out
}

// pieces cuts [start, end) before every position boundary accepts.
func (c *chunker) pieces(start, end int, boundary func(int) bool) []span {
	var out []span
	from := start
	for i := start + 1; i < end; i++ {
		if !isSpace(c.rs[i]) && isSpace(c.rs[i-1]) && boundary(i) {
			if s, e := c.trim(from, i); s < e {
				out = append(out, span{start: s, end: e})
			}
			from = i
		}
	}
	if s, e := c.trim(from, end); s < e {
		out = append(out, span{start: s, end: e})
	}
	return out
}

// lineStart reports whether the word starting at i begins a line.
func (c *chunker) lineStart(i int) bool {
	for j := i - 1; j >= 0 && isSpace(c.rs[j]); j-- {
		if c.rs[j] == '\n' {
			return true
		}
	}
	return false
}

// sentenceStart reports whether the word starting at i begins a sentence
// or a line.
func (c *chunker) sentenceStart(i int) bool {
	j := i - 1
	for j >= 0 && isSpace(c.rs[j]) {
		if c.rs[j] == '\n' {
			return true
		}
		j--
	}
	for j >= 0 && strings.ContainsRune("\"')]»”’", c.rs[j]) {
		j--
	}
	return j >= 0 && strings.ContainsRune(".!?。！？…", c.rs[j])
}

// words packs whole words into units, cutting words that are too large on
// their own into rune runs.
func (c *chunker) words(start, end int, out []span) []span {
	gs, gt := -1, 0
	ge := start
	for i := start; i < end; {
		for i < end && isSpace(c.rs[i]) {
			i++
		}
		if i == end {
			break
		}
		ws := i
		for i < end && !isSpace(c.rs[i]) {
			i++
		}
		wt := c.tokens(ws, i)
		if gs >= 0 && gt+wt > c.cfg.unit {
			out = append(out, span{gs, ge, gt})
			gs = -1
		}
		if wt > c.cfg.unit {
			out = c.runes(ws, i, out)
			continue
		}
		if gs < 0 {
			gs, gt = ws, 0
		}
		gt += wt
		ge = i
	}
	if gs >= 0 {
		out = append(out, span{gs, ge, gt})
	}
	return out
}

// runes cuts a single huge word (a hash, base64, a CJK run without spaces)
// into pieces. No rune counts for more than one token, so halving always
// reaches a piece that fits.
func (c *chunker) runes(start, end int, out []span) []span {
	for start < end {
		n := min(end-start, 6*c.cfg.unit)
		t := c.tokens(start, start+n)
		for t > c.cfg.unit {
			n = max(n/2, 1)
			t = c.tokens(start, start+n)
		}
		out = append(out, span{start, start + n, t})
		start += n
	}
	return out
}

// groups merges small adjacent sections that belong together: a parent
// heading with no text of its own and its first child, or short siblings.
func (c *chunker) groups(secs []section) []section {
	small := c.cfg.target / 4
	var out []section
	for _, s := range secs {
		if n := len(out); n > 0 {
			g := &out[n-1]
			if g.tokens+s.tokens <= c.cfg.target && (g.tokens < small || s.tokens < small) && related(g.path, s.path) {
				if g.headingOnly && hasPrefix(s.path, g.path) {
					g.path = s.path
				} else {
					g.path = commonPrefix(g.path, s.path)
				}
				g.units = append(g.units, s.units...)
				g.tokens += s.tokens
				g.headingOnly = g.headingOnly && s.headingOnly
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// related reports whether section s may join group g. Text before the
// first heading stays alone: merging it would hide the next section's path.
func related(g, s []string) bool {
	if len(g) == 0 {
		return false
	}
	if hasPrefix(s, g) {
		return true
	}
	return len(g) > 0 && len(s) > 0 && slices.Equal(g[:len(g)-1], s[:len(s)-1])
}

func hasPrefix(p, prefix []string) bool {
	return len(p) >= len(prefix) && slices.Equal(p[:len(prefix)], prefix)
}

func commonPrefix(a, b []string) []string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n:n]
}

// pack fills chunks from a section's units. Every chunk holds at least one
// new unit, so packing always advances.
func (c *chunker) pack(s section, out []Chunk) []Chunk {
	units := s.units
	overlapStart, overlapTokens := -1, 0
	for i := 0; i < len(units); {
		start, tokens := units[i].start, 0
		if overlapStart >= 0 {
			start, tokens = overlapStart, overlapTokens
		}
		j := i
		for j < len(units) && (j == i || tokens+units[j].tokens <= c.cfg.target) {
			tokens += units[j].tokens
			j++
		}
		end := units[j-1].end
		text := string(c.rs[start:end])
		out = append(out, Chunk{
			Index:       len(out),
			Text:        text,
			HeadingPath: slices.Clone(s.path),
			Start:       start,
			End:         end,
			Tokens:      EstimateTokens(text),
		})
		overlapStart, overlapTokens = -1, 0
		if j < len(units) && c.cfg.overlap > 0 {
			overlapStart, overlapTokens = c.overlap(start, end)
		}
		i = j
	}
	return out
}

// overlap picks where the next chunk starts inside the chunk that ends at
// end: the earliest sentence start whose suffix fits in cfg.overlap tokens,
// or failing that the earliest such word start. Suffix sizes add up exactly
// because every candidate follows whitespace.
func (c *chunker) overlap(chunkStart, end int) (int, int) {
	bestSentence, bestWord := -1, -1
	sentTokens, wordTokens := 0, 0
	acc, prev := 0, end
	for i := end - 1; i > chunkStart; i-- {
		if isSpace(c.rs[i]) || !isSpace(c.rs[i-1]) {
			continue
		}
		acc += c.tokens(i, prev)
		prev = i
		if acc > c.cfg.overlap {
			break
		}
		bestWord, wordTokens = i, acc
		if c.sentenceStart(i) {
			bestSentence, sentTokens = i, acc
		}
	}
	if bestSentence >= 0 {
		return bestSentence, sentTokens
	}
	if bestWord >= 0 {
		return bestWord, wordTokens
	}
	return -1, 0
}
