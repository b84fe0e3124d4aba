package importer

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseCSV(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "a,b,c", want: []string{"a", "b", "c"}},
		{in: "a,,c,", want: []string{"a", "", "c", ""}},
		{in: "", want: []string{""}},
		{in: `"a, b","say ""hi""",c`, want: []string{"a, b", `say "hi"`, "c"}},
		{in: "\"multi\nline\",x", want: []string{"multi\nline", "x"}},
		{in: `"",""`, want: []string{"", ""}},
		{in: `"open`, err: "unterminated"},
		{in: `"a"b,c`, err: "after the closing quote"},
		{in: `a"b,c`, err: "quote inside unquoted field 1"},
	} {
		got, err := parseCSV(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func readAll(t *testing.T, in string, max int, csv bool) []record {
	t.Helper()
	r := newRecordReader(strings.NewReader(in), 0, 0, max, csv)
	var out []record
	for {
		rec, err := r.next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		rec.Data = append([]byte(nil), rec.Data...)
		out = append(out, rec)
	}
}

func TestRecordReaderLinesOffsetsAndLimits(t *testing.T) {
	in := "\xEF\xBB\xBF{\"a\":1}\r\n\n  \n{\"b\":2}\n" + strings.Repeat("x", 50) + "\n{\"c\":3}"
	recs := readAll(t, in, 20, false)
	require.Len(t, recs, 4)
	require.Equal(t, `{"a":1}`, string(recs[0].Data))
	require.Equal(t, int64(1), recs[0].Line)
	require.Equal(t, int64(0), recs[0].Offset)
	require.Equal(t, int64(4), recs[1].Line)
	require.Equal(t, `{"b":2}`, string(recs[1].Data))
	require.Equal(t, int64(5), recs[2].Line)
	require.ErrorContains(t, recs[2].Err, "longer than 20 bytes")
	require.Equal(t, int64(6), recs[3].Line)
	require.Equal(t, `{"c":3}`, string(recs[3].Data))
	require.Equal(t, int64(len(in)), recs[3].End)
	// Every record's bytes are exactly in [Offset, End): resuming at End starts the next.
	require.Equal(t, recs[1].Offset, int64(strings.Index(in, `{"b"`)))

	// CSV: a quoted field carries its line break; line numbers count physical lines.
	csv := "id,note\n1,\"two\nlines\"\n2,plain\n"
	recs = readAll(t, csv, 1000, true)
	require.Len(t, recs, 3)
	require.Equal(t, "1,\"two\nlines\"", string(recs[1].Data))
	require.Equal(t, int64(2), recs[1].Line)
	require.Equal(t, int64(2), recs[1].Lines)
	require.Equal(t, int64(4), recs[2].Line)

	// Resuming mid-file keeps line numbers.
	r := newRecordReader(strings.NewReader(csv[recs[2].Offset:]), recs[2].Offset, 3, 1000, true)
	rec, err := r.next()
	require.NoError(t, err)
	require.Equal(t, int64(4), rec.Line)
	require.Equal(t, "2,plain", string(rec.Data))
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"+44 20 7946-0958":  "+442079460958",
		"0044 20 7946 0958": "+442079460958",
		"(555) 010-0199":    "(555) 010-0199",
		"+1 (415) 555.0100": "+14155550100",
		"ext 12":            "ext 12",
	} {
		require.Equal(t, want, normalizePhone(in), in)
	}
}
