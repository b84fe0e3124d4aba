package indexer

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxDOCXBytes bounds the decompressed size of the parts read from a DOCX,
// which is a zip archive and therefore a potential decompression bomb.
const maxDOCXBytes = 50 << 20

func extractDOCX(data []byte) (string, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("open docx: %w", err)
	}
	parts := map[string]*zip.File{}
	for _, f := range zr.File {
		switch f.Name {
		case "word/document.xml", "word/styles.xml", "word/numbering.xml":
			parts[f.Name] = f
		}
	}
	if parts["word/document.xml"] == nil {
		return "", errors.New("open docx: word/document.xml is missing")
	}
	budget := int64(maxDOCXBytes)
	e := &docxExtractor{
		w:        newDocWriter(),
		headings: map[string]int{},
		counters: map[string]*[9]int{},
	}
	if f := parts["word/styles.xml"]; f != nil {
		if err := readDOCXPart(f, &budget, e.readStyles); err != nil {
			return "", err
		}
	}
	if f := parts["word/numbering.xml"]; f != nil {
		if err := readDOCXPart(f, &budget, e.readNumbering); err != nil {
			return "", err
		}
	}
	if err := readDOCXPart(parts["word/document.xml"], &budget, e.readDocument); err != nil {
		return "", err
	}
	return e.w.String(), e.w.err()
}

// capReader fails with ErrTooLarge once the shared budget is spent, without
// trusting the sizes declared in the zip directory.
type capReader struct {
	r      io.Reader
	budget *int64
}

func (c capReader) Read(p []byte) (int, error) {
	if *c.budget <= 0 {
		return 0, fmt.Errorf("%w: more than %d MiB decompressed", ErrTooLarge, maxDOCXBytes>>20)
	}
	if int64(len(p)) > *c.budget {
		p = p[:*c.budget]
	}
	n, err := c.r.Read(p)
	*c.budget -= int64(n)
	return n, err
}

func readDOCXPart(f *zip.File, budget *int64, parse func(*xml.Decoder) error) error {
	if f.UncompressedSize64 > uint64(*budget) {
		return fmt.Errorf("read %s: %w: more than %d MiB decompressed", f.Name, ErrTooLarge, maxDOCXBytes>>20)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("read %s: %w", f.Name, err)
	}
	defer rc.Close()
	if err := parse(xml.NewDecoder(capReader{rc, budget})); err != nil {
		return fmt.Errorf("read %s: %w", f.Name, err)
	}
	return nil
}

func xmlAttr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// isWordML reports whether an element belongs to WordprocessingML (either
// the transitional or the strict namespace); DrawingML uses the same local
// names (p, t) for text we do not want twice.
func isWordML(n xml.Name) bool {
	return strings.HasSuffix(n.Space, "/wordprocessingml/2006/main") ||
		n.Space == "http://purl.oclc.org/ooxml/wordprocessingml/main"
}

type docxExtractor struct {
	w        *docWriter
	headings map[string]int          // paragraph style id → heading level
	absFmt   map[string]map[int]bool // abstractNumId → level → ordered
	numAbs   map[string]string       // numId → abstractNumId
	counters map[string]*[9]int      // numId → running ordinals per level

	skip     int // depth inside content that duplicates other content
	pDepth   int
	inPPr    bool
	inT      bool
	style    string
	numID    string
	ilvl     int
	text     strings.Builder
	tblDepth int
	row      []string
	cell     *strings.Builder
}

// styleHeadingLevel recognises headings by style id or name, which covers
// documents whose style ids are localised but whose names are not.
func styleHeadingLevel(s string) int {
	s = strings.ToLower(strings.ReplaceAll(s, " ", ""))
	if s == "title" {
		return 1
	}
	if rest, ok := strings.CutPrefix(s, "heading"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 1 && n <= 9 {
			return min(n, 6)
		}
	}
	return 0
}

func (e *docxExtractor) readStyles(d *xml.Decoder) error {
	var id string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "style":
			id = xmlAttr(se, "styleId")
			if l := styleHeadingLevel(id); l > 0 {
				e.headings[id] = l
			}
		case "name":
			if l := styleHeadingLevel(xmlAttr(se, "val")); l > 0 && id != "" {
				e.headings[id] = l
			}
		case "outlineLvl":
			if n, err := strconv.Atoi(xmlAttr(se, "val")); err == nil && n >= 0 && n < 6 && id != "" {
				if _, ok := e.headings[id]; !ok {
					e.headings[id] = n + 1
				}
			}
		}
	}
}

