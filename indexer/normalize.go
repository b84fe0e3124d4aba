package indexer

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// blockKind tells docWriter how to separate a block from the previous one:
// consecutive list items and table rows stay on adjacent lines so that a
// list or table reads as one paragraph to the chunker.
type blockKind int

const (
	blockNone blockKind = iota
	blockPara
	blockHeading
	blockItem
	blockRow
	blockCode
)

// maxListDepth caps list indentation; deeper nesting is rendered at this
// depth so that pathological input cannot produce runaway indentation.
const maxListDepth = 6

// docWriter accumulates the normalised text shared by all extractors.
type docWriter struct {
	b     strings.Builder
	last  blockKind
	limit int
	full  bool
}

func newDocWriter() *docWriter { return &docWriter{limit: maxTextBytes} }

func (w *docWriter) err() error {
	if w.full {
		return ErrTooLarge
	}
	return nil
}

func (w *docWriter) start(k blockKind) bool {
	if w.full {
		return false
	}
	if w.b.Len() > w.limit {
		w.full = true
		return false
	}
	if w.last != blockNone {
		if k == w.last && (k == blockItem || k == blockRow) {
			w.b.WriteByte('\n')
		} else {
			w.b.WriteString("\n\n")
		}
	}
	w.last = k
	return true
}

func (w *docWriter) paragraph(text string) {
	text = cleanInline(text)
	if text == "" || !w.start(blockPara) {
		return
	}
	w.b.WriteString(text)
}

func (w *docWriter) heading(level int, text string) {
	text = cleanInline(text)
	if text == "" {
		return
	}
	level = min(max(level, 1), 6)
	if !w.start(blockHeading) {
		return
	}
	w.b.WriteString(strings.Repeat("#", level))
	w.b.WriteByte(' ')
	w.b.WriteString(text)
}

// listItem writes "- text" or "N. text"; ordinal <= 0 means a bullet.
func (w *docWriter) listItem(depth, ordinal int, text string) {
	text = cleanInline(text)
	if text == "" || !w.start(blockItem) {
		return
	}
	w.b.WriteString(strings.Repeat("  ", min(max(depth, 0), maxListDepth)))
	if ordinal > 0 {
		w.b.WriteString(strconv.Itoa(ordinal))
		w.b.WriteString(". ")
	} else {
		w.b.WriteString("- ")
	}
	w.b.WriteString(text)
}

func (w *docWriter) tableRow(cells []string) {
	empty := true
	for i, c := range cells {
		c = strings.ReplaceAll(cleanInline(c), "|", `\|`)
		cells[i] = c
		if c != "" {
			empty = false
		}
	}
	if empty || !w.start(blockRow) {
		return
	}
	w.b.WriteByte('|')
	for _, c := range cells {
		w.b.WriteByte(' ')
		w.b.WriteString(c)
		if c != "" {
			w.b.WriteByte(' ')
		}
		w.b.WriteByte('|')
	}
}

// code writes a fenced block, keeping line structure and indentation because
// whitespace is meaningful in code and configuration samples.
func (w *docWriter) code(text string) {
	lines := strings.Split(normalizeNewlines(text), "\n")
	out := lines[:0]
	fence := 3
	for _, l := range lines {
		l = strings.TrimRightFunc(stripControl(l), unicode.IsSpace)
		if l == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		if n := leadingRun(strings.TrimLeft(l, " "), '`'); n >= fence {
			fence = n + 1
		}
		out = append(out, l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	if len(out) == 0 || !w.start(blockCode) {
		return
	}
	f := strings.Repeat("`", fence)
	w.b.WriteString(f)
	w.b.WriteByte('\n')
	for _, l := range out {
		w.b.WriteString(l)
		w.b.WriteByte('\n')
	}
	w.b.WriteString(f)
}

// String returns the text; trimming matters only when the first block is
// an indented list item whose parent item had no text.
func (w *docWriter) String() string { return strings.TrimSpace(w.b.String()) }

func leadingRun(s string, c byte) int {
	n := 0
	for n < len(s) && s[n] == c {
		n++
	}
	return n
}

// invisible reports format characters that only affect rendering; left in,
// they split words for the search index without being visible to anyone.
func invisible(r rune) bool {
	switch r {
	case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad':
		return true
	}
	return false
}

// cleanInline collapses all whitespace (including line breaks and no-break
// spaces) to single spaces, drops control and invisible characters, replaces
// invalid UTF-8 with U+FFFD and trims the result.
func cleanInline(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s { // ranging replaces invalid UTF-8 with utf8.RuneError
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			space = b.Len() > 0
		case invisible(r):
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// stripControl drops control characters other than tab and replaces invalid
// UTF-8, for text whose line structure must be kept.
func stripControl(s string) string {
	ok := utf8.ValidString(s)
	if ok {
		for i := 0; i < len(s); i++ {
			if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f || c >= 0x80 {
				ok = false
				break
			}
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if (unicode.IsControl(r) && r != '\t') || invisible(r) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// normalizePlain keeps plain text as written apart from line endings,
// trailing spaces, control characters and runs of blank lines.
func normalizePlain(data []byte) string {
	s := normalizeNewlines(string(data))
	var b strings.Builder
	b.Grow(len(s))
	blank := 0
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimRightFunc(stripControl(line), unicode.IsSpace)
		if line == "" {
			blank++
			continue
		}
		if b.Len() > 0 {
			if blank > 0 {
				b.WriteString("\n\n")
			} else {
				b.WriteByte('\n')
			}
		}
		blank = 0
		b.WriteString(line)
	}
	return strings.TrimSpace(b.String())
}
