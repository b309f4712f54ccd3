package imapwire

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"mailroom/internal/mime"
)

// written runs f on a fresh Writer and returns the bytes flushed.
func written(t *testing.T, utf8 bool, f func(w *Writer)) string {
	t.Helper()
	var b bytes.Buffer
	w := NewWriter(bufio.NewWriter(&b))
	w.SetUTF8(utf8)
	f(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestWriterEncoding(t *testing.T) {
	long := strings.Repeat("a", 1001)
	tests := []struct {
		name string
		utf8 bool
		f    func(w *Writer)
		want string
	}{
		{"quoted", false, func(w *Writer) { w.String("hello world") }, `"hello world"`},
		{"escapes", false, func(w *Writer) { w.String(`a"b\c`) }, `"a\"b\\c"`},
		{"empty", false, func(w *Writer) { w.String("") }, `""`},
		{"CRLF needs literal", false, func(w *Writer) { w.String("a\r\nb") }, "{4}\r\na\r\nb"},
		{"8-bit to rev1 is a literal", false, func(w *Writer) { w.String("café") }, "{5}\r\ncafé"},
		{"UTF-8 to rev2 is quoted", true, func(w *Writer) { w.String("café") }, `"café"`},
		{"invalid UTF-8 is a literal", true, func(w *Writer) { w.String("\xff") }, "{1}\r\n\xff"},
		{"long is a literal", false, func(w *Writer) { w.String(long) }, "{1001}\r\n" + long},
		{"astring atom", false, func(w *Writer) { w.AString("INBOX]") }, "INBOX]"},
		{"astring NIL", false, func(w *Writer) { w.AString("NIL") }, `"NIL"`},
		{"astring empty", false, func(w *Writer) { w.AString("") }, `""`},
		{"astring space", false, func(w *Writer) { w.AString("a b") }, `"a b"`},
		{"nstring", false, func(w *Writer) { w.NString("").SP().NString("x") }, `NIL "x"`},
		{"literal", false, func(w *Writer) { w.Literal([]byte("abc")) }, "{3}\r\nabc"},
		{"literal8", false, func(w *Writer) { w.Literal8([]byte("a\x00")) }, "~{2}\r\na\x00"},
		{"number", false, func(w *Writer) { w.Number(18446744073709551615).SP().Number32(0) }, "18446744073709551615 0"},
		{"mailbox mUTF-7", false, func(w *Writer) { w.Mailbox("Entwürfe") }, `"Entw&APw-rfe"`},
		{"mailbox UTF-8", true, func(w *Writer) { w.Mailbox("Entwürfe") }, `"Entwürfe"`},
		{"mailbox quote", false, func(w *Writer) { w.Mailbox(`a"b`) }, `"a\"b"`},
		{"strings", false, func(w *Writer) { w.Strings([]string{"a", "b c"}).SP().Strings(nil) }, `("a" "b c") ()`},
		{"flags", false, func(w *Writer) { w.Flags([]string{`\Seen`, "$Junk"}) }, `(\Seen $Junk)`},
		{"seqset", false, func(w *Writer) { w.SeqSet(SeqSetOf([]uint32{1, 2, 3, 5})) }, "1:3,5"},
		{"date-time", false, func(w *Writer) {
			w.DateTime(time.Date(1996, 7, 17, 2, 44, 25, 0, time.FixedZone("", -7*3600)))
		}, `"17-Jul-1996 02:44:25 -0700"`},
		{"exists", false, func(w *Writer) { w.NumberResponse(172, "EXISTS") }, "* 172 EXISTS\r\n"},
		{"capability", false, func(w *Writer) { w.Capability([]string{"IMAP4rev2", "IMAP4rev1", "IDLE"}) },
			"* CAPABILITY IMAP4rev2 IMAP4rev1 IDLE\r\n"},
		{"vanished", false, func(w *Writer) {
			w.Vanished(true, SeqSetOf([]uint32{41, 43, 44, 45})).Vanished(false, SeqSetOf([]uint32{7}))
		}, "* VANISHED (EARLIER) 41,43:45\r\n* VANISHED 7\r\n"},
		{"fetch response", false, func(w *Writer) {
			w.Untagged().Number32(12).Atom(" FETCH (FLAGS ").Flags([]string{`\Seen`}).
				Atom(" BODY[]<0> ").Literal([]byte("Hi")).Close().CRLF()
		}, "* 12 FETCH (FLAGS (\\Seen) BODY[]<0> {2}\r\nHi)\r\n"},
		{"continue", false, func(w *Writer) { w.Continue("Ready").Continue("") }, "+ Ready\r\n+ Ready\r\n"},
		{"continue base64", false, func(w *Writer) { w.ContinueBase64([]byte("challenge")).ContinueBase64(nil) },
			"+ Y2hhbGxlbmdl\r\n+ \r\n"},
	}
	for _, tt := range tests {
		if got := written(t, tt.utf8, tt.f); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestStatusResponses(t *testing.T) {
	tests := []struct {
		tag  string
		cond Condition
		code *ResponseCode
		text string
		want string
	}{
		{"a1", OK, nil, "LOGIN completed", "a1 OK LOGIN completed\r\n"},
		{"", OK, CodeUIDValidity(3857529045), "UIDs valid", "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"},
		{"", OK, CodeUIDNext(4392), "Predicted next UID", "* OK [UIDNEXT 4392] Predicted next UID\r\n"},
		{"", OK, CodeUnseen(12), "first unseen", "* OK [UNSEEN 12] first unseen\r\n"},
		{"A003", NO, Code("TRYCREATE"), "No such mailbox", "A003 NO [TRYCREATE] No such mailbox\r\n"},
		{"A003", OK, CodeAppendUID(38505, SeqSetOf([]uint32{3955})), "APPEND completed",
			"A003 OK [APPENDUID 38505 3955] APPEND completed\r\n"},
		{"A004", OK, CodeCopyUID(38505, SeqSetOf([]uint32{304, 319, 320}), SeqSetOf([]uint32{3956, 3957, 3958})), "Done",
			"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"},
		{"", OK, CodeHighestModSeq(715194045007), "Highest", "* OK [HIGHESTMODSEQ 715194045007] Highest\r\n"},
		{"d105", OK, CodeModified(SeqSetOf([]uint32{7, 9})), "Conditional STORE failed",
			"d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n"},
		{"", OK, Code("CLOSED"), "Previous mailbox is now closed", "* OK [CLOSED] Previous mailbox is now closed\r\n"},
		{"", NO, Code("ALERT"), "Disk full\r\nreally", "* NO [ALERT] Disk full  really\r\n"},
		{"", OK, CodeCapability([]string{"IMAP4rev1", "LITERAL+"}), "Hello", "* OK [CAPABILITY IMAP4rev1 LITERAL+] Hello\r\n"},
		{"", OK, CodePermanentFlags([]string{`\Deleted`, `\Seen`, `\*`}), "Limited",
			"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"},
		{"", NO, CodeBadCharset([]string{"UTF-8", "US-ASCII"}), "charset", "* NO [BADCHARSET (UTF-8 US-ASCII)] charset\r\n"},
		{"a", NO, CodeBadCharset(nil), "charset", "a NO [BADCHARSET] charset\r\n"},
		{"a", BAD, Code("TOOBIG"), "", "a BAD [TOOBIG] BAD\r\n"},
		{"", BYE, nil, "Logging out", "* BYE Logging out\r\n"},
		{"", PREAUTH, nil, "Welcome", "* PREAUTH Welcome\r\n"},
	}
	for _, tt := range tests {
		got := written(t, false, func(w *Writer) { w.StatusResponse(tt.tag, tt.cond, tt.code, tt.text) })
		if got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriterStickyError(t *testing.T) {
	w := NewWriter(bufio.NewWriterSize(failWriter{}, 16))
	w.String(strings.Repeat("x", 100)).CRLF()
	if w.Err() == nil || w.Flush() == nil {
		t.Error("write error not reported")
	}
}

// The expected ENVELOPE and BODYSTRUCTURE strings were written by hand from RFC 3501
// section 7.4.2 and RFC 9051 section 7.5.2 and the testdata messages of internal/mime;
// sizes and line counts were counted in the files.
func TestEnvelopeAndBodyStructure(t *testing.T) {
	tests := []struct {
		file, envelope, body, bodyStructure string
	}{
		{
			file: "plain.eml",
			envelope: `("Mon, 3 Mar 2025 09:59:58 +0000" "Lunch tomorrow?" (("Alice Example" NIL "alice" "example.com"))` +
				` (("Alice Example" NIL "alice" "example.com")) (("Alice Example" NIL "alice" "example.com"))` +
				` (("Bob, the Builder" NIL "bob" "example.org")("Carol C." NIL "carol" "example.net"))` +
				` ((NIL NIL "dave" "example.net")) NIL "<prev.0@example.org>" "<lunch.1@example.com>")`,
			body:          `("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "8BIT" 46 2)`,
			bodyStructure: `("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "8BIT" 46 2 NIL NIL NIL NIL)`,
		},
		{
			file: "alternative.eml",
			envelope: `("Tue, 4 Mar 2025 08:00:00 +0100" "=?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?="` +
				` (("=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" NIL "joerg" "example.de"))` +
				` (("=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" NIL "joerg" "example.de"))` +
				` (("=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" NIL "joerg" "example.de"))` +
				` ((NIL NIL "team" "example.com")) NIL NIL NIL "<alt.2@example.de>")`,
			body: `(("TEXT" "PLAIN" ("CHARSET" "UTF-8") NIL NIL "QUOTED-PRINTABLE" 89 2)` +
				`("TEXT" "HTML" ("CHARSET" "UTF-8") NIL NIL "7BIT" 199 2) "ALTERNATIVE")`,
			bodyStructure: `(("TEXT" "PLAIN" ("CHARSET" "UTF-8") NIL NIL "QUOTED-PRINTABLE" 89 2 NIL NIL NIL NIL)` +
				`("TEXT" "HTML" ("CHARSET" "UTF-8") NIL NIL "7BIT" 199 2 NIL NIL NIL NIL)` +
				` "ALTERNATIVE" ("BOUNDARY" "alt-boundary") NIL NIL NIL)`,
		},
		{
			file: "mixed-attachment.eml",
			envelope: `("Wed, 5 Mar 2025 12:00:00 +0000" "Report attached" (("Erin" NIL "erin" "example.com"))` +
				` (("Erin" NIL "erin" "example.com")) (("Erin" NIL "erin" "example.com"))` +
				` (("Frank" NIL "frank" "example.com")) NIL NIL NIL "<mixed.3@example.com>")`,
			body: `(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 32 1)` +
				`("APPLICATION" "PDF" ("NAME" "report.pdf") "<part2@example.com>" "Monthly report" "BASE64" 114) "MIXED")`,
			// The RFC 2231 file name is decoded to UTF-8, which an IMAP4rev1 client
			// gets as a literal.
			bodyStructure: `(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 32 1 NIL NIL NIL NIL)` +
				`("APPLICATION" "PDF" ("NAME" "report.pdf") "<part2@example.com>" "Monthly report" "BASE64" 114` +
				` NIL ("ATTACHMENT" ("FILENAME" {22}` + "\r\n" + `Bericht für März.pdf)) ("de" "en") NIL)` +
				` "MIXED" ("BOUNDARY" "----=_Part_0_123.456") NIL NIL NIL)`,
		},
		{
			file: "nested-rfc822.eml",
			envelope: `("Thu, 6 Mar 2025 15:00:00 +0000" "Fwd: Plans" (("Grace" NIL "grace" "example.com"))` +
				` (("Grace" NIL "grace" "example.com")) (("Grace" NIL "grace" "example.com"))` +
				` (("Heidi" NIL "heidi" "example.com")) NIL NIL NIL "<fwd.4@example.com>")`,
			body: `(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 29 1)` +
				`("MESSAGE" "RFC822" NIL NIL "Plans" "7BIT" 393` +
				` ("Wed, 5 Mar 2025 09:00:00 +0000" "Plans" (("Ivan" NIL "ivan" "example.com"))` +
				` (("Ivan" NIL "ivan" "example.com")) (("Ivan" NIL "ivan" "example.com"))` +
				` (("Grace" NIL "grace" "example.com")) NIL NIL NIL "<plans.1@example.com>")` +
				` (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 15 1)("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 29 1) "ALTERNATIVE")` +
				` 17)` +
				`("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 66` +
				` (NIL "Short note" (("Judy" NIL "judy" "example.com")) (("Judy" NIL "judy" "example.com"))` +
				` (("Judy" NIL "judy" "example.com")) NIL NIL NIL NIL NIL)` +
				` ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 12 1) 4) "MIXED")`,
			bodyStructure: `(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 29 1 NIL NIL NIL NIL)` +
				`("MESSAGE" "RFC822" NIL NIL "Plans" "7BIT" 393` +
				` ("Wed, 5 Mar 2025 09:00:00 +0000" "Plans" (("Ivan" NIL "ivan" "example.com"))` +
				` (("Ivan" NIL "ivan" "example.com")) (("Ivan" NIL "ivan" "example.com"))` +
				` (("Grace" NIL "grace" "example.com")) NIL NIL NIL "<plans.1@example.com>")` +
				` (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 15 1 NIL NIL NIL NIL)` +
				`("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 29 1 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL)` +
				` 17 NIL NIL NIL NIL)` +
				`("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 66` +
				` (NIL "Short note" (("Judy" NIL "judy" "example.com")) (("Judy" NIL "judy" "example.com"))` +
				` (("Judy" NIL "judy" "example.com")) NIL NIL NIL NIL NIL)` +
				` ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 12 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)` +
				` "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)`,
		},
		{
			// Groups: start marker (NIL NIL "name" NIL), members, end marker
			// (NIL NIL NIL NIL) (RFC 3501 section 7.4.2).
			file: "group.eml",
			envelope: `(NIL "Group test" (("Doe, John" NIL "john.doe" "example.com"))` +
				` ((NIL NIL "secretary" "example.com")) (("Reply Desk" NIL "replies" "example.com"))` +
				` ((NIL NIL "Friends" NIL)(NIL NIL "alice" "example.com")("Bob" NIL "bob" "example.org")(NIL NIL NIL NIL)(NIL NIL "carol" "example.net"))` +
				` ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))` +
				` ((NIL NIL "eve" "example.com")) NIL "<group.5@example.com>")`,
			body:          `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1)`,
			bodyStructure: `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1 NIL NIL NIL NIL)`,
		},
	}
	for _, tt := range tests {
		raw, err := os.ReadFile("../../mime/testdata/" + tt.file)
		if err != nil {
			t.Fatal(err)
		}
		m := mime.Parse(raw)
		if got := written(t, false, func(w *Writer) { w.Envelope(&m.Envelope) }); got != tt.envelope {
			t.Errorf("%s ENVELOPE:\n got %s\nwant %s", tt.file, got, tt.envelope)
		}
		if got := written(t, false, func(w *Writer) { w.BodyStructure(&m.Root, false) }); got != tt.body {
			t.Errorf("%s BODY:\n got %s\nwant %s", tt.file, got, tt.body)
		}
		if got := written(t, false, func(w *Writer) { w.BodyStructure(&m.Root, true) }); got != tt.bodyStructure {
			t.Errorf("%s BODYSTRUCTURE:\n got %s\nwant %s", tt.file, got, tt.bodyStructure)
		}
	}
}

// TestBodyStructureExtensions covers the extension fields the testdata messages lack:
// MD5, location, a single language, and a message/rfc822 part mime left unparsed.
func TestBodyStructureExtensions(t *testing.T) {
	p := &mime.Part{
		Type: "text", Subtype: "plain", Encoding: "base64", MD5: "Q2hlY2sgSW50ZWdyaXR5IQ==",
		Disposition: "inline", Language: []string{"en"}, Location: "http://example.com/a.txt",
		BodyStart: 10, End: 30, Lines: 1,
	}
	want := `("TEXT" "PLAIN" NIL NIL NIL "BASE64" 20 1 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("INLINE" NIL) ("en") "http://example.com/a.txt")`
	if got := written(t, false, func(w *Writer) { w.BodyStructure(p, true) }); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// message/rfc822 in base64 has no parsed Message: a basic body.
	p = &mime.Part{Type: "message", Subtype: "rfc822", Encoding: "base64", BodyStart: 0, End: 8, Lines: 1}
	want = `("MESSAGE" "RFC822" NIL NIL NIL "BASE64" 8)`
	if got := written(t, false, func(w *Writer) { w.BodyStructure(p, false) }); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
