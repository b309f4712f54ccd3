package mailio

import (
	"strconv"
	"strings"
)

// The header fields mbox writers (mutt, Dovecot, Python's mailbox, UW IMAP)
// use to keep IMAP state inside the message. They are not part of the
// message as sent, so the reader takes them out and the writer adds them.
const (
	fieldStatus        = "Status"     // R read, O old (no longer \Recent)
	fieldXStatus       = "X-Status"   // A answered, F flagged, T draft, D deleted
	fieldXKeywords     = "X-Keywords" // keywords, comma or space separated
	fieldXUID          = "X-UID"      // UW IMAP's UID; meaningless elsewhere
	fieldContentLength = "Content-Length"
)

// isMboxMetaField reports whether name is one of the fields above.
func isMboxMetaField(name string) bool {
	for _, f := range [...]string{fieldStatus, fieldXStatus, fieldXKeywords, fieldXUID, fieldContentLength} {
		if strings.EqualFold(name, f) {
			return true
		}
	}
	return false
}

// takeMboxMeta strips the metadata fields from raw and returns the flags
// they carried. Content-Length is only taken when it gives the body length
// (mboxcl and mboxcl2, allowing for the separator line and ">From "
// quoting), since some mailers send a Content-Length of their own that is
// then part of the message.
func takeMboxMeta(raw []byte, unquoted int) ([]byte, []string) {
	stop := scanHeader(raw, func(string, int, int, int) {})
	bodyLen := len(raw) - stop - len(lineOf(raw, stop))
	lengthMatches := func(v string) bool {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		return err == nil && n >= bodyLen && n <= bodyLen+unquoted+2
	}
	var clValue string
	scanHeader(raw, func(name string, _, colon, end int) {
		if strings.EqualFold(name, fieldContentLength) && clValue == "" {
			clValue = string(raw[colon+1 : end])
		}
	})
	dropLength := lengthMatches(clValue)
	rest, fields := takeFields(raw, func(name string) bool {
		if strings.EqualFold(name, fieldContentLength) {
			return dropLength
		}
		return isMboxMetaField(name)
	})
	var s flagSet
	for _, f := range fields {
		switch {
		case strings.EqualFold(f.name, fieldStatus), strings.EqualFold(f.name, fieldXStatus):
			for _, c := range f.value {
				switch c {
				case 'R':
					s.seen = true
				case 'A':
					s.answered = true
				case 'F':
					s.flagged = true
				case 'T':
					s.draft = true
				case 'D':
					s.deleted = true
				}
			}
		case strings.EqualFold(f.name, fieldXKeywords):
			for _, k := range strings.FieldsFunc(f.value, func(r rune) bool {
				return r == ',' || r == ' ' || r == '\t'
			}) {
				s.add(k)
			}
		}
	}
	return rest, s.list()
}

// lineOf returns the line of b starting at pos, with its ending.
func lineOf(b []byte, pos int) []byte {
	return b[pos:lineEnd(b, pos)]
}

// mboxMetaLines renders flags as the metadata fields, LF terminated.
// Status always appears so that mail clients treat imported mail as old.
func mboxMetaLines(s flagSet) []byte {
	status := "O"
	if s.seen {
		status = "RO"
	}
	out := []byte(fieldStatus + ": " + status + "\n")
	var x []byte
	for _, f := range []struct {
		on     bool
		letter byte
	}{{s.answered, 'A'}, {s.flagged, 'F'}, {s.draft, 'T'}, {s.deleted, 'D'}} {
		if f.on {
			x = append(x, f.letter)
		}
	}
	if len(x) > 0 {
		out = append(out, fieldXStatus+": "+string(x)+"\n"...)
	}
	if len(s.keywords) > 0 {
		out = append(out, fieldXKeywords+": "+strings.Join(s.keywords, " ")+"\n"...)
	}
	return out
}
