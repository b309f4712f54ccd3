// Package mailio reads and writes the mail file formats people migrate with —
// mbox files (RFC 4155) and Maildir / Maildir++ folders — as a stream of
// neutral [Message] values.
//
// It must never know about Mailroom's store, and it must never hold a whole
// mailbox in memory: readers yield one message at a time, so a multi-gigabyte
// mbox costs the memory of its largest message.
//
// The neutral form keeps what the formats can carry: the RFC 5322 bytes, the
// arrival date and IMAP-style flags (RFC 3501 section 2.3.2). Metadata that a
// format hides inside the message (mbox Status: headers) is taken out on
// reading and put back on writing, so Raw is the message as it was sent.
package mailio

import (
	"errors"
	"time"
)

// Message is one message as a mail file format carries it.
type Message struct {
	// Raw is the RFC 5322 message, with CRLF or LF line endings as found.
	// Writers store LF line endings, the native form of both formats.
	Raw []byte
	// InternalDate is the arrival date (IMAP INTERNALDATE): the mbox From_
	// line date, or the Maildir file's mtime. Zero if unknown.
	InternalDate time.Time
	// Flags are IMAP system flags (\Seen, \Answered, \Flagged, \Deleted,
	// \Draft) and keywords, in that order, without duplicates.
	Flags []string
}

// Reader yields messages one at a time.
type Reader interface {
	// Next returns the next message, or io.EOF after the last one.
	Next() (*Message, error)
}

// Format names a mail file format that [Detect] recognises.
type Format int

// The formats this package reads and writes.
const (
	Mbox Format = iota + 1
	Maildir
)

// String returns the format's usual name.
func (f Format) String() string {
	switch f {
	case Mbox:
		return "mbox"
	case Maildir:
		return "Maildir"
	}
	return "unknown format"
}

// Errors callers can match with errors.Is.
var (
	// ErrNotMbox reports input that does not begin with a From_ line.
	ErrNotMbox = errors.New("mailio: not an mbox file: it does not start with a \"From \" line")
	// ErrNotMaildir reports a directory without cur/ and new/.
	ErrNotMaildir = errors.New("mailio: not a Maildir: cur/ and new/ are missing")
	// ErrUnknownFormat reports a path that is neither an mbox nor a Maildir.
	ErrUnknownFormat = errors.New("mailio: neither an mbox file nor a Maildir")
	// ErrInvalidFlag reports a flag that the target format cannot store.
	ErrInvalidFlag = errors.New("mailio: invalid flag")
	// ErrTooManyKeywords reports a Maildir that already maps all 26
	// keyword letters (Dovecot's a-z) and is asked to store one more.
	ErrTooManyKeywords = errors.New("mailio: Maildir keyword letters a-z are all in use")
	// ErrClosed reports a write to a closed writer.
	ErrClosed = errors.New("mailio: writer is closed")
)
