package indexer

import (
	"archive/zip"
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

const wordNS = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"`

// buildDOCX zips the given parts; body is wrapped into word/document.xml.
func buildDOCX(t testing.TB, body string, extra map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files := map[string]string{
		"[Content_Types].xml": `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`,
		"word/document.xml":   `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ` + wordNS + `><w:body>` + body + `</w:body></w:document>`,
	}
	for k, v := range extra {
		files[k] = v
	}
	for _, name := range []string{"[Content_Types].xml", "word/document.xml", "word/styles.xml", "word/numbering.xml"} {
		if content, ok := files[name]; ok {
			f, err := zw.Create(name)
			require.NoError(t, err)
			_, err = f.Write([]byte(content))
			require.NoError(t, err)
		}
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func wp(style, text string) string {
	ppr := ""
	if style != "" {
		ppr = `<w:pPr><w:pStyle w:val="` + style + `"/></w:pPr>`
	}
	return `<w:p>` + ppr + `<w:r><w:t xml:space="preserve">` + text + `</w:t></w:r></w:p>`
}

func wli(numID, ilvl, text string) string {
	return `<w:p><w:pPr><w:pStyle w:val="ListParagraph"/><w:numPr><w:ilvl w:val="` + ilvl + `"/><w:numId w:val="` + numID + `"/></w:numPr></w:pPr><w:r><w:t>` + text + `</w:t></w:r></w:p>`
}

const testNumbering = `<?xml version="1.0"?><w:numbering ` + wordNS + `>
<w:abstractNum w:abstractNumId="0"><w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/></w:lvl><w:lvl w:ilvl="1"><w:numFmt w:val="bullet"/></w:lvl></w:abstractNum>
<w:abstractNum w:abstractNumId="1"><w:lvl w:ilvl="0"><w:numFmt w:val="decimal"/></w:lvl><w:lvl w:ilvl="1"><w:numFmt w:val="lowerLetter"/></w:lvl></w:abstractNum>
<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num><w:num w:numId="2"><w:abstractNumId w:val="1"/></w:num></w:numbering>`

const testStyles = `<?xml version="1.0"?><w:styles ` + wordNS + `>
<w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/></w:style>
<w:style w:type="paragraph" w:styleId="Custom"><w:name w:val="My Heading"/><w:pPr><w:outlineLvl w:val="2"/></w:pPr></w:style>
</w:styles>`

func TestExtractDOCX(t *testing.T) {
	tests := []struct {
		name, body string
		extra      map[string]string
		want       string
	}{
		{
			name: "headings and paragraphs",
			body: wp("Title", "Handbook") + wp("Heading1", "Install") + wp("", "Run   the &lt;installer&gt;.") +
				wp("Heading2", "Linux") + `<w:p><w:r><w:t>Tab</w:t><w:tab/><w:t>sep</w:t><w:br/><w:t>next line</w:t></w:r></w:p>` +
				wp("Heading7", "Deep") + wp("", ""),
			want: "# Handbook\n\n# Install\n\nRun the <installer>.\n\n## Linux\n\nTab sep\n\nnext line\n\n###### Deep",
		},
		{
			name:  "styles by name and outline level",
			body:  wp("berschrift1", "Einleitung") + wp("Custom", "Custom heading") + wp("Normal", "Body"),
			extra: map[string]string{"word/styles.xml": testStyles},
			want:  "# Einleitung\n\n### Custom heading\n\nBody",
		},
		{
			name: "lists",
			body: wli("1", "0", "Bullet a") + wli("1", "1", "Nested") + wli("2", "0", "Step one") + wli("2", "1", "Sub a") +
				wli("2", "1", "Sub b") + wli("2", "0", "Step two") + wp("", "After") + wli("0", "0", "numId 0 is no list"),
			extra: map[string]string{"word/numbering.xml": testNumbering},
			want:  "- Bullet a\n  - Nested\n1. Step one\n  1. Sub a\n  2. Sub b\n2. Step two\n\nAfter\n\nnumId 0 is no list",
		},
		{
			name: "table",
			body: `<w:tbl><w:tblPr/><w:tr><w:tc><w:p><w:r><w:t>Plan</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Price</w:t></w:r></w:p></w:tc></w:tr>` +
				`<w:tr><w:tc><w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Pro</w:t></w:r></w:p><w:p><w:r><w:t>yearly</w:t></w:r></w:p></w:tc><w:tc>` +
				`<w:tbl><w:tr><w:tc><w:p><w:r><w:t>9</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>€</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:tc></w:tr></w:tbl>` + wp("", "Below"),
			want: "| Plan | Price |\n| Pro yearly | 9 € |\n\nBelow",
		},
		{
			name: "alternate content and tab stops",
			body: `<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:t>Shape:</w:t></w:r>` +
				`<mc:AlternateContent><mc:Choice Requires="wps"><w:r><w:t>once</w:t></w:r></mc:Choice><mc:Fallback><w:r><w:t>twice</w:t></w:r></mc:Fallback></mc:AlternateContent></w:p>` +
				`<w:p><w:r><w:delText>deleted</w:delText><w:instrText>PAGE</w:instrText><w:t>kept</w:t></w:r></w:p>`,
			want: "Shape:once\n\nkept",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Extract(MIMEDOCX, buildDOCX(t, tt.body, tt.extra))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			requireNormalised(t, got)
		})
	}
}

func TestExtractDOCXRefusesBombsAndJunk(t *testing.T) {
	// 60 MiB of zeros compresses to about 60 KiB.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, err := zw.Create("word/document.xml")
	require.NoError(t, err)
	chunk := make([]byte, 1<<20)
	for range 60 {
		_, err = f.Write(chunk)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.Less(t, buf.Len(), 1<<20)
	_, err = Extract(MIMEDOCX, buf.Bytes())
	require.ErrorIs(t, err, ErrTooLarge)

	_, err = Extract(MIMEDOCX, buildDOCX(t, "", nil))
	require.ErrorIs(t, err, ErrEmptyText)

	_, err = Extract(MIMEDOCX, buildDOCX(t, "<w:p><w:r><w:t>unterminated", nil))
	require.Error(t, err)

	var noDoc bytes.Buffer
	zw = zip.NewWriter(&noDoc)
	require.NoError(t, zw.Close())
	_, err = Extract(MIMEDOCX, noDoc.Bytes())
	require.ErrorContains(t, err, "word/document.xml")
}
