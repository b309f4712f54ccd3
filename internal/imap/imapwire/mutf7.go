package imapwire

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 (RFC 3501 section 5.1.3) is how IMAP4rev1 clients that have not
// enabled UTF8=ACCEPT spell mailbox names: printable US-ASCII stands for itself except
// "&", written "&-"; other characters are written as UTF-16 in modified BASE64 (","
// instead of "/", no padding) between "&" and "-".

const mutf7Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

// EncodeMUTF7 encodes a UTF-8 mailbox name in modified UTF-7. Invalid UTF-8 is encoded
// as U+FFFD.
func EncodeMUTF7(s string) string {
	var b strings.Builder
	var run []uint16
	flush := func() {
		if len(run) == 0 {
			return
		}
		b.WriteByte('&')
		var acc uint32
		bits := 0
		for _, u := range run {
			acc = acc<<16 | uint32(u)
			bits += 16
			for bits >= 6 {
				bits -= 6
				b.WriteByte(mutf7Alphabet[acc>>bits&0x3f])
			}
		}
		if bits > 0 {
			b.WriteByte(mutf7Alphabet[acc<<(6-bits)&0x3f])
		}
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
		run = utf16.AppendRune(run, r)
	}
	flush()
	return b.String()
}

// Errors of DecodeMUTF7.
var (
	ErrMUTF7Char     = errors.New("modified UTF-7: character outside printable US-ASCII")
	ErrMUTF7Encoding = errors.New("modified UTF-7: invalid encoded sequence")
)

// DecodeMUTF7 decodes a modified UTF-7 mailbox name to UTF-8. It accepts only the
// canonical form: no raw 8-bit or control characters, no encoded printable ASCII, no
// adjacent encoded sequences, zero padding bits and paired surrogates.
func DecodeMUTF7(s string) (string, error) {
	if !strings.Contains(s, "&") {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] > 0x7e {
				return "", ErrMUTF7Char
			}
		}
		return s, nil
	}
	var b strings.Builder
	prevEncoded := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", ErrMUTF7Char
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			prevEncoded = false
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return "", ErrMUTF7Encoding
		}
		enc := s[i+1 : i+1+end]
		i += end + 2
		if enc == "" {
			b.WriteByte('&')
			prevEncoded = false
			continue
		}
		if prevEncoded {
			return "", ErrMUTF7Encoding
		}
		if err := decodeMUTF7Run(&b, enc); err != nil {
			return "", err
		}
		prevEncoded = true
	}
	return b.String(), nil
}

// decodeMUTF7Run decodes the modified BASE64 between "&" and "-".
func decodeMUTF7Run(b *strings.Builder, enc string) error {
	var units []uint16
	var acc uint32
	bits := 0
	for i := 0; i < len(enc); i++ {
		v := strings.IndexByte(mutf7Alphabet, enc[i])
		if v < 0 {
			return ErrMUTF7Encoding
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 16 {
			bits -= 16
			units = append(units, uint16(acc>>bits))
			acc &= 1<<bits - 1
		}
	}
	if bits >= 6 || acc != 0 || len(units) == 0 {
		return ErrMUTF7Encoding
	}
	for i := 0; i < len(units); i++ {
		u := units[i]
		var r rune
		switch {
		case utf16.IsSurrogate(rune(u)):
			if i+1 >= len(units) {
				return ErrMUTF7Encoding
			}
			r = utf16.DecodeRune(rune(u), rune(units[i+1]))
			if r == utf8.RuneError {
				return ErrMUTF7Encoding
			}
			i++
		default:
			r = rune(u)
			if r >= 0x20 && r <= 0x7e {
				return ErrMUTF7Encoding
			}
		}
		b.WriteRune(r)
	}
	return nil
}
