package indexer

import (
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/net/html"
)

// extractMarkdown is a light line-based pass rather than a CommonMark
// parser: the goal is clean text with its structure for search, not faithful
// rendering, and every step is linear in the input so hostile documents
// cannot make ingestion slow.
func extractMarkdown(data []byte) (string, error) {
	lines := strings.Split(normalizeNewlines(string(data)), "\n")
	if len(lines) > 0 {
		lines[0] = strings.TrimPrefix(lines[0], "\ufeff")
	}
	m := &mdExtractor{w: newDocWriter()}
	m.run(skipFrontMatter(lines))
	return m.w.String(), m.w.err()
}

// skipFrontMatter drops a leading YAML (---) or TOML (+++) metadata block;
// it is data for site generators, not article text.
func skipFrontMatter(lines []string) []string {
	if len(lines) == 0 {
		return lines
	}
	first := strings.TrimSpace(lines[0])
	if first != "---" && first != "+++" {
		return lines
	}
	for i := 1; i < len(lines) && i < 1000; i++ {
		t := strings.TrimSpace(lines[i])
		if t == first || (first == "---" && t == "...") {
			return lines[i+1:]
		}
	}
	return lines
}

type mdItem struct {
	depth, ordinal int
	text           []string
}

type mdExtractor struct {
	w         *docWriter
	para      []string
	item      *mdItem
	indents   []int // indentation of the open list levels
	afterList bool  // the last block was a list item: indented text continues it
}

func (m *mdExtractor) flushItem() {
	if m.item == nil {
		return
	}
	m.w.listItem(m.item.depth, m.item.ordinal, mdInline(strings.Join(m.item.text, " ")))
	m.item = nil
	m.afterList = true
}

func (m *mdExtractor) flushPara() {
	if len(m.para) == 0 {
		return
	}
	m.w.paragraph(mdInline(strings.Join(m.para, " ")))
	m.para = m.para[:0]
	m.endList()
}

func (m *mdExtractor) flush() {
	m.flushItem()
	m.flushPara()
}

// endList is called when a non-list block is written: the next list item
// starts a new list.
func (m *mdExtractor) endList() {
	m.indents = m.indents[:0]
	m.afterList = false
}

func (m *mdExtractor) run(lines []string) {
	inComment := false
	for i := 0; i < len(lines) && !m.w.full; i++ {
		raw := strings.TrimRightFunc(lines[i], unicode.IsSpace)
		if inComment {
			j := strings.Index(raw, "-->")
			if j < 0 {
				continue
			}
			raw, inComment = raw[j+3:], false
		}
		indent, line := mdIndent(raw)

		if indent <= 3 {
			if fc, n := mdFence(line); n > 0 {
				m.flush()
				m.endList()
				i = m.fencedCode(lines, i+1, fc, n)
				continue
			}
			if tag := mdRawHTMLBlock(line); tag != "" {
				m.flush()
				for ; i < len(lines); i++ {
					if strings.Contains(strings.ToLower(lines[i]), "</"+tag) {
						break
					}
				}
				continue
			}
		}
		if j := strings.LastIndex(line, "<!--"); j >= 0 && !strings.Contains(line[j:], "-->") {
			line, inComment = line[:j], true
		}

		// Block quotes are flattened: their content is ordinary text here.
		if strings.HasPrefix(line, ">") {
			for strings.HasPrefix(line, ">") {
				line = strings.TrimPrefix(line[1:], " ")
			}
			indent, line = mdIndent(line)
		}

		if line == "" {
			m.flush()
			continue
		}
		if indent <= 3 {
			if level, text, ok := mdATX(line); ok {
				m.flush()
				m.endList()
				m.w.heading(level, mdInline(text))
				continue
			}
			if len(m.para) > 0 && m.item == nil {
				if level := mdSetext(line); level > 0 {
					m.w.heading(level, mdInline(strings.Join(m.para, " ")))
					m.para = m.para[:0]
					m.endList()
					continue
				}
			}
			if mdThematicBreak(line) {
				m.flush()
				m.endList()
				continue
			}
			if strings.Contains(line, "|") && i+1 < len(lines) && mdDelimiterRow(lines[i+1]) {
				m.flush()
				m.endList()
				i = m.table(lines, i)
				continue
			}
		}
		if ordinal, rest, ok := mdListMarker(line); ok && (len(m.para) == 0 || ordinal <= 1) {
			m.flush()
			m.openItem(indent, ordinal, rest)
			continue
		}
		if m.item != nil {
			m.item.text = append(m.item.text, line)
			continue
		}
		if len(m.para) == 0 {
			if indent <= 3 && mdLinkDefinition(line) {
				continue
			}
			if indent >= 4 && !m.afterList {
				i = m.indentedCode(lines, i)
				continue
			}
		}
		m.para = append(m.para, line)
	}
	m.flush()
}

