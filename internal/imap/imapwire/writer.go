package imapwire

import (
	"bufio"
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// maxQuoted is the longest string written as a quoted string; longer ones are literals,
// which clients read without scanning for escapes.
const maxQuoted = 1000

// Condition is the condition of a status response (RFC 9051 section 7.1).
type Condition string

// The conditions.
const (
	OK      Condition = "OK"
	NO      Condition = "NO"
	BAD     Condition = "BAD"
	PREAUTH Condition = "PREAUTH"
	BYE     Condition = "BYE"
)

// Writer writes server responses to a buffered connection. Its methods append to the
// buffer and return the Writer so a response reads as a chain:
//
//	w.Untagged().Number(3).SP().Atom("EXISTS").CRLF()
//
// Nothing reaches the client until Flush. The first write error sticks: later writes do
// nothing and Flush returns it.
type Writer struct {
	bw   *bufio.Writer // nil while released to pool
	dst  io.Writer     // what a buffer from pool writes to
	pool *sync.Pool    // of *bufio.Writer; nil: bw is never released
	utf8 bool
	err  error
}

// NewWriter returns a Writer on bw. Mailbox names and strings are written for an
// IMAP4rev1 client until SetUTF8.
func NewWriter(bw *bufio.Writer) *Writer { return &Writer{bw: bw} }

// NewPooledWriter returns a Writer to dst that takes a buffer from pool (which holds
// *bufio.Writer) at its first write and gives it back at Release, so that a
// connection waiting for its client holds no write buffer.
func NewPooledWriter(dst io.Writer, pool *sync.Pool) *Writer {
	return &Writer{dst: dst, pool: pool}
}

// buf returns the buffer, taking one from the pool if the Writer has none.
func (w *Writer) buf() *bufio.Writer {
	if w.bw == nil {
		w.bw = w.pool.Get().(*bufio.Writer)
		w.bw.Reset(w.dst)
	}
	return w.bw
}

// Release gives the buffer back to the pool when it holds nothing unsent; the next
// write takes one again. A Writer made by NewWriter keeps its buffer.
func (w *Writer) Release() {
	if w.pool == nil || w.bw == nil || w.bw.Buffered() > 0 {
		return
	}
	w.bw.Reset(nil)
	w.pool.Put(w.bw)
	w.bw = nil
}

// SetDestination sends what is written from now on to dst, such as a compressor
// (RFC 4978); what is buffered should have been flushed.
func (w *Writer) SetDestination(dst io.Writer) {
	w.dst = dst
	if w.bw != nil {
		w.bw.Reset(dst)
	}
}

// SetUTF8 makes the Writer send UTF-8 in quoted strings and mailbox names, for a client
// that enabled IMAP4rev2 or UTF8=ACCEPT (RFC 9051 section 4.3, RFC 6855 section 3).
// Off, mailbox names are modified UTF-7 and 8-bit strings are sent as literals.
func (w *Writer) SetUTF8(on bool) { w.utf8 = on }

// Flush sends what has been written and returns the first error met.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.bw == nil {
		return nil // nothing written since the buffer was released
	}
	w.err = w.bw.Flush()
	return w.err
}

// Err returns the first write error met, if any.
func (w *Writer) Err() error { return w.err }

func (w *Writer) raw(s string) *Writer {
	if w.err == nil {
		_, w.err = w.buf().WriteString(s)
	}
	return w
}

func (w *Writer) rawBytes(b []byte) *Writer {
	if w.err == nil {
		_, w.err = w.buf().Write(b)
	}
	return w
}

func (w *Writer) byte(c byte) *Writer {
	if w.err == nil {
		w.err = w.buf().WriteByte(c)
	}
	return w
}

// Atom writes s as it is. It is for atoms, keywords and flags the caller knows to be
// valid atoms (and for "[", "]" and the like); use String for data.
func (w *Writer) Atom(s string) *Writer { return w.raw(s) }

// SP writes a space.
func (w *Writer) SP() *Writer { return w.byte(' ') }

// CRLF ends a response line.
func (w *Writer) CRLF() *Writer { return w.raw("\r\n") }

// Open writes "(".
func (w *Writer) Open() *Writer { return w.byte('(') }

// Close writes ")".
func (w *Writer) Close() *Writer { return w.byte(')') }

// Nil writes NIL.
func (w *Writer) Nil() *Writer { return w.raw("NIL") }

// Number writes a decimal number.
func (w *Writer) Number(n uint64) *Writer {
	if w.err == nil {
		var buf [20]byte
		_, w.err = w.buf().Write(strconv.AppendUint(buf[:0], n, 10))
	}
	return w
}

// Number32 writes a decimal number.
func (w *Writer) Number32(n uint32) *Writer { return w.Number(uint64(n)) }

// String writes s as a quoted string when it can be one (RFC 9051 section 4.3: no CR,
// LF or NUL, 8-bit only as UTF-8 to a UTF-8 client, not too long), and as a literal
// otherwise.
func (w *Writer) String(s string) *Writer {
	if !w.quotable(s) {
		return w.literal("{", []byte(s))
	}
	return w.quoted(s)
}

// AString writes s as an atom when it is a non-empty run of ASTRING-CHAR other than
// "NIL", as String otherwise.
func (w *Writer) AString(s string) *Writer {
	if isAstringText(s) {
		return w.raw(s)
	}
	return w.String(s)
}

// NString writes NIL for an empty s and s as String otherwise: the form of ENVELOPE
// and BODYSTRUCTURE fields, where an absent value is NIL.
func (w *Writer) NString(s string) *Writer {
	if s == "" {
		return w.Nil()
	}
	return w.String(s)
}

