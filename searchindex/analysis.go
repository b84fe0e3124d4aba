package searchindex

import (
	"strings"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/analysis/char/asciifolding"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/ar" // analysers register themselves
	_ "github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/ckb"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/da"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/de"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/es"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/fa"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/fi"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/fr"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/hi"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/hr"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/hu"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/it"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/nl"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/no"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/pl"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/pt"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/ro"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/ru"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/sv"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/tr"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"
)

// Analyser names.
const (
	// AnalyzerDefault is English with stemming: what documents without a language, messages
	// and subjects are analysed with.
	AnalyzerDefault = en.AnalyzerName
	// AnalyzerPlain splits on Unicode word boundaries and lowercases (languages bleve has no
	// analyser for).
	AnalyzerPlain = standard.Name
	// AnalyzerFolded lowercases and folds accents, without stemming: names, companies and
	// attribute values, so that "José" and "jose" are the same word.
	AnalyzerFolded = "folded"
	// AnalyzerKeyword keeps the whole value as one term.
	AnalyzerKeyword = keyword.Name
)

// languageAnalyzers maps a language's primary subtag to a bleve analyser with stemming.
var languageAnalyzers = map[string]string{
	"ar": "ar", "da": "da", "de": "de", "en": "en", "es": "es", "fa": "fa", "fi": "fi",
	"fr": "fr", "hi": "hi", "hr": "hr", "hu": "hu", "it": "it", "nl": "nl", "no": "no",
	"nb": "no", "nn": "no", "pl": "pl", "pt": "pt", "ro": "ro", "ru": "ru", "sv": "sv",
	"tr": "tr", "ckb": "ckb", "zh": "cjk", "ja": "cjk", "ko": "cjk",
}

// LanguageAnalyzer picks the analyser for a document's language tag ("fr", "pt-BR", "de_AT"):
// the language's own analyser where bleve has one, English for an empty tag, and plain
// Unicode word splitting without stemming for any other language.
func LanguageAnalyzer(lang string) string {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	if lang == "" {
		return AnalyzerDefault
	}
	if a, ok := languageAnalyzers[lang]; ok {
		return a
	}
	return AnalyzerPlain
}

// analyzerNames lists every analyser a document may use, for the per-language mappings.
func analyzerNames() []string {
	seen := map[string]bool{AnalyzerPlain: true}
	out := []string{AnalyzerPlain}
	for _, a := range languageAnalyzers {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

func addFoldedAnalyzer(im *mapping.IndexMappingImpl) {
	err := im.AddCustomAnalyzer(AnalyzerFolded, map[string]any{
		"type":          custom.Name,
		"char_filters":  []string{asciifolding.Name},
		"tokenizer":     unicode.Name,
		"token_filters": []string{lowercase.Name},
	})
	if err != nil {
		panic(err)
	}
}

// Token is an analysed word with its byte offsets in the analysed text.
type Token struct {
	Term       string
	Start, End int
}

// Analyze runs the named analyser of m over text.
func Analyze(m *mapping.IndexMappingImpl, analyzer, text string) []Token {
	a := m.AnalyzerNamed(analyzer)
	if a == nil {
		return nil
	}
	ts := a.Analyze([]byte(text))
	out := make([]Token, 0, len(ts))
	for _, t := range ts {
		out = append(out, Token{Term: string(t.Term), Start: t.Start, End: t.End})
	}
	return out
}

// Terms returns the distinct analysed terms of text, in order of first appearance.
func Terms(m *mapping.IndexMappingImpl, analyzer, text string) []string {
	a := m.AnalyzerNamed(analyzer)
	if a == nil {
		return nil
	}
	return distinctTerms(a.Analyze([]byte(text)))
}

func distinctTerms(ts analysis.TokenStream) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range ts {
		if s := string(t.Term); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// tokenCount is the number of tokens bleve indexes for text under the analyser: the field
// length of BM25's length normalisation.
func tokenCount(m *mapping.IndexMappingImpl, analyzer, text string) int {
	if text == "" {
		return 0
	}
	a := m.AnalyzerNamed(analyzer)
	if a == nil {
		return 0
	}
	return len(a.Analyze([]byte(text)))
}
