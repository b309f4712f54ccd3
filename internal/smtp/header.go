package smtp

import (
	"bytes"
	"strings"
)

// headerEnd returns the length of the message's header section including the empty
// line that ends it (RFC 5322 2.1), or len(raw) for a message that is all header. Bare
// LF line ends are accepted, as mail in the wild has them.
func headerEnd(raw []byte) int {
	for i := 0; i < len(raw); {
		nl := bytes.IndexByte(raw[i:], '\n')
		if nl < 0 {
			return len(raw)
		}
		line := raw[i : i+nl+1]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return i + len(line)
		}
		i += len(line)
	}
	return len(raw)
}

// headerFields splits a header section into fields, each with its folded continuation
// lines and line ends (RFC 5322 2.2.3). Text before the first field, or the empty line
// ending the section, comes out as fields of their own.
func headerFields(header []byte) [][]byte {
	var fields [][]byte
	start := 0
	for i := 0; i < len(header); {
		nl := bytes.IndexByte(header[i:], '\n')
		end := len(header)
		if nl >= 0 {
			end = i + nl + 1
		}
		if i > start && header[i] != ' ' && header[i] != '\t' {
			fields = append(fields, header[start:i])
			start = i
		}
		i = end
	}
	if start < len(header) {
		fields = append(fields, header[start:])
	}
	return fields
}

// fieldName returns a field's name, or "" if the field has none.
func fieldName(f []byte) string {
	colon := bytes.IndexByte(f, ':')
	if colon <= 0 {
		return ""
	}
	return strings.TrimRight(string(f[:colon]), " \t")
}

// fieldValue returns a field's value, unfolded.
func fieldValue(f []byte) string {
	colon := bytes.IndexByte(f, ':')
	v := string(f[colon+1:])
	return strings.NewReplacer("\r\n", "", "\n", "").Replace(v)
}

// crlf makes every line end in f CRLF and makes sure f ends with one.
func crlf(f string) string {
	f = strings.TrimRight(strings.ReplaceAll(f, "\r\n", "\n"), "\n")
	return strings.ReplaceAll(f, "\n", "\r\n") + "\r\n"
}

// prepend puts header fields in front of a message.
func prepend(raw []byte, fields ...string) []byte {
	n := len(raw)
	for _, f := range fields {
		n += len(f)
	}
	out := make([]byte, 0, n)
	for _, f := range fields {
		out = append(out, f...)
	}
	return append(out, raw...)
}
