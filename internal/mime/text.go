package mime

import (
	"bytes"
	"encoding/binary"
	"html"
	"strings"
	"unicode/utf8"
)

// textBuf accumulates Message.Text, separating pieces with newlines and refusing
// anything past MaxText, so callers can stop decoding once it is full. A piece that is
// a copy of the message's own bytes (see Message.TextTail) is not written at once: it
// stays pending, and becomes Message.TextTail if nothing follows it.
type textBuf struct {
	b       strings.Builder
	raw     []byte
	pending TextTail // a verbatim piece not written yet
	n       int      // its length in the text
}

func (t *textBuf) len() int   { return t.b.Len() + t.n }
func (t *textBuf) full() bool { return t.len() >= MaxText }

// add appends s (valid UTF-8) as a new piece, cut on a rune boundary at MaxText.
func (t *textBuf) add(s string) {
	s = strings.TrimSpace(s)
	if s == "" || t.full() {
		return
	}
	t.flush()
	t.separate()
	if room := MaxText - t.b.Len(); len(s) > room {
		for room > 0 && !utf8.RuneStart(s[room]) {
			room--
		}
		s = s[:room]
	}
	t.b.WriteString(s)
}

// separate writes the newline that comes before a piece other than the first.
func (t *textBuf) separate() {
	if t.b.Len() > 0 {
		t.b.WriteByte('\n')
	}
}

// flush writes the pending verbatim piece, which is no longer the text's tail.
func (t *textBuf) flush() {
	if t.n == 0 {
		return
	}
	t.b.WriteString(strings.ReplaceAll(string(t.raw[t.pending.Start:t.pending.End]), "\r\n", "\n"))
	t.pending, t.n = TextTail{}, 0
}

// addVerbatim adds the body of p, a text/plain part, when it reads the same in the text
// as in the message (see verbatimSpan), as the pending piece; it reports false, adding
// nothing, when it does not.
func (t *textBuf) addVerbatim(p *Part) bool {
	switch p.Encoding {
	case "", "7bit", "8bit", "binary":
	default:
		return false
	}
	switch strings.ToLower(strings.Trim(p.Params["charset"], " \t\"'")) {
	case "", "us-ascii", "ascii", "utf-8", "utf8":
	default:
		return false
	}
	if p.BodyStart < 0 || p.BodyStart > p.End || p.End > int64(len(t.raw)) {
		return false
	}
	start, end, pairs, ok := verbatimSpan(t.raw, p.BodyStart, p.End)
	n := int(end-start) - pairs
	if !ok || t.full() || t.len()+1+n > MaxText {
		return false // empty, or not whole: add cuts it
	}
	t.flush()
	t.separate()
	t.pending, t.n = TextTail{Start: start, End: end}, n
	return true
}

// verbatimSpan trims raw[start:end] as textBuf.add trims a piece and reports whether
// what is left reads the same in the text: ASCII, with CR and LF only in CRLF pairs
// (which the text has as LF), and how many such pairs it holds.
func verbatimSpan(raw []byte, start, end int64) (int64, int64, int, bool) {
	const space = "\t\n\v\f\r "
	for start < end && strings.IndexByte(space, raw[start]) >= 0 {
		start++
	}
	for end > start && strings.IndexByte(space, raw[end-1]) >= 0 {
		end--
	}
	if start == end {
		return 0, 0, 0, false
	}
	b := raw[start:end]
	// Pairs cannot overlap, so equal counts put every CR and every LF in one.
	pairs := bytes.Count(b, []byte("\r\n"))
	if !isASCII(b) || bytes.Count(b, []byte("\r")) != pairs || bytes.Count(b, []byte("\n")) != pairs {
		return 0, 0, 0, false
	}
	return start, end, pairs, true
}

