package imap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/imap/imapwire"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// crlf turns the LF line ends of a test literal into CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// testMessage builds a stored message from raw as delivery would.
func testMessage(raw []byte, uid store.UID) *store.Message {
	p := mime.Parse(raw)
	return &store.Message{
		MessageInfo: store.MessageInfo{
			UID:          uid,
			ModSeq:       store.ModSeq(100 + uid),
			Flags:        []string{store.FlagSeen},
			Size:         int64(len(raw)),
			InternalDate: time.Date(2025, 3, 6, 15, 0, 0, 0, time.UTC),
		},
		Envelope: p.Envelope,
		Root:     p.Root,
	}
}

// parseItems parses the fetch-att list of "FETCH 1 (items)".
func parseItems(t testing.TB, items string) []imapwire.FetchItem {
	t.Helper()
	r := imapwire.NewReader(bufio.NewReader(strings.NewReader("a FETCH 1 ("+items+")\r\n")), imapwire.Options{})
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("parse %q: %v", items, err)
	}
	return cmd.Args.(*imapwire.Fetch).Items
}

// fetched runs writeFetch and returns what it wrote.
func fetched(t *testing.T, m *store.Message, raw []byte, items string, o fetchOptions) string {
	t.Helper()
	var b bytes.Buffer
	w := imapwire.NewWriter(bufio.NewWriter(&b))
	w.SetUTF8(o.UTF8)
	if err := writeFetch(w, 1, m, raw, parseItems(t, items), o); err != nil {
		t.Fatalf("FETCH %s: %v", items, err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// sectionsMessage has the structure of the example in RFC 9051 section 6.4.5.
var sectionsMessage = crlf(`From: A <a@example.com>
To: B <b@example.com>
Subject: sections
X-Folded: one
 two
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b1

preamble
--b1
Content-Type: text/plain

part 1
--b1
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAECAw==
--b1
Content-Type: message/rfc822

From: C <c@example.com>
Subject: inner 3
Content-Type: multipart/mixed; boundary=b3

--b3
Content-Type: text/plain

part 3.1
--b3
Content-Type: application/octet-stream

part 3.2
--b3--
--b1
Content-Type: multipart/mixed; boundary=b4

--b4
Content-Type: image/gif
Content-Transfer-Encoding: base64

R0lGODlh
--b4
Content-Type: message/rfc822

From: D <d@example.com>
Subject: inner 4.2
Content-Type: multipart/mixed; boundary=b42

--b42
Content-Type: text/plain

part 4.2.1
--b42
Content-Type: multipart/alternative; boundary=b422

--b422
Content-Type: text/plain

part 4.2.2.1
--b422
Content-Type: text/richtext

part 4.2.2.2
--b422--
--b42--
--b4--
--b1--
`)

func TestSections(t *testing.T) {
	raw := []byte(sectionsMessage)
	m := testMessage(raw, 1)
	inner3 := crlf(`From: C <c@example.com>
Subject: inner 3
Content-Type: multipart/mixed; boundary=b3

--b3
Content-Type: text/plain

part 3.1
--b3
Content-Type: application/octet-stream

part 3.2
--b3--`)
	tests := []struct{ section, want string }{
		{"", sectionsMessage},
		{"HEADER", crlf("From: A <a@example.com>\nTo: B <b@example.com>\nSubject: sections\nX-Folded: one\n two\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b1\n\n")},
		{"HEADER.FIELDS (SUBJECT from)", crlf("From: A <a@example.com>\nSubject: sections\n\n")},
		{"HEADER.FIELDS (x-folded)", crlf("X-Folded: one\n two\n\n")},
		{"HEADER.FIELDS (NOPE)", "\r\n"},
		{"HEADER.FIELDS.NOT (Subject X-Folded MIME-Version Content-Type)", crlf("From: A <a@example.com>\nTo: B <b@example.com>\n\n")},
		{"TEXT", sectionsMessage[strings.Index(sectionsMessage, "preamble"):]},
		{"1", "part 1"},
		{"1.MIME", crlf("Content-Type: text/plain\n\n")},
		{"2", "AAECAw=="},
		{"3", inner3},
		{"3.MIME", crlf("Content-Type: message/rfc822\n\n")},
		{"3.HEADER", crlf("From: C <c@example.com>\nSubject: inner 3\nContent-Type: multipart/mixed; boundary=b3\n\n")},
		{"3.HEADER.FIELDS (SUBJECT)", crlf("Subject: inner 3\n\n")},
		{"3.TEXT", inner3[strings.Index(inner3, "--b3"):]},
		{"3.1", "part 3.1"},
		{"3.2", "part 3.2"},
		{"3.2.MIME", crlf("Content-Type: application/octet-stream\n\n")},
		{"4.1", "R0lGODlh"},
		{"4.1.MIME", crlf("Content-Type: image/gif\nContent-Transfer-Encoding: base64\n\n")},
		{"4.2.HEADER", crlf("From: D <d@example.com>\nSubject: inner 4.2\nContent-Type: multipart/mixed; boundary=b42\n\n")},
		{"4.2.1", "part 4.2.1"},
		{"4.2.2.1", "part 4.2.2.1"},
		{"4.2.2.2", "part 4.2.2.2"},
		{"4.2.2", crlf("--b422\nContent-Type: text/plain\n\npart 4.2.2.1\n--b422\nContent-Type: text/richtext\n\npart 4.2.2.2\n--b422--")},
		// Sections that designate nothing are empty, not errors.
		{"5", ""},
		{"1.1", ""},
		{"1.HEADER", ""},
		{"1.TEXT", ""},
		{"4.3.MIME", ""},
		{"3.3", ""},
	}
	for _, tt := range tests {
		items := parseItems(t, "BODY.PEEK["+tt.section+"]")
		got := sectionData(m, raw, items[0].Section)
		if string(got) != tt.want {
			t.Errorf("BODY[%s] = %q, want %q", tt.section, got, tt.want)
		}
	}
}

func TestSinglePartSections(t *testing.T) {
	raw := []byte(crlf("Subject: one\nContent-Transfer-Encoding: quoted-printable\n\nGr=C3=BC=\nsse\n"))
	m := testMessage(raw, 1)
	tests := []struct{ section, want string }{
		{"1", crlf("Gr=C3=BC=\nsse\n")},
		{"TEXT", crlf("Gr=C3=BC=\nsse\n")},
		{"1.MIME", crlf("Subject: one\nContent-Transfer-Encoding: quoted-printable\n\n")},
		{"2", ""},
		{"1.1", ""},
	}
	for _, tt := range tests {
		got := sectionData(m, raw, parseItems(t, "BODY["+tt.section+"]")[0].Section)
		if string(got) != tt.want {
			t.Errorf("BODY[%s] = %q, want %q", tt.section, got, tt.want)
		}
	}
}

// TestFetchRFC9051Example reproduces the FETCH FULL response of RFC 9051 section 6.4.5
// byte for byte.
func TestFetchRFC9051Example(t *testing.T) {
	body := strings.Repeat(strings.Repeat("x", 31)+"\r\n", 91) + strings.Repeat("y", 23) + "\r\n"
	raw := []byte(crlf(`Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
From: Terry Gray <gray@cac.washington.edu>
Subject: IMAP4rev2 WG mtg summary and minutes
To: imap@cac.washington.edu
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
Message-Id: <B27397-0100000@cac.washington.edu>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

`) + body)
	m := testMessage(raw, 5)
	m.Size = 4286
	m.InternalDate = time.Date(1996, 7, 17, 2, 44, 25, 0, time.FixedZone("", -7*3600))
	got := fetched(t, m, raw, "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY", fetchOptions{})
	want := `* 1 FETCH (FLAGS (\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" ` +
		`RFC822.SIZE 4286 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" ` +
		`"IMAP4rev2 WG mtg summary and minutes" ` +
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) ` +
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) ` +
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) ` +
		`((NIL NIL "imap" "cac.washington.edu")) ` +
		`((NIL NIL "minutes" "CNRI.Reston.VA.US")` +
		`("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL ` +
		`"<B27397-0100000@cac.washington.edu>") ` +
		`BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))` + "\r\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// RFC 9051 section 7.5.2: "* 23 FETCH (FLAGS (\Seen) RFC822.SIZE 44827)".
	m.Size = 44827
	var b bytes.Buffer
	w := imapwire.NewWriter(bufio.NewWriter(&b))
	if err := writeFetch(w, 23, m, nil, parseItems(t, "FLAGS RFC822.SIZE"), fetchOptions{}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if got, want := b.String(), "* 23 FETCH (FLAGS (\\Seen) RFC822.SIZE 44827)\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFetchItems(t *testing.T) {
	raw := []byte(crlf(`From: Ann <ann@example.com>
Subject: =?utf-8?q?caf=C3=A9?=
Date: Thu, 6 Mar 2025 15:00:00 +0000
Content-Type: multipart/mixed; boundary=x

--x
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9=
 ok
--x
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AGFiYwBk
--x
Content-Type: text/plain
Content-Transfer-Encoding: base64

aGVsbG8=
--x
Content-Type: application/x-thing
Content-Transfer-Encoding: x-uuencode

begin 644 x
--x--
`))
	m := testMessage(raw, 7)
	m.Flags = []string{store.FlagSeen, "$Important"}
	header := crlf(`From: Ann <ann@example.com>
Subject: =?utf-8?q?caf=C3=A9?=
Date: Thu, 6 Mar 2025 15:00:00 +0000
Content-Type: multipart/mixed; boundary=x

`)
	text := string(raw[len(header):])
	lit := func(s string) string { return fmt.Sprintf("{%d}\r\n%s", len(s), s) }
	tests := []struct {
		items string
		o     fetchOptions
		want  string
	}{
		{"FLAGS", fetchOptions{}, `FLAGS (\Seen $Important)`},
		{"INTERNALDATE", fetchOptions{}, `INTERNALDATE "06-Mar-2025 15:00:00 +0000"`},
		{"RFC822.SIZE", fetchOptions{}, fmt.Sprintf("RFC822.SIZE %d", len(raw))},
		{"UID", fetchOptions{}, "UID 7"},
		{"MODSEQ", fetchOptions{}, "MODSEQ (107)"},
		{"FLAGS", fetchOptions{UID: true, ModSeq: true}, `UID 7 FLAGS (\Seen $Important) MODSEQ (107)`},
		{"FLAGS UID MODSEQ", fetchOptions{UID: true, ModSeq: true}, `FLAGS (\Seen $Important) UID 7 MODSEQ (107)`},
		{"FLAGS FLAGS", fetchOptions{}, `FLAGS (\Seen $Important)`},
		{"RFC822", fetchOptions{}, "RFC822 " + lit(string(raw))},
		{"RFC822.HEADER", fetchOptions{}, "RFC822.HEADER " + lit(header)},
		{"RFC822.TEXT", fetchOptions{}, "RFC822.TEXT " + lit(text)},
		{"BODY[]", fetchOptions{}, "BODY[] " + lit(string(raw))},
		{"BODY.PEEK[1]", fetchOptions{}, "BODY[1] " + lit("caf=C3=A9=\r\n ok")},
		{"BODY[HEADER.FIELDS (From)]", fetchOptions{}, `BODY[HEADER.FIELDS (From)] ` + lit("From: Ann <ann@example.com>\r\n\r\n")},
		{"BODY[HEADER.FIELDS.NOT (FROM DATE \"Content-Type\")]", fetchOptions{}, `BODY[HEADER.FIELDS.NOT (FROM DATE Content-Type)] ` + lit("Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n")},
		{"BODY[9]", fetchOptions{}, `BODY[9] ""`},
		// Partial fetches (RFC 9051 section 6.4.5): origin and count, at the edges.
		{"BODY[1]<0.4>", fetchOptions{}, "BODY[1]<0> " + lit("caf=")},
		{"BODY[1]<4.100>", fetchOptions{}, "BODY[1]<4> " + lit("C3=A9=\r\n ok")},
		{"BODY[1]<14.1>", fetchOptions{}, "BODY[1]<14> " + lit("k")},
		{"BODY[1]<14.2>", fetchOptions{}, "BODY[1]<14> " + lit("k")},
		{"BODY[1]<15.1>", fetchOptions{}, `BODY[1]<15> ""`},
		{"BODY[1]<1000.5>", fetchOptions{}, `BODY[1]<1000> ""`},
		{"BODY.PEEK[]<0.1>", fetchOptions{}, "BODY[]<0> " + lit("F")},
		// BINARY (RFC 3516): decoded; literal8 only when the data holds NUL.
		{"BINARY[1]", fetchOptions{}, "BINARY[1] " + lit("café ok")},
		{"BINARY.PEEK[2]", fetchOptions{}, "BINARY[2] ~{6}\r\n\x00abc\x00d"},
		{"BINARY[2]<1.3>", fetchOptions{}, "BINARY[2]<1> " + lit("abc")},
		{"BINARY[2]<3.2>", fetchOptions{}, "BINARY[2]<3> ~{2}\r\nc\x00"},
		{"BINARY[3]", fetchOptions{}, "BINARY[3] " + lit("hello")},
		{"BINARY[3]<9.1>", fetchOptions{}, `BINARY[3]<9> ""`},
		{"BINARY.SIZE[1] BINARY.SIZE[2] BINARY.SIZE[3] BINARY.SIZE[9]", fetchOptions{}, "BINARY.SIZE[1] 8 BINARY.SIZE[2] 6 BINARY.SIZE[3] 5 BINARY.SIZE[9] 0"},
		{"BINARY[]", fetchOptions{}, "BINARY[] " + lit(string(raw))},
		{"BINARY.SIZE[]", fetchOptions{}, fmt.Sprintf("BINARY.SIZE[] %d", len(raw))},
		{"BINARY[9]", fetchOptions{}, `BINARY[9] ""`},
		// ENVELOPE: raw UTF-8 is downgraded to an encoded-word for a client without
		// UTF-8; this Subject already is one.
		{"ENVELOPE", fetchOptions{}, `ENVELOPE ("Thu, 6 Mar 2025 15:00:00 +0000" "=?utf-8?q?caf=C3=A9?=" (("Ann" NIL "ann" "example.com")) (("Ann" NIL "ann" "example.com")) (("Ann" NIL "ann" "example.com")) NIL NIL NIL NIL NIL)`},
		{"BODY", fetchOptions{}, `BODY (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 15 2)("APPLICATION" "OCTET-STREAM" NIL NIL NIL "BASE64" 8)("TEXT" "PLAIN" NIL NIL NIL "BASE64" 8 1)("APPLICATION" "X-THING" NIL NIL NIL "X-UUENCODE" 11) "MIXED")`},
		{"BODYSTRUCTURE", fetchOptions{}, `BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 15 2 NIL NIL NIL NIL)("APPLICATION" "OCTET-STREAM" NIL NIL NIL "BASE64" 8 NIL NIL NIL NIL)("TEXT" "PLAIN" NIL NIL NIL "BASE64" 8 1 NIL NIL NIL NIL)("APPLICATION" "X-THING" NIL NIL NIL "X-UUENCODE" 11 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "x") NIL NIL NIL)`},
	}
	for _, tt := range tests {
		got := fetched(t, m, raw, tt.items, tt.o)
		if want := "* 1 FETCH (" + tt.want + ")\r\n"; got != want {
			t.Errorf("FETCH (%s)\n got %q\nwant %q", tt.items, got, want)
		}
	}
}

// TestFetchUnknownCTE checks that BINARY of a part in an unknown encoding fails with
// *unknownCTEError and writes nothing, so the caller can answer NO [UNKNOWN-CTE].
func TestFetchUnknownCTE(t *testing.T) {
	raw := []byte(crlf("Content-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n"))
	m := testMessage(raw, 1)
	for _, items := range []string{"FLAGS BINARY[1]", "BINARY.SIZE[1]", "UID BINARY.PEEK[1]<0.5>"} {
		var b bytes.Buffer
		w := imapwire.NewWriter(bufio.NewWriter(&b))
		err := writeFetch(w, 1, m, raw, parseItems(t, items), fetchOptions{UID: true})
		var cte *unknownCTEError
		if !errors.As(err, &cte) || cte.Encoding != "x-uuencode" || !errors.Is(err, mime.ErrUnknownEncoding) {
			t.Errorf("FETCH (%s): err = %v, want unknownCTEError", items, err)
		}
		w.Flush()
		if b.Len() != 0 {
			t.Errorf("FETCH (%s) wrote %q before failing", items, b.String())
		}
	}
	// BODY of the same part is fine: it needs no decoding.
	if got := fetched(t, m, raw, "BODY.PEEK[1]", fetchOptions{}); got != "* 1 FETCH (BODY[1] {13}\r\nbegin 644 x\r\n)\r\n" {
		t.Errorf("got %q", got)
	}
}

func TestFetchEnvelopeUTF8(t *testing.T) {
	raw := []byte(crlf("From: Jörg <j@example.de>\nSubject: Grüße\n\nx\n"))
	m := testMessage(raw, 1)
	if got, want := fetched(t, m, raw, "ENVELOPE", fetchOptions{UTF8: true}), `* 1 FETCH (ENVELOPE (NIL "Grüße" (("Jörg" NIL "j" "example.de")) (("Jörg" NIL "j" "example.de")) (("Jörg" NIL "j" "example.de")) NIL NIL NIL NIL NIL))`+"\r\n"; got != want {
		t.Errorf("UTF-8 client:\n got %q\nwant %q", got, want)
	}
	want := `* 1 FETCH (ENVELOPE (NIL "=?utf-8?b?R3LDvMOfZQ==?=" (("=?utf-8?b?SsO2cmc=?=" NIL "j" "example.de")) (("=?utf-8?b?SsO2cmc=?=" NIL "j" "example.de")) (("=?utf-8?b?SsO2cmc=?=" NIL "j" "example.de")) NIL NIL NIL NIL NIL))` + "\r\n"
	if got := fetched(t, m, raw, "ENVELOPE", fetchOptions{}); got != want {
		t.Errorf("ASCII client:\n got %q\nwant %q", got, want)
	}
	if m.Envelope.Subject != "Grüße" {
		t.Errorf("downgrade changed the stored envelope: %q", m.Envelope.Subject)
	}
	// Long text is split into encoded-words of at most 75 characters that decode back.
	long := strings.Repeat("ü", 100)
	enc := encodeWord(long)
	for _, word := range strings.Fields(enc) {
		if len(word) > 75 {
			t.Errorf("encoded-word of %d characters", len(word))
		}
	}
	if got := mime.DecodeHeader(enc); got != long {
		t.Errorf("round trip = %q", got)
	}
}

func TestFetchNeeds(t *testing.T) {
	tests := []struct {
		items                        string
		needMessage, needRaw, setsSn bool
	}{
		{"FLAGS UID INTERNALDATE RFC822.SIZE MODSEQ", false, false, false},
		{"ENVELOPE", true, false, false},
		{"BODYSTRUCTURE", true, false, false},
		{"BODY", true, false, false},
		{"BODY[]", false, true, true},
		{"BODY.PEEK[]", false, true, false},
		{"BODY.PEEK[1]", true, true, false},
		{"BODY[HEADER]", true, true, true},
		{"RFC822", false, true, true},
		{"RFC822.HEADER", true, true, false},
		{"RFC822.TEXT", true, true, true},
		{"BINARY[1]", true, true, true},
		{"BINARY.PEEK[1]", true, true, false},
		{"BINARY.SIZE[1]", true, true, false},
		{"BINARY.PEEK[]", false, true, false},
		{"FLAGS BODY.PEEK[TEXT] BINARY[2]", true, true, true},
		{"RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]", false, true, false},
		{"BODY[HEADER.FIELDS.NOT (SUBJECT)]", false, true, true},
		{"BODY.PEEK[1.HEADER.FIELDS (SUBJECT)]", true, true, false},
	}
	for _, tt := range tests {
		m, r, s := fetchNeeds(parseItems(t, tt.items))
		if m != tt.needMessage || r != tt.needRaw || s != tt.setsSn {
			t.Errorf("fetchNeeds(%s) = %v %v %v, want %v %v %v", tt.items, m, r, s, tt.needMessage, tt.needRaw, tt.setsSn)
		}
	}
}

// TestFetchMimeTestdata fetches every section of the mime package's sample messages
// and checks each against the part offsets: what BODY[n] returns is exactly the part's
// body, and BODY[n.MIME] followed by BODY[n] is the part as it stands in the message.
func TestFetchMimeTestdata(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "mime", "testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample messages: %v", err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		m := testMessage(raw, 1)
		msg := &mime.Message{Envelope: m.Envelope, Root: m.Root}
		for _, path := range sectionPaths(msg, nil, 3) {
			p, _ := msg.PartAt(path)
			s := &imapwire.Section{Part: path}
			body := sectionData(m, raw, s)
			s.Specifier = "MIME"
			hdr := sectionData(m, raw, s)
			if whole := raw[p.HeaderStart:p.End]; string(hdr)+string(body) != string(whole) {
				t.Errorf("%s BODY[%v.MIME] + BODY[%v] = %q, want %q", filepath.Base(name), path, path, string(hdr)+string(body), whole)
			}
		}
	}
}

// TestHeaderFieldsWithoutOffsets checks that BODY[HEADER.FIELDS] and
// BODY[HEADER.FIELDS.NOT] of a message's own header, which FETCH answers without the
// stored part offsets, are what the header those offsets bound gives: the mime
// package's sample messages and headers that end in odd ways.
func TestHeaderFieldsWithoutOffsets(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "mime", "testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample messages: %v", err)
	}
	raws := map[string][]byte{
		"bare LF":             []byte("Subject: lf\nFrom: a@x\n\nbody\nSubject: not a field\n"),
		"no body":             []byte("Subject: only\r\nFrom: a@x\r\n"),
		"no line end":         []byte("Subject: only"),
		"mbox From line":      []byte("From a@x Mon Jan  1 00:00:00 2026\r\nSubject: mbox\r\n\r\nbody\r\n"),
		"CR before CRLF":      []byte("Subject: cr\r\n\r\r\nFrom: a@x\r\n\r\nbody\r\n"),
		"folded, white space": []byte("Subject: one\r\n two\r\n \r\nFrom : a@x\r\n\r\nSubject: body\r\n"),
		"empty":               nil,
	}
	for _, name := range files {
		if raws[filepath.Base(name)], err = os.ReadFile(name); err != nil {
			t.Fatal(err)
		}
	}
	for name, raw := range raws {
		m := testMessage(raw, 1)
		header := span(raw, m.Root.HeaderStart, m.Root.BodyStart)
		for _, section := range []string{"HEADER.FIELDS (SUBJECT FROM)", "HEADER.FIELDS.NOT (SUBJECT)"} {
			s := parseItems(t, "BODY.PEEK["+section+"]")[0].Section
			if needsOffsets(s) {
				t.Fatalf("BODY[%s] needs the part offsets", section)
			}
			got := sectionData(&store.Message{}, raw, s)
			if want := headerFields(header, s.Fields, s.Specifier == "HEADER.FIELDS.NOT"); string(got) != string(want) {
				t.Errorf("%s: BODY[%s] = %q, want %q", name, section, got, want)
			}
		}
	}
}

// sectionPaths lists the section numbers of every part down to depth levels.
func sectionPaths(msg *mime.Message, prefix []int, depth int) [][]int {
	if depth == 0 {
		return nil
	}
	var out [][]int
	for n := 1; ; n++ {
		path := append(append([]int{}, prefix...), n)
		p, ok := msg.PartAt(path)
		if !ok {
			return out
		}
		out = append(out, path)
		if len(p.Parts) > 0 || p.Message != nil {
			out = append(out, sectionPaths(msg, path, depth-1)...)
		}
		if p == &msg.Root && len(prefix) == 0 && len(msg.Root.Parts) == 0 {
			return out
		}
	}
}

// FuzzWriteFetch fetches random sections of random messages: writeFetch must never
// panic, must end its response properly, and must cope with raw bytes that do not
// match the offsets.
func FuzzWriteFetch(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "mime", "testdata", "*.eml"))
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, []byte{1, 2, 1}, uint8(0), uint16(0), uint16(10), false)
	}
	f.Add([]byte(sectionsMessage), []byte{4, 2, 2, 1}, uint8(3), uint16(2), uint16(3), false)
	f.Add([]byte(sectionsMessage), []byte{3}, uint8(2), uint16(0), uint16(0), true)
	f.Add([]byte("Content-Type: message/rfc822\r\n\r\nSubject: x\r\n"), []byte{1, 1}, uint8(1), uint16(0), uint16(0), false)
	specs := []string{"", "HEADER", "TEXT", "MIME", "HEADER.FIELDS", "HEADER.FIELDS.NOT"}
	f.Fuzz(func(t *testing.T, raw, path []byte, spec uint8, off, count uint16, truncate bool) {
		m := testMessage(raw, 1)
		if truncate {
			raw = raw[:len(raw)/2]
		}
		s := &imapwire.Section{Specifier: specs[int(spec)%len(specs)]}
		for _, n := range path[:min(len(path), 8)] {
			s.Part = append(s.Part, int(n%6))
		}
		if strings.HasPrefix(s.Specifier, "HEADER.FIELDS") {
			s.Fields = []string{"Subject", "content-type"}
		}
		var p *imapwire.Partial
		if count > 0 {
			p = &imapwire.Partial{Offset: uint64(off), Count: uint64(count)}
		}
		items := []imapwire.FetchItem{
			{Att: imapwire.FetchBodySection, Section: s, Partial: p},
			{Att: imapwire.FetchBinary, Section: &imapwire.Section{Part: s.Part}, Partial: p},
			{Att: imapwire.FetchBinarySize, Section: &imapwire.Section{Part: s.Part}},
			{Att: imapwire.FetchRFC822Header}, {Att: imapwire.FetchRFC822Text},
			{Att: imapwire.FetchEnvelope}, {Att: imapwire.FetchBodyStructure},
		}
		var b bytes.Buffer
		w := imapwire.NewWriter(bufio.NewWriter(&b))
		err := writeFetch(w, 1, m, raw, items, fetchOptions{UID: true, ModSeq: true})
		w.Flush()
		var cte *unknownCTEError
		switch {
		case errors.As(err, &cte):
			if b.Len() != 0 {
				t.Fatalf("wrote %q before failing", b.String())
			}
		case err != nil:
			t.Fatal(err)
		case !strings.HasPrefix(b.String(), "* 1 FETCH (UID 1 BODY[") || !strings.HasSuffix(b.String(), " MODSEQ (101))\r\n"):
			t.Fatalf("malformed response %q", b.String())
		}
	})
}

// TestRawBatch checks how many messages' bytes a FETCH reads at once: as many as fit
// in maxRawBatch, and always at least one.
func TestRawBatch(t *testing.T) {
	tests := []struct {
		sizes []int64
		want  int
	}{
		{[]int64{10}, 1},
		{[]int64{10, 20, 30}, 3},
		{[]int64{maxRawBatch / 2, maxRawBatch / 2, 1}, 2},
		{[]int64{maxRawBatch * 3, 1}, 1},
		{[]int64{1, maxRawBatch, 1}, 1},
	}
	for _, tt := range tests {
		msgs := make([]store.Message, len(tt.sizes))
		for i, n := range tt.sizes {
			msgs[i].Size = n
		}
		if got := rawBatch(msgs); got != tt.want {
			t.Errorf("rawBatch(%v) = %d, want %d", tt.sizes, got, tt.want)
		}
	}
}
