package imapwire

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// maxDepth bounds the nesting of parenthesised lists and NOT/OR in search keys, so a
// hostile command cannot recurse deeply.
const maxDepth = 64

// parser walks a rawCommand. Its methods report syntax errors by panicking with a
// *SyntaxError, which parseCommand recovers; the panic never leaves the package (the
// same bail-out go/parser uses), and it keeps every grammar rule a few lines long.
type parser struct {
	raw   *rawCommand
	seg   int // index in raw.texts
	pos   int // offset in raw.texts[seg]
	tag   string
	name  string
	utf8  bool
	depth int
}

func (p *parser) fail(format string, args ...any) {
	panic(&SyntaxError{Tag: p.tag, Command: p.name, Message: fmt.Sprintf(format, args...)})
}

func (p *parser) text() []byte { return p.raw.texts[p.seg] }

// peek returns the next byte of the current line, 0 at its end.
func (p *parser) peek() byte {
	if t := p.text(); p.pos < len(t) {
		return t[p.pos]
	}
	return 0
}

// atLiteral reports whether a literal comes next.
func (p *parser) atLiteral() bool {
	return p.pos == len(p.text()) && p.seg < len(p.raw.lits)
}

// atEnd reports whether the command has been read whole.
func (p *parser) atEnd() bool {
	return p.seg == len(p.raw.texts)-1 && p.pos == len(p.text())
}

func (p *parser) expectEnd() {
	if !p.atEnd() {
		if p.atLiteral() {
			p.fail("unexpected literal")
		}
		p.fail("unexpected %q at end of command", p.rest())
	}
}

// rest is what is left of the current line, cut for error messages.
func (p *parser) rest() string {
	r := p.text()[p.pos:]
	if len(r) > 20 {
		r = r[:20]
	}
	return string(r)
}

