package indexer

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"golang.org/x/net/html"
)

// htmlSkipped are elements whose content is not part of the readable body:
// code, chrome repeated on every page of a site, and the <head> (whose
// <title> the caller already has as document metadata).
var htmlSkipped = map[string]bool{
	"script": true, "style": true, "noscript": true, "template": true,
	"nav": true, "footer": true, "head": true, "title": true,
	"svg": true, "math": true, "iframe": true, "object": true,
	"select": true, "textarea": true, "button": true,
}

var htmlBlocks = map[string]bool{
	"p": true, "div": true, "section": true, "article": true, "main": true,
	"header": true, "aside": true, "blockquote": true, "figure": true,
	"figcaption": true, "address": true, "details": true, "summary": true,
	"dl": true, "dt": true, "dd": true, "hr": true, "form": true,
	"fieldset": true, "legend": true, "caption": true, "center": true,
	"body": true, "html": true,
}

// maxHTMLLists bounds the list stack; unclosed <ul>s beyond it are only
// counted so that their end tags still balance.
const maxHTMLLists = 64

type htmlList struct {
	ordered bool
	n       int
}

// htmlExtractor walks the token stream rather than a parsed tree: it needs
// no recursion, so deeply nested markup costs no stack, and sloppy markup
// (unclosed <p> or <li>) degrades into paragraph breaks instead of errors.
type htmlExtractor struct {
	w *docWriter

	skipTag   string
	skipDepth int

	text    strings.Builder // inline text of the current block
	kind    blockKind
	level   int // heading level when kind == blockHeading
	ordinal int // list ordinal when kind == blockItem
	depth   int // list depth when kind == blockItem

	lists        []htmlList
	listOverflow int

	tableDepth int
	row        []string
	cell       *strings.Builder

	preDepth int
	pre      strings.Builder
}

func extractHTML(data []byte) (string, error) {
	e := &htmlExtractor{w: newDocWriter(), kind: blockPara}
	z := html.NewTokenizer(bytes.NewReader(data))
	for !e.w.full {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if err := z.Err(); !errors.Is(err, io.EOF) {
				return "", err
			}
			e.endTable()
			e.flushPre()
			e.flush()
			return e.w.String(), e.w.err()
		case html.TextToken:
			e.onText(z.Text())
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			e.onStart(string(name), tt == html.SelfClosingTagToken)
		case html.EndTagToken:
			name, _ := z.TagName()
			e.onEnd(string(name))
		}
	}
	return "", e.w.err()
}

func (e *htmlExtractor) onText(t []byte) {
	switch {
	case e.skipDepth > 0:
	case e.preDepth > 0:
		e.pre.Write(t)
	case e.cell != nil:
		e.cell.Write(t)
	default:
		e.text.Write(t)
	}
}

// flush emits the pending inline text as a block of the current kind. After
// a list item's first block, further blocks in it are plain paragraphs.
func (e *htmlExtractor) flush() {
	if e.text.Len() == 0 {
		return
	}
	t := e.text.String()
	e.text.Reset()
	switch e.kind {
	case blockHeading:
		e.w.heading(e.level, t)
	case blockItem:
		if cleanInline(t) == "" {
			return
		}
		e.w.listItem(e.depth, e.ordinal, t)
		e.kind = blockPara
	default:
		e.w.paragraph(t)
	}
}

func (e *htmlExtractor) flushPre() {
	if e.pre.Len() > 0 {
		e.w.code(e.pre.String())
		e.pre.Reset()
	}
}

func (e *htmlExtractor) endCell() {
	if e.cell != nil {
		e.row = append(e.row, e.cell.String())
		e.cell = nil
	}
}

func (e *htmlExtractor) endRow() {
	e.endCell()
	if len(e.row) > 0 {
		e.w.tableRow(e.row)
		e.row = e.row[:0]
	}
}

func (e *htmlExtractor) endTable() {
	e.endRow()
	e.tableDepth = 0
}

