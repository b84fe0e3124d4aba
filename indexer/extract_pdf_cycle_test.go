package indexer

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// xrefStreamPDF builds a PDF whose only cross-reference is an uncompressed xref stream (object
// 1) holding the given entries for objects 0..len(entries)-1, followed by extra object bodies.
// Entries are [type, field2, field3] with widths 1, 2, 1.
func xrefStreamPDF(root int, entries [][3]int, objects ...string) []byte {
	return xrefStreamPDFWith("", root, entries, objects...)
}

// xrefStreamPDFWith adds extra to the xref stream's dictionary (%d in it is the stream's offset).
func xrefStreamPDFWith(extra string, root int, entries [][3]int, objects ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n")
	offsets := map[int]int{}
	for i, o := range objects {
		offsets[i+2] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+2, o)
	}
	xrefAt := b.Len()
	var data bytes.Buffer
	for id, e := range entries {
		f2 := e[1]
		if e[0] == 1 {
			switch id {
			case 1:
				f2 = xrefAt
			default:
				f2 = offsets[id]
			}
		}
		data.Write([]byte{byte(e[0]), byte(f2 >> 8), byte(f2), byte(e[2])})
	}
	fmt.Fprintf(&b, "1 0 obj\n<< /Type /XRef /Size %d /W [1 2 1] /Root %d 0 R /Length %d %s >>\nstream\n", len(entries), root, data.Len(), strings.ReplaceAll(extra, "%d", strconv.Itoa(xrefAt)))
	b.Write(data.Bytes())
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xrefAt)
	return b.Bytes()
}

// Reference cycles in a PDF's cross-reference data must end in an error. Before they were
// bounded, the first of these overflowed the stack — a fatal error that no recover catches,
// taking the whole worker process down after growing to a gigabyte of stack.
func TestPDFReferenceCyclesBounded(t *testing.T) {
	defer debug.SetMaxStack(debug.SetMaxStack(64 << 20)) // a regression crashes fast
	for name, data := range cyclicPDFs() {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				_, err := Extract(MIMEPDF, data)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("no error")
				}
				t.Logf("%v after %s", err, time.Since(start))
			case <-time.After(10 * time.Second):
				t.Fatal("extraction did not end in 10s")
			}
		})
	}
}

// cyclicPDFs are small files whose cross-reference data loops back on itself.
func cyclicPDFs() map[string][]byte {
	return map[string][]byte{
		// Object 2 is said to live in object stream 2: resolving it resolves itself.
		"self-contained object stream": xrefStreamPDF(2, [][3]int{{0, 0, 0}, {1, 0, 0}, {2, 2, 0}}),
		// Object 3 lives in object stream 2, which extends itself and does not hold it.
		"object stream extending itself": xrefStreamPDF(3, [][3]int{{0, 0, 0}, {1, 0, 0}, {1, 0, 0}, {2, 2, 0}},
			"<< /Type /ObjStm /N 0 /First 1 /Extends 2 0 R /Length 1 >>\nstream\n \nendstream"),
		// A stream whose length is itself.
		"length refers to its own stream": xrefStreamPDF(2, [][3]int{{0, 0, 0}, {1, 0, 0}, {1, 0, 0}},
			"<< /Type /Catalog /Length 2 0 R >>\nstream\nabc\nendstream"),
		// The xref section names itself as the previous one.
		"xref Prev chain naming itself": xrefStreamPDFWith("/Prev %d", 2, [][3]int{{0, 0, 0}, {1, 0, 0}, {1, 0, 0}},
			"<< /Type /Catalog >>"),
	}
}
