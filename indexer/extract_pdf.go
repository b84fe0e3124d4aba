package indexer

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nubiq/hub/indexer/internal/pdf"
)

// Bounds on PDF work. The library resolves objects lazily and follows
// references as the file says, so page trees and content streams are walked
// here with explicit limits instead of through its convenience helpers.
const (
	maxPDFPages     = 10000
	maxPDFTreeNodes = 50000
	maxPDFTreeDepth = 32
	maxPDFOps       = 20_000_000 // content-stream operators, whole document
	maxPDFGState    = 64         // q/Q nesting tracked
)

// errPDFLimit is raised as a panic from inside the content-stream callback,
// the only way to stop pdf.Interpret early.
var errPDFLimit = fmt.Errorf("%w: PDF content too large", ErrTooLarge)

func extractPDF(data []byte) (text string, err error) {
	// The library reports malformed input by panicking.
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok && errors.Is(e, ErrTooLarge) {
				text, err = "", e
				return
			}
			text, err = "", fmt.Errorf("malformed PDF: %v", r)
		}
	}()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("open pdf: %w", err)
	}
	var pages [][]*pdfLine
	ops, total := 0, 0
	for _, page := range pdfPages(r.Trailer().Key("Root").Key("Pages")) {
		pt := &pdfPageText{fonts: map[string]*pdfFont{}, ops: &ops, resources: pdfInherited(page, "Resources"), total: &total}
		pt.run(page.Key("Contents"))
		pages = append(pages, pt.lines)
	}
	w := newDocWriter()
	writePDF(w, pages)
	return w.String(), w.err()
}

// pdfPages lists the page objects in document order. Depth and node limits
// stop reference cycles and exponentially shared subtrees.
func pdfPages(root pdf.Value) []pdf.Value {
	var pages []pdf.Value
	nodes := 0
	var walk func(v pdf.Value, depth int)
	walk = func(v pdf.Value, depth int) {
		if depth > maxPDFTreeDepth || nodes >= maxPDFTreeNodes || len(pages) >= maxPDFPages {
			return
		}
		nodes++
		kids := v.Key("Kids")
		if v.Key("Type").Name() == "Pages" || kids.Kind() == pdf.Array {
			for i := 0; i < kids.Len() && nodes < maxPDFTreeNodes; i++ {
				walk(kids.Index(i), depth+1)
			}
			return
		}
		if v.Kind() == pdf.Dict {
			pages = append(pages, v)
		}
	}
	walk(root, 0)
	return pages
}

func pdfInherited(v pdf.Value, key string) pdf.Value {
	for range maxPDFTreeDepth {
		if v.IsNull() {
			break
		}
		if r := v.Key(key); !r.IsNull() {
			return r
		}
		v = v.Key("Parent")
	}
	return pdf.Value{}
}

// writePDF turns positioned lines into blocks: lines are joined into
// paragraphs (undoing end-of-line hyphenation), bullet glyphs start list
// items, and short paragraphs set clearly larger than the body text become
// headings, ranked by size.
func writePDF(w *docWriter, pages [][]*pdfLine) {
	// The body size is the one most text is set in.
	chars := map[float64]int{}
	for _, lines := range pages {
		for _, l := range lines {
			chars[roundSize(l.size)] += l.text.Len()
		}
	}
	body, most := 0.0, -1
	for sz, n := range chars {
		if n > most || (n == most && sz < body) {
			body, most = sz, n
		}
	}
	var larger []float64
	for sz := range chars {
		if sz >= body*1.15 {
			larger = append(larger, sz)
		}
	}
	slices.Sort(larger)
	slices.Reverse(larger)
	level := func(sz float64) int {
		return min(slices.Index(larger, roundSize(sz))+1, 6)
	}

	for _, lines := range pages {
		var para strings.Builder
		item, words := false, 0
		size := 0.0
		flush := func() {
			switch {
			case para.Len() == 0:
			case item:
				w.listItem(0, 0, para.String())
			case level(size) > 0 && words <= 20:
				w.heading(level(size), para.String())
			default:
				w.paragraph(para.String())
			}
			para.Reset()
			item, words, size = false, 0, 0
		}
		for _, l := range lines {
			text := cleanInline(l.text.String())
			if text == "" {
				continue
			}
			if l.gap {
				flush()
			}
			if rest, ok := cutBullet(text); ok {
				flush()
				item, text = true, rest
			}
			if para.Len() == 0 || roundSize(l.size) < size {
				size = roundSize(l.size)
			}
			words += len(strings.Fields(text))
			s := para.String()
			switch {
			case s == "":
			case strings.HasSuffix(s, "-") && len(s) > 1 && isLetterBefore(s, len(s)-1) && startsLower(text):
				para.Reset()
				para.WriteString(s[:len(s)-1])
			default:
				para.WriteByte(' ')
			}
			para.WriteString(text)
		}
		flush()
		if w.full {
			return
		}
	}
}

