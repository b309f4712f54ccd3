package mime

import "strings"

// MaxText caps Message.Text in bytes, so a huge message cannot bloat the search index.
const MaxText = 1 << 20

// MaxDepth bounds nesting of multiparts and encapsulated messages. A multipart deeper than
// this is read as text/plain and a message/rfc822 deeper than this is left unparsed.
const MaxDepth = 50

// MaxParts bounds how many Part values one message may produce (counting every multipart,
// leaf and encapsulated root), which bounds memory and BODYSTRUCTURE size. Body parts of a
// multipart beyond the limit are dropped, like an epilogue.
const MaxParts = 10000

// Message is what Parse keeps of a message.
type Message struct {
	Envelope Envelope `json:"envelope"`
	Root     Part     `json:"root"`
	// Text is what full-text search looks at: the decoded Subject, the From/To/Cc display
	// names and addresses, and the decoded text of every text/plain part plus the text of
	// text/html parts with tags and entities removed, charset-decoded to UTF-8, separated
	// by newlines, capped at MaxText bytes (cut on a rune boundary). It is filled only on
	// the Message that Parse returns; the text of encapsulated messages is part of it.
	Text string `json:"-"`
	// TextTail, when End > Start, says that the text goes on past Text (which then
	// ends with the newline before it, unless empty) with the body of a text/plain part
	// that is a copy of the raw bytes raw[Start:End]: ASCII, with CR and LF only in CRLF
	// pairs, each of which is one LF in the text. Parse leaves those bytes out of Text,
	// so that search can read them from the message itself instead of keeping a second
	// copy; FullText puts them in.
	TextTail TextTail `json:"-"`
	// Headers lists the top-level header fields in order: Name as written, Value
	// unfolded and RFC 2047-decoded to UTF-8, for header search. It is filled only on
	// the Message that Parse returns.
	Headers []Field `json:"-"`
}

// TextTail locates the end of the search text in the raw message (see Message.TextTail).
type TextTail struct {
	Start, End int64
}

// FullText returns the whole search text of the message parsed from raw: Text, and the
// tail when there is one.
func (m *Message) FullText(raw []byte) string {
	if m.TextTail.End <= m.TextTail.Start {
		return m.Text
	}
	return m.Text + strings.ReplaceAll(string(raw[m.TextTail.Start:m.TextTail.End]), "\r\n", "\n")
}

// Field is one header field.
type Field struct {
	Name, Value string
}

// Envelope holds header values as RFC 3501 section 7.4.2 ENVELOPE wants them: raw
// (unfolded, encoded-words left as they are) so IMAP can return them verbatim. Raw 8-bit
// bytes that are not valid UTF-8 are read as windows-1252, so every string is valid UTF-8
// and survives a JSON round trip.
type Envelope struct {
	Date    string    `json:"date,omitempty"`    // raw Date header
	Subject string    `json:"subject,omitempty"` // raw, unfolded
	From    []Address `json:"from,omitempty"`
	// Sender and ReplyTo are set to a copy of From when their header is absent or empty,
	// as RFC 3501 section 7.4.2 requires.
	Sender    []Address `json:"sender,omitempty"`
	ReplyTo   []Address `json:"replyTo,omitempty"`
	To        []Address `json:"to,omitempty"`
	Cc        []Address `json:"cc,omitempty"`
	Bcc       []Address `json:"bcc,omitempty"`
	InReplyTo string    `json:"inReplyTo,omitempty"` // raw
	MessageID string    `json:"messageId,omitempty"` // raw
	// References holds the message-ids of the References header, each normalised to
	// "<id>", in header order, for threading (RFC 5322 section 3.6.4, RFC 5256).
	References []string `json:"references,omitempty"`
}

// Address is one member of an ENVELOPE address list (RFC 3501 section 7.4.2).
//
// Group syntax ("name: a@x, b@y;") is flattened as RFC 3501 asks: a start marker with
// Mailbox set to the group name and an empty Host, the members, then an end marker with
// every field empty. An ordinary address never has an empty Host: a missing local part or
// domain is replaced by MissingMailbox or MissingHost.
type Address struct {
	Name    string `json:"name,omitempty"`    // display name, raw (may hold encoded-words), quotes removed
	Mailbox string `json:"mailbox,omitempty"` // local part, or group name at a group start
	Host    string `json:"host,omitempty"`    // domain; empty only in group markers
}

// Placeholders for an address that lacks a local part or a domain. They follow the
// convention of the UW IMAP c-client, which IMAP clients already recognise, and keep an
// empty Host meaning "group marker" only.
const (
	MissingMailbox = "MISSING_MAILBOX"
	MissingHost    = ".MISSING-HOST-NAME."
)

// IsGroupStart reports whether a marks the start of a group; a.Mailbox is its name.
func (a Address) IsGroupStart() bool { return a.Host == "" && a.Mailbox != "" }

// IsGroupEnd reports whether a marks the end of a group.
func (a Address) IsGroupEnd() bool { return a == Address{} }

// Part is one entity of the MIME tree: the whole message, a body part of a multipart or
// the root of an encapsulated message. Offsets index the raw message given to Parse.
type Part struct {
	Type              string            `json:"type"`                        // lower case, "text" by default (RFC 2045 section 5.2)
	Subtype           string            `json:"subtype"`                     // lower case, "plain" by default
	Params            map[string]string `json:"params,omitempty"`            // keys lower case; RFC 2231 continuations and charsets decoded
	ID                string            `json:"id,omitempty"`                // Content-ID
	Description       string            `json:"description,omitempty"`       // Content-Description, raw
	Encoding          string            `json:"encoding,omitempty"`          // Content-Transfer-Encoding, lower case, "7bit" by default
	Disposition       string            `json:"disposition,omitempty"`       // lower case (RFC 2183)
	DispositionParams map[string]string `json:"dispositionParams,omitempty"` // decoded like Params
	Language          []string          `json:"language,omitempty"`          // Content-Language (RFC 3282)
	Location          string            `json:"location,omitempty"`          // Content-Location (RFC 2557)
	MD5               string            `json:"md5,omitempty"`               // Content-MD5 (RFC 1864)
	HeaderStart       int64             `json:"hs"`                          // offset of this part's header
	BodyStart         int64             `json:"bs"`                          // offset of the body (after the blank line)
	// End is the offset just past the body. For a body part of a multipart it is before
	// the line break that precedes the next boundary delimiter, which belongs to the
	// delimiter (RFC 2046 section 5.1.1).
	End int64 `json:"end"`
	// Lines counts the lines of the body: its line feeds, plus one if the body is not
	// empty and does not end with a line feed. BODYSTRUCTURE needs it for text/* and
	// message/rfc822 (RFC 3501 section 7.4.2).
	Lines int64  `json:"lines"`
	Parts []Part `json:"parts,omitempty"` // body parts of a multipart; never empty for a multipart
	// Message is set for message/rfc822 and message/global parts: the encapsulated
	// message's envelope and root part, offsets still relative to the outer raw message.
	// It stays nil when the part's transfer encoding is not 7bit, 8bit or binary (the
	// encapsulated message cannot be sliced out of the raw bytes) or when MaxDepth or
	// MaxParts is reached; IMAP then describes the part as a basic body.
	Message *Message `json:"message,omitempty"`
}

// Size is the length in bytes of the part's body, as BODYSTRUCTURE reports it.
func (p *Part) Size() int64 { return p.End - p.BodyStart }

// Subject returns the Subject decoded from RFC 2047 encoded-words to UTF-8.
func (m *Message) Subject() string { return DecodeHeader(m.Envelope.Subject) }
