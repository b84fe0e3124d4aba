package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/mapping"

	"github.com/nubiq/hub"
	"github.com/nubiq/hub/searchindex"
)

// DefaultSnippetLength is the target length of a snippet in bytes (before marks).
const DefaultSnippetLength = 240

// Snippet returns an excerpt of text of about maxLen bytes around the passage where the most
// distinct query terms occur close together, with every word whose analysed form is a query
// term wrapped in nubiq.SnippetMarkOpen/Close ("**install**ing" never happens: whole words
// are marked). terms are analysed with the same analyser as text, so that "installing" in the
// query marks "installed" in the text. Without a match it returns the start of the text.
// Runs of whitespace become single spaces; "…" marks a cut.
func Snippet(m *mapping.IndexMappingImpl, analyzer, text string, terms map[string]bool, maxLen int) string {
	if maxLen <= 0 {
		maxLen = DefaultSnippetLength
	}
	matches := matchedWords(m, analyzer, text, terms)
	start, end := 0, min(len(text), maxLen)
	if len(matches) > 0 && len(text) > maxLen {
		// The window starting a little before each match; keep the one holding the most
		// distinct terms, then the most matches.
		const lead = 40
		bestDistinct, bestCount := -1, -1
		for i, first := range matches {
			ws := max(0, first.Start-lead)
			we := ws + maxLen
			distinct := map[string]bool{}
			count := 0
			for _, m := range matches[i:] {
				if m.End > we {
					break
				}
				distinct[m.Term] = true
				count++
			}
			if len(distinct) > bestDistinct || len(distinct) == bestDistinct && count > bestCount {
				bestDistinct, bestCount = len(distinct), count
				start, end = ws, min(len(text), we)
			}
		}
		if end == len(text) {
			start = max(0, end-maxLen)
		}
	}
	start, end = wordStart(text, start), wordEnd(text, end)

	var sb strings.Builder
	if start > 0 {
		sb.WriteString("…")
	}
	pos := start
	for _, m := range matches {
		if m.Start < start || m.End > end {
			continue
		}
		s, e := wordBounds(text, m.Start, m.End)
		if s < pos {
			continue
		}
		sb.WriteString(text[pos:s])
		sb.WriteString(nubiq.SnippetMarkOpen)
		sb.WriteString(text[s:e])
		sb.WriteString(nubiq.SnippetMarkClose)
		pos = e
	}
	if pos < end {
		sb.WriteString(text[pos:end])
	}
	if end < len(text) {
		sb.WriteString("…")
	}
	return collapseSpace(sb.String())
}

// prefixAnalyzers only change the ends of words (stemming, case), so that a word can only
// produce a term whose first letters it shares: for them, only words whose first letters
// match a term's need analysing, which makes snippets several times cheaper.
var prefixAnalyzers = map[string]bool{searchindex.AnalyzerDefault: true, searchindex.AnalyzerPlain: true, "es": true, "it": true, "nl": true, "pt": true, "sv": true, "da": true, "no": true, "ro": true, "fi": true, "hu": true, "ru": true}

// matchedWords returns the tokens of text whose analysed form is one of terms.
func matchedWords(m *mapping.IndexMappingImpl, analyzer, text string, terms map[string]bool) []searchindex.Token {
	if len(terms) == 0 {
		return nil
	}
	var out []searchindex.Token
	if !prefixAnalyzers[analyzer] {
		for _, t := range searchindex.Analyze(m, analyzer, text) {
			if terms[t.Term] {
				out = append(out, t)
			}
		}
		return out
	}
	prefixes := map[string]bool{}
	for t := range terms {
		prefixes[runePrefix(t, 3)] = true
	}
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !isWordRune(r) {
			i += size
			continue
		}
		start := i
		for i < len(text) {
			r, size = utf8.DecodeRuneInString(text[i:])
			if !isWordRune(r) {
				break
			}
			i += size
		}
		word := strings.ToLower(text[start:i])
		if !prefixes[runePrefix(word, 1)] && !prefixes[runePrefix(word, 2)] && !prefixes[runePrefix(word, 3)] {
			continue
		}
		for _, t := range searchindex.Analyze(m, analyzer, text[start:i]) {
			if terms[t.Term] {
				out = append(out, searchindex.Token{Term: t.Term, Start: start + t.Start, End: start + t.End})
			}
		}
	}
	return out
}

func runePrefix(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// wordStart moves i back to the start of the word it falls in, unless that word is long.
func wordStart(s string, i int) int {
	if i <= 0 {
		return 0
	}
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	j := i
	for j > 0 && i-j <= 20 {
		r, size := utf8.DecodeLastRuneInString(s[:j])
		if unicode.IsSpace(r) {
			return j
		}
		j -= size
	}
	if j == 0 {
		return 0
	}
	return i
}

// wordEnd moves i forward to the end of the word it falls in, unless that word is long.
func wordEnd(s string, i int) int {
	if i >= len(s) {
		return len(s)
	}
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	j := i
	for j < len(s) && j-i <= 20 {
		r, size := utf8.DecodeRuneInString(s[j:])
		if unicode.IsSpace(r) || unicode.IsPunct(r) {
			return j
		}
		j += size
	}
	if j >= len(s) {
		return len(s)
	}
	return i
}

// wordBounds widens a token's span to its whole word: analysers may report a stem's span
// inside a longer word, and marking half a word reads badly.
func wordBounds(s string, start, end int) (int, int) {
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:start])
		if !isWordRune(r) {
			break
		}
		start -= size
	}
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		if !isWordRune(r) {
			break
		}
		end += size
	}
	return start, end
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

func collapseSpace(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		space = false
		sb.WriteRune(r)
	}
	return sb.String()
}

// queryTerms analyses a query with each analyser, for marking snippets.
func queryTerms(m *mapping.IndexMappingImpl, analyzer, query string) map[string]bool {
	out := map[string]bool{}
	for _, t := range searchindex.Terms(m, analyzer, query) {
		out[t] = true
	}
	return out
}
