package mime

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// wantPart describes one part of a testdata message, found by its IMAP section.
type wantPart struct {
	section    []int
	mediaType  string            // type/subtype
	params     map[string]string // compared exactly when not nil
	body       string            // raw[BodyStart:End]
	lines      int64
	decoded    string // DecodedBody, when not empty
	encoding   string // when not empty
	msgSubject string // for message/rfc822: the encapsulated Subject
}

func TestParseTestdata(t *testing.T) {
	addr := func(name, mailbox, host string) Address { return Address{name, mailbox, host} }
	tests := []struct {
		file     string
		subject  string    // decoded
		envelope *Envelope // compared exactly when not nil
		parts    []wantPart
		absent   [][]int // sections that designate nothing
		text     string
	}{
		{
			file:    "plain.eml",
			subject: "Lunch tomorrow?",
			envelope: &Envelope{
				Date:    "Mon, 3 Mar 2025 09:59:58 +0000",
				Subject: "Lunch tomorrow?",
				From:    []Address{addr("Alice Example", "alice", "example.com")},
				Sender:  []Address{addr("Alice Example", "alice", "example.com")},
				ReplyTo: []Address{addr("Alice Example", "alice", "example.com")},
				To: []Address{
					addr("Bob, the Builder", "bob", "example.org"),
					addr("Carol C.", "carol", "example.net"),
				},
				Cc:         []Address{addr("", "dave", "example.net")},
				InReplyTo:  "<prev.0@example.org>",
				MessageID:  "<lunch.1@example.com>",
				References: []string{"<root@example.org>", "<prev.0@example.org>"},
			},
			parts: []wantPart{{
				section: []int{1}, mediaType: "text/plain", params: map[string]string{"charset": "utf-8"},
				encoding: "8bit", body: "Shall we meet at noon?\r\nCafé on the corner.\r\n", lines: 2,
			}},
			absent: [][]int{{0}, {2}, {1, 1}},
			text: "Lunch tomorrow?\nAlice Example alice@example.com\nBob, the Builder bob@example.org\n" +
				"Carol C. carol@example.net\ndave@example.net\nShall we meet at noon?\nCafé on the corner.",
		},
		{
			file:    "alternative.eml",
			subject: "Grüße aus München",
			parts: []wantPart{
				{section: []int{1}, mediaType: "text/plain", params: map[string]string{"charset": "UTF-8"},
					encoding: "quoted-printable",
					body:     "Gr=C3=BC=C3=9Fe aus M=C3=BCnchen, das ist eine sehr lange Zeile, die umbro=\r\nchen wird.\r\n",
					lines:    2,
					decoded:  "Grüße aus München, das ist eine sehr lange Zeile, die umbrochen wird.\r\n"},
				{section: []int{2}, mediaType: "text/html", encoding: "7bit", lines: 2,
					body: "<html><head><style>p {color: red}</style><title>Gruss</title></head>\r\n" +
						"<body><p>Gr&uuml;&szlig;e aus <b>M&uuml;nchen</b></p><script>alert(1)</script>" +
						"<p>Zweite&nbsp;Zeile &amp; mehr</p></body></html>\r\n"},
			},
			absent: [][]int{{3}, {1, 1}},
			text: "Grüße aus München\nJörg Müller joerg@example.de\nteam@example.com\n" +
				"Grüße aus München, das ist eine sehr lange Zeile, die umbrochen wird.\n" +
				"Gruss\nGrüße aus München\nZweite Zeile & mehr",
		},
		{
			file:    "mixed-attachment.eml",
			subject: "Report attached",
			parts: []wantPart{
				{section: []int{1}, mediaType: "text/plain", body: "Please find the report attached.", lines: 1},
				{section: []int{2}, mediaType: "application/pdf", params: map[string]string{"name": "report.pdf"},
					encoding: "base64", lines: 2,
					body: "JVBERi0xLjQKJeT89t8KMSAwIG9iago8PCAvVHlwZSAvQ2F0YWxvZyA+PgplbmRvYmoKdHJhaWxl\r\n" +
						"cgo8PCAvUm9vdCAxIDAgUiA+PgolJUVPRgo=",
					decoded: "%PDF-1.4\n%\xe4\xfc\xf6\xdf\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"},
			},
			text: "Report attached\nErin erin@example.com\nFrank frank@example.com\nPlease find the report attached.",
		},
		{
			file:    "nested-rfc822.eml",
			subject: "Fwd: Plans",
			parts: []wantPart{
				{section: []int{1}, mediaType: "text/plain", body: "See the forwarded messages.\r\n", lines: 1},
				{section: []int{2}, mediaType: "message/rfc822", msgSubject: "Plans", lines: 17,
					body: "From: Ivan <ivan@example.com>\r\nTo: Grace <grace@example.com>\r\nSubject: Plans\r\n" +
						"Date: Wed, 5 Mar 2025 09:00:00 +0000\r\nMessage-ID: <plans.1@example.com>\r\n" +
						"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n" +
						"--inner\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nMeet on Friday.\r\n" +
						"--inner\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<p>Meet on <i>Friday</i>.</p>\r\n" +
						"--inner--\r\n"},
				{section: []int{2, 1}, mediaType: "text/plain", body: "Meet on Friday.", lines: 1},
				{section: []int{2, 2}, mediaType: "text/html", body: "<p>Meet on <i>Friday</i>.</p>", lines: 1},
				{section: []int{3}, mediaType: "message/rfc822", msgSubject: "Short note", lines: 4,
					body: "From: Judy <judy@example.com>\r\nSubject: Short note\r\n\r\nJust a note."},
				// RFC 3501 6.4.5: the encapsulated message is not multipart, so 3.1 is its body.
				{section: []int{3, 1}, mediaType: "text/plain", params: map[string]string{"charset": "us-ascii"},
					body: "Just a note.", lines: 1},
			},
			absent: [][]int{{4}, {1, 1}, {2, 3}, {3, 2}, {3, 1, 1}},
			text: "Fwd: Plans\nGrace grace@example.com\nHeidi heidi@example.com\nSee the forwarded messages.\n" +
				"Plans\nIvan ivan@example.com\nGrace grace@example.com\nMeet on Friday.\nMeet on Friday.\n" +
				"Short note\nJudy judy@example.com\nJust a note.",
		},
		{
			file:    "group.eml",
			subject: "Group test",
			envelope: &Envelope{
				Subject: "Group test",
				From:    []Address{addr("Doe, John", "john.doe", "example.com")},
				Sender:  []Address{addr("", "secretary", "example.com")},
				ReplyTo: []Address{addr("Reply Desk", "replies", "example.com")},
				// RFC 3501 7.4.2 group markers around the members.
				To: []Address{
					addr("", "Friends", ""),
					addr("", "alice", "example.com"),
					addr("Bob", "bob", "example.org"),
					{},
					addr("", "carol", "example.net"),
				},
				Cc:         []Address{addr("", "undisclosed-recipients", ""), {}},
				Bcc:        []Address{addr("", "eve", "example.com")}, // obsolete route dropped
				MessageID:  "<group.5@example.com>",
				References: []string{"<a@example.com>", "<b@example.com>", "<c@example.com>"},
			},
			parts: []wantPart{{section: []int{1}, mediaType: "text/plain",
				params: map[string]string{"charset": "us-ascii"}, body: "Body.\r\n", lines: 1}},
			text: "Group test\nDoe, John john.doe@example.com\nalice@example.com\nBob bob@example.org\n" +
				"carol@example.net\nBody.",
		},
		{
			file:    "encoded-utf8.eml",
			subject: "🍓Schöne Grüße from Zürich",
			parts: []wantPart{{section: []int{1}, mediaType: "text/plain", encoding: "base64",
				body: "R3LDvGV6aSBtaXRlbmFuZA0K\r\n", lines: 1, decoded: "Grüezi mitenand\r\n"}},
			text: "🍓Schöne Grüße from Zürich\nZoë zoe@example.com\n🍓 berry@example.com\nGrüezi mitenand",
		},
		{
			file:    "encoded-latin1.eml",
			subject: "Réunion d'équipe",
			parts: []wantPart{{section: []int{1}, mediaType: "text/plain",
				params: map[string]string{"charset": "ISO-8859-1"}, encoding: "quoted-printable",
				body: "La r=E9union est d=E9plac=E9e =E0 jeudi.\r\n", lines: 1,
				decoded: "La r\xe9union est d\xe9plac\xe9e \xe0 jeudi.\r\n"}},
			text: "Réunion d'équipe\nFrançois francois@example.fr\nNoël noel@example.fr\nLa réunion est déplacée à jeudi.",
		},
		{
			file:    "bare-lf.eml",
			subject: "Bare LF",
			parts: []wantPart{
				{section: []int{1}, mediaType: "text/plain", body: "first part", lines: 1},
				{section: []int{2}, mediaType: "text/plain", body: "second part\nline two", lines: 2},
			},
			text: "Bare LF\nlf@example.com\nyou@example.com\nfirst part\nsecond part\nline two",
		},
		{
			// Multipart without boundary: read as one text/plain body.
			file:    "missing-boundary.eml",
			subject: "No boundary",
			parts: []wantPart{{section: []int{1}, mediaType: "text/plain",
				params: map[string]string{"charset": "us-ascii"},
				body:   "--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x--\r\n", lines: 5}},
			absent: [][]int{{2}, {1, 1}},
			text:   "No boundary\na@example.com\n--x\nContent-Type: text/plain\n\nhello\n--x--",
		},
		{
			// Boundary that never appears: one text/plain body, keeping the charset.
			file:    "boundary-never.eml",
			subject: "Boundary never appears",
			parts: []wantPart{{section: []int{1}, mediaType: "text/plain",
				params: map[string]string{"charset": "utf-8"},
				body:   "Just text, no delimiter in sight.\r\n", lines: 1}},
			text: "Boundary never appears\na@example.com\nJust text, no delimiter in sight.",
		},
		{
			// No close delimiter: the last part runs to the end of the message.
			file:    "truncated.eml",
			subject: "Truncated",
			parts: []wantPart{
				{section: []int{1}, mediaType: "text/plain", body: "visible text", lines: 1},
				{section: []int{2}, mediaType: "application/octet-stream", encoding: "base64",
					body: "SGVsbG8sIHdvcmxkIQpTZWNvbmQgbGlu", lines: 1, decoded: "Hello, world!\nSecond lin"},
			},
			text: "Truncated\nt@example.com\nvisible text",
		},
		{
			// No blank line: the whole message is header and the body is empty.
			file:    "header-only.eml",
			subject: "header cut off",
			parts:   []wantPart{{section: []int{1}, mediaType: "text/pl", body: "", lines: 0}},
			text:    "header cut off\nh@example.com",
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			m := Parse(raw)
			checkInvariants(t, m, raw)
			if got := m.Subject(); got != tc.subject {
				t.Errorf("Subject() = %q, want %q", got, tc.subject)
			}
			if tc.envelope != nil && !reflect.DeepEqual(m.Envelope, *tc.envelope) {
				t.Errorf("Envelope =\n%+v\nwant\n%+v", m.Envelope, *tc.envelope)
			}
			for _, w := range tc.parts {
				checkPart(t, m, raw, w)
			}
			for _, s := range tc.absent {
				if p, ok := m.PartAt(s); ok {
					t.Errorf("PartAt(%v) = %s/%s, want none", s, p.Type, p.Subtype)
				}
			}
			if got := m.FullText(raw); got != tc.text {
				t.Errorf("FullText =\n%q\nwant\n%q", got, tc.text)
			}
		})
	}
}

