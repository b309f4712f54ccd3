package mime

import (
	"strings"
	"testing"
)

func TestTextTail(t *testing.T) {
	const head = "From: a@example.com\r\nSubject: Hello\r\n"
	for _, c := range []struct {
		name, raw string
		tail      string // the raw bytes TextTail names; "" for none
	}{
		{"plain ASCII", head + "\r\nLine one\r\nLine two\r\n\r\n", "Line one\r\nLine two"},
		{"leading and trailing space", head + "\r\n \t\r\n Body \r\n", "Body"},
		{"declared UTF-8, ASCII bytes", head + "Content-Type: text/plain; charset=\"UTF-8\"\r\n\r\nbody", "body"},
		{"non-ASCII", head + "\r\nGrüße\r\n", ""},
		{"bare LF", head + "\r\none\ntwo\r\n", ""},
		{"bare CR", head + "\r\none\rtwo\r\n", ""},
		{"quoted-printable", head + "Content-Transfer-Encoding: quoted-printable\r\n\r\nbody\r\n", ""},
		{"Latin-1", head + "Content-Type: text/plain; charset=iso-8859-1\r\n\r\nbody\r\n", ""},
		{"HTML", head + "Content-Type: text/html\r\n\r\n<p>body</p>\r\n", ""},
		{"empty body", head + "\r\n\r\n", ""},
		{"last of two parts", head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nfirst\r\n--b\r\n\r\nsecond\r\n--b--\r\n", "second"},
		{"not last", head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nfirst\r\n--b\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n--b--\r\n", ""},
		{"cut at MaxText", head + "\r\n" + strings.Repeat("x", MaxText+10) + "\r\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := []byte(c.raw)
			m := Parse(raw)
			checkTextTail(t, m, raw)
			got := string(raw[m.TextTail.Start:m.TextTail.End])
			if got != c.tail {
				t.Errorf("TextTail names %q, want %q", got, c.tail)
			}
		})
	}
}
