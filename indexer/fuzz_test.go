package indexer

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkExtracted is shared by the extraction fuzzers: any input may be
// refused, but accepted output must be normalised text that chunks cleanly.
func checkExtracted(t *testing.T, got string, err error) {
	t.Helper()
	if err != nil {
		if got != "" {
			t.Fatalf("text returned with error %v", err)
		}
		return
	}
	if strings.TrimSpace(got) == "" {
		t.Fatal("empty text without ErrEmptyText")
	}
	if !utf8.ValidString(got) || strings.Contains(got, "\r") || strings.Contains(got, "\n\n\n") || strings.TrimSpace(got) != got {
		t.Fatalf("output not normalised: %q", got)
	}
	opts := ChunkOptions{TargetTokens: 40}
	requireChunkInvariants(t, got, opts, ChunkText(got, opts))
}

func FuzzExtractHTML(f *testing.F) {
	for _, s := range []string{
		"<h1>T</h1><p>a<br>b</p><ul><li>x<li>y</ul><table><tr><td>1<td>2</table>",
		"<pre>a\n b</pre><script>x</script><head><title>t</title><body>z",
		"<table><tr><td><table><td>n</table></td></tr></table><ol><li><p>q",
		"&amp;&#0;&#x110000;<svg><text>s</text></svg><!-- c --><p>\x00\xff",
		strings.Repeat("<div>", 300) + "deep",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Extract(MIMEHTML, data)
		checkExtracted(t, got, err)
	})
}

func FuzzExtractMarkdown(f *testing.F) {
	for _, s := range []string{
		"---\na: b\n---\n# H\n\nText [l](u) ![i](s) <b>x</b>\n\n- a\n  - b\n1. c\n",
		"T\n===\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\n# c\n```\n    code\n",
		"> q\n<!-- x\ny -->\n[r]: http://u\n`a[b](c)`\\*\n<script>\nz\n</script>",
		"[[[[]]]]((((()))))![[x](y)](z)<<<>>>````",
		"#\n##\t\n####### 7\n-\n*\n+ \n1)\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Extract(MIMEMarkdown, data)
		checkExtracted(t, got, err)
	})
}

func FuzzExtractPDF(f *testing.F) {
	f.Add(buildPDF("BT /F1 12 Tf 72 720 Td (Hello) Tj 0 -14 Td [(Wor)-50(ld)] TJ ET"))
	f.Add(buildPDF("BT /F1 18 Tf 72 720 Td (Title) Tj ET", "BT /F1 11 Tf 12 TL (a) ' (b) ' 1 2 (c) \" ET"))
	f.Add(buildPDF("q 2 0 0 2 0 0 cm BT /F2 0 Tf 1 0 0 1 0 0 Tm (x) Tj ET Q Q Q"))
	f.Add([]byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF"))
	for _, data := range cyclicPDFs() {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Extract(MIMEPDF, data)
		checkExtracted(t, got, err)
	})
}

func FuzzExtractDOCX(f *testing.F) {
	f.Add(buildDOCX(f, wp("Heading1", "H")+wp("", "p")+wli("1", "0", "i"), map[string]string{"word/numbering.xml": testNumbering}))
	f.Add(buildDOCX(f, `<w:tbl><w:tr><w:tc><w:p><w:r><w:t>c</w:t></w:r></w:p></w:tc></w:tr></w:tbl>`, map[string]string{"word/styles.xml": testStyles}))
	f.Add(buildDOCX(f, `<w:p><w:r><w:t>a</w:t><w:br/><w:tab/></w:r>`, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Extract(MIMEDOCX, data)
		if errors.Is(err, ErrUnsupportedType) {
			t.Fatal("DOCX must be a supported type")
		}
		checkExtracted(t, got, err)
	})
}

func FuzzChunkText(f *testing.F) {
	f.Add("# A\n\n## B\n\ntext. More text!\n\n```\n# no\n```\n", 20, 5, 0)
	f.Add(benchText(3000), 50, 10, 60)
	f.Add("東京は日本の首都です。\xff\r\n# \n#\tx ##\n", 3, -1, 3)
	f.Add(strings.Repeat("x", 500)+" "+strings.Repeat("1", 90), 1, 1, 1)
	f.Fuzz(func(t *testing.T, text string, target, overlap, maxTokens int) {
		opts := ChunkOptions{TargetTokens: target % 1000, OverlapTokens: overlap % 1000, MaxTokens: maxTokens % 2000}
		chunks := ChunkText(text, opts)
		requireChunkInvariants(t, text, opts, chunks)
		if strings.TrimSpace(text) != "" && len(chunks) == 0 {
			t.Fatal("non-blank text produced no chunks")
		}
	})
}
