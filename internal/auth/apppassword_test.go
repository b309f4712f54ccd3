package auth

import "testing"

func TestNormalizeAppSecret(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"abcd-efgh-ijkl-mnop", "abcdefghijklmnop", true},
		{"ABCD EFGH IJKL MNOP", "abcdefghijklmnop", true},
		{"abcdefghijklmnop", "abcdefghijklmnop", true},
		{"abcd-efgh-ijkl-mno", "", false},
		{"abcd-efgh-ijkl-mnop1", "", false},
		{"correct horse battery", "", false},
		{"", "", false},
	} {
		got, ok := normalizeAppSecret(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("normalizeAppSecret(%q) = %q, %v", tt.in, got, ok)
		}
	}
	for range 100 {
		s := newAppSecret()
		if n, ok := normalizeAppSecret(formatAppSecret(s)); !ok || n != s {
			t.Fatalf("secret %q does not round-trip", s)
		}
	}
}
