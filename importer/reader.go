package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DefaultMaxRecordBytes bounds one record (a JSONL line, or a CSV record with its quoted line
// breaks). A longer one is skipped and reported; reading goes on at the next line.
const DefaultMaxRecordBytes = 10 << 20

// record is one logical record of a file: where it starts and ends, its first line number
// (1-based), and its bytes without the line terminator.
type record struct {
	Line   int64
	Lines  int64 // physical lines it spans
	Offset int64
	End    int64
	Data   []byte
	Err    error // the record could not be read whole (too long)
}

// errTooLong is a record over the size limit.
type errTooLong struct{ limit int }

func (e errTooLong) Error() string {
	return fmt.Sprintf("record longer than %d bytes (the limit; raise it with --max-record-bytes)", e.limit)
}

// recordReader splits a file into records: one per line, or, for CSV, one per line plus the
// lines a quoted field continues over. It tracks byte offsets and line numbers so that an
// import can resume at a record boundary and report where bad records are.
type recordReader struct {
	br    *bufio.Reader
	off   int64
	line  int64 // lines consumed
	max   int
	csv   bool
	first bool
	buf   []byte
}

func newRecordReader(r io.Reader, offset, line int64, max int, csv bool) *recordReader {
	return &recordReader{br: bufio.NewReaderSize(r, 256<<10), off: offset, line: line, max: max, csv: csv, first: offset == 0}
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// next returns the next non-blank record, or io.EOF.
func (r *recordReader) next() (record, error) {
	for {
		rec, err := r.read()
		if err != nil {
			return rec, err
		}
		if rec.Err != nil || len(bytes.TrimSpace(rec.Data)) > 0 {
			return rec, nil
		}
	}
}

func (r *recordReader) read() (record, error) {
	rec := record{Line: r.line + 1, Offset: r.off}
	r.buf = r.buf[:0]
	tooLong := false
	for {
		n, eof, err := r.physicalLine(&tooLong)
		if err != nil {
			return rec, err
		}
		if n == 0 && eof {
			if rec.Lines == 0 {
				return rec, io.EOF
			}
			break
		}
		rec.Lines++
		if eof || !r.csv || tooLong || !unbalancedQuotes(r.buf) {
			break
		}
		// A quoted field goes on over the line break, which belongs to the field.
		r.buf = append(r.buf, '\n')
	}
	rec.End = r.off
	if tooLong {
		rec.Err = errTooLong{r.max}
		return rec, nil
	}
	if r.first {
		r.first = false
		r.buf = bytes.TrimPrefix(r.buf, utf8BOM)
	}
	rec.Data = r.buf
	return rec, nil
}

// physicalLine appends one line (without its terminator) to r.buf, or discards it when the
// record would pass the limit. It returns the bytes consumed and whether the input ended.
func (r *recordReader) physicalLine(tooLong *bool) (n int, eof bool, err error) {
	for {
		chunk, err := r.br.ReadSlice('\n')
		n += len(chunk)
		r.off += int64(len(chunk))
		if errors.Is(err, io.EOF) {
			eof = true
		} else if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return n, false, fmt.Errorf("read: %w", err)
		}
		if !*tooLong {
			if len(r.buf)+len(chunk) > r.max+2 {
				*tooLong = true
				r.buf = r.buf[:0]
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		if err == nil || eof {
			if n > 0 {
				r.line++
			}
			if !*tooLong {
				r.buf = bytes.TrimSuffix(r.buf, []byte{'\n'})
				r.buf = bytes.TrimSuffix(r.buf, []byte{'\r'})
			}
			return n, eof, nil
		}
	}
}

// unbalancedQuotes reports whether b ends inside a quoted CSV field. Only a quote that starts
// a field opens one: a stray quote inside an unquoted field (an error parseCSV reports) must
// not swallow the lines after it.
func unbalancedQuotes(b []byte) bool {
	inQuotes, fieldStart := false, true
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inQuotes:
			if c == '"' {
				if i+1 < len(b) && b[i+1] == '"' {
					i++
				} else {
					inQuotes = false
				}
			}
		case c == '"' && fieldStart:
			inQuotes = true
			fieldStart = false
		case c == ',' || c == '\n':
			fieldStart = true
		default:
			fieldStart = false
		}
	}
	return inQuotes
}

// parseCSV splits one CSV record (RFC 4180: comma-separated, fields optionally quoted, ""
// for a quote inside a quoted field).
func parseCSV(s string) ([]string, error) {
	var fields []string
	var f strings.Builder
	i := 0
	for {
		f.Reset()
		if i < len(s) && s[i] == '"' {
			i++
			for {
				j := strings.IndexByte(s[i:], '"')
				if j < 0 {
					return nil, errors.New("unterminated quoted field")
				}
				f.WriteString(s[i : i+j])
				i += j + 1
				if i < len(s) && s[i] == '"' {
					f.WriteByte('"')
					i++
					continue
				}
				break
			}
			if i < len(s) && s[i] != ',' {
				return nil, fmt.Errorf("unexpected %q after the closing quote of field %d", s[i], len(fields)+1)
			}
		} else {
			j := strings.IndexByte(s[i:], ',')
			if j < 0 {
				j = len(s) - i
			}
			v := s[i : i+j]
			if strings.IndexByte(v, '"') >= 0 {
				return nil, fmt.Errorf("quote inside unquoted field %d (quote the whole field and double the quote)", len(fields)+1)
			}
			f.WriteString(v)
			i += j
		}
		fields = append(fields, f.String())
		if i >= len(s) {
			return fields, nil
		}
		i++ // the comma
		if i == len(s) {
			fields = append(fields, "")
			return fields, nil
		}
	}
}
