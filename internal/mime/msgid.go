package mime

import "strings"

// ParseMessageIDs extracts the message-ids of a References or In-Reply-To value (RFC 5322
// section 3.6.4), each normalised to "<id>" with whitespace and comments inside removed,
// in order. Text between ids (phrases allowed by the obsolete syntax of section 4.5.4,
// stray words) is ignored. A value with no "<" at all, which some broken clients send, is
// read as whitespace- or comma-separated bare ids. It returns nil when there are none.
func ParseMessageIDs(s string) []string {
	var ids []string
	if !strings.Contains(s, "<") {
		for _, f := range strings.FieldsFunc(stripComments(s), func(r rune) bool {
			return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == ','
		}) {
			ids = append(ids, "<"+f+">")
		}
		return ids
	}
	for {
		open := strings.IndexByte(s, '<')
		if open < 0 {
			return ids
		}
		s = s[open+1:]
		end := strings.IndexAny(s, "<>")
		var inner string
		if end < 0 {
			inner, s = s, ""
		} else {
			inner = s[:end]
			if s[end] == '>' {
				end++
			}
			s = s[end:]
		}
		inner = strings.Join(strings.Fields(stripComments(inner)), "")
		if inner != "" {
			ids = append(ids, "<"+inner+">")
		}
	}
}

// stripComments removes RFC 5322 comments; quoted-strings are not special here because a
// message-id's left part is a dot-atom in all but obsolete syntax.
func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '(' {
			i = skipComment(s, i)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}
