package imap

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"mailroom/internal/imap/imapwire"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// sortUIDs orders msgs by the SORT criteria (RFC 5256 section 3, RFC 5957 section 3)
// and returns their UIDs. Each criterion breaks the ties of the one before; REVERSE
// reverses its own criterion only; messages equal on every criterion keep sequence
// order, which is UID order. Strings compare by the i;unicode-casemap collation
// (RFC 5051) that I18NLEVEL=1 asks for (RFC 5256 section 1).
func sortUIDs(msgs []store.Message, criteria []imapwire.SortCriterion) []store.UID {
	keys := make([]sortKey, len(msgs))
	for i := range msgs {
		keys[i] = newSortKey(&msgs[i], criteria)
	}
	slices.SortStableFunc(keys, func(a, b sortKey) int {
		for i, c := range criteria {
			r := a.compare(&b, i, c.Key)
			if c.Reverse {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return cmp.Compare(a.uid, b.uid)
	})
	out := make([]store.UID, len(keys))
	for i, k := range keys {
		out[i] = k.uid
	}
	return out
}

// sortKey holds what the criteria compare, computed once per message.
type sortKey struct {
	uid  store.UID
	size int64
	time []time.Time // per criterion: ARRIVAL, DATE
	text []string    // per criterion: collation keys of CC FROM SUBJECT TO DISPLAY*
}

func newSortKey(m *store.Message, criteria []imapwire.SortCriterion) sortKey {
	k := sortKey{uid: m.UID, size: m.Size, time: make([]time.Time, len(criteria)), text: make([]string, len(criteria))}
	for i, c := range criteria {
		switch c.Key {
		case "ARRIVAL":
			k.time[i] = m.InternalDate
		case "DATE":
			k.time[i] = sentDate(m)
		case "CC":
			k.text[i] = collationKey(firstMailbox(m.Envelope.Cc))
		case "FROM":
			k.text[i] = collationKey(firstMailbox(m.Envelope.From))
		case "TO":
			k.text[i] = collationKey(firstMailbox(m.Envelope.To))
		case "SUBJECT":
			s, _ := baseSubject(m.Envelope.Subject)
			k.text[i] = s
		case "DISPLAYFROM":
			k.text[i] = collationKey(displayName(m.Envelope.From))
		case "DISPLAYTO":
			k.text[i] = collationKey(displayName(m.Envelope.To))
		}
	}
	return k
}

func (a *sortKey) compare(b *sortKey, i int, key string) int {
	switch key {
	case "ARRIVAL", "DATE":
		return a.time[i].Compare(b.time[i])
	case "SIZE":
		return cmp.Compare(a.size, b.size)
	}
	return strings.Compare(a.text[i], b.text[i])
}

// sentDate is the sent date of RFC 5256 section 2.2: the Date header, or the internal
// date when it is missing or cannot be read.
func sentDate(m *store.Message) time.Time {
	if t, ok := m.Envelope.SentDate(); ok {
		return t
	}
	return m.InternalDate
}

// firstMailbox is the addr-mailbox of the first address of a list (RFC 5256 section
// 3, CC FROM TO), "" when there is none. Group markers are skipped.
func firstMailbox(list []mime.Address) string {
	for _, a := range list {
		if a.Host != "" {
			return a.Mailbox
		}
	}
	return ""
}

// displayName is the sort key of DISPLAYFROM and DISPLAYTO (RFC 5957 section 3): the
// decoded display name of the first address, or its addr-spec when it has none.
func displayName(list []mime.Address) string {
	for _, a := range list {
		if a.Host == "" {
			continue
		}
		if name := strings.TrimSpace(mime.DecodeHeader(a.Name)); name != "" {
			return name
		}
		return a.Mailbox + "@" + a.Host
	}
	return ""
}

// collationKey maps s so that byte comparison of keys is the i;unicode-casemap
// comparison of RFC 5051 section 2: each character to its titlecase, then NFKD.
func collationKey(s string) string {
	return norm.NFKD.String(strings.Map(unicode.ToTitle, s))
}

// baseSubject extracts the base subject of RFC 5256 section 2.1 from a raw Subject and
// reports whether the message is a reply or forward by the same section's rule: step 2
// removed a "(fwd)" trailer, step 3 a "Re:"/"Fwd:" leader, or step 6 a "[fwd: ...]"
// wrapper. The result is a collation key (see collationKey), since SORT and THREAD
// compare base subjects that way.
func baseSubject(raw string) (string, bool) {
	// Step 1: decode encoded-words; tabs and line breaks are spaces, runs of spaces one.
	s := strings.Join(strings.FieldsFunc(mime.DecodeHeader(raw), func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n'
	}), " ")
	s = collationKey(s)
	isReply := false
	for {
		// Step 2: remove trailing "(fwd)" and spaces, repeatedly.
		for {
			t := strings.TrimRight(s, " ")
			if u, ok := strings.CutSuffix(t, "(FWD)"); ok {
				t, isReply = u, true
			}
			if t == s {
				break
			}
			s = t
		}
		// Steps 3 to 5: remove leaders, and a leading blob when something is left.
		for {
			t, refwd := trimLeader(s)
			if refwd {
				isReply = true
			}
			if blob, ok := trimBlob(t); ok && blob != "" {
				t = blob
			}
			if t == s {
				break
			}
			s = t
		}
		// Step 6: "[fwd:" ... "]" wraps a forwarded subject; unwrap it and go again.
		if strings.HasPrefix(s, "[FWD:") && strings.HasSuffix(s, "]") {
			s, isReply = s[len("[FWD:"):len(s)-1], true
			continue
		}
		return s, isReply
	}
}

// trimLeader removes subj-leader from the start of s (RFC 5256 section 5):
// (*subj-blob subj-refwd) / WSP, where subj-refwd is ("re" / ("fw" ["d"])) *WSP
// [subj-blob] ":". It reports whether a subj-refwd was removed.
func trimLeader(s string) (string, bool) {
	if strings.HasPrefix(s, " ") {
		return strings.TrimLeft(s, " "), false
	}
	t := s
	for {
		blob, ok := trimBlob(t)
		if !ok {
			break
		}
		t = blob
	}
	switch {
	case strings.HasPrefix(t, "RE"):
		t = t[2:]
	case strings.HasPrefix(t, "FWD"):
		t = t[3:]
	case strings.HasPrefix(t, "FW"):
		t = t[2:]
	default:
		return s, false
	}
	t = strings.TrimLeft(t, " ")
	if blob, ok := trimBlob(t); ok {
		t = blob
	}
	if !strings.HasPrefix(t, ":") {
		return s, false
	}
	return t[1:], true
}

// trimBlob removes one subj-blob, "[" *BLOBCHAR "]" *WSP, from the start of s.
func trimBlob(s string) (string, bool) {
	if !strings.HasPrefix(s, "[") {
		return s, false
	}
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return s, false
	}
	return strings.TrimLeft(s[end+2:], " "), true
}
