package mime

import (
	"bytes"
	"strings"
)

// header holds the first occurrence of each header field Parse uses, keyed by lower-case
// name, with the value unfolded and trimmed. Other fields are skipped without copying.
type header map[string]string

// wantedField returns the canonical key of a field Parse uses, or false. The switch on
// string(lower) does not allocate.
func wantedField(name []byte) (string, bool) {
	var buf [32]byte
	if len(name) > len(buf) {
		return "", false
	}
	lower := buf[:len(name)]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower) {
	case "content-type", "content-transfer-encoding", "content-id", "content-description",
		"content-disposition", "content-language", "content-location", "content-md5",
		"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
		"in-reply-to", "message-id", "references":
		return string(lower), true
	}
	return "", false
}

// parseHeader reads the header block of the entity at raw[start:end]. It returns the
// fields Parse uses and the offset of the body: just past the first empty line, or end
// when there is none (then the whole entity is header).
func parseHeader(raw []byte, start, end int) (header, int) {
	h := header{}
	var key string
	bodyStart := scanHeader(raw, start, end, func(name []byte) bool {
		var ok bool
		key, ok = wantedField(name)
		return ok
	}, func(value []byte) {
		if _, dup := h[key]; !dup {
			h[key] = validUTF8(strings.Trim(string(value), " \t\r\n"))
		}
	})
	return h, bodyStart
}

// fields returns every field of the header block at raw[start:end], in order, with
// values unfolded and RFC 2047-decoded, for header search.
func fields(raw []byte, start, end int) []Field {
	var out []Field
	var name string
	scanHeader(raw, start, end, func(n []byte) bool {
		name = validUTF8(string(n))
		return true
	}, func(value []byte) {
		out = append(out, Field{Name: name, Value: DecodeHeader(validUTF8(strings.Trim(string(value), " \t\r\n")))})
	})
	return out
}

// scanHeader walks the header block of the entity at raw[start:end] and returns the
// offset of the body. For each field it asks want(name); when that says yes, got receives
// the field's unfolded value (valid until got returns).
//
// RFC 5322 section 2.2: lines end in CRLF, but bare LF is accepted too since messages
// arrive both ways; a line starting with WSP continues the previous field (unfolding
// removes only the line break, section 2.2.3); a line that is not "name:" (RFC 5322
// section 3.6.8 field name, or obsolete WSP before the colon, section 4.5) is skipped
// without ending the header.
func scanHeader(raw []byte, start, end int, want func(name []byte) bool, got func(value []byte)) int {
	var (
		collecting bool
		value      []byte
	)
	flush := func() {
		if collecting {
			got(value)
		}
		collecting, value = false, value[:0]
	}
	pos := start
	for pos < end {
		lineEnd, next := end, end
		if i := bytes.IndexByte(raw[pos:end], '\n'); i >= 0 {
			lineEnd, next = pos+i, pos+i+1
		}
		line := raw[pos:lineEnd]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		pos = next
		if len(line) == 0 {
			flush()
			return next
		}
		if line[0] == ' ' || line[0] == '\t' {
			if collecting {
				value = append(value, line...)
			}
			continue
		}
		flush()
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		name := bytes.TrimRight(line[:colon], " \t")
		if !validFieldName(name) {
			continue
		}
		if want(name) {
			collecting = true
			value = append(value, line[colon+1:]...)
		}
	}
	flush()
	return end
}

// validFieldName reports whether name is an RFC 5322 section 3.6.8 field name: printable
// US-ASCII other than colon. Anything else (an mbox "From " line, binary junk) is not a
// header field.
func validFieldName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}