func (m *mdExtractor) openItem(indent, ordinal int, text string) {
	for len(m.indents) > 0 && m.indents[len(m.indents)-1] > indent {
		m.indents = m.indents[:len(m.indents)-1]
	}
	if len(m.indents) == 0 || m.indents[len(m.indents)-1] < indent {
		if len(m.indents) <= maxListDepth {
			m.indents = append(m.indents, indent)
		}
	}
	m.item = &mdItem{depth: len(m.indents) - 1, ordinal: ordinal}
	if text != "" {
		m.item.text = append(m.item.text, text)
	}
}

// fencedCode writes the code block starting at lines[from] and returns the
// index of its closing fence (or the last line when it is unclosed).
func (m *mdExtractor) fencedCode(lines []string, from int, fc byte, n int) int {
	i := from
	for ; i < len(lines); i++ {
		ind, l := mdIndent(strings.TrimRightFunc(lines[i], unicode.IsSpace))
		if ind <= 3 && leadingRun(l, fc) >= n && strings.TrimLeft(l, string(fc)) == "" {
			break
		}
	}
	m.w.code(strings.Join(lines[from:min(i, len(lines))], "\n"))
	return i
}

func (m *mdExtractor) indentedCode(lines []string, from int) int {
	var code []string
	i := from
	for ; i < len(lines); i++ {
		l := strings.TrimRightFunc(lines[i], unicode.IsSpace)
		if l == "" {
			code = append(code, "")
			continue
		}
		ind, rest := mdIndent(l)
		if ind < 4 {
			break
		}
		code = append(code, strings.Repeat(" ", ind-4)+rest)
	}
	m.w.code(strings.Join(code, "\n"))
	return i - 1
}

// table writes the table whose header is lines[from] and returns the index
// of its last row.
func (m *mdExtractor) table(lines []string, from int) int {
	m.w.tableRow(mdCells(lines[from]))
	i := from + 2
	for ; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" || !strings.Contains(l, "|") {
			break
		}
		m.w.tableRow(mdCells(l))
	}
	return i - 1
}

func mdCells(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	if strings.HasSuffix(line, "|") && !strings.HasSuffix(line, `\|`) {
		line = line[:len(line)-1]
	}
	var cells []string
	start, inCode := 0, false
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '`':
			inCode = !inCode
		case '|':
			if !inCode {
				cells = append(cells, line[start:i])
				start = i + 1
			}
		}
	}
	cells = append(cells, line[start:])
	for i, c := range cells {
		cells[i] = mdInline(strings.ReplaceAll(c, `\|`, "|"))
	}
	return cells
}

// mdIndent returns the indentation in columns (tabs to multiples of four)
// and the rest of the line.
func mdIndent(s string) (int, string) {
	col := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ':
			col++
		case '\t':
			col += 4 - col%4
		default:
			return col, s[i:]
		}
	}
	return col, ""
}

func mdFence(line string) (byte, int) {
	if line == "" || (line[0] != '`' && line[0] != '~') {
		return 0, 0
	}
	n := leadingRun(line, line[0])
	if n < 3 || (line[0] == '`' && strings.Contains(line[n:], "`")) {
		return 0, 0
	}
	return line[0], n
}

