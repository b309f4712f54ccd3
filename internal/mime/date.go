package mime

import (
	"net/mail"
	"strings"
	"time"
)

// dateLayouts are forms of the Date header seen in real mail that net/mail's RFC 5322
// parser does not take: missing seconds or day name, named zones, two-digit years, a
// zone comment, no zone at all.
var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700 (MST)",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	"2006-01-02 15:04:05 -0700",
	time.RFC3339,
}

// SentDate parses the Date header (RFC 5322 section 3.3) tolerantly. It reports false
// when there is no Date header or it cannot be read at all.
func (e *Envelope) SentDate() (time.Time, bool) {
	s := strings.Join(strings.Fields(e.Date), " ")
	if s == "" {
		return time.Time{}, false
	}
	if t, err := mail.ParseDate(s); err == nil {
		return t, true
	}
	// A trailing comment such as "(UTC)" or "(Pacific Standard Time)" defeats the
	// layouts below; RFC 5322 allows comments anywhere, and they carry nothing needed.
	if i := strings.IndexByte(s, '('); i > 0 {
		if t, err := mail.ParseDate(strings.TrimSpace(s[:i])); err == nil {
			return t, true
		}
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
