package directory

import (
	"fmt"
	"strings"
	"unicode"
)

// Address is a mailbox address split into its parts, both in lower case.
type Address struct {
	Local  string
	Domain string
}

// String returns local@domain.
func (a Address) String() string { return a.Local + "@" + a.Domain }

// Limits from RFC 5321 section 4.5.3.1: a local part of at most 64 octets, and a path
// of at most 256 octets including the angle brackets, which leaves 254 for the address.
const (
	maxLocalLen   = 64
	maxAddressLen = 254
	maxDomainLen  = 253 // RFC 1035 section 2.3.4, written without the root dot
	maxLabelLen   = 63
)

// ParseAddress parses a mailbox address local@domain and returns it in lower case.
// The local part must be a dot-atom (RFC 5321 section 4.1.2, RFC 5322 section 3.2.3):
// quoted local parts and non-ASCII (SMTPUTF8) addresses are refused, since clients and
// profiles handle them poorly. The domain must be a valid ASCII DNS name; an
// internationalised domain is given in its xn-- form.
func ParseAddress(s string) (Address, error) {
	if s == "" {
		return Address{}, fmt.Errorf("%w: address is empty", ErrInvalid)
	}
	if len(s) > maxAddressLen {
		return Address{}, fmt.Errorf("%w: address %q is longer than %d characters", ErrInvalid, clip(s), maxAddressLen)
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return Address{}, fmt.Errorf("%w: address %q has no @", ErrInvalid, s)
	}
	local, domain := s[:at], s[at+1:]
	if local == "" {
		return Address{}, fmt.Errorf("%w: address %q has nothing before the @", ErrInvalid, s)
	}
	if domain == "" {
		return Address{}, fmt.Errorf("%w: address %q has nothing after the @", ErrInvalid, s)
	}
	if len(local) > maxLocalLen {
		return Address{}, fmt.Errorf("%w: address %q has a local part longer than %d characters", ErrInvalid, s, maxLocalLen)
	}
	if err := checkDotAtom(local); err != nil {
		return Address{}, fmt.Errorf("%w: address %q: %s", ErrInvalid, s, err)
	}
	d, err := parseDomainName(domain)
	if err != nil {
		return Address{}, fmt.Errorf("%w: address %q: %s", ErrInvalid, s, err)
	}
	return Address{Local: strings.ToLower(local), Domain: d}, nil
}

// checkDotAtom reports why local is not a dot-atom: atext runs separated by single dots.
func checkDotAtom(local string) error {
	if local[0] == '.' || local[len(local)-1] == '.' {
		return fmt.Errorf("the local part %q starts or ends with a dot", local)
	}
	if strings.Contains(local, "..") {
		return fmt.Errorf("the local part %q has two dots in a row", local)
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c != '.' && !isAtext(c) {
			return fmt.Errorf("the local part %q contains %s", local, describeByte(c))
		}
	}
	return nil
}

// isAtext reports whether c is atext (RFC 5322 section 3.2.3).
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func describeByte(c byte) string {
	switch {
	case c == ' ':
		return "a space"
	case c < ' ' || c == 0x7f:
		return fmt.Sprintf("the control character %#02x", c)
	case c >= 0x80:
		return "a non-ASCII character"
	}
	return fmt.Sprintf("the character %q", rune(c))
}

// parseDomainName checks that s is a DNS host name usable for mail and returns it in
// lower case without a trailing root dot. Labels are letters, digits and hyphens
// (RFC 1123 section 2.1), not starting or ending with a hyphen; a label with hyphens in
// its third and fourth place is reserved unless it is an IDNA A-label ("xn--" followed
// by valid Punycode, RFC 5890 section 2.3.1). At least two labels, and a top-level
// label that is not all digits, so that an IP address is not taken for a domain.
func parseDomainName(s string) (string, error) {
	name := strings.TrimSuffix(s, ".")
	if name == "" {
		return "", fmt.Errorf("the domain %q is empty", s)
	}
	if len(name) > maxDomainLen {
		return "", fmt.Errorf("the domain %q is longer than %d characters", clip(s), maxDomainLen)
	}
	name = strings.ToLower(name)
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("the domain %q needs at least two labels, as in example.com", s)
	}
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return "", fmt.Errorf("the domain %q: %s", s, err)
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", fmt.Errorf("the domain %q has an all-numeric top-level label", s)
	}
	return name, nil
}

func checkLabel(l string) error {
	if l == "" {
		return fmt.Errorf("has an empty label")
	}
	if len(l) > maxLabelLen {
		return fmt.Errorf("the label %q is longer than %d characters", l, maxLabelLen)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			if c >= 0x80 {
				return fmt.Errorf("the label %q is not ASCII; give the xn-- (Punycode) form", l)
			}
			return fmt.Errorf("the label %q contains %s", l, describeByte(c))
		}
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("the label %q starts or ends with a hyphen", l)
	}
	if len(l) >= 4 && l[2:4] == "--" {
		if !strings.HasPrefix(l, "xn--") {
			return fmt.Errorf("the label %q has hyphens in the third and fourth place, which is reserved", l)
		}
		if err := checkALabel(l[4:]); err != nil {
			return fmt.Errorf("the label %q is not a valid IDNA A-label: %s", l, err)
		}
	}
	return nil
}

// checkALabel checks the Punycode part of an A-label: it must decode, to something
// with a non-ASCII character (else the plain ASCII form is to be used) made only of
// lower-case letters, marks, digits and hyphens. That approximates IDNA2008's PVALID
// rule (RFC 5892) without its tables: it rejects control characters, symbols,
// punctuation and upper case, which no registry hands out.
func checkALabel(code string) error {
	u, err := punycodeDecode(code)
	if err != nil {
		return err
	}
	ascii := true
	for _, r := range u {
		if r >= 0x80 {
			ascii = false
		}
		if !(unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) || r == '-') || unicode.IsUpper(r) {
			return fmt.Errorf("it decodes to %q, which has the character %q", u, r)
		}
	}
	if ascii {
		return fmt.Errorf("it decodes to plain ASCII")
	}
	return nil
}

// clip shortens a long value for an error message.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	return s[:77] + "..."
}
