package indexer

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// buildPDF writes a minimal valid PDF with one content stream per page, a
// Helvetica font resource and a correct cross-reference table.
func buildPDF(pages ...string) []byte {
	var objs []string
	kids := make([]string, len(pages))
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	objs = append(objs,
		"<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
	)
	for i, content := range pages {
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i),
			fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		)
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func TestExtractPDF(t *testing.T) {
	page1 := `BT /F1 18 Tf 72 720 Td (Getting Started) Tj ET
BT /F1 11 Tf 72 690 Td (The agent installs in a few) Tj 0 -13 Td (minutes and needs no configu-) Tj 0 -13 Td (ration at all.) Tj ET
BT /F1 11 Tf 72 630 Td [(Kern)-20(ed )(words)] TJ ( stay) Tj 0 -13 Td [(Spaced)-600(by)-600(TJ)] TJ ET
BT /F1 11 Tf 72 580 Td (\225 first bullet) Tj 0 -13 Td (\225 second bullet) Tj ET`
	page2 := `BT /F1 14 Tf 72 760 Td (Details) Tj ET
BT /F1 11 Tf 14 TL 72 720 Td (Page two, line one.) Tj T* (Line two via T*.) Tj (Caf\351 \(parens\)) ' ET`
	got, err := Extract(MIMEPDF, buildPDF(page1, page2))
	require.NoError(t, err)
	require.Equal(t, "# Getting Started\n\n"+
		"The agent installs in a few minutes and needs no configuration at all.\n\n"+
		"Kerned words stay Spaced by TJ\n\n"+
		"- first bullet\n- second bullet\n\n"+
		"## Details\n\n"+
		"Page two, line one. Line two via T*. Café (parens)", got)
	requireNormalised(t, got)
}

func TestExtractPDFErrors(t *testing.T) {
	_, err := Extract(MIMEPDF, buildPDF("0 0 m 100 100 l S"))
	require.ErrorIs(t, err, ErrEmptyText)

	_, err = Extract(MIMEPDF, buildPDF())
	require.ErrorIs(t, err, ErrEmptyText)

	valid := buildPDF("BT /F1 11 Tf 72 720 Td (Hello) Tj ET")
	for _, bad := range [][]byte{
		nil,
		[]byte("%PDF-1.7\n"),
		valid[:len(valid)/2],
		bytes.Replace(valid, []byte("/Length"), []byte("/Lenxth"), 1),
		bytes.Replace(valid, []byte("(Hello) Tj"), []byte("(Hello) Tj Tf Tm TJ ] >>"), 1),
	} {
		got, err := Extract(MIMEPDF, bad)
		if err == nil {
			require.NotEmpty(t, got)
		}
	}
}

func TestExtractPDFPageTreeCycle(t *testing.T) {
	data := buildPDF("BT /F1 11 Tf 72 720 Td (Loop) Tj ET")
	// Make the page tree list itself as a kid, next to the real page.
	data = bytes.Replace(data, []byte("/Kids [4 0 R]"), []byte("/Kids [2 0 R 4 0 R]"), 1)
	got, err := Extract(MIMEPDF, data)
	if err == nil {
		require.Contains(t, got, "Loop")
	}
}
