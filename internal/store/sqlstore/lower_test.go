package sqlstore

import (
	"strings"
	"testing"
)

func TestLower(t *testing.T) {
	long := strings.Repeat("The Quick Brown Fox 0123 ", 500) // past one 4096-byte block
	for _, s := range []string{
		"", "a", "A", "already lower", "MiXeD Case", "@[`{", long, strings.ToLower(long),
		"ÄÖÜ Straße", "ascii then Ünicode", "ǅ title case", "\xff\xfe invalid UTF-8 ABC",
	} {
		if got, want := lower(s), strings.ToLower(s); got != want {
			t.Errorf("lower(%.40q) = %.40q, want %.40q", s, got, want)
		}
	}
}

func BenchmarkLower(b *testing.B) {
	s := strings.Repeat("The quick brown fox jumps over the lazy dog, Again and AGAIN.\r\n", 1600)
	b.SetBytes(int64(len(s)))
	for _, c := range []struct {
		name string
		f    func(string) string
	}{{"lower", lower}, {"strings.ToLower", strings.ToLower}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				c.f(s)
			}
		})
	}
}

// TestLowerEveryByte checks each ASCII byte in every position of an 8-byte word and
// the tail, against strings.ToLower.
func TestLowerEveryByte(t *testing.T) {
	for c := 0; c < 0x80; c++ {
		for pos := 0; pos < 11; pos++ {
			s := []byte("aaaaaaaaaaa")
			s[pos] = byte(c)
			if got, want := lower(string(s)), strings.ToLower(string(s)); got != want {
				t.Errorf("lower(%q) = %q, want %q", s, got, want)
			}
		}
	}
}

func FuzzLower(f *testing.F) {
	for _, s := range []string{"", "Hello World", "ÄÖÜ", strings.Repeat("AbC", 2000) + "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := lower(s), strings.ToLower(s); got != want {
			t.Errorf("lower(%q) = %q, want %q", s, got, want)
		}
	})
}
