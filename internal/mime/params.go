package mime

import (
	"sort"
	"strconv"
	"strings"
)

// parseParamHeader reads a structured header of the form `value *(";" attribute "=" value)`
// (RFC 2045 section 5.1 for Content-Type, RFC 2183 section 2 for Content-Disposition). It
// returns the leading value in lower case with whitespace and comments removed, and the
// parameters with lower-case names, decoded per RFC 2231. It never fails: parameters
// without "=" are skipped, an unterminated quoted string or comment runs to the end, an
// unquoted value runs to the next ";" even if it holds spaces (a common sender bug), and
// RFC 2047 encoded-words in values are left for the client, as IMAP returns them raw.
// It returns a nil map when there are no parameters.
func parseParamHeader(s string) (string, map[string]string) {
	var value strings.Builder
	i := 0
	for i < len(s) && s[i] != ';' {
		switch c := s[i]; {
		case c == '(':
			i = skipComment(s, i)
			continue
		case c != ' ' && c != '\t' && c != '\r' && c != '\n':
			value.WriteByte(c)
		}
		i++
	}
	var raw []rawParam
	for i < len(s) {
		// i is at ";" or at the start of junk that ended the previous parameter.
		i++
		i = skipCFWS(s, i)
		nameStart := i
		for i < len(s) && s[i] != '=' && s[i] != ';' && s[i] != '(' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		name := strings.ToLower(s[nameStart:i])
		i = skipCFWS(s, i)
		if i >= len(s) || s[i] != '=' || name == "" {
			i = skipToSemicolon(s, i)
			continue
		}
		i = skipCFWS(s, i+1)
		var v string
		if i < len(s) && s[i] == '"' {
			v, i = readQuoted(s, i)
		} else {
			var b strings.Builder
			for i < len(s) && s[i] != ';' {
				if s[i] == '(' {
					i = skipComment(s, i)
					continue
				}
				b.WriteByte(s[i])
				i++
			}
			v = strings.Trim(b.String(), " \t\r\n")
		}
		raw = append(raw, rawParam{name, v})
		i = skipToSemicolon(s, i)
	}
	return strings.ToLower(value.String()), combineParams(raw)
}

type rawParam struct{ name, value string }

// segment is one piece of an RFC 2231 section 3 continued parameter.
type segment struct {
	index    int
	extended bool // name ended in "*": percent-encoded, first piece carries charset'lang'
	value    string
}

// combineParams applies RFC 2231: "name*" carries charset'language'percent-encoded, and
// "name*0", "name*1*", ... are pieces joined in numeric order. A decoded RFC 2231 value
// wins over a plain one of the same name; otherwise the first occurrence wins.
func combineParams(raw []rawParam) map[string]string {
	if len(raw) == 0 {
		return nil
	}
	params := make(map[string]string, len(raw))
	pieces := map[string][]segment{}
	var order []string
	for _, p := range raw {
		base, seg, ok := splitContinuation(p.name)
		if !ok {
			if _, dup := params[p.name]; !dup {
				params[p.name] = validUTF8(p.value)
			}
			continue
		}
		seg.value = p.value
		if _, seen := pieces[base]; !seen {
			order = append(order, base)
		}
		pieces[base] = append(pieces[base], seg)
	}
	for _, base := range order {
		params[base] = joinSegments(pieces[base])
	}
	return params
}

// splitContinuation recognises "base*", "base*N" and "base*N*".
func splitContinuation(name string) (string, segment, bool) {
	star := strings.IndexByte(name, '*')
	if star <= 0 {
		return "", segment{}, false
	}
	base, rest := name[:star], name[star+1:]
	if rest == "" {
		return base, segment{index: 0, extended: true}, true
	}
	ext := strings.HasSuffix(rest, "*")
	rest = strings.TrimSuffix(rest, "*")
	if len(rest) == 0 || len(rest) > 6 {
		return "", segment{}, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || rest[0] == '+' {
		return "", segment{}, false
	}
	return base, segment{index: n, extended: ext}, true
}

// joinSegments orders the pieces (tolerating gaps and duplicates: the first of an index
// wins), decodes extended pieces and converts the octets from the charset named by the
// first piece to UTF-8.
func joinSegments(segs []segment) string {
	sort.SliceStable(segs, func(a, b int) bool { return segs[a].index < segs[b].index })
	var (
		octets  []byte
		charset string
	)
	for k, s := range segs {
		if k > 0 && s.index == segs[k-1].index {
			continue
		}
		v := s.value
		if k == 0 && s.extended {
			// charset'language'value; a piece without both quotes is all value.
			if a := strings.IndexByte(v, '\''); a >= 0 {
				if b := strings.IndexByte(v[a+1:], '\''); b >= 0 {
					charset, v = v[:a], v[a+1+b+1:]
				}
			}
		}
		if s.extended {
			octets = appendPercentDecoded(octets, v)
		} else {
			octets = append(octets, v...)
		}
	}
	return toUTF8(charset, octets)
}

// appendPercentDecoded undoes RFC 2231 section 4 "%XX" encoding; a malformed "%" is kept.
func appendPercentDecoded(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		dst = append(dst, s[i])
	}
	return dst
}

// skipComment returns the index just past the RFC 5322 section 3.2.2 comment starting at
// s[i] == '(' (nested, with quoted-pairs), or len(s) if it is never closed.
func skipComment(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(s)
}

// skipCFWS skips whitespace and comments.
func skipCFWS(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
			i++
		case '(':
			i = skipComment(s, i)
		default:
			return i
		}
	}
	return i
}

// skipToSemicolon returns the index of the next ";" at or after i, or len(s).
func skipToSemicolon(s string, i int) int {
	if i >= len(s) {
		return len(s)
	}
	if k := strings.IndexByte(s[i:], ';'); k >= 0 {
		return i + k
	}
	return len(s)
}

// readQuoted reads the quoted-string starting at s[i] == '"' and returns its content with
// quoted-pairs undone and the index past the closing quote (len(s) if unterminated).
func readQuoted(s string, i int) (string, int) {
	var b strings.Builder
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), i + 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), len(s)
}