// Literal writes b as a literal, "{n}" CRLF followed by the bytes.
func (w *Writer) Literal(b []byte) *Writer { return w.literal("{", b) }

// Literal8 writes b as a literal8, "~{n}" CRLF followed by the bytes, for BINARY data
// that may hold NUL (RFC 3516 section 4.1).
func (w *Writer) Literal8(b []byte) *Writer { return w.literal("~{", b) }

func (w *Writer) literal(open string, b []byte) *Writer {
	return w.raw(open).Number(uint64(len(b))).raw("}\r\n").rawBytes(b)
}

// quoted writes s between double quotes, a backslash before each '"' and '\\'; the
// runs between those go out in one write each.
func (w *Writer) quoted(s string) *Writer {
	w.byte('"')
	for {
		i := strings.IndexAny(s, `"\`)
		if i < 0 {
			break
		}
		w.raw(s[:i]).byte('\\').byte(s[i])
		s = s[i+1:]
	}
	return w.raw(s).byte('"')
}

func (w *Writer) quotable(s string) bool {
	if len(s) > maxQuoted {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r' || c == '\n' || c == 0:
			return false
		case c >= 0x80 && !w.utf8:
			return false
		}
	}
	return !w.utf8 || utf8.ValidString(s)
}

// isAstringText reports whether s can be written as a bare astring.
func isAstringText(s string) bool {
	if s == "" || equalFold(s, "NIL") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAstringChar(s[i]) {
			return false
		}
	}
	return true
}

// astringText returns s as an atom or a quoted string for use inside a response item
// name; characters outside printable US-ASCII, which no header field name has
// (RFC 5322 section 2.2), are dropped.
func astringText(s string) string {
	if isAstringText(s) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			continue
		}
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// Mailbox writes a mailbox name: quoted (or a literal), in modified UTF-7 unless the
// client uses UTF-8 names (RFC 3501 section 5.1.3, RFC 9051 section 5.1).
func (w *Writer) Mailbox(name string) *Writer {
	if !w.utf8 {
		name = EncodeMUTF7(name)
	}
	return w.String(name)
}

// Strings writes a parenthesised list of strings, "(" ")" when empty.
func (w *Writer) Strings(ss []string) *Writer {
	w.Open()
	for i, s := range ss {
		if i > 0 {
			w.SP()
		}
		w.String(s)
	}
	return w.Close()
}

// Flags writes a parenthesised list of flags or other atoms: "(\Seen $Junk)".
func (w *Writer) Flags(flags []string) *Writer {
	w.Open()
	for i, f := range flags {
		if i > 0 {
			w.SP()
		}
		w.raw(f)
	}
	return w.Close()
}

// SeqSet writes a sequence set.
func (w *Writer) SeqSet(s SeqSet) *Writer { return w.raw(s.String()) }

// DateTime writes t as a quoted date-time, the form of INTERNALDATE (RFC 9051
// section 9).
func (w *Writer) DateTime(t time.Time) *Writer {
	return w.byte('"').raw(FormatDateTime(t)).byte('"')
}

// Untagged starts an untagged response: "* ".
func (w *Writer) Untagged() *Writer { return w.raw("* ") }

// StatusResponse writes a whole status response line (RFC 9051 section 7.1): tag (or
// "*" when tag is empty), the condition, the response code in brackets if code is not nil,
// and text. CR and LF in text become spaces; an empty text becomes the condition,
// since IMAP4rev1 requires text.
func (w *Writer) StatusResponse(tag string, cond Condition, code *ResponseCode, text string) *Writer {
	if tag == "" {
		tag = "*"
	}
	w.raw(tag).SP().raw(string(cond)).SP()
	if code != nil {
		w.byte('[').raw(code.String()).raw("] ")
	}
	return w.raw(respText(text, string(cond))).CRLF()
}

// respText makes text a valid resp-text: no CR or LF, not empty.
func respText(text, fallback string) string {
	if text == "" {
		return fallback
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, text)
}

// Continue writes a continuation request with text: "+ Ready" (RFC 9051 section 7.5).
func (w *Writer) Continue(text string) *Writer {
	return w.raw("+ ").raw(respText(text, "Ready")).CRLF()
}

// ContinueBase64 writes a continuation request carrying a SASL challenge in BASE64
// (RFC 9051 section 6.2.2); an empty challenge is "+ " alone.
func (w *Writer) ContinueBase64(challenge []byte) *Writer {
	return w.raw("+ ").raw(base64.StdEncoding.EncodeToString(challenge)).CRLF()
}

// NumberResponse writes "* n NAME", the form of EXISTS, RECENT and EXPUNGE
// (RFC 9051 section 7.4).
func (w *Writer) NumberResponse(n uint32, name string) *Writer {
	return w.Untagged().Number32(n).SP().raw(name).CRLF()
}

// Capability writes "* CAPABILITY cap ..." (RFC 9051 section 7.2.2).
func (w *Writer) Capability(caps []string) *Writer {
	w.Untagged().raw("CAPABILITY")
	for _, c := range caps {
		w.SP().raw(c)
	}
	return w.CRLF()
}

// Vanished writes "* VANISHED [(EARLIER)] uids" (RFC 7162 section 3.2.10).
func (w *Writer) Vanished(earlier bool, uids SeqSet) *Writer {
	w.Untagged().raw("VANISHED ")
	if earlier {
		w.raw("(EARLIER) ")
	}
	return w.SeqSet(uids).CRLF()
}
