package imapwire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
)

// Default limits of a Reader, used for Options fields left zero.
const (
	DefaultMaxLine          = 64 << 10 // one line, without literals
	DefaultMaxLiteral       = 1 << 20  // one literal of a command other than APPEND
	DefaultMaxAppendLiteral = 64 << 20 // one literal of APPEND when no APPENDLIMIT is set
	DefaultMaxCommand       = 4 << 20  // lines and literals of a command, APPEND message aside
	DefaultMaxDiscard       = 1 << 20  // input dropped to skip the rest of a refused command
)

// tailSize is how many bytes at the end of a line are kept while discarding it: enough
// for the longest literal announcement, "~{" 20 digits "+}".
const tailSize = 32

// Options configures a Reader. A zero field takes its default.
type Options struct {
	// MaxLine bounds one line of a command, literals excluded, in bytes.
	MaxLine int
	// MaxLiteral bounds one literal of any command but APPEND.
	MaxLiteral int64
	// MaxAppendLiteral bounds each literal of APPEND; the server sets it to its
	// APPENDLIMIT (RFC 7889). SetAppendLimit changes it later.
	MaxAppendLiteral int64
	// MaxCommand bounds the whole command, lines and literals; for APPEND
	// MaxAppendLiteral is added to it.
	MaxCommand int64
	// MaxNonSyncLiteral, when not zero, bounds non-synchronising literals: 4096 for a
	// server that announces LITERAL- instead of LITERAL+ (RFC 7888 section 5).
	MaxNonSyncLiteral int64
	// MaxDiscard bounds how much input the Reader drops to reach the end of a command
	// it refused; beyond it the LimitError is not Recoverable.
	MaxDiscard int64
	// UTF8 makes mailbox names UTF-8 (IMAP4rev2, or UTF8=ACCEPT enabled, RFC 9051
	// section 5.1) instead of modified UTF-7 (RFC 3501 section 5.1.3).
	// SetUTF8 changes it later.
	UTF8 bool
	// Continue is called before each synchronising literal is read; it must write and
	// flush a continuation request ("+ Ready"). When it returns an error, the command is
	// abandoned and ReadCommand returns that error: the client, still waiting for the
	// continuation, expects a tagged NO or BAD instead (RFC 9051 section 7.5).
	// A nil Continue sends nothing.
	Continue func(LiteralInfo) error
}

// LiteralInfo describes a synchronising literal the client announced.
type LiteralInfo struct {
	Tag     string
	Command string // upper case; after "UID", the UID subcommand is not included
	Size    int64
	Binary  bool // literal8, "~{n}" (RFC 3516 section 4.1)
}

// Reader reads IMAP commands from a client.
type Reader struct {
	br   *bufio.Reader // nil while released to pool
	src  io.Reader     // what a buffer from pool reads from
	pool *sync.Pool    // of *bufio.Reader; nil: br is never released
	// first holds what a released Reader read while it waited for the client,
	// without a buffer; pre reads it before src.
	first [64]byte
	pre   prefixReader
	opts  Options
}

// prefixReader reads data, then src.
type prefixReader struct {
	data []byte
	src  io.Reader
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.data) > 0 {
		n := copy(b, p.data)
		p.data = p.data[n:]
		return n, nil
	}
	return p.src.Read(b)
}

// NewPooledReader returns a Reader from src that takes its buffer from pool (which
// holds *bufio.Reader) and gives it back at Release: a connection waiting for its
// client then holds 64 bytes rather than a buffer.
func NewPooledReader(src io.Reader, pool *sync.Pool, opts Options) *Reader {
	r := NewReader(nil, opts)
	r.src, r.pool = src, pool
	return r
}

// Release gives the buffer back to the pool when it holds no unread input; the next
// read waits for the client without one and takes a buffer once input arrives. A
// Reader made by NewReader keeps its buffer.
func (r *Reader) Release() {
	if r.pool == nil || r.br == nil || r.br.Buffered() > 0 || len(r.pre.data) > 0 {
		return
	}
	r.br.Reset(nil)
	r.pool.Put(r.br)
	r.br = nil
}