func checkPart(t *testing.T, m *Message, raw []byte, w wantPart) {
	t.Helper()
	p, ok := m.PartAt(w.section)
	if !ok {
		t.Errorf("PartAt(%v) found nothing", w.section)
		return
	}
	if got := p.Type + "/" + p.Subtype; got != w.mediaType {
		t.Errorf("%v: type %s, want %s", w.section, got, w.mediaType)
	}
	if w.params != nil && !maps.Equal(p.Params, w.params) {
		t.Errorf("%v: params %v, want %v", w.section, p.Params, w.params)
	}
	if w.encoding != "" && p.Encoding != w.encoding {
		t.Errorf("%v: encoding %q, want %q", w.section, p.Encoding, w.encoding)
	}
	if got := string(raw[p.BodyStart:p.End]); got != w.body {
		t.Errorf("%v: body\n%q\nwant\n%q", w.section, got, w.body)
	}
	if p.Size() != int64(len(w.body)) {
		t.Errorf("%v: Size() = %d, want %d", w.section, p.Size(), len(w.body))
	}
	if p.Lines != w.lines {
		t.Errorf("%v: Lines = %d, want %d", w.section, p.Lines, w.lines)
	}
	if w.decoded != "" {
		got, err := p.DecodedBody(raw)
		if err != nil || string(got) != w.decoded {
			t.Errorf("%v: DecodedBody = %q, %v; want %q", w.section, got, err, w.decoded)
		}
	}
	if w.msgSubject != "" {
		if p.Message == nil {
			t.Errorf("%v: no encapsulated message", w.section)
		} else if got := p.Message.Subject(); got != w.msgSubject {
			t.Errorf("%v: encapsulated subject %q, want %q", w.section, got, w.msgSubject)
		}
	}
}