func (e *docxExtractor) readNumbering(d *xml.Decoder) error {
	e.absFmt, e.numAbs = map[string]map[int]bool{}, map[string]string{}
	var abs, num string
	lvl := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "abstractNum":
			abs, num = xmlAttr(se, "abstractNumId"), ""
			if e.absFmt[abs] == nil {
				e.absFmt[abs] = map[int]bool{}
			}
		case "lvl":
			lvl, _ = strconv.Atoi(xmlAttr(se, "ilvl"))
		case "numFmt":
			if abs != "" && num == "" {
				f := xmlAttr(se, "val")
				e.absFmt[abs][lvl] = f != "bullet" && f != "none" && f != ""
			}
		case "num":
			num = xmlAttr(se, "numId")
		case "abstractNumId":
			if num != "" {
				e.numAbs[num] = xmlAttr(se, "val")
			}
		}
	}
}

func (e *docxExtractor) ordered(numID string, ilvl int) bool {
	return e.absFmt[e.numAbs[numID]][ilvl]
}

func (e *docxExtractor) readDocument(d *xml.Decoder) error {
	for !e.w.full {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if e.skip > 0 {
				e.skip++
				continue
			}
			e.start(t)
		case xml.EndElement:
			if e.skip > 0 {
				e.skip--
				continue
			}
			e.end(t)
		case xml.CharData:
			if e.inT && e.skip == 0 {
				e.text.Write(t)
			}
		}
	}
	return nil
}

func (e *docxExtractor) start(se xml.StartElement) {
	if se.Name.Local == "Fallback" && !isWordML(se.Name) {
		// mc:Fallback repeats the mc:Choice content for older readers.
		e.skip = 1
		return
	}
	if !isWordML(se.Name) {
		return
	}
	switch se.Name.Local {
	case "p":
		if e.pDepth++; e.pDepth == 1 {
			e.style, e.numID, e.ilvl = "", "", 0
		}
	case "pPr":
		e.inPPr = true
	case "pStyle":
		if e.pDepth == 1 {
			e.style = xmlAttr(se, "val")
		}
	case "numId":
		if e.pDepth == 1 {
			e.numID = xmlAttr(se, "val")
		}
	case "ilvl":
		if e.pDepth == 1 {
			e.ilvl, _ = strconv.Atoi(xmlAttr(se, "val"))
			e.ilvl = min(max(e.ilvl, 0), 8)
		}
	case "t":
		e.inT = true
	case "tab":
		if !e.inPPr {
			e.text.WriteByte(' ')
		}
	case "br", "cr":
		if !e.inPPr {
			e.text.WriteByte('\n')
		}
	case "noBreakHyphen":
		e.text.WriteByte('-')
	case "tbl":
		e.tblDepth++
	case "tr":
		if e.tblDepth == 1 {
			e.row = e.row[:0]
		}
	case "tc":
		if e.tblDepth == 1 {
			e.cell = &strings.Builder{}
		}
	}
}

func (e *docxExtractor) end(ee xml.EndElement) {
	if !isWordML(ee.Name) {
		return
	}
	switch ee.Name.Local {
	case "t":
		e.inT = false
	case "pPr":
		e.inPPr = false
	case "p":
		if e.pDepth--; e.pDepth == 0 {
			e.paragraph()
		} else {
			e.text.WriteByte(' ')
		}
	case "tc":
		if e.tblDepth == 1 && e.cell != nil {
			e.row = append(e.row, e.cell.String())
			e.cell = nil
		}
	case "tr":
		if e.tblDepth == 1 {
			e.w.tableRow(e.row)
		}
	case "tbl":
		e.tblDepth = max(e.tblDepth-1, 0)
	}
}

func (e *docxExtractor) paragraph() {
	t := e.text.String()
	e.text.Reset()
	if e.cell != nil {
		e.cell.WriteString(t)
		e.cell.WriteByte(' ')
		return
	}
	level, ok := e.headings[e.style]
	if !ok {
		level = styleHeadingLevel(e.style)
	}
	switch {
	case level > 0:
		e.w.heading(level, t)
	case e.numID != "" && e.numID != "0":
		c := e.counters[e.numID]
		if c == nil {
			c = new([9]int)
			e.counters[e.numID] = c
		}
		c[e.ilvl]++
		for l := e.ilvl + 1; l < len(c); l++ {
			c[l] = 0
		}
		ordinal := 0
		if e.ordered(e.numID, e.ilvl) {
			ordinal = c[e.ilvl]
		}
		e.w.listItem(e.ilvl, ordinal, t)
	default:
		// A manual line break inside a plain paragraph usually separates
		// what the author thinks of as paragraphs.
		for p := range strings.SplitSeq(t, "\n") {
			e.w.paragraph(p)
		}
	}
}