func roundSize(sz float64) float64 { return math.Round(sz*2) / 2 }

func cutBullet(line string) (string, bool) {
	for _, b := range []string{"•", "◦", "▪", "‣", "●", "○", "■"} {
		if rest, ok := strings.CutPrefix(line, b); ok {
			return strings.TrimSpace(rest), true
		}
	}
	return line, false
}

func isLetterBefore(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return unicode.IsLetter(r)
}

func startsLower(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLower(r)
}

// matrix is a PDF transformation matrix [a b c d e f].
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func translate(x, y float64) matrix { return matrix{1, 0, 0, 1, x, y} }

// pdfLine is one line of text in content-stream order; gap marks the start
// of a new paragraph.
type pdfLine struct {
	text strings.Builder
	size float64
	gap  bool
}

type pdfFont struct {
	enc     pdf.TextEncoding
	twoByte bool
	first   int
	widths  []float64
}

// pdfPageText rebuilds reading order from glyph positions: the library's
// plain-text helper ignores positioning, which runs words together and
// breaks lines in the middle of sentences.
type pdfPageText struct {
	resources pdf.Value
	fonts     map[string]*pdfFont
	ops       *int
	total     *int // bytes of text collected, whole document
	lines     []*pdfLine

	font                   *pdfFont
	fs, th, tc, tw, tl     float64
	tm, tlm, ctm           matrix
	gstack                 []matrix
	gOverflow              int
	started                bool
	lastY, lastEnd, lastSz float64
}

func (p *pdfPageText) loadFont(name string) *pdfFont {
	if f, ok := p.fonts[name]; ok {
		return f
	}
	v := p.resources.Key("Font").Key(name)
	pf := pdf.Font{V: v}
	f := &pdfFont{enc: pf.Encoder(), twoByte: v.Key("Subtype").Name() == "Type0", first: pf.FirstChar()}
	if ws := v.Key("Widths"); ws.Kind() == pdf.Array {
		for i := 0; i < ws.Len() && i < 1<<16; i++ {
			f.widths = append(f.widths, ws.Index(i).Float64())
		}
	}
	p.fonts[name] = f
	return f
}

func (p *pdfPageText) run(contents pdf.Value) {
	if contents.IsNull() {
		return
	}
	p.th, p.tm, p.tlm, p.ctm = 1, identity, identity, identity
	var args []pdf.Value
	pdf.Interpret(contents, func(stk *pdf.Stack, op string) {
		if *p.ops++; *p.ops > maxPDFOps || *p.total > maxTextBytes {
			panic(errPDFLimit)
		}
		args = args[:0]
		for n := stk.Len(); n > 0; n-- {
			args = append(args, pdf.Value{})
		}
		for i := len(args) - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		p.op(op, args)
	})
}

func num(args []pdf.Value, i int) float64 {
	if i < len(args) {
		return args[i].Float64()
	}
	return 0
}

