package mailio

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf16"
)

// errBadUTF7 reports a string that is not valid modified UTF-7.
var errBadUTF7 = errors.New("mailio: invalid modified UTF-7")

// mutf7Base64 is the modified BASE64 of RFC 3501 section 5.1.3: RFC 2045's
// alphabet with "," for "/", and no padding.
func mutf7Base64() *base64.Encoding {
	return base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").
		WithPadding(base64.NoPadding).Strict()
}

// encodeMUTF7 encodes a mailbox name in modified UTF-7 (RFC 3501 section
// 5.1.3): printable US-ASCII except "&" stands for itself, "&" is "&-", and
// runs of other characters are UTF-16BE in modified BASE64 between "&" and
// "-".
func encodeMUTF7(s string) string {
	var b strings.Builder
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		units := utf16.Encode(run)
		buf := make([]byte, 0, 2*len(units))
		for _, u := range units {
			buf = append(buf, byte(u>>8), byte(u))
		}
		b.WriteByte('&')
		b.WriteString(mutf7Base64().EncodeToString(buf))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteRune(r)
			}
			continue
		}
		run = append(run, r)
	}
	flush()
	return b.String()
}

// decodeMUTF7 decodes a modified UTF-7 mailbox name (RFC 3501 section
// 5.1.3). It refuses bytes outside printable US-ASCII, unterminated or
// malformed BASE64 runs, odd lengths and unpaired surrogates, so that a
// name that was never encoded is recognised as such.
func decodeMUTF7(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", errBadUTF7
		}
		if c != '&' {
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return "", errBadUTF7
		}
		enc := s[i+1 : i+1+end]
		i += 1 + end
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		raw, err := mutf7Base64().DecodeString(enc)
		if err != nil || len(raw)%2 != 0 {
			return "", errBadUTF7
		}
		units := make([]uint16, len(raw)/2)
		for j := range units {
			units[j] = uint16(raw[2*j])<<8 | uint16(raw[2*j+1])
		}
		for j := 0; j < len(units); j++ {
			u := units[j]
			switch {
			case utf16.IsSurrogate(rune(u)):
				if j+1 >= len(units) {
					return "", errBadUTF7
				}
				r := utf16.DecodeRune(rune(u), rune(units[j+1]))
				if r == '\uFFFD' {
					return "", errBadUTF7
				}
				b.WriteRune(r)
				j++
			case u >= 0x20 && u <= 0x7e:
				// Printable ASCII must stand for itself (RFC 3501 5.1.3).
				return "", errBadUTF7
			default:
				b.WriteRune(rune(u))
			}
		}
	}
	return b.String(), nil
}
