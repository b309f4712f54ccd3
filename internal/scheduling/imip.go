package scheduling

// iMIP (RFC 6047): an iTIP message as mail. Outgoing messages are
// multipart/alternative with a text/plain summary and the text/calendar part carrying
// the method (2.4: the method parameter must match METHOD); incoming ones are searched
// for their first text/calendar part.

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	stdmime "mime"
	"strings"
	"time"

	"mailroom/internal/mime"
)

// Mail is an iMIP message to write.
type Mail struct {
	From     string // the sender's address: the organiser, or the attendee replying
	FromName string
	To       []string
	Subject  string
	Text     string // the text/plain alternative
	Method   Method
	Calendar []byte // the iTIP text
	Date     time.Time
	Hostname string // for the Message-ID
}

// Build writes m as an RFC 5322 message.
func (m Mail) Build() ([]byte, error) {
	if m.From == "" || len(m.To) == 0 {
		return nil, fmt.Errorf("%w: an iMIP message needs a sender and a recipient", ErrInvalid)
	}
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	boundary := "mr-" + hex.EncodeToString(rnd[:])
	host := m.Hostname
	if host == "" {
		host = m.From[strings.LastIndexByte(m.From, '@')+1:]
	}
	var b bytes.Buffer
	hdr := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	from := "<" + m.From + ">"
	if m.FromName != "" {
		from = stdmime.QEncoding.Encode("utf-8", m.FromName) + " " + from
	}
	hdr("From", from)
	hdr("To", strings.Join(m.To, ", "))
	hdr("Subject", stdmime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", m.Date.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(rnd[:])+"."+fmt.Sprint(m.Date.UnixNano())+"@"+host+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n--" + boundary + "\r\n")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n" + strings.ReplaceAll(m.Text, "\n", "\r\n") + "\r\n")
	b.WriteString("--" + boundary + "\r\n")
	// RFC 6047 2.4: the method parameter; base64 keeps long lines and 8-bit text safe.
	hdr("Content-Type", "text/calendar; charset=utf-8; method="+string(m.Method))
	hdr("Content-Transfer-Encoding", "base64")
	b.WriteString("\r\n")
	enc := base64.StdEncoding.EncodeToString(m.Calendar)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--" + boundary + "--\r\n")
	return b.Bytes(), nil
}

// Extract finds the first text/calendar part of a message (RFC 6047 2.4) and returns
// its decoded text; ok is false when there is none.
func Extract(raw []byte) (data []byte, ok bool) {
	msg := mime.Parse(raw)
	p := findCalendar(&msg.Root, 0)
	if p == nil {
		return nil, false
	}
	body, err := p.DecodedBody(raw)
	if err != nil {
		return nil, false
	}
	return body, true
}

// findCalendar walks the part tree, not into attached messages (a forwarded
// invitation is not one to act on).
func findCalendar(p *mime.Part, depth int) *mime.Part {
	if p.Type == "text" && p.Subtype == "calendar" {
		return p
	}
	if p.Type != "multipart" || depth > 8 {
		return nil
	}
	for i := range p.Parts {
		if c := findCalendar(&p.Parts[i], depth+1); c != nil {
			return c
		}
	}
	return nil
}

// senders returns the mailboxes of a message's From field, lower case: what DMARC
// authenticates, and so what a scheduling message is checked against.
func senders(raw []byte) []string {
	msg := mime.Parse(raw[:headerEnd(raw)])
	var out []string
	for _, a := range msg.Envelope.From {
		if a.IsGroupStart() || a.IsGroupEnd() || a.Host == mime.MissingHost || a.Mailbox == mime.MissingMailbox {
			continue
		}
		out = append(out, strings.ToLower(a.Mailbox+"@"+a.Host))
	}
	return out
}

// dmarcFailed reports whether the Authentication-Results our MX added says DMARC
// failed (a quarantined message): such a message is not acted on.
func dmarcFailed(raw []byte) bool {
	msg := mime.Parse(raw[:headerEnd(raw)])
	for _, f := range msg.Headers {
		if strings.EqualFold(f.Name, "Authentication-Results") && strings.Contains(strings.ToLower(f.Value), "dmarc=fail") {
			return true
		}
	}
	return false
}

// headerEnd is the offset just past the blank line ending the header.
func headerEnd(raw []byte) int {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return i + 2
	}
	return len(raw)
}
