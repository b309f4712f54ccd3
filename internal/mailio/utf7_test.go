package mailio

import (
	"testing"
	"unicode/utf8"
)

func TestModifiedUTF7(t *testing.T) {
	// Examples from RFC 3501 section 5.1.3 and RFC 2152.
	tests := []struct{ decoded, encoded string }{
		{"INBOX", "INBOX"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"a&b", "a&-b"},
		{"&", "&-"},
		{"😀", "&2D3eAA-"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := encodeMUTF7(tt.decoded); got != tt.encoded {
			t.Errorf("encode(%q) = %q, want %q", tt.decoded, got, tt.encoded)
		}
		if got, err := decodeMUTF7(tt.encoded); err != nil || got != tt.decoded {
			t.Errorf("decode(%q) = %q, %v, want %q", tt.encoded, got, err, tt.decoded)
		}
	}
	for _, bad := range []string{
		"&U,BTFw",   // unterminated
		"&AGE-",     // "a" must stand for itself
		"&2D0-",     // lone surrogate
		"&AP-",      // bits left over
		"&A-",       // not a whole UTF-16 unit
		"caf\u00e9", // 8-bit byte
		"&U/BTFw-",  // "/" is not in the modified alphabet
	} {
		if got, err := decodeMUTF7(bad); err == nil {
			t.Errorf("decode(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzModifiedUTF7(f *testing.F) {
	for _, seed := range []string{"INBOX", "&U,BTFw-", "Entw&APw-rfe", "&-", "&", "&2D3eAA-", "&2D0-"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if dec, err := decodeMUTF7(s); err == nil {
			if again, err := decodeMUTF7(encodeMUTF7(dec)); err != nil || again != dec {
				t.Fatalf("%q decodes to %q, which does not survive encoding: %q, %v", s, dec, again, err)
			}
		}
		if utf8.ValidString(s) {
			if got, err := decodeMUTF7(encodeMUTF7(s)); err != nil || got != s {
				t.Fatalf("round trip of %q gave %q, %v", s, got, err)
			}
		}
	})
}
