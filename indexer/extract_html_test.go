package indexer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExtractHTML(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "headings and paragraphs",
			in: `<!doctype html><html><head><title>Site title</title><style>p{}</style></head>
<body><nav><a href="/">Home</a></nav><main><h1>Install   &amp; run</h1>
<p>First   paragraph
with <b>bold</b> text.</p><div>A div</div><section><h2>Linux</h2>Text<br>after break</section></main>
<footer>Copyright</footer><script>alert("x")</script></body></html>`,
			want: "# Install & run\n\nFirst paragraph with bold text.\n\nA div\n\n## Linux\n\nText\n\nafter break",
		},
		{
			name: "lists",
			in:   `<ul><li>One<li>Two<ol><li>Sub a</li><li><p>Sub b</p></li></ol></li><li>Three</li></ul><p>After</p>`,
			want: "- One\n- Two\n  1. Sub a\n  2. Sub b\n- Three\n\nAfter",
		},
		{
			name: "table",
			in: `<table><caption>Plans</caption><thead><tr><th>Plan</th><th>Price</th></tr></thead>
<tbody><tr><td>Free</td><td>0 <p>per month</p></td></tr><tr><td>A | B</td><td><table><tr><td>in</td><td>ner</td></tr></table></td></tr></tbody></table>`,
			want: "Plans\n\n| Plan | Price |\n| Free | 0 per month |\n| A \\| B | in ner |",
		},
		{
			name: "pre",
			in:   "<p>Run:</p><pre><code>make build\n  --flag</code></pre>",
			want: "Run:\n\n```\nmake build\n  --flag\n```",
		},
		{
			name: "unclosed head and noscript",
			in:   "<html><head><title>T</title><body><noscript>enable js</noscript><template><p>tpl</p></template><h3>Hi</h3>",
			want: "### Hi",
		},
		{
			name: "entities and whitespace",
			in:   "<p>caf&eacute;&nbsp;&nbsp;&lt;tag&gt; &#x1F600;</p>",
			want: "café <tag> 😀",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Extract(MIMEHTML, []byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			requireNormalised(t, got)
		})
	}
}

func TestExtractHTMLDeepNesting(t *testing.T) {
	in := strings.Repeat("<div><ul><li><table><tr><td>", 20000) + "deep" + strings.Repeat("</td></tr></table></li></ul></div>", 20000)
	got, err := Extract(MIMEHTML, []byte(in))
	require.NoError(t, err)
	require.Contains(t, got, "deep")

	in = strings.Repeat("<ul><li>x", 5000)
	got, err = Extract(MIMEHTML, []byte(in))
	require.NoError(t, err)
	for line := range strings.SplitSeq(got, "\n") {
		require.LessOrEqual(t, len(line), 2*maxListDepth+3)
	}
}
