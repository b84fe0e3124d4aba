package indexer

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestExtractMarkdown(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "front matter and headings",
			in:   "---\ntitle: Guide\ntags: [a, b]\n---\n\nGuide\n=====\n\nIntro   text\nwraps here.\n\nSetup\n-----\n\n### Linux ###\n\n#hashtag is not a heading\n",
			want: "# Guide\n\nIntro text wraps here.\n\n## Setup\n\n### Linux\n\n#hashtag is not a heading",
		},
		{
			name: "links images and html",
			in:   "See [the docs](https://x.test/a_(b) \"Docs\") and ![diagram](d.png), [ref link][1], <https://auto.test>, <span>in</span>line <br/>break &amp; [not a link].\n\n[1]: https://x.test/ref\n",
			want: "See the docs and diagram, ref link, https://auto.test, inline break & [not a link].",
		},
		{
			name: "code spans keep syntax",
			in:   "Use `[x](y)` and ``a ` b`` or \\[escaped\\](z).",
			want: "Use `[x](y)` and ``a ` b`` or [escaped](z).",
		},
		{
			name: "lists",
			in:   "- one\n- two\n  continued\n    - nested\n* three\n\n1. first\n2) second\n\n10. ten\n\nYear\n2024. was fine",
			// Adjacent lists stay one block: the chunker packs them together anyway.
			want: "- one\n- two continued\n  - nested\n- three\n1. first\n2. second\n10. ten\n\nYear 2024. was fine",
		},
		{
			name: "table",
			in:   "| Name | Value |\n|:-----|------:|\n| `a|b` | 1 |\n| x \\| y | [link](u) |\nafter",
			want: "| Name | Value |\n| `a\\|b` | 1 |\n| x \\| y | link |\n\nafter",
		},
		{
			name: "code blocks",
			in:   "Text\n\n```bash\n# install\nmake   all\n```\n\n    indented\n      more\n\n~~~\nunclosed\n",
			want: "Text\n\n```\n# install\nmake   all\n```\n\n```\nindented\n  more\n```\n\n```\nunclosed\n```",
		},
		{
			name: "fence inside code is lengthened",
			in:   "````\n```\ninner\n```\n````",
			want: "````\n```\ninner\n```\n````",
		},
		{
			name: "quotes comments scripts rules",
			in:   "> quoted\n> > twice\n\n<!-- hidden\nstill hidden -->\nvisible <!-- x --> too\n\n<script>\nevil()\n</script>\n\n***\n\nend",
			want: "quoted twice\n\nvisible too\n\nend",
		},
		{
			name: "crlf and invalid utf8",
			in:   "# Caf\xe9\r\n\r\nline\r\n",
			want: "# Caf\uFFFD\n\nline",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Extract(MIMEMarkdown, []byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			requireNormalised(t, got)
		})
	}
}

func TestMarkdownInlineIsLinear(t *testing.T) {
	// Unmatched brackets and tags are the classic quadratic traps.
	for _, unit := range []string{"[", "![", "<a", "`", "(", "[x](", "<!--"} {
		in := strings.Repeat(unit, 200000)
		start := time.Now()
		_, _ = Extract(MIMEMarkdown, []byte(in))
		require.Less(t, time.Since(start), 2*time.Second, "%q", unit)
		t.Logf("%q: %v", unit, time.Since(start))
	}
}
