package mailio

import "testing"

func TestCRLF(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a\nb\n", "a\r\nb\r\n"},
		{"a\r\nb\r\n", "a\r\nb\r\n"},
		{"\n", "\r\n"},
		{"a\r\nb\nc", "a\r\nb\r\nc"},
		{"lone\rcr\n", "lone\rcr\r\n"},
	} {
		if got := string(CRLF([]byte(tc.in))); got != tc.want {
			t.Errorf("CRLF(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
