package mailio

import (
	"net/mail"
	"strings"
	"time"
)

// asctimeLayout is the date of a From_ line as RFC 4155 section 2 describes
// it: the ANSI C asctime() format, in UTC.
const asctimeLayout = "Mon Jan _2 15:04:05 2006"

// parseFromLine reads the date of a From_ line given without its "From "
// prefix and line ending. RFC 4155 puts the envelope sender first and the
// date after it, but writers differ: the sender may be missing, the date
// may have a zone, and UUCP appends "remote from HOST". The date is zero
// when none is recognised.
func parseFromLine(rest string) time.Time {
	fields := strings.Fields(rest)
	for start := 1; start >= 0; start-- {
		for n := min(len(fields)-start, 7); n >= 4; n-- {
			if t, ok := parseFromDate(strings.Join(fields[start:start+n], " ")); ok {
				return t
			}
		}
	}
	return time.Time{}
}

// parseFromDate tries the date forms found in From_ lines in the wild,
// written for fields joined by single spaces: asctime, with or without
// seconds, and with a zone name or offset before or after the year. A date
// whose year (in UTC) is outside 1..9999 cannot be written back in asctime
// form, so it counts as no date.
func parseFromDate(s string) (time.Time, bool) {
	t, ok := parseFromDateForms(s)
	if !ok || t.UTC().Year() < 1 || t.UTC().Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

func parseFromDateForms(s string) (time.Time, bool) {
	layouts := [...]string{
		"Mon Jan 2 15:04:05 2006",
		"Mon Jan 2 15:04:05 MST 2006",
		"Mon Jan 2 15:04:05 -0700 2006",
		"Mon Jan 2 15:04:05 2006 -0700",
		"Mon Jan 2 15:04:05 2006 MST",
		"Mon Jan 2 15:04 2006",
		"Mon Jan 2 15:04 MST 2006",
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	// Some tools write an RFC 5322 date instead of asctime.
	if t, err := mail.ParseDate(s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// fromLine builds the From_ line for a message (RFC 4155 section 2): the
// envelope sender, taken from Return-Path or else From, and the arrival
// date in asctime form. A message without InternalDate is dated by its
// Date: field, or failing that the Unix epoch, because readers expect a
// date there.
func fromLine(raw []byte, date time.Time) string {
	var returnPath, from string
	var headerDate time.Time
	scanHeader(raw, func(name string, _, colon, end int) {
		value := strings.TrimSpace(strings.NewReplacer("\r", "", "\n", "").Replace(string(raw[colon+1 : end])))
		switch {
		case strings.EqualFold(name, "Return-Path") && returnPath == "":
			returnPath = strings.Trim(value, "<> \t")
		case strings.EqualFold(name, "From") && from == "":
			if a, err := mail.ParseAddress(value); err == nil {
				from = a.Address
			}
		case strings.EqualFold(name, "Date") && headerDate.IsZero():
			if t, err := mail.ParseDate(value); err == nil {
				headerDate = t
			}
		}
	})
	sender := returnPath
	if sender == "" {
		sender = from
	}
	if sender == "" || strings.ContainsFunc(sender, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		sender = "MAILER-DAEMON"
	}
	if date.IsZero() {
		date = headerDate
	}
	if date.IsZero() {
		date = time.Unix(0, 0)
	}
	return "From " + sender + " " + date.UTC().Format(asctimeLayout) + "\n"
}
