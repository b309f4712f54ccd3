package mime

import "strings"

// DecodeHeader decodes the RFC 2047 encoded-words in an unfolded header value and returns
// UTF-8. It is tolerant in the ways real mail needs:
//   - whitespace between two adjacent encoded-words is dropped (RFC 2047 section 6.2);
//   - adjacent words in the same charset are joined before charset decoding, so a
//     multi-byte character split across two words (a common encoder bug) survives;
//   - encoded-words are recognised even when glued to other text or holding spaces, and
//     the RFC 2231 section 5 language suffix ("utf-8*en") is ignored;
//   - an unknown charset or bad base64 still yields the best text available, and raw
//     8-bit bytes outside encoded-words are read as UTF-8 or else windows-1252.
//
// A sequence that does not form an encoded-word is kept as it is. Work is linear in len(s).
func DecodeHeader(s string) string {
	if !strings.Contains(s, "=?") {
		return validUTF8(s)
	}
	var (
		out         strings.Builder
		pendCharset string // charset of the encoded-words whose octets are in pend
		pend        []byte
		afterWord   bool // the last thing seen was an encoded-word
	)
	flushWords := func() {
		if len(pend) > 0 || pendCharset != "" {
			out.WriteString(toUTF8(pendCharset, pend))
		}
		pendCharset, pend = "", pend[:0]
	}
	writeText := func(t string) {
		if t == "" {
			return
		}
		flushWords()
		out.WriteString(validUTF8(t))
		afterWord = false
	}
	i := 0
	for {
		j := strings.Index(s[i:], "=?")
		if j < 0 {
			break
		}
		at := i + j
		charset, enc, text, n, ok := scanEncodedWord(s[at:])
		if !ok {
			writeText(s[i : at+2])
			i = at + 2
			continue
		}
		between := s[i:at]
		if !(afterWord && strings.Trim(between, " \t\r\n") == "") {
			writeText(between)
		}
		if pendCharset != "" && !strings.EqualFold(pendCharset, charset) {
			flushWords()
		}
		pendCharset = charset
		if enc == 'b' {
			pend = append(pend, decodeBase64([]byte(text))...)
		} else {
			pend = appendQ(pend, text)
		}
		afterWord = true
		i = at + n
	}
	writeText(s[i:])
	flushWords()
	return out.String()
}

// scanEncodedWord reads "=?charset?e?text?=" at the start of s (RFC 2047 section 2) and
// returns its parts and length. The charset is bounded in length and the text ends at the
// first "?", which the RFC forbids inside encoded-text, so a failed attempt scans only
// bytes the next attempt will not rescan.
func scanEncodedWord(s string) (charset string, enc byte, text string, n int, ok bool) {
	const maxCharset = 64
	rest := s[2:]
	q := strings.IndexByte(rest[:min(len(rest), maxCharset+1)], '?')
	if q <= 0 || q > maxCharset || strings.ContainsAny(rest[:q], " \t\r\n") {
		return "", 0, "", 0, false
	}
	charset = rest[:q]
	if star := strings.IndexByte(charset, '*'); star >= 0 {
		charset = charset[:star]
	}
	rest = rest[q+1:]
	if len(rest) < 2 || rest[1] != '?' {
		return "", 0, "", 0, false
	}
	switch rest[0] {
	case 'B', 'b':
		enc = 'b'
	case 'Q', 'q':
		enc = 'q'
	default:
		return "", 0, "", 0, false
	}
	rest = rest[2:]
	e := strings.IndexByte(rest, '?')
	if e < 0 || e+1 >= len(rest) || rest[e+1] != '=' {
		return "", 0, "", 0, false
	}
	text = rest[:e]
	n = len(s) - len(rest) + e + 2
	return charset, enc, text, n, true
}

// appendQ decodes RFC 2047 section 4.2 "Q" encoding: "_" is a space, "=XX" an octet, and
// anything else (including a malformed "=") is kept literally.
func appendQ(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			dst = append(dst, ' ')
		case c == '=' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