// isASCII reports whether b has no byte of 0x80 or more, eight bytes at a time.
func isASCII(b []byte) bool {
	for ; len(b) >= 8; b = b[8:] {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
	}
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// messageText builds Message.Text and Message.TextTail (see their documentation).
func messageText(m *Message, raw []byte) (string, TextTail) {
	t := textBuf{raw: raw}
	addMessageText(&t, m, raw)
	return t.b.String(), t.pending
}

func addMessageText(t *textBuf, m *Message, raw []byte) {
	t.add(m.Subject())
	for _, list := range [][]Address{m.Envelope.From, m.Envelope.To, m.Envelope.Cc} {
		for _, a := range list {
			t.add(addressText(a))
		}
	}
	addPartText(t, &m.Root, raw)
}

// addressText renders an address for search: decoded display name and mailbox@host,
// leaving out group markers and the placeholders for missing pieces.
func addressText(a Address) string {
	if a.Host == "" {
		return "" // group start or end marker
	}
	var parts []string
	if a.Name != "" {
		parts = append(parts, DecodeHeader(a.Name))
	}
	if a.Mailbox != MissingMailbox {
		addr := a.Mailbox
		if a.Host != MissingHost {
			addr += "@" + a.Host
		}
		parts = append(parts, addr)
	}
	return strings.Join(parts, " ")
}

// addPartText walks the part tree depth first, in section order.
func addPartText(t *textBuf, p *Part, raw []byte) {
	if t.full() {
		return
	}
	switch {
	case len(p.Parts) > 0:
		for i := range p.Parts {
			addPartText(t, &p.Parts[i], raw)
		}
	case p.Message != nil:
		addMessageText(t, p.Message, raw)
	case p.Type == "text" && p.Subtype == "plain" && t.addVerbatim(p):
	case p.Type == "text" && (p.Subtype == "plain" || p.Subtype == "html"):
		body, err := p.DecodedBody(raw)
		if err != nil {
			return // unknown transfer encoding: the octets are not text we can read
		}
		text := toUTF8(p.Params["charset"], body)
		if p.Subtype == "html" {
			text = htmlToText(text)
		} else {
			text = strings.ReplaceAll(text, "\r\n", "\n")
		}
		t.add(text)
	}
}

// isBlock reports whether an element's boundaries separate lines of text; other tags
// separate words only.
func isBlock(name string) bool {
	switch name {
	case "address", "article", "blockquote", "br", "dd", "div", "dl", "dt", "footer",
		"h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre",
		"section", "table", "title", "tr", "ul":
		return true
	}
	return false
}

// isInline reports whether an element only styles text inside a word or sentence, so
// its tags must not split "<b>F</b>riday" or "Friday</i>." apart.
func isInline(name string) bool {
	switch name {
	case "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "dfn", "em",
		"font", "i", "kbd", "mark", "o:p", "q", "s", "samp", "small", "span", "strike",
		"strong", "sub", "sup", "time", "tt", "u", "var", "wbr":
		return true
	}
	return false
}

// htmlToText reduces HTML to its readable text for search: tags and comments are removed,
// the content of script, style and other raw-text elements is dropped, character
// references are decoded, block boundaries become newlines, other tags except inline
// styling become spaces, and runs of whitespace collapse. It is a linear scan, not an HTML5 parser: good enough to index words, and
// unable to loop on hostile input.
func htmlToText(s string) string {
	lower := asciiLower(s) // for case-insensitive searches at the same byte offsets
	var w collapser
	textStart := 0
	flushText := func(end int) {
		if end > textStart {
			w.write(html.UnescapeString(s[textStart:end]))
		}
	}
	i := 0
	for i < len(s) {
		if s[i] != '<' || i+1 >= len(s) || !isTagStart(s[i+1]) {
			i++
			continue
		}
		flushText(i)
		switch {
		case strings.HasPrefix(s[i:], "<!--"):
			if e := strings.Index(s[i+4:], "-->"); e >= 0 {
				i += 4 + e + 3
			} else {
				i = len(s)
			}
		default:
			name, end := scanTag(s, lower, i)
			i = end
			switch name {
			case "script", "style", "template", "noscript", "textarea", "xmp":
				// Content that is not message text; resume after the matching end tag, or
				// drop the rest if it never comes, as an HTML parser would for raw text.
				if e := strings.Index(lower[i:], "</"+name); e >= 0 {
					_, i = scanTag(s, lower, i+e)
				} else {
					i = len(s)
				}
				w.space()
			default:
				switch el := strings.TrimPrefix(name, "/"); {
				case isBlock(el):
					w.newline()
				case !isInline(el):
					w.space()
				}
			}
		}
		textStart = i
	}
	flushText(len(s))
	return w.b.String()
}

func isTagStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '/' || c == '!' || c == '?'
}

// scanTag reads the tag starting at s[i] == '<' and returns its lower-case name (with a
// leading "/" for an end tag) and the offset past its ">", skipping ">" inside quoted
// attribute values (an apostrophe inside an unquoted value opens nothing). An
// unterminated tag runs to the end.
func scanTag(s, lower string, i int) (string, int) {
	j := i + 1
	if j < len(s) && s[j] == '/' {
		j++
	}
	for j < len(s) && (isAlnum(s[j]) || s[j] == '-' || s[j] == ':') {
		j++
	}
	name := lower[i+1 : j]
	var quote, prev byte // prev: last non-space byte, since only `="` or `='` opens a quoted value
	for ; j < len(s); j++ {
		switch c := s[j]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case (c == '"' || c == '\'') && prev == '=':
			quote = c
		case c == '>':
			return name, j + 1
		}
		if c := s[j]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			prev = c
		}
	}
	return name, len(s)
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// asciiLower lower-cases ASCII letters only, keeping byte offsets aligned with s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// collapser writes text with runs of whitespace reduced to one space, or to one newline
// when a block boundary is among them.
type collapser struct {
	b       strings.Builder
	pending byte // 0, ' ' or '\n': separator owed before the next text
}

func (c *collapser) space() {
	if c.pending == 0 && c.b.Len() > 0 {
		c.pending = ' '
	}
}

func (c *collapser) newline() {
	if c.b.Len() > 0 {
		c.pending = '\n'
	}
}

func (c *collapser) write(s string) {
	if s == "" {
		return
	}
	if r, _ := utf8.DecodeRuneInString(s); isHTMLSpace(r) {
		c.space()
	}
	for k, f := range strings.FieldsFunc(s, isHTMLSpace) {
		if k > 0 {
			c.space()
		}
		if c.pending != 0 {
			c.b.WriteByte(c.pending)
			c.pending = 0
		}
		c.b.WriteString(f)
	}
	if r, _ := utf8.DecodeLastRuneInString(s); isHTMLSpace(r) {
		c.space()
	}
}

func isHTMLSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\u00a0'
}
