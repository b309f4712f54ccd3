package mailio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// fromPrefix starts every message in an mbox (RFC 4155 section 2).
const fromPrefix = "From "

// hasFromPrefix reports whether b starts with fromPrefix.
func hasFromPrefix(b []byte) bool {
	return len(b) >= len(fromPrefix) && string(b[:len(fromPrefix)]) == fromPrefix
}

// mboxReader splits an mbox stream into messages, reading one message
// ahead by at most its From_ line.
type mboxReader struct {
	br      *bufio.Reader
	started bool
	pending []byte // the From_ line of the next message; nil at the end
	err     error  // sticky: after an error or io.EOF, Next repeats it
}

// NewMboxReader reads the messages of an mbox file (RFC 4155), whether
// written as mboxo or mboxrd, with LF or CRLF line endings. A message starts
// at a "From " line that follows an empty line or carries a date, so an
// unquoted "From " line inside a body written by a careless mboxo writer
// usually stays in its message. One leading '>' is removed from lines
// matching ">+From " (mboxrd quoting), and the fields that carry flags are
// taken out of the header (see [Message]). Input that does not start with a
// "From " line yields [ErrNotMbox]; empty input is an empty mbox.
func NewMboxReader(r io.Reader) Reader {
	return &mboxReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next message or io.EOF.
func (r *mboxReader) Next() (*Message, error) {
	if r.err != nil {
		return nil, r.err
	}
	m, err := r.read()
	if err != nil {
		r.err = err
	}
	return m, err
}

func (r *mboxReader) read() (*Message, error) {
	if !r.started {
		r.started = true
		line, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			return nil, io.EOF
		}
		if !hasFromPrefix(line) {
			return nil, fmt.Errorf("%w (first line %.60q)", ErrNotMbox, line)
		}
		r.pending = line
	}
	if r.pending == nil {
		return nil, io.EOF
	}
	from := r.pending
	r.pending = nil

	var raw []byte
	atLineStart, prevBlank := true, false
	unquoted := 0
	for {
		chunk, err := r.br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("mailio: reading mbox: %w", err)
		}
		if atLineStart && hasFromPrefix(chunk) &&
			(prevBlank || !parseFromLine(string(trimEOL(chunk[len(fromPrefix):]))).IsZero()) {
			r.pending = bytes.Clone(chunk)
			if errors.Is(err, bufio.ErrBufferFull) {
				rest, err := r.readLine()
				if err != nil {
					return nil, err
				}
				r.pending = append(r.pending, rest...)
			}
			break
		}
		if atLineStart {
			prevBlank = isBlankLine(chunk)
			if isQuotedFrom(chunk) {
				// mboxrd (and mboxo for a single '>'): the writer added
				// one '>' to keep the line from looking like a From_ line.
				chunk = chunk[1:]
				unquoted++
			}
		}
		raw = append(raw, chunk...)
		atLineStart = len(chunk) > 0 && chunk[len(chunk)-1] == '\n'
		if errors.Is(err, io.EOF) {
			break
		}
	}
	// The line ending before the next From_ line, or the file's end, is the
	// separator (RFC 4155 section 2: each message is followed by an empty
	// line), not part of the message. The From_ line shows which ending the
	// file uses.
	switch {
	case bytes.HasSuffix(from, []byte("\r\n")) && bytes.HasSuffix(raw, []byte("\r\n")):
		raw = raw[:len(raw)-2]
	case bytes.HasSuffix(raw, []byte("\n")):
		raw = raw[:len(raw)-1]
	}
	raw, flags := takeMboxMeta(raw, unquoted)
	return &Message{
		Raw:          raw,
		InternalDate: parseFromLine(string(trimEOL(from[len(fromPrefix):]))),
		Flags:        flags,
	}, nil
}

// readLine reads a whole line of any length; at the end of input it
// returns what is left, which is empty once everything has been read.
func (r *mboxReader) readLine() ([]byte, error) {
	line, err := r.br.ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("mailio: reading mbox: %w", err)
	}
	return line, nil
}

// isQuotedFrom reports whether line matches ">+From ".
func isQuotedFrom(line []byte) bool {
	rest := bytes.TrimLeft(line, ">")
	return len(rest) < len(line) && hasFromPrefix(rest)
}

// trimEOL removes a trailing LF or CRLF.
func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}
