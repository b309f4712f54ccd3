package mime

import (
	"testing"
	"time"
)

func TestSentDate(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	cases := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"Mon, 02 Mar 2026 10:00:00 +0000", utc(2026, 3, 2, 10, 0, 0), true},
		{"Mon, 2 Mar 2026 12:00:00 +0200", utc(2026, 3, 2, 10, 0, 0), true},
		{"2 Mar 2026 10:00:00 GMT", utc(2026, 3, 2, 10, 0, 0), true},
		{"Mon, 02 Mar 2026 10:00:00 +0000 (UTC)", utc(2026, 3, 2, 10, 0, 0), true},
		{"Mon,  02  Mar 2026\r\n 10:00:00 +0000", utc(2026, 3, 2, 10, 0, 0), true},
		{"Mon, 2 Mar 2026 10:00 +0000", utc(2026, 3, 2, 10, 0, 0), true},
		{"Mon Mar  2 10:00:00 2026", utc(2026, 3, 2, 10, 0, 0), true},
		{"2026-03-02T10:00:00Z", utc(2026, 3, 2, 10, 0, 0), true},
		{"", time.Time{}, false},
		{"yesterday, around noon", time.Time{}, false},
	}
	for _, tc := range cases {
		e := Envelope{Date: tc.in}
		got, ok := e.SentDate()
		if ok != tc.ok || (ok && !got.Equal(tc.want)) {
			t.Errorf("SentDate(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestHeaders(t *testing.T) {
	raw := []byte("Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nX-Long: one\r\n two\r\nbroken line\r\nX-Priority:1\r\n\r\nX-Not-A-Header: body\r\n")
	m := Parse(raw)
	want := []Field{{"Subject", "Grüße"}, {"X-Long", "one two"}, {"X-Priority", "1"}}
	if len(m.Headers) != len(want) {
		t.Fatalf("headers = %+v", m.Headers)
	}
	for i := range want {
		if m.Headers[i] != want[i] {
			t.Errorf("header %d = %+v, want %+v", i, m.Headers[i], want[i])
		}
	}
}
