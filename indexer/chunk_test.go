package indexer

import (
	"fmt"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// requireChunkInvariants checks what every caller of ChunkText relies on.
// Plain comparisons keep it cheap enough for the fuzzers.
func requireChunkInvariants(t testing.TB, text string, opts ChunkOptions, chunks []Chunk) {
	t.Helper()
	rs := []rune(text)
	cfg := opts.config()
	for i, c := range chunks {
		switch {
		case c.Index != i:
			t.Fatalf("chunk %d has Index %d", i, c.Index)
		case c.Start < 0 || c.Start >= c.End || c.End > len(rs):
			t.Fatalf("chunk %d: bad span %d..%d of %d runes", i, c.Start, c.End, len(rs))
		case string(rs[c.Start:c.End]) != c.Text:
			t.Fatalf("chunk %d: Text %q is not the slice %d..%d", i, c.Text, c.Start, c.End)
		case strings.TrimSpace(c.Text) == "":
			t.Fatalf("chunk %d is empty", i)
		case EstimateTokens(c.Text) != c.Tokens:
			t.Fatalf("chunk %d: Tokens %d, want %d", i, c.Tokens, EstimateTokens(c.Text))
		case c.Tokens > cfg.max:
			t.Fatalf("chunk %d: %d tokens exceed MaxTokens %d", i, c.Tokens, cfg.max)
		case i > 0 && c.Start <= chunks[i-1].Start:
			t.Fatalf("chunk %d does not advance its start", i)
		case i > 0 && c.End <= chunks[i-1].End:
			t.Fatalf("chunk %d adds nothing new", i)
		}
	}
}

func TestEstimateTokens(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"   \n\t", 0},
		{"hello world", 2},
		{"Hello, world!", 4},
		{"internationalization", 4},            // 20 letters: one token per started 6
		{"2024-05-17", 2 + 1 + 1 + 1 + 1},      // digit runs of 4, 2, 2 and two hyphens
		{"café naïve", 2},                      // accented letters are letters
		{"東京タワー", 5},                           // one per ideograph or kana
		{"## Install\n\n- one", 2 + 2 + 1 + 1}, // markup symbols count
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, EstimateTokens(tt.in), "%q", tt.in)
	}
	// Splitting never lowers the sum: the basis for enforcing MaxTokens.
	s := "supercalifragilistic 12345678 東京 done."
	rs := []rune(s)
	for i := range rs {
		require.GreaterOrEqual(t, EstimateTokens(string(rs[:i]))+EstimateTokens(string(rs[i:])), EstimateTokens(s), "cut at %d", i)
	}
}

func TestChunkOptionsDefaults(t *testing.T) {
	require.Equal(t, chunkConfig{target: 300, overlap: 45, max: 600, unit: 300}, ChunkOptions{}.config())
	require.Equal(t, chunkConfig{target: 100, overlap: 15, max: 200, unit: 100}, ChunkOptions{TargetTokens: 100}.config())
	require.Equal(t, chunkConfig{target: 100, overlap: 0, max: 200, unit: 100}, ChunkOptions{TargetTokens: 100, OverlapTokens: -1}.config())
	// The hard cap wins over the target and leaves room for the overlap.
	require.Equal(t, chunkConfig{target: 50, overlap: 25, max: 50, unit: 25}, ChunkOptions{TargetTokens: 100, OverlapTokens: 40, MaxTokens: 50}.config())
	require.Equal(t, chunkConfig{target: 1, overlap: 0, max: 1, unit: 1}, ChunkOptions{TargetTokens: 1, MaxTokens: 1}.config())
}

func sentences(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s sentence number %d has a few more words.", prefix, i)
	}
	return b.String()
}

