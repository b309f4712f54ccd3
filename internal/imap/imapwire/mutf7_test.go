package imapwire

import (
	"errors"
	"testing"
)

func TestMUTF7(t *testing.T) {
	for _, tt := range []struct{ utf8, mutf7 string }{
		{"INBOX", "INBOX"},
		{"AT&T", "AT&-T"},
		{"&", "&-"},
		{"Entwürfe", "Entw&APw-rfe"},
		// RFC 3501 section 5.1.3's example.
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{"ä&ö", "&AOQ-&-&APY-"},
		{"😀", "&2D3eAA-"},
		{"a\tb", "a&AAk-b"},
		{"", ""},
	} {
		if got := EncodeMUTF7(tt.utf8); got != tt.mutf7 {
			t.Errorf("Encode(%q) = %q, want %q", tt.utf8, got, tt.mutf7)
		}
		if got, err := DecodeMUTF7(tt.mutf7); err != nil || got != tt.utf8 {
			t.Errorf("Decode(%q) = %q, %v, want %q", tt.mutf7, got, err, tt.utf8)
		}
	}
	for _, tt := range []struct {
		in   string
		want error
	}{
		{"caf\xc3\xa9", ErrMUTF7Char},
		{"a\tb", ErrMUTF7Char},
		{"&AOQ", ErrMUTF7Encoding},       // unterminated
		{"&AGE-", ErrMUTF7Encoding},      // encodes "a"
		{"&AOQ-&APY-", ErrMUTF7Encoding}, // adjacent runs
		{"&AOR-", ErrMUTF7Encoding},      // non-zero padding bits
		{"&A-", ErrMUTF7Encoding},        // too short
		{"&2D0-", ErrMUTF7Encoding},      // lone surrogate
		{"&AO/-", ErrMUTF7Encoding},      // "/" is not modified BASE64
	} {
		if _, err := DecodeMUTF7(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("Decode(%q) err = %v, want %v", tt.in, err, tt.want)
		}
	}
}