func (p *parser) consume(c byte) bool {
	if p.peek() == c && !p.atLiteral() {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(c byte) {
	if !p.consume(c) {
		p.fail("expected %q", string(c))
	}
}

func (p *parser) sp() { p.expect(' ') }

// literal reads the literal that comes next.
func (p *parser) literal() rawLiteral {
	l := p.raw.lits[p.seg]
	p.seg++
	p.pos = 0
	return l
}

// isAtomChar reports whether c is an ATOM-CHAR (RFC 9051 section 9): any CHAR except
// atom-specials, which are "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]".
func isAtomChar(c byte) bool {
	switch c {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return c > 0x20 && c < 0x7f
}

// isAstringChar reports whether c is an ASTRING-CHAR: ATOM-CHAR or "]".
func isAstringChar(c byte) bool { return isAtomChar(c) || c == ']' }

// isTagChar reports whether c may be in a tag: ASTRING-CHAR except "+".
func isTagChar(c byte) bool { return isAstringChar(c) && c != '+' }

// isListChar reports whether c may be in an unquoted list-mailbox: ATOM-CHAR,
// list-wildcards or resp-specials.
func isListChar(c byte) bool { return isAstringChar(c) || c == '%' || c == '*' }

func (p *parser) span(ok func(byte) bool) string {
	t := p.text()
	start := p.pos
	for p.pos < len(t) && ok(t[p.pos]) {
		p.pos++
	}
	return string(t[start:p.pos])
}

// atom reads an atom (RFC 9051 section 9).
func (p *parser) atom() string {
	s := p.span(isAtomChar)
	if s == "" {
		p.fail("expected atom at %q", p.rest())
	}
	return s
}

// keyword reads an atom and returns it in upper case, for keywords of the grammar.
func (p *parser) keyword() string { return upper(p.atom()) }

// quoted reads a quoted string; "\" escapes only "\" and DQUOTE (RFC 9051 section 4.3).
// 8-bit bytes are accepted: IMAP4rev2 allows UTF-8 in quoted strings.
func (p *parser) quoted() string {
	p.expect('"')
	t := p.text()
	var b []byte
	for {
		if p.pos >= len(t) {
			p.fail("unterminated quoted string")
		}
		c := t[p.pos]
		p.pos++
		switch c {
		case '"':
			return string(b)
		case '\\':
			if p.pos >= len(t) || (t[p.pos] != '\\' && t[p.pos] != '"') {
				p.fail("invalid escape in quoted string")
			}
			c = t[p.pos]
			p.pos++
		case 0:
			p.fail("NUL in quoted string")
		}
		b = append(b, c)
	}
}

// stringValue reads a string: quoted or literal. Only APPEND accepts literal8.
func (p *parser) stringValue() string {
	if p.atLiteral() {
		l := p.literal()
		if l.binary {
			p.fail("literal8 not allowed here")
		}
		return string(l.data)
	}
	if p.peek() == '"' {
		return p.quoted()
	}
	p.fail("expected string at %q", p.rest())
	return ""
}

// astring reads an astring: 1*ASTRING-CHAR or string.
func (p *parser) astring() string {
	if p.atLiteral() || p.peek() == '"' {
		return p.stringValue()
	}
	s := p.span(isAstringChar)
	if s == "" {
		p.fail("expected string at %q", p.rest())
	}
	return s
}

// nstring reads a string or NIL; ok is false for NIL.
func (p *parser) nstring() (s string, ok bool) {
	if !p.atLiteral() && (p.peek() == 'N' || p.peek() == 'n') {
		if a := p.atom(); upper(a) == "NIL" {
			return "", false
		}
		p.fail("expected string or NIL")
	}
	return p.stringValue(), true
}

// number reads a number64 (RFC 9051 section 9): up to 2^63-1.
func (p *parser) number() uint64 {
	s := p.span(isDigit)
	if s == "" {
		p.fail("expected number at %q", p.rest())
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		p.fail("number %s out of range", s)
	}
	return n
}

// number32 reads a number that must fit 32 bits (RFC 9051 "number").
func (p *parser) number32() uint32 {
	n := p.number()
	if n > 1<<32-1 {
		p.fail("number %d out of range", n)
	}
	return uint32(n)
}

// nzNumber32 reads an nz-number.
func (p *parser) nzNumber32() uint32 {
	n := p.number32()
	if n == 0 {
		p.fail("expected non-zero number")
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// list reads "(" [item *(SP item)] ")", calling item for each; with nonEmpty an empty
// list is an error.
func (p *parser) list(nonEmpty bool, item func()) {
	p.expect('(')
	if p.consume(')') {
		if nonEmpty {
			p.fail("empty list")
		}
		return
	}
	for {
		item()
		if p.consume(')') {
			return
		}
		p.sp()
	}
}

// mailbox reads a mailbox name (RFC 9051 section 5.1): an astring, decoded from
// modified UTF-7 unless the session uses UTF-8 names, with INBOX in any case
// normalised to "INBOX".
func (p *parser) mailbox() string { return p.decodeMailbox(p.astring()) }

func (p *parser) decodeMailbox(s string) string {
	if p.utf8 {
		if !utf8.ValidString(s) {
			p.fail("mailbox name is not valid UTF-8")
		}
	} else {
		d, err := DecodeMUTF7(s)
		if err != nil {
			p.fail("mailbox name: %v", err)
		}
		s = d
	}
	if equalFold(s, "INBOX") {
		return "INBOX"
	}
	return s
}

// listMailbox reads a list-mailbox: 1*list-char or string.
func (p *parser) listMailbox() string {
	if p.atLiteral() || p.peek() == '"' {
		return p.decodeMailbox(p.stringValue())
	}
	s := p.span(isListChar)
	if s == "" {
		p.fail("expected mailbox pattern at %q", p.rest())
	}
	return p.decodeMailbox(s)
}

// flag reads a flag: "\" atom or a keyword atom (RFC 9051 section 2.3.2). System
// flags keep the case the client wrote; flags are compared case-insensitively.
func (p *parser) flag() string {
	if p.consume('\\') {
		return "\\" + p.atom()
	}
	return p.atom()
}

// flagList reads "(" [flag *(SP flag)] ")".
func (p *parser) flagList() []string {
	flags := []string{}
	p.list(false, func() { flags = append(flags, p.flag()) })
	return flags
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail("nesting deeper than %d", maxDepth)
	}
}

func (p *parser) leave() { p.depth-- }

// upper returns s with ASCII letters in upper case.
func upper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// equalFold compares ASCII strings case-insensitively.
func equalFold(a, b string) bool { return len(a) == len(b) && upper(a) == upper(b) }
