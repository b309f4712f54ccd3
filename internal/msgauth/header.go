package msgauth

import (
	"bytes"
	"strings"
)

// field is one header field of a message as it appears on the wire.
type field struct {
	name string // field name as written, without surrounding whitespace; "" for a line with no colon
	raw  []byte // the whole field including continuation lines and line endings
}

// value returns the unfolded field body (RFC 5322 section 2.2.3), without
// the leading whitespace after the colon and without line endings.
func (f field) value() string {
	i := bytes.IndexByte(f.raw, ':')
	if i < 0 {
		return ""
	}
	v := string(f.raw[i+1:])
	v = strings.ReplaceAll(v, "\r\n", "")
	v = strings.ReplaceAll(v, "\n", "")
	return strings.TrimSpace(v)
}

// splitHeader splits raw into its header fields (RFC 5322 section 2.2) and
// returns them with the offset at which the body begins (just after the
// empty line) and whether an empty line was found at all. Lines that are
// neither a field nor a continuation (for instance an mbox "From " line) are
// kept as fields without a name so that the bytes survive a round trip.
func splitHeader(raw []byte) (fields []field, bodyStart int, hasSeparator bool) {
	pos := 0
	for pos < len(raw) {
		end := bytes.IndexByte(raw[pos:], '\n')
		next := len(raw)
		if end >= 0 {
			next = pos + end + 1
		}
		line := raw[pos:next]
		if isBlankLine(line) {
			return fields, next, true
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			last := &fields[len(fields)-1]
			last.raw = raw[pos-len(last.raw) : next]
		} else {
			name := ""
			if i := bytes.IndexByte(line, ':'); i > 0 {
				name = strings.TrimRight(string(line[:i]), " \t")
				if strings.ContainsAny(name, " \t") {
					name = ""
				}
			}
			fields = append(fields, field{name: name, raw: line})
		}
		pos = next
	}
	return fields, len(raw), false
}

func isBlankLine(line []byte) bool {
	return len(line) == 0 || string(line) == "\n" || string(line) == "\r\n"
}

// fieldsNamed returns the fields called name (case-insensitive, RFC 5322
// section 1.2.2), in message order.
func fieldsNamed(fields []field, name string) []field {
	var out []field
	for _, f := range fields {
		if strings.EqualFold(f.name, name) {
			out = append(out, f)
		}
	}
	return out
}

// withSeparator returns raw with an empty line appended when the message has
// no header/body separator (a header-only message is valid RFC 5322, but the
// DKIM library needs the separator to find the end of the header).
func withSeparator(raw []byte) []byte {
	if _, _, ok := splitHeader(raw); ok {
		return raw
	}
	out := make([]byte, 0, len(raw)+4)
	out = append(out, raw...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\r', '\n')
	}
	return append(out, '\r', '\n')
}
