package indexer

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeMIME(t *testing.T) {
	tests := []struct {
		mime, file, want string
	}{
		{"text/plain", "", MIMEPlain},
		{"text/plain; charset=utf-8", "", MIMEPlain},
		{"TEXT/HTML; charset=ISO-8859-1", "", MIMEHTML},
		{"text/x-markdown", "", MIMEMarkdown},
		{"text/markdown; charset=UTF-8; variant=GFM", "", MIMEMarkdown},
		{"text/plain", "README.md", MIMEMarkdown},
		{"application/xhtml+xml", "", MIMEHTML},
		{"application/pdf", "a.docx", MIMEPDF},
		{MIMEDOCX, "", MIMEDOCX},
		{"", "Guide.PDF", MIMEPDF},
		{"application/octet-stream", "notes.txt", MIMEPlain},
		{"", "page.htm", MIMEHTML},
		{"", "page.html", MIMEHTML},
		{"", `C:\docs\spec.docx`, MIMEDOCX},
		{"", "x.markdown", MIMEMarkdown},
		{"text/html; charset", "", MIMEHTML},
	}
	for _, tt := range tests {
		got, err := NormalizeMIME(tt.mime, tt.file)
		require.NoError(t, err, "%q %q", tt.mime, tt.file)
		require.Equal(t, tt.want, got, "%q %q", tt.mime, tt.file)
	}

	for _, bad := range [][2]string{
		{"image/png", "x.png"},
		{"image/png", "x.pdf"}, // a specific declared type wins over the name
		{"application/msword", "x.doc"},
		{"", "archive.zip"},
		{"", ""},
		{"application/octet-stream", "noext"},
	} {
		_, err := NormalizeMIME(bad[0], bad[1])
		require.ErrorIs(t, err, ErrUnsupportedType, "%q", bad)
		for _, mt := range SupportedMIMETypes() {
			require.Contains(t, err.Error(), mt)
		}
	}
}

func TestSupportedMIMETypesIsACopy(t *testing.T) {
	a := SupportedMIMETypes()
	a[0] = "mutated"
	require.Equal(t, MIMEPlain, SupportedMIMETypes()[0])
	require.Len(t, a, 5)
}

func TestExtractErrors(t *testing.T) {
	_, err := Extract("image/png", []byte("x"))
	require.ErrorIs(t, err, ErrUnsupportedType)

	for _, mt := range []string{MIMEPlain, MIMEMarkdown, MIMEHTML} {
		_, err = Extract(mt, []byte(" \n\t \r\n "))
		require.ErrorIs(t, err, ErrEmptyText, mt)
	}
	_, err = Extract(MIMEHTML, []byte("<html><head><title>Only a title</title></head><script>x()</script></html>"))
	require.ErrorIs(t, err, ErrEmptyText)

	_, err = Extract(MIMEPDF, []byte("%PDF-1.4 not really"))
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrEmptyText))

	_, err = Extract(MIMEDOCX, []byte("PK not a zip"))
	require.Error(t, err)
}

func TestExtractPlain(t *testing.T) {
	in := "\ufeff  Title line  \r\n\r\n\r\n\r\nSecond\tparagraph\rthird line\x00 \xff end   \n\n"
	got, err := Extract("text/plain; charset=utf-8", []byte(in))
	require.NoError(t, err)
	require.Equal(t, "Title line\n\nSecond\tparagraph\nthird line \uFFFD end", got)
}

func TestCleanInline(t *testing.T) {
	require.Equal(t, "a b c\uFFFDd", cleanInline(" a\u00a0\n b\t\tc\xffd\u200b "))
	require.Equal(t, "", cleanInline(" \n\t"))
}

// requireNormalised checks the properties every extractor promises.
func requireNormalised(t testing.TB, s string) {
	t.Helper()
	require.Equal(t, strings.TrimSpace(s), s, "output must be trimmed")
	require.NotContains(t, s, "\n\n\n", "at most one blank line between blocks")
	require.NotContains(t, s, "\r")
	require.True(t, strings.ToValidUTF8(s, "") == s, "output must be valid UTF-8")
}
