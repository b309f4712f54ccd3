package mime

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrUnknownEncoding is returned (wrapped) by DecodedBody for a Content-Transfer-Encoding
// it does not know; IMAP BINARY answers such a part with [UNKNOWN-CTE] (RFC 3516 4.3).
var ErrUnknownEncoding = errors.New("mime: unknown content-transfer-encoding")

// ErrOutOfRange is returned (wrapped) by DecodedBody when the part's offsets do not fit
// the raw bytes passed in, i.e. they are not the bytes the part was parsed from.
var ErrOutOfRange = errors.New("mime: part offsets outside raw message")

// DecodedBody slices the part's body out of raw (the bytes given to Parse) and undoes its
// Content-Transfer-Encoding (RFC 2045 section 6). For 7bit, 8bit and binary the result
// shares memory with raw and must not be modified. Base64 and quoted-printable are decoded
// tolerantly and never fail; any other encoding wraps ErrUnknownEncoding.
func (p *Part) DecodedBody(raw []byte) ([]byte, error) {
	if p.BodyStart < 0 || p.BodyStart > p.End || p.End > int64(len(raw)) {
		return nil, fmt.Errorf("%w: body [%d,%d) of %d bytes", ErrOutOfRange, p.BodyStart, p.End, len(raw))
	}
	body := raw[p.BodyStart:p.End]
	switch p.Encoding {
	case "", "7bit", "8bit", "binary":
		return body, nil
	case "base64":
		return decodeBase64(body), nil
	case "quoted-printable":
		return decodeQuotedPrintable(body), nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownEncoding, p.Encoding)
}

// decodeBase64 decodes base64 the way RFC 2045 section 6.8 asks of a receiver: characters
// outside the alphabet (line breaks, stray junk) are ignored. "=" ends a group: the bits
// gathered so far are emitted and decoding goes on, so separately padded chunks that
// broken senders concatenate still decode. A trailing incomplete group yields the whole
// bytes it holds.
func decodeBase64(src []byte) []byte {
	out := make([]byte, 0, len(src)*3/4)
	var acc uint32
	n := 0
	flush := func() {
		switch n {
		case 2:
			out = append(out, byte(acc>>4))
		case 3:
			out = append(out, byte(acc>>10), byte(acc>>2))
		}
		acc, n = 0, 0
	}
	for _, c := range src {
		var v byte
		switch {
		case 'A' <= c && c <= 'Z':
			v = c - 'A'
		case 'a' <= c && c <= 'z':
			v = c - 'a' + 26
		case '0' <= c && c <= '9':
			v = c - '0' + 52
		case c == '+':
			v = 62
		case c == '/':
			v = 63
		case c == '=':
			flush()
			continue
		default:
			continue
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	flush()
	return out
}

// decodeQuotedPrintable decodes RFC 2045 section 6.7 quoted-printable tolerantly: "=XX"
// (either case of hex) is an octet, "=" ending a line is a soft line break, trailing
// whitespace on a line is dropped (rule 3), and any other "=" is kept literally rather
// than rejected. Hard line breaks keep the form they had (CRLF or LF).
func decodeQuotedPrintable(src []byte) []byte {
	out := make([]byte, 0, len(src))
	for len(src) > 0 {
		line, eol, rest := src, []byte(nil), []byte(nil)
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, eol, rest = src[:i], src[i:i+1], src[i+1:]
			if i > 0 && src[i-1] == '\r' {
				line, eol = src[:i-1], src[i-1:i+1]
			}
		}
		src = rest
		for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
			line = line[:len(line)-1]
		}
		soft := len(line) > 0 && line[len(line)-1] == '='
		if soft {
			line = line[:len(line)-1]
		}
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c == '=' && i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
				out = append(out, unhex(line[i+1])<<4|unhex(line[i+2]))
				i += 2
				continue
			}
			out = append(out, c)
		}
		if !soft {
			out = append(out, eol...)
		}
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