// mdRawHTMLBlock reports an embedded script or style block, whose content is
// code rather than text.
func mdRawHTMLBlock(line string) string {
	l := strings.ToLower(line)
	for _, tag := range []string{"script", "style"} {
		if strings.HasPrefix(l, "<"+tag) && (len(l) == len(tag)+1 || l[len(tag)+1] == '>' || l[len(tag)+1] == ' ') {
			return tag
		}
	}
	return ""
}

func mdATX(line string) (int, string, bool) {
	n := leadingRun(line, '#')
	if n == 0 || n > 6 || (n < len(line) && line[n] != ' ' && line[n] != '\t') {
		return 0, "", false
	}
	text := strings.TrimSpace(line[n:])
	// A closing sequence of #s is decoration, unless it is the whole text.
	if t := strings.TrimRight(text, "#"); t != text && (t == "" || strings.HasSuffix(t, " ") || strings.HasSuffix(t, "\t")) {
		text = strings.TrimSpace(t)
	}
	return n, text, true
}

func mdSetext(line string) int {
	t := strings.TrimSpace(line)
	switch {
	case t == "":
		return 0
	case strings.Trim(t, "=") == "":
		return 1
	case strings.Trim(t, "-") == "":
		return 2
	}
	return 0
}

func mdThematicBreak(line string) bool {
	if line == "" || !strings.ContainsRune("-*_", rune(line[0])) {
		return false
	}
	n := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case line[0]:
			n++
		case ' ', '\t':
		default:
			return false
		}
	}
	return n >= 3
}

func mdDelimiterRow(line string) bool {
	t := strings.TrimSpace(line)
	if !strings.Contains(t, "-") {
		return false
	}
	t = strings.TrimSuffix(strings.TrimPrefix(t, "|"), "|")
	for c := range strings.SplitSeq(t, "|") {
		c = strings.TrimSpace(c)
		c = strings.TrimSuffix(strings.TrimPrefix(c, ":"), ":")
		if c == "" || strings.Trim(c, "-") != "" {
			return false
		}
	}
	return true
}

func mdListMarker(line string) (ordinal int, rest string, ok bool) {
	if line == "" {
		return 0, "", false
	}
	var n int
	switch c := line[0]; {
	case c == '-' || c == '*' || c == '+':
		n = 1
	case c >= '0' && c <= '9':
		for n < len(line) && n < 9 && line[n] >= '0' && line[n] <= '9' {
			n++
		}
		if n == len(line) || (line[n] != '.' && line[n] != ')') {
			return 0, "", false
		}
		ordinal, _ = strconv.Atoi(line[:n])
		n++
	default:
		return 0, "", false
	}
	if n < len(line) && line[n] != ' ' && line[n] != '\t' {
		return 0, "", false
	}
	return ordinal, strings.TrimSpace(line[n:]), true
}

func mdLinkDefinition(line string) bool {
	if !strings.HasPrefix(line, "[") {
		return false
	}
	j := strings.Index(line, "]:")
	return j > 1 && !strings.Contains(line[1:j], "]")
}

func isASCIIPunct(c byte) bool {
	return c < 0x80 && unicode.IsPunct(rune(c)) || strings.IndexByte("$+<=>^`|~", c) >= 0
}