// acquire waits for input when the Reader holds no buffer, then takes one.
func (r *Reader) acquire() error {
	if r.br != nil {
		return nil
	}
	for {
		n, err := r.src.Read(r.first[:])
		if n > 0 {
			// An error with data comes again at the next read.
			r.pre = prefixReader{data: r.first[:n], src: r.src}
			r.br = r.pool.Get().(*bufio.Reader)
			r.br.Reset(&r.pre)
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Buffered returns a copy of the input read from the source but not yet consumed.
func (r *Reader) Buffered() []byte {
	var out []byte
	if r.br != nil {
		b, _ := r.br.Peek(r.br.Buffered())
		out = append(out, b...)
	}
	return append(out, r.pre.data...)
}

// SetSource makes the Reader read from src from now on, dropping the input it holds
// (see Buffered): after STARTTLS, or below a decompressor (RFC 4978).
func (r *Reader) SetSource(src io.Reader) {
	r.src = src
	r.pre = prefixReader{}
	if r.br != nil {
		r.br.Reset(src)
	}
}

// NewReader returns a Reader on br with the options opts.
func NewReader(br *bufio.Reader, opts Options) *Reader {
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	if opts.MaxLiteral <= 0 {
		opts.MaxLiteral = DefaultMaxLiteral
	}
	if opts.MaxAppendLiteral <= 0 {
		opts.MaxAppendLiteral = DefaultMaxAppendLiteral
	}
	if opts.MaxCommand <= 0 {
		opts.MaxCommand = DefaultMaxCommand
	}
	if opts.MaxDiscard <= 0 {
		opts.MaxDiscard = DefaultMaxDiscard
	}
	return &Reader{br: br, opts: opts}
}

// SetAppendLimit sets the largest literal APPEND accepts, the APPENDLIMIT that applies
// to the session (RFC 7889); n <= 0 restores the default.
func (r *Reader) SetAppendLimit(n int64) {
	if n <= 0 {
		n = DefaultMaxAppendLiteral
	}
	r.opts.MaxAppendLiteral = n
}

// SetUTF8 switches mailbox names between UTF-8 (on) and modified UTF-7 (off): the server
// turns it on when the client enables IMAP4rev2 or UTF8=ACCEPT (RFC 9051 section 6.3.1).
func (r *Reader) SetUTF8(on bool) { r.opts.UTF8 = on }

// ReadCommand reads and parses the next command. At a clean end of input it returns
// io.EOF. Errors are a *SyntaxError or a *LimitError (answer and continue as they say),
// the error of Options.Continue, or an input error (close the connection).
func (r *Reader) ReadCommand() (*Command, error) {
	if err := r.acquire(); err != nil {
		return nil, err
	}
	raw, err := r.readRaw()
	if err != nil {
		return nil, err
	}
	return parseCommand(raw, r.opts.UTF8)
}

// ReadLine reads one line that is not a command: the "DONE" ending IDLE, or a client
// response during AUTHENTICATE (RFC 9051 section 6.2.2). It returns the line without
// its line ending. A line longer than MaxLine is a *LimitError.
func (r *Reader) ReadLine() (string, error) {
	if err := r.acquire(); err != nil {
		return "", err
	}
	line, complete, err := r.readLine(r.opts.MaxLine)
	if err != nil {
		return "", err
	}
	if !complete || len(line) > r.opts.MaxLine {
		le := &LimitError{What: "line", Limit: int64(r.opts.MaxLine), Recoverable: true}
		if !complete {
			_, _, err := r.skipLine(r.opts.MaxDiscard)
			le.Recoverable = err == nil
		}
		return "", le
	}
	return string(line), nil
}

// ReadDone reads the line that ends IDLE (RFC 2177 section 3). Anything but "DONE"
// (in any case) is a *SyntaxError; the server then ends IDLE with "BAD".
func (r *Reader) ReadDone() error {
	line, err := r.ReadLine()
	if err != nil {
		return err
	}
	if !equalFold(line, "DONE") {
		return &SyntaxError{Command: "IDLE", Message: "expected DONE"}
	}
	return nil
}

// rawCommand is a command as read: texts[i] is followed by lits[i], and the last text
// ends the command; literal announcements and line endings are removed.
type rawCommand struct {
	texts [][]byte
	lits  []rawLiteral
}

type rawLiteral struct {
	data   []byte
	binary bool
}

// literalMarker is a literal announcement at the end of a line.
type literalMarker struct {
	size   int64
	sync   bool
	binary bool
}

func (r *Reader) readRaw() (*rawCommand, error) {
	line, complete, err := r.readLine(r.opts.MaxLine)
	if err != nil {
		return nil, err
	}
	tag, name := peekTagName(line)
	if !complete || len(line) > r.opts.MaxLine {
		le := &LimitError{Tag: tag, Command: name, What: "line", Limit: int64(r.opts.MaxLine)}
		le.Recoverable = r.drainLine(line, complete)
		return nil, le
	}
	litLimit, total := r.opts.MaxLiteral, r.opts.MaxCommand
	if name == "APPEND" {
		litLimit = r.opts.MaxAppendLiteral
		total += r.opts.MaxAppendLiteral
	}
	raw := &rawCommand{}
	size := int64(len(line))
	for {
		text, m, ok := splitLiteral(line)
		raw.texts = append(raw.texts, text)
		if !ok {
			return raw, nil
		}
		le := &LimitError{Tag: tag, Command: name, What: "literal", Limit: litLimit}
		switch {
		case m.size > litLimit:
		case !m.sync && r.opts.MaxNonSyncLiteral > 0 && m.size > r.opts.MaxNonSyncLiteral:
			le.Limit = r.opts.MaxNonSyncLiteral
		case size+m.size > total:
			le.What, le.Limit = "command", total
		default:
			le = nil
		}
		if le != nil {
			// A refused synchronising literal is never sent; a non-synchronising one
			// is already on its way and must be skipped (RFC 7888 section 4).
			le.Recoverable = m.sync || r.drain(m.size)
			return nil, le
		}
		if m.sync && r.opts.Continue != nil {
			if err := r.opts.Continue(LiteralInfo{Tag: tag, Command: name, Size: m.size, Binary: m.binary}); err != nil {
				return nil, err
			}
		}
		var buf bytes.Buffer
		// Copying lets the buffer grow with the data that arrives rather than
		// allocating the announced size up front.
		if _, err := io.CopyN(&buf, r.br, m.size); err != nil {
			return nil, fmt.Errorf("imap: reading literal: %w", unexpectedEOF(err))
		}
		raw.lits = append(raw.lits, rawLiteral{data: buf.Bytes(), binary: m.binary})
		size += m.size

		line, complete, err = r.readLine(r.opts.MaxLine)
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		if !complete || len(line) > r.opts.MaxLine {
			le := &LimitError{Tag: tag, Command: name, What: "line", Limit: int64(r.opts.MaxLine)}
			le.Recoverable = r.drainLine(line, complete)
			return nil, le
		}
		size += int64(len(line))
		if size > total {
			le := &LimitError{Tag: tag, Command: name, What: "command", Limit: total}
			le.Recoverable = r.drainLine(line, true)
			return nil, le
		}
	}
}

// readLine reads a line and returns it without CR LF (a bare LF is accepted too). When
// the line is longer than max it stops early and reports complete false, the rest of
// the line still unread; line then holds what was read.
func (r *Reader) readLine(max int) (line []byte, complete bool, err error) {
	for {
		chunk, err := r.br.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if len(line) > 0 {
				return nil, false, unexpectedEOF(err)
			}
			return nil, false, err
		}
		if len(line) > max+2 {
			return line, false, nil
		}
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, true, nil
}

// skipLine discards input up to and including the next LF, at most budget bytes, and
// returns the last bytes of the line before its line ending and the count discarded.
func (r *Reader) skipLine(budget int64) (tail []byte, n int64, err error) {
	for {
		chunk, err := r.br.ReadSlice('\n')
		n += int64(len(chunk))
		tail = append(tail, chunk...)
		if len(tail) > tailSize+2 {
			tail = append(tail[:0], tail[len(tail)-tailSize-2:]...)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, n, unexpectedEOF(err)
		}
		if n > budget {
			return nil, n, errors.New("imap: discard budget exhausted")
		}
	}
	tail = bytes.TrimSuffix(bytes.TrimSuffix(tail, []byte("\n")), []byte("\r"))
	return tail, n, nil
}

// drainLine finishes discarding a refused command whose current line has been read in
// part (complete false) or in whole. It reports whether a command boundary was reached.
func (r *Reader) drainLine(line []byte, complete bool) bool {
	if !complete {
		tail, _, err := r.skipLine(r.opts.MaxDiscard)
		if err != nil {
			return false
		}
		line = append(line, tail...)
		if len(line) > tailSize {
			line = line[len(line)-tailSize:]
		}
	}
	_, m, ok := splitLiteral(line)
	if !ok || m.sync {
		return true
	}
	return r.drain(m.size)
}

// drain discards a non-synchronising literal of size bytes that the client is sending
// for a refused command, and the rest of that command (RFC 7888 section 4): the lines
// that follow and the non-synchronising literals they announce. It stops at the end of
// a line that announces no literal or a synchronising one (which the client will not
// send without a continuation request). It reports whether a command boundary was
// reached within Options.MaxDiscard bytes.
func (r *Reader) drain(size int64) bool {
	budget := r.opts.MaxDiscard
	for {
		if size > budget {
			return false
		}
		budget -= size
		if _, err := io.CopyN(io.Discard, r.br, size); err != nil {
			return false
		}
		tail, n, err := r.skipLine(budget)
		if err != nil {
			return false
		}
		budget -= n
		_, m, ok := splitLiteral(tail)
		if !ok || m.sync {
			return true
		}
		size = m.size
	}
}

// splitLiteral splits a line ending in a literal announcement, "{n}", "{n+}", "~{n}" or
// "~{n+}" (RFC 9051 section 4.3, RFC 7888 section 3, RFC 3516 section 4.1), into the
// text before it and the announcement.
func splitLiteral(line []byte) ([]byte, literalMarker, bool) {
	var m literalMarker
	n := len(line)
	if n < 3 || line[n-1] != '}' {
		return line, m, false
	}
	end := n - 1
	m.sync = true
	if line[end-1] == '+' {
		m.sync = false
		end--
	}
	start := bytes.LastIndexByte(line[:end], '{')
	if start < 0 || start+1 == end || end-start-1 > 19 {
		return line, m, false
	}
	digits := line[start+1 : end]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return line, m, false
		}
	}
	size, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil {
		return line, m, false
	}
	m.size = size
	if start > 0 && line[start-1] == '~' {
		m.binary = true
		start--
	}
	return line[:start], m, true
}

// peekTagName returns the tag and upper-case command name at the start of a line, as
// far as they can be read, for limits and error reports before the command is parsed.
func peekTagName(line []byte) (tag, name string) {
	i := 0
	for i < len(line) && isTagChar(line[i]) {
		i++
	}
	if i == 0 || i >= len(line) || line[i] != ' ' {
		if i == len(line) && i > 0 {
			return string(line), ""
		}
		return "", ""
	}
	tag = string(line[:i])
	j := i + 1
	for j < len(line) && isAtomChar(line[j]) {
		j++
	}
	return tag, upper(string(line[i+1 : j]))
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