func (p *pdfPageText) op(op string, args []pdf.Value) {
	switch op {
	case "q":
		if len(p.gstack) < maxPDFGState {
			p.gstack = append(p.gstack, p.ctm)
		} else {
			p.gOverflow++
		}
	case "Q":
		if p.gOverflow > 0 {
			p.gOverflow--
		} else if n := len(p.gstack); n > 0 {
			p.ctm, p.gstack = p.gstack[n-1], p.gstack[:n-1]
		}
	case "cm":
		if len(args) == 6 {
			var m matrix
			for i := range m {
				m[i] = num(args, i)
			}
			p.ctm = m.mul(p.ctm)
		}
	case "BT":
		p.tm, p.tlm = identity, identity
	case "Tf":
		if len(args) == 2 {
			p.font = p.loadFont(args[0].Name())
			p.fs = num(args, 1)
		}
	case "Tc":
		p.tc = num(args, 0)
	case "Tw":
		p.tw = num(args, 0)
	case "Tz":
		p.th = num(args, 0) / 100
	case "TL":
		p.tl = num(args, 0)
	case "TD":
		p.tl = -num(args, 1)
		p.moveLine(num(args, 0), num(args, 1))
	case "Td":
		p.moveLine(num(args, 0), num(args, 1))
	case "T*":
		p.moveLine(0, -p.tl)
	case "Tm":
		if len(args) == 6 {
			for i := range p.tm {
				p.tm[i] = num(args, i)
			}
			p.tlm = p.tm
		}
	case "Tj":
		if len(args) == 1 {
			p.show(args[0].RawString())
		}
	case "'":
		if len(args) == 1 {
			p.moveLine(0, -p.tl)
			p.show(args[0].RawString())
		}
	case "\"":
		if len(args) == 3 {
			p.tw, p.tc = num(args, 0), num(args, 1)
			p.moveLine(0, -p.tl)
			p.show(args[2].RawString())
		}
	case "TJ":
		if len(args) != 1 {
			return
		}
		a := args[0]
		for i := 0; i < a.Len(); i++ {
			x := a.Index(i)
			if x.Kind() == pdf.String {
				p.show(x.RawString())
			} else {
				p.tm = translate(-x.Float64()/1000*p.fs*p.th, 0).mul(p.tm)
			}
		}
	}
}

func (p *pdfPageText) current() *pdfLine {
	if len(p.lines) == 0 {
		p.lines = append(p.lines, &pdfLine{})
	}
	return p.lines[len(p.lines)-1]
}

func (p *pdfPageText) moveLine(x, y float64) {
	p.tlm = translate(x, y).mul(p.tlm)
	p.tm = p.tlm
}

func (p *pdfPageText) show(s string) {
	if s == "" {
		return
	}
	trm := p.tm.mul(p.ctm)
	x, y := trm[4], trm[5]
	size := math.Abs(p.fs) * math.Hypot(trm[2], trm[3])
	if size == 0 || math.IsNaN(size) || math.IsInf(size, 0) {
		size = 1
	}
	line := p.current()
	if p.started {
		ref := max(size, p.lastSz)
		dy := math.Abs(y - p.lastY)
		switch {
		case dy > 0.5*ref:
			line = &pdfLine{size: size}
			// A wide gap, a jump back up the page (next column or box) or
			// a change of font size starts a new paragraph.
			line.gap = dy > 1.9*ref || y > p.lastY || math.Abs(size-p.lastSz) > 0.15*ref
			p.lines = append(p.lines, line)
		case x-p.lastEnd > 0.15*size || x < p.lastEnd-2*size:
			line.text.WriteByte(' ')
		}
	}
	p.started = true
	line.size = max(line.size, size)

	var enc pdf.TextEncoding
	if p.font != nil {
		enc = p.font.enc
	}
	before := line.text.Len()
	if enc != nil {
		line.text.WriteString(enc.Decode(s))
	} else {
		line.text.WriteString(s)
	}
	*p.total += line.text.Len() - before

	// Advance the text matrix so that the next show operation can tell
	// adjacent glyphs from a word gap.
	adv := 0.0
	if p.font != nil && p.font.twoByte {
		adv = float64(len(s)/2) * (0.5*p.fs + p.tc) * p.th
	} else {
		for i := 0; i < len(s); i++ {
			w := 500.0 // an average glyph when the font gives no widths
			if p.font != nil {
				if j := int(s[i]) - p.font.first; j >= 0 && j < len(p.font.widths) && p.font.widths[j] > 0 {
					w = p.font.widths[j]
				}
			}
			a := w/1000*p.fs + p.tc
			if s[i] == ' ' {
				a += p.tw
			}
			adv += a * p.th
		}
	}
	p.tm = translate(adv, 0).mul(p.tm)
	p.lastY, p.lastSz, p.lastEnd = y, size, p.tm.mul(p.ctm)[4]
}