// mdInline strips link, image and HTML syntax from inline markdown, keeping
// link text, image alt text and code spans. Brackets and parentheses are
// matched with stacks in one pass, so the whole function is linear.
func mdInline(s string) string {
	n := len(s)

	// Code spans: a backtick run closes at the next run of the same length.
	type run struct{ pos, n int }
	var runs []run
	for i := 0; i < n; i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == '`' {
			l := leadingRun(s[i:], '`')
			runs = append(runs, run{i, l})
			i += l - 1
		}
	}
	codeEnd := map[int]int{}
	if len(runs) > 1 {
		next := make([]int, len(runs))
		last := map[int]int{}
		for k := len(runs) - 1; k >= 0; k-- {
			next[k] = -1
			if j, ok := last[runs[k].n]; ok {
				next[k] = j
			}
			last[runs[k].n] = k
		}
		for k := 0; k < len(runs); {
			if j := next[k]; j >= 0 {
				codeEnd[runs[k].pos] = runs[j].pos + runs[j].n
				k = j + 1
				continue
			}
			k++
		}
	}

	brackets, parens := map[int]int{}, map[int]int{}
	var bstack, pstack []int
	for i := 0; i < n; i++ {
		if e, ok := codeEnd[i]; ok {
			i = e - 1
			continue
		}
		switch s[i] {
		case '\\':
			i++
		case '[':
			bstack = append(bstack, i)
		case ']':
			if k := len(bstack); k > 0 {
				brackets[bstack[k-1]] = i
				bstack = bstack[:k-1]
			}
		case '(':
			pstack = append(pstack, i)
		case ')':
			if k := len(pstack); k > 0 {
				parens[pstack[k-1]] = i
				pstack = pstack[:k-1]
			}
		}
	}
	linkEnd := func(i int) (closeBracket, end int, ok bool) {
		j, ok := brackets[i]
		if !ok || j+1 >= n {
			return 0, 0, false
		}
		var k int
		switch s[j+1] {
		case '(':
			k, ok = parens[j+1]
		case '[':
			k, ok = brackets[j+1]
		default:
			return 0, 0, false
		}
		return j, k + 1, ok
	}

	var out, seg strings.Builder
	out.Grow(n)
	flushSeg := func() {
		if seg.Len() > 0 {
			out.WriteString(html.UnescapeString(seg.String()))
			seg.Reset()
		}
	}
	skip := map[int]int{}
	gt := -1 // position of the next '>' at or after the last search start
	for i := 0; i < n; {
		if e, ok := codeEnd[i]; ok {
			flushSeg()
			out.WriteString(s[i:e])
			i = e
			continue
		}
		if e, ok := skip[i]; ok {
			i = e
			continue
		}
		c := s[i]
		switch {
		case c == '\\' && i+1 < n && isASCIIPunct(s[i+1]):
			seg.WriteByte(s[i+1])
			i += 2
			continue
		case c == '!' && i+1 < n && s[i+1] == '[':
			if j, e, ok := linkEnd(i + 1); ok {
				skip[j] = e
				i += 2
				continue
			}
		case c == '[':
			if j, e, ok := linkEnd(i); ok {
				skip[j] = e
				i++
				continue
			}
		case c == '<' && i+1 < n && (isASCIILetter(s[i+1]) || strings.IndexByte("/!?", s[i+1]) >= 0):
			if gt < i && gt != n {
				gt = n // no '>' left: never search again
				if k := strings.IndexByte(s[i:], '>'); k >= 0 {
					gt = i + k
				}
			}
			if gt < n && gt-i <= 2048 {
				inner := s[i+1 : gt]
				if !strings.ContainsAny(inner, " \t") && (strings.Contains(inner, "://") || strings.HasPrefix(inner, "mailto:")) {
					flushSeg()
					out.WriteString(strings.TrimPrefix(inner, "mailto:"))
				} else if !htmlInlineTag(inner) {
					seg.WriteByte(' ')
				}
				i = gt + 1
				continue
			}
		}
		seg.WriteByte(c)
		i++
	}
	flushSeg()
	return out.String()
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// htmlInlineTag reports tags that do not separate words, given the text
// between < and >.
func htmlInlineTag(inner string) bool {
	inner = strings.TrimPrefix(inner, "/")
	end := 0
	for end < len(inner) && (isASCIILetter(inner[end]) || inner[end] >= '0' && inner[end] <= '9') {
		end++
	}
	switch strings.ToLower(inner[:end]) {
	case "a", "b", "i", "u", "s", "em", "strong", "span", "code", "kbd", "sub", "sup",
		"small", "mark", "abbr", "del", "ins", "tt", "var", "samp", "q", "cite", "font":
		return true
	}
	return false
}