func TestAttachmentHeaders(t *testing.T) {
	raw, err := os.ReadFile("testdata/mixed-attachment.eml")
	if err != nil {
		t.Fatal(err)
	}
	m := Parse(raw)
	p, ok := m.PartAt([]int{2})
	if !ok {
		t.Fatal("no part 2")
	}
	if p.Disposition != "attachment" {
		t.Errorf("Disposition = %q", p.Disposition)
	}
	// RFC 2231: three pieces, the first two percent-encoded UTF-8, the last plain.
	if want := map[string]string{"filename": "Bericht für März.pdf"}; !maps.Equal(p.DispositionParams, want) {
		t.Errorf("DispositionParams = %v, want %v", p.DispositionParams, want)
	}
	if p.ID != "<part2@example.com>" || p.Description != "Monthly report" {
		t.Errorf("ID, Description = %q, %q", p.ID, p.Description)
	}
	if !reflect.DeepEqual(p.Language, []string{"de", "en"}) {
		t.Errorf("Language = %q", p.Language)
	}
	// The part header runs from just after the delimiter line to the blank line.
	hdr := string(raw[p.HeaderStart:p.BodyStart])
	if !strings.HasPrefix(hdr, "Content-Type: application/pdf") || !strings.HasSuffix(hdr, "(German first)\r\n\r\n") {
		t.Errorf("part header = %q", hdr)
	}
}

