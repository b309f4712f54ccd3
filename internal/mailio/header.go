package mailio

import (
	"bytes"
	"strings"
)

// headerField is one field of a message's header section, unfolded.
type headerField struct {
	name, value string
}

// scanHeader walks the fields of raw's header section and calls visit for
// each with its name and its extent raw[start:end] (continuation lines
// included, RFC 5322 section 2.2.3). It returns the offset where the header
// section stops: the empty line that ends it (RFC 5322 section 2.1), the
// first line that is not a field, or len(raw). Stopping at a non-field line
// means a malformed header never loses body text. A message that starts
// with white space has no field name for that line; it is passed over.
func scanHeader(raw []byte, visit func(name string, start, colon, end int)) int {
	pos := 0
	for pos < len(raw) {
		end := lineEnd(raw, pos)
		first := raw[pos:end]
		if isBlankLine(first) {
			return pos
		}
		colon := bytes.IndexByte(first, ':')
		leadingWSP := pos == 0 && (first[0] == ' ' || first[0] == '\t')
		if colon <= 0 && !leadingWSP {
			return pos
		}
		for end < len(raw) && (raw[end] == ' ' || raw[end] == '\t') {
			end = lineEnd(raw, end)
		}
		if !leadingWSP {
			visit(strings.TrimRight(string(first[:colon]), " \t"), pos, pos+colon, end)
		}
		pos = end
	}
	return pos
}

// takeFields removes the header fields for which drop reports true from
// the header section of raw and returns the rest of raw byte for byte, with
// the removed fields unfolded.
func takeFields(raw []byte, drop func(name string) bool) ([]byte, []headerField) {
	var (
		out    []byte
		fields []headerField
		copied int // raw[:copied] has been dealt with
	)
	scanHeader(raw, func(name string, start, colon, end int) {
		if !drop(name) {
			return
		}
		out = append(out, raw[copied:start]...)
		copied = end
		value := strings.NewReplacer("\r", "", "\n", "").Replace(string(raw[colon+1 : end]))
		fields = append(fields, headerField{name: name, value: strings.TrimSpace(value)})
	})
	if fields == nil {
		return raw, nil
	}
	return append(out, raw[copied:]...), fields
}

// insertFields puts header lines (each ending in LF) into raw where
// takeFields will find them again: first, unless raw starts with white
// space, which would turn into a continuation of the last inserted line;
// then where the header section stops.
func insertFields(raw, lines []byte) []byte {
	if len(lines) == 0 {
		return raw
	}
	at := 0
	if len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
		at = scanHeader(raw, func(string, int, int, int) {})
	}
	out := make([]byte, 0, len(raw)+len(lines)+1)
	out = append(out, raw[:at]...)
	if at > 0 && raw[at-1] != '\n' {
		// The message is a single unterminated line; the inserted fields
		// need a line of their own, which costs the original its missing
		// final newline.
		out = append(out, '\n')
	}
	out = append(out, lines...)
	return append(out, raw[at:]...)
}

// lineEnd returns the offset just past the line starting at pos, including
// its LF if it has one.
func lineEnd(b []byte, pos int) int {
	if i := bytes.IndexByte(b[pos:], '\n'); i >= 0 {
		return pos + i + 1
	}
	return len(b)
}

// isBlankLine reports whether line (with its ending) is empty.
func isBlankLine(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// toLF converts CRLF line endings to LF; lone CRs are message data and stay.
func toLF(b []byte) []byte {
	if !bytes.Contains(b, []byte("\r\n")) {
		return b
	}
	return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
}
