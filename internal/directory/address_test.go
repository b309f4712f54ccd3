package directory

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	tests := []struct {
		in      string
		want    string // "" = invalid
		errPart string // a part of the error text, for invalid ones
	}{
		{"alice@example.com", "alice@example.com", ""},
		{"Alice.Smith@Example.COM", "alice.smith@example.com", ""},
		{"a+tag@example.com", "a+tag@example.com", ""},
		{"o'brien@example.com", "o'brien@example.com", ""},
		{"x!#$%&'*+-/=?^_`{|}~@example.com", "x!#$%&'*+-/=?^_`{|}~@example.com", ""},
		{"alice@example.com.", "alice@example.com", ""},
		{"alice@xn--bcher-kva.example", "alice@xn--bcher-kva.example", ""},
		{"alice@sub-1.example.co.uk", "alice@sub-1.example.co.uk", ""},
		{strings.Repeat("l", 64) + "@example.com", strings.Repeat("l", 64) + "@example.com", ""},
		{"", "", "empty"},
		{"alice", "", "no @"},
		{"@example.com", "", "nothing before"},
		{"alice@", "", "nothing after"},
		{"al ice@example.com", "", "a space"},
		{" alice@example.com", "", "a space"},
		{"alice@exam ple.com", "", "a space"},
		{".alice@example.com", "", "starts or ends with a dot"},
		{"alice.@example.com", "", "starts or ends with a dot"},
		{"al..ice@example.com", "", "two dots"},
		{`"al ice"@example.com`, "", `the character '"'`},
		{"al(ice@example.com", "", "the character '('"},
		{"alice@@example.com", "", "the character '@'"},
		{"al\tice@example.com", "", "control character"},
		{"jörg@example.com", "", "non-ASCII"},
		{"alice@bücher.example", "", "xn--"},
		{strings.Repeat("l", 65) + "@example.com", "", "local part longer than 64"},
		{"a@" + long63 + "." + long63 + "." + long63 + "." + long63 + ".com", "", "longer than 254"},
		{"alice@localhost", "", "two labels"},
		{"alice@example..com", "", "empty label"},
		{"alice@-example.com", "", "hyphen"},
		{"alice@example-.com", "", "hyphen"},
		{"alice@ex_ample.com", "", "the character '_'"},
		{"alice@" + strings.Repeat("a", 64) + ".com", "", "longer than 63"},
		{"alice@192.168.1.1", "", "all-numeric"},
		{"alice@[192.168.1.1]", "", "the character '['"},
		{"alice@ab--cd.example", "", "reserved"},
		{"alice@xn--ab.example", "", "A-label"},
		{"alice@xn--a.example", "", "A-label"},
		{"alice@xn--abc-.example", "", "hyphen"},
		{"alice@xn--a!b.example", "", "the character '!'"},
	}
	for _, tt := range tests {
		got, err := ParseAddress(tt.in)
		if tt.want != "" {
			if err != nil || got.String() != tt.want {
				t.Errorf("ParseAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseAddress(%q) = %q, %v; want ErrInvalid", tt.in, got, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.errPart) {
			t.Errorf("ParseAddress(%q) error %q does not mention %q", tt.in, err, tt.errPart)
		}
	}
}

func TestPunycodeDecode(t *testing.T) {
	// Expected values from RFC 3492 section 7.1 and Python's punycode codec.
	tests := []struct{ in, want string }{
		{"bcher-kva", "bücher"},
		{"ihqwcrb4cv8a8dqg056pqjye", "他们为什么不说中文"},
		{"egbpdaj6bu4bxfgehfvwxn", "ليهمابتكلموشعربي؟"},
		{"mnchen-ost-9db", "münchen-ost"},
		{"tda", "ü"},
	}
	for _, tt := range tests {
		got, err := punycodeDecode(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("punycodeDecode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"99999999999", "ab!", "é-tda", "9"} {
		if got, err := punycodeDecode(bad); err == nil {
			t.Errorf("punycodeDecode(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"alice@example.com", "A.B+c@Sub.Example.ORG.", "x@xn--bcher-kva.example",
		`"q"@example.com`, "a@b", "@", "a..b@c.d", "a@xn--.com", "a@xn--99999999999.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseAddress(%q): error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		out := a.String()
		if len(out) > maxAddressLen || len(a.Local) > maxLocalLen || a.Local == "" || a.Domain == "" {
			t.Fatalf("ParseAddress(%q) = %q breaks a length limit", s, out)
		}
		if out != strings.ToLower(out) || strings.ContainsAny(out, " \t\r\n\"(),:;<>[\\]") {
			t.Fatalf("ParseAddress(%q) = %q is not lower-case dot-atom", s, out)
		}
		again, err := ParseAddress(out)
		if err != nil || again != a {
			t.Fatalf("ParseAddress(%q) = %q does not parse to itself: %q, %v", s, out, again, err)
		}
	})
}