func (e *htmlExtractor) onStart(name string, selfClosing bool) {
	if e.skipDepth > 0 {
		switch {
		case name == e.skipTag && !selfClosing:
			e.skipDepth++
		case name == "body" && e.skipTag == "head":
			// An unclosed <head> ends where the body begins.
			e.skipDepth = 0
		}
		return
	}
	if htmlSkipped[name] {
		if !selfClosing {
			e.skipTag, e.skipDepth = name, 1
		}
		return
	}
	if e.preDepth > 0 {
		if name == "br" {
			e.pre.WriteByte('\n')
		}
		if name == "pre" {
			e.preDepth++
		}
		return
	}

	// Inside a table cell every structure but the table's own collapses to
	// spaces: a row must stay on one line.
	if e.cell != nil {
		switch name {
		case "tr", "td", "th", "table":
		default:
			if htmlBlocks[name] || isHTMLHeading(name) || name == "br" || name == "li" ||
				name == "ul" || name == "ol" || name == "pre" {
				e.cell.WriteByte(' ')
			}
			return
		}
	}

	switch name {
	case "table":
		e.flush()
		if e.tableDepth > 0 {
			e.tableDepth++
			e.onText([]byte{' '})
			return
		}
		e.tableDepth = 1
	case "tr":
		if e.tableDepth == 1 {
			e.endRow()
		} else if e.tableDepth > 1 {
			e.onText([]byte{' '})
		}
	case "td", "th":
		if e.tableDepth == 1 {
			e.endCell()
			e.cell = &strings.Builder{}
		} else if e.tableDepth > 1 {
			e.onText([]byte{' '})
		}
	case "ul", "ol", "menu":
		e.flush()
		if len(e.lists) < maxHTMLLists {
			e.lists = append(e.lists, htmlList{ordered: name == "ol"})
		} else {
			e.listOverflow++
		}
	case "li":
		e.flush()
		e.kind, e.ordinal, e.depth = blockItem, 0, 0
		if n := len(e.lists); n > 0 {
			l := &e.lists[n-1]
			e.depth = n - 1
			if l.ordered {
				l.n++
				e.ordinal = l.n
			}
		}
	case "h1", "h2", "h3", "h4", "h5", "h6":
		e.flush()
		e.kind, e.level = blockHeading, int(name[1]-'0')
	case "pre":
		e.flush()
		e.preDepth = 1
	case "br":
		if e.kind == blockHeading || e.kind == blockItem {
			e.text.WriteByte(' ')
		} else {
			e.flush()
		}
	default:
		if htmlBlocks[name] {
			e.flush()
		}
	}
}

func (e *htmlExtractor) onEnd(name string) {
	if e.skipDepth > 0 {
		if name == e.skipTag {
			e.skipDepth--
		}
		return
	}
	if e.preDepth > 0 {
		if name == "pre" {
			if e.preDepth--; e.preDepth == 0 {
				e.flushPre()
			}
		}
		return
	}
	switch name {
	case "table":
		if e.tableDepth > 1 {
			e.tableDepth--
			e.onText([]byte{' '})
			return
		}
		e.endTable()
		return
	case "tr":
		if e.tableDepth == 1 {
			e.endRow()
		}
		return
	case "td", "th":
		if e.tableDepth == 1 {
			e.endCell()
		}
		return
	}
	if e.cell != nil {
		e.cell.WriteByte(' ')
		return
	}
	switch name {
	case "ul", "ol", "menu":
		e.flush()
		if e.listOverflow > 0 {
			e.listOverflow--
		} else if n := len(e.lists); n > 0 {
			e.lists = e.lists[:n-1]
		}
		e.kind = blockPara
	case "li":
		e.flush()
		e.kind = blockPara
	case "h1", "h2", "h3", "h4", "h5", "h6":
		e.flush()
		e.kind = blockPara
	default:
		if htmlBlocks[name] {
			e.flush()
		}
	}
}

func isHTMLHeading(name string) bool {
	return len(name) == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6'
}
