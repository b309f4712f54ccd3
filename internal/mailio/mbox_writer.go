package mailio

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// MboxWriter writes messages as an mboxrd file, the variant whose quoting
// can be undone exactly.
type MboxWriter struct {
	w      *bufio.Writer
	closed bool
}

// NewMboxWriter returns a writer that appends messages to w in mboxrd form
// (RFC 4155 with the mboxrd quoting rule). The caller closes w after
// [MboxWriter.Close].
func NewMboxWriter(w io.Writer) *MboxWriter {
	return &MboxWriter{w: bufio.NewWriterSize(w, 64<<10)}
}

// Write appends one message: a From_ line with the envelope sender and
// InternalDate, the message with LF line endings, its flags in Status:,
// X-Status: and X-Keywords: fields (replacing any it had, and X-UID), every line matching ">*From " quoted
// with one more '>', and a line ending as separator. A message that lacks a
// final newline gets only that line ending, so the reader gives back the
// same bytes. Keywords containing a comma are refused with
// [ErrInvalidFlag], since X-Keywords readers split on commas.
func (w *MboxWriter) Write(m *Message) error {
	if w.closed {
		return ErrClosed
	}
	flags, err := parseFlags(m.Flags, ",")
	if err != nil {
		return err
	}
	// Flag fields already in the message are stale: Flags replace them. A
	// Content-Length field stays; the reader takes it out again only if
	// it gives the body length, as mboxcl's would.
	raw, _ := takeFields(toLF(m.Raw), func(name string) bool {
		return isMboxMetaField(name) && !strings.EqualFold(name, fieldContentLength)
	})
	raw = insertFields(raw, mboxMetaLines(flags))

	if _, err := w.w.WriteString(fromLine(raw, m.InternalDate)); err != nil {
		return fmt.Errorf("mailio: writing mbox: %w", err)
	}
	for pos := 0; pos < len(raw); {
		end := lineEnd(raw, pos)
		line := raw[pos:end]
		if hasFromPrefix(bytes.TrimLeft(line, ">")) {
			if err := w.w.WriteByte('>'); err != nil {
				return fmt.Errorf("mailio: writing mbox: %w", err)
			}
		}
		if _, err := w.w.Write(line); err != nil {
			return fmt.Errorf("mailio: writing mbox: %w", err)
		}
		pos = end
	}
	if err := w.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("mailio: writing mbox: %w", err)
	}
	return nil
}

// Flush writes buffered data to the underlying writer.
func (w *MboxWriter) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("mailio: writing mbox: %w", err)
	}
	return nil
}

// Close flushes and refuses further writes. It does not close the
// underlying writer.
func (w *MboxWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.Flush()
}
