package mime

import (
	"encoding/base64"
	"strings"
	"testing"
)

// benchMessage builds a realistic multipart/mixed message of about size bytes: a
// multipart/alternative text and HTML body, then a base64 attachment filling the rest.
func benchMessage(size int) []byte {
	var b strings.Builder
	b.WriteString("From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>, carol@example.net\r\n" +
		"Subject: =?utf-8?q?Quarterly_r=C3=A9sum=C3=A9?=\r\nDate: Mon, 3 Mar 2025 10:00:00 +0000\r\n" +
		"Message-ID: <bench@example.com>\r\nReferences: <a@x> <b@x> <c@x>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n" +
		"--mix\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n" +
		"--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	para := "The quick brown fox jumps over the lazy dog. Caf=C3=A9 cr=C3=A8me br=C3=BBl=C3=A9e.\r\n"
	for range 20 {
		b.WriteString(para)
	}
	b.WriteString("\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>")
	for range 20 {
		b.WriteString("<p>The quick <b>brown</b> fox &amp; the lazy dog.</p>\r\n")
	}
	b.WriteString("</body></html>\r\n--alt--\r\n\r\n--mix\r\nContent-Type: application/octet-stream\r\n" +
		"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename*=utf-8''data%C3%A9.bin\r\n\r\n")
	line := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x00\x01binary payload\xff", 4))[:57]) + "\r\n"
	for b.Len() < size-len("--mix--\r\n")-len(line) {
		b.WriteString(line)
	}
	b.WriteString("--mix--\r\n")
	return []byte(b.String())
}

// benchText builds a single text/plain quoted-printable message of about size bytes,
// which exercises the search-text path rather than the attachment scan.
func benchText(size int) []byte {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nSubject: long\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	for b.Len() < size {
		b.WriteString("The quick brown fox jumps over the lazy dog. Caf=C3=A9 cr=C3=A8me br=C3=BBl=C3=A9e.\r\n")
	}
	return []byte(b.String())
}

// benchPlain builds a text/plain message in 7-bit ASCII of about size bytes, whose text
// is a copy of its body (Message.TextTail).
func benchPlain(size int) []byte {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nSubject: plain\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	for b.Len() < size {
		b.WriteString("The quick brown fox jumps over the lazy dog, Again and AGAIN.\r\n")
	}
	return []byte(b.String())
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name  string
		raw   []byte
		parts int
	}{
		{"10KB", benchMessage(10 << 10), 2},
		{"1MB", benchMessage(1 << 20), 2},
		{"1MB-text", benchText(1 << 20), 0},
		{"100KB-plain", benchPlain(100 << 10), 0},
	} {
		if got := len(Parse(bc.raw).Root.Parts); got != bc.parts {
			b.Fatalf("%s: %d body parts, want %d", bc.name, got, bc.parts)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.raw)))
			b.ReportAllocs()
			for b.Loop() {
				Parse(bc.raw)
			}
		})
	}
}
