package mime

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHeaderQuirks(t *testing.T) {
	raw := "From sender@example.com Mon Mar  3 10:00:00 2025\r\n" + // mbox line: no field name
		"X-Broken line without colon\r\n" +
		"Subject : obsolete space before colon\r\n" +
		"Subject: second subject is ignored\r\n" +
		" continuation of an ignored field\r\n" +
		"From: a@example.com\r\n" +
		"Sender:\r\n" +
		"To: Caf\xe9 <x@example.com>\r\n" +
		"Content-Type: garbage\r\n" +
		"Content-Transfer-Encoding:  Base64 (comment)\r\n" +
		"\r\n" +
		"aGk=\r\n"
	m := Parse([]byte(raw))
	if got := m.Envelope.Subject; got != "obsolete space before colon" {
		t.Errorf("Subject = %q", got)
	}
	// RFC 3501 7.4.2: a present but empty Sender takes From's value.
	if len(m.Envelope.Sender) != 1 || m.Envelope.Sender[0].Mailbox != "a" {
		t.Errorf("Sender = %+v", m.Envelope.Sender)
	}
	// Raw 8-bit bytes become valid UTF-8 (read as windows-1252).
	if got := m.Envelope.To[0].Name; got != "Café" {
		t.Errorf("To name = %q", got)
	}
	// RFC 2045 5.2: an unreadable Content-Type means text/plain; charset=us-ascii.
	if r := m.Root; r.Type != "text" || r.Subtype != "plain" || r.Params["charset"] != "us-ascii" || r.Encoding != "base64" {
		t.Errorf("root = %s/%s %v %q", r.Type, r.Subtype, r.Params, r.Encoding)
	}
	if text := m.FullText([]byte(raw)); !strings.HasSuffix(text, "\nhi") {
		t.Errorf("FullText = %q", text)
	}
}

func TestEmptyInput(t *testing.T) {
	m := Parse(nil)
	if r := m.Root; r.Type != "text" || r.Subtype != "plain" || r.End != 0 || r.Lines != 0 {
		t.Errorf("root = %+v", r)
	}
	if p, ok := m.PartAt([]int{1}); !ok || p != &m.Root {
		t.Errorf("PartAt(1) = %v, %v", p, ok)
	}
	if p, ok := m.PartAt(nil); !ok || p != &m.Root {
		t.Errorf("PartAt() = %v, %v", p, ok)
	}
}

func TestDigestDefaultsToMessage(t *testing.T) {
	// RFC 2046 5.1.5: body parts of multipart/digest default to message/rfc822.
	raw := "Content-Type: multipart/digest; boundary=d\r\n\r\n" +
		"--d\r\n\r\nSubject: first\r\n\r\none\r\n" +
		"--d\r\nContent-Type: text/plain\r\n\r\nplain\r\n" +
		"--d--\r\n"
	m := Parse([]byte(raw))
	p, ok := m.PartAt([]int{1})
	if !ok || p.Type != "message" || p.Subtype != "rfc822" || p.Message == nil || p.Message.Subject() != "first" {
		t.Fatalf("part 1 = %+v", p)
	}
	if p, ok := m.PartAt([]int{1, 1}); !ok || string(raw[p.BodyStart:p.End]) != "one" {
		t.Errorf("part 1.1 = %+v", p)
	}
	if p, _ := m.PartAt([]int{2}); p.Type != "text" {
		t.Errorf("part 2 type = %q", p.Type)
	}
}

func TestEncodedMessageStaysOpaque(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"U3ViamVjdDogeA0KDQp5DQo=\r\n--b--\r\n"
	m := Parse([]byte(raw))
	p, _ := m.PartAt([]int{1})
	if p.Message != nil {
		t.Errorf("base64 message/rfc822 was parsed as a message")
	}
	if _, ok := m.PartAt([]int{1, 1}); ok {
		t.Errorf("PartAt(1.1) found a part in an opaque message")
	}
}

func TestBoundaryPrefixOfInner(t *testing.T) {
	// The inner boundary starts with the outer one; only whole delimiter lines count.
	raw := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n" +
		"--b2\r\n\r\ninner one\r\n--b2\r\n\r\ninner two\r\n--b2--\r\n" +
		"--b \t\r\n\r\nouter two\r\n--b--"
	m := Parse([]byte(raw))
	for _, tc := range []struct {
		section []int
		body    string
	}{{[]int{1, 1}, "inner one"}, {[]int{1, 2}, "inner two"}, {[]int{2}, "outer two"}} {
		p, ok := m.PartAt(tc.section)
		if !ok || string(raw[p.BodyStart:p.End]) != tc.body {
			t.Errorf("PartAt(%v) = %+v, %v; want body %q", tc.section, p, ok, tc.body)
		}
	}
}

func TestDepthLimit(t *testing.T) {
	var b strings.Builder
	const depth = MaxDepth + 20
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("\r\ndeepest\r\n")
	raw := []byte(b.String())
	m := Parse(raw)
	checkInvariants(t, m, raw)
	levels := 0
	p := &m.Root
	for len(p.Parts) > 0 {
		p = &p.Parts[0]
		levels++
	}
	if levels != MaxDepth || p.Type != "text" {
		t.Errorf("descended %d levels to a %s part, want %d to text", levels, p.Type, MaxDepth)
	}
}

func TestMessageDepthLimit(t *testing.T) {
	raw := []byte(strings.Repeat("Content-Type: message/rfc822\r\n\r\n", MaxDepth+20) + "Subject: deepest\r\n\r\nx")
	m := Parse(raw)
	checkInvariants(t, m, raw)
	levels := 0
	for cur := m; cur.Root.Message != nil; cur = cur.Root.Message {
		levels++
	}
	if levels != MaxDepth {
		t.Errorf("%d nested messages, want %d", levels, MaxDepth)
	}
}

func TestPartLimit(t *testing.T) {
	raw := []byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\n\r\nx\r\n", MaxParts+50) + "--b--\r\n")
	m := Parse(raw)
	checkInvariants(t, m, raw)
	if got := len(m.Root.Parts); got != MaxParts-1 {
		t.Errorf("%d body parts, want %d (MaxParts less the multipart itself)", got, MaxParts-1)
	}
}

func TestTextCap(t *testing.T) {
	// A multi-byte rune straddles the cap, so the cut must back off to a rune boundary.
	body := strings.Repeat("é", MaxText)
	raw := []byte("Subject: s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body)
	m := Parse(raw)
	if text := m.FullText(raw); len(text) > MaxText || len(text) < MaxText-3 || !utf8.ValidString(text) {
		t.Errorf("the text is %d bytes, valid UTF-8 %v", len(text), utf8.ValidString(text))
	}
}