func TestChunkTextHeadingPaths(t *testing.T) {
	text := "Intro paragraph before any heading.\n\n" +
		"# Install\n\n" +
		"## Linux\n\n" + sentences("Linux", 3) + "\n\n" +
		"## macOS\n\n" + sentences("Mac", 40) + "\n\n" +
		"# Usage\n\n" + sentences("Usage", 40) + "\n\n" +
		"### Deep\n\nDeep text."
	opts := ChunkOptions{TargetTokens: 120}
	chunks := ChunkText(text, opts)
	requireChunkInvariants(t, text, opts, chunks)

	var paths []string
	for _, c := range chunks {
		paths = append(paths, strings.Join(c.HeadingPath, " > "))
	}
	require.Equal(t, "", paths[0], "text before the first heading has no path")
	// "# Install" has no text of its own, so it joins its first child, and
	// the short Linux section stays apart from the long macOS one.
	require.True(t, strings.HasPrefix(chunks[1].Text, "# Install\n\n## Linux\n\nLinux sentence number 0"), chunks[1].Text)
	require.Equal(t, "Install > Linux", paths[1])
	require.True(t, strings.HasPrefix(chunks[2].Text, "## macOS\n\nMac sentence number 0"), chunks[2].Text)
	require.Contains(t, paths, "Install > macOS")
	require.Contains(t, paths, "Usage")
	require.Equal(t, "Usage > Deep", paths[len(paths)-1])

	// Sections are not crossed: no chunk holds text of two big sections.
	for _, c := range chunks {
		require.False(t, strings.Contains(c.Text, "Mac sentence") && strings.Contains(c.Text, "Usage sentence"), c.Text)
	}
	// The first chunk of each section starts with its heading line.
	for i, c := range chunks {
		if i > 0 && !slicesEqual(c.HeadingPath, chunks[i-1].HeadingPath) {
			require.True(t, strings.HasPrefix(c.Text, "#"), "chunk %d: %q", i, c.Text)
		}
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func TestChunkTextSizesAndOverlap(t *testing.T) {
	text := "# Guide\n\n" + sentences("Alpha", 60) + "\n\n" + sentences("Beta", 60)
	opts := ChunkOptions{TargetTokens: 100, OverlapTokens: 25}
	chunks := ChunkText(text, opts)
	requireChunkInvariants(t, text, opts, chunks)
	require.Greater(t, len(chunks), 10)
	for i, c := range chunks {
		require.Equal(t, []string{"Guide"}, c.HeadingPath)
		require.LessOrEqual(t, c.Tokens, 100+25, "chunk %d", i)
		if i < len(chunks)-1 {
			require.GreaterOrEqual(t, c.Tokens, 60, "chunk %d is far below target", i)
		}
		if i == 0 {
			continue
		}
		prev := chunks[i-1]
		require.Less(t, c.Start, prev.End, "chunk %d should overlap the previous one", i)
		overlap := string([]rune(text)[c.Start:prev.End])
		ot := EstimateTokens(overlap)
		require.LessOrEqual(t, ot, 25)
		require.GreaterOrEqual(t, ot, 8, "overlap %q", overlap)
		// Overlaps start at a sentence.
		require.True(t, unicode.IsUpper([]rune(c.Text)[0]), "chunk %d starts mid-sentence: %q", i, c.Text[:20])
	}

	noOverlap := ChunkOptions{TargetTokens: 100, OverlapTokens: -1}
	chunks = ChunkText(text, noOverlap)
	requireChunkInvariants(t, text, noOverlap, chunks)
	for i := 1; i < len(chunks); i++ {
		require.GreaterOrEqual(t, chunks[i].Start, chunks[i-1].End)
	}
}

func TestChunkTextOversizedPieces(t *testing.T) {
	long := strings.Repeat("word ", 700)                        // one sentence, no punctuation
	blob := strings.Repeat("QUJD", 3000)                        // one huge word
	cjk := strings.Repeat("東京は日本の首都です。", 80)                    // no spaces at all
	table := strings.Repeat("| a | b | c | d | e | f |\n", 200) // one block of many lines
	code := "```\n" + strings.Repeat("# not a heading\nx = 1\n\n", 100) + "```"
	text := "# Big\n\n" + long + "\n\n" + blob + "\n\n" + cjk + "\n\n" + table + "\n" + code
	for _, opts := range []ChunkOptions{{}, {TargetTokens: 50}, {TargetTokens: 10, MaxTokens: 12}, {TargetTokens: 1, MaxTokens: 1}} {
		chunks := ChunkText(text, opts)
		requireChunkInvariants(t, text, opts, chunks)
		for _, c := range chunks {
			require.Equal(t, []string{"Big"}, c.HeadingPath, "code block lines are not headings")
		}
	}
}

func TestChunkTextMultibyteOffsets(t *testing.T) {
	text := "# Überblick\n\nÄrger mit Öl? Ja! 😀 Emoji zählen. " + strings.Repeat("Straße café 東京 ", 200) +
		"\n\n## 設定\n\n" + strings.Repeat("設定は簡単です。", 100) + "\n\nbad \xff utf8\r\nline"
	opts := ChunkOptions{TargetTokens: 60}
	chunks := ChunkText(text, opts)
	requireChunkInvariants(t, text, opts, chunks)
	require.Equal(t, []string{"Überblick"}, chunks[0].HeadingPath)
	require.Equal(t, []string{"Überblick", "設定"}, chunks[len(chunks)-1].HeadingPath)
}

func TestChunkTextSmallInputs(t *testing.T) {
	require.Empty(t, ChunkText("", ChunkOptions{}))
	require.Empty(t, ChunkText(" \n\n\t ", ChunkOptions{}))
	chunks := ChunkText("  just one line  ", ChunkOptions{})
	require.Len(t, chunks, 1)
	require.Equal(t, "just one line", chunks[0].Text)
	require.Equal(t, 2, chunks[0].Start)

	chunks = ChunkText("# Only a heading", ChunkOptions{})
	require.Len(t, chunks, 1)
	require.Equal(t, []string{"Only a heading"}, chunks[0].HeadingPath)

	// Small sibling sections merge under their parent.
	text := "# FAQ\n\n## Billing\n\nPay monthly.\n\n## Refunds\n\nWithin 30 days."
	chunks = ChunkText(text, ChunkOptions{})
	require.Len(t, chunks, 1)
	require.Equal(t, text, chunks[0].Text)
	require.Equal(t, []string{"FAQ"}, chunks[0].HeadingPath)
}

func TestChunkTextDeterministic(t *testing.T) {
	text := benchText(50_000)
	a := ChunkText(text, ChunkOptions{})
	b := ChunkText(text, ChunkOptions{})
	require.Equal(t, a, b)
	requireChunkInvariants(t, text, ChunkOptions{}, a)
}

// benchText builds extracted-looking text of about n bytes.
func benchText(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "# Chapter %d\n\n", i)
		for j := range 3 {
			fmt.Fprintf(&b, "## Section %d.%d\n\n", i, j)
			for k := range 4 {
				b.WriteString(sentences(fmt.Sprintf("Paragraph %d", k), 5))
				b.WriteString("\n\n")
			}
			b.WriteString("- first item of a list\n- second item, a little longer than the first\n\n")
			b.WriteString("| key | value |\n| timeout | 30 s |\n| retries | 3 |\n\n")
		}
	}
	return b.String()
}

func BenchmarkChunkText(b *testing.B) {
	text := benchText(1 << 20)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		ChunkText(text, ChunkOptions{})
	}
}

func BenchmarkEstimateTokens(b *testing.B) {
	text := benchText(1 << 20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		EstimateTokens(text)
	}
}