// checkInvariants asserts what FuzzParse asserts on every input.
func checkInvariants(t *testing.T, m *Message, raw []byte) {
	t.Helper()
	n := int64(len(raw))
	if m.Root.HeaderStart != 0 || m.Root.End != n {
		t.Errorf("root spans [%d,%d), want [0,%d)", m.Root.HeaderStart, m.Root.End, n)
	}
	count := 0
	var walk func(p *Part, lo, hi int64, depth int)
	walk = func(p *Part, lo, hi int64, depth int) {
		count++
		if depth > MaxDepth+1 {
			t.Fatalf("nesting deeper than MaxDepth")
		}
		if !(lo <= p.HeaderStart && p.HeaderStart <= p.BodyStart && p.BodyStart <= p.End && p.End <= hi) {
			t.Fatalf("part [%d,%d,%d) outside parent [%d,%d)", p.HeaderStart, p.BodyStart, p.End, lo, hi)
		}
		if p.Type == "" || p.Subtype == "" || p.Encoding == "" {
			t.Errorf("part at %d has empty type %q/%q or encoding %q", p.HeaderStart, p.Type, p.Subtype, p.Encoding)
		}
		if (p.Type == "multipart") != (len(p.Parts) > 0) {
			t.Errorf("part at %d: type %s with %d parts", p.HeaderStart, p.Type, len(p.Parts))
		}
		if p.Lines != countLines(raw[p.BodyStart:p.End]) {
			t.Errorf("part at %d: Lines %d", p.HeaderStart, p.Lines)
		}
		prev := p.BodyStart
		for i := range p.Parts {
			c := &p.Parts[i]
			if c.HeaderStart < prev {
				t.Fatalf("child %d starts at %d before %d", i, c.HeaderStart, prev)
			}
			walk(c, p.BodyStart, p.End, depth+1)
			prev = c.End
		}
		if p.Message != nil {
			if p.Message.Root.HeaderStart != p.BodyStart || p.Message.Root.End != p.End {
				t.Errorf("encapsulated message [%d,%d) is not the body [%d,%d)",
					p.Message.Root.HeaderStart, p.Message.Root.End, p.BodyStart, p.End)
			}
			walk(&p.Message.Root, p.BodyStart, p.End, depth+1)
		}
	}
	walk(&m.Root, 0, n, 0)
	if count > MaxParts {
		t.Errorf("%d parts, more than MaxParts", count)
	}
	if text := m.FullText(raw); len(text) > MaxText {
		t.Errorf("the text is %d bytes", len(text))
	}
}
