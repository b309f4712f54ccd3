package pim

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func ics(body string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + strings.ReplaceAll(body, "\n", "\r\n") + "END:VCALENDAR\r\n")
}

const weekly = `BEGIN:VEVENT
UID:w1
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:20260105T090000
DTEND;TZID=Europe/Berlin:20260105T100000
RRULE:FREQ=WEEKLY;COUNT=10
EXDATE;TZID=Europe/Berlin:20260112T090000
SUMMARY:Standup
END:VEVENT
BEGIN:VEVENT
UID:w1
DTSTAMP:20260101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20260119T090000
DTSTART;TZID=Europe/Berlin:20260120T150000
DTEND;TZID=Europe/Berlin:20260120T160000
SUMMARY:Standup moved
END:VEVENT
`

func TestParseCalendar(t *testing.T) {
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, tc := range []struct {
		name       string
		data       []byte
		err        string
		start, end time.Time
		kind       Kind
	}{
		{"single", ics("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nDTEND:20260301T110000Z\nEND:VEVENT\n"), "",
			utc("2026-03-01T10:00:00Z"), utc("2026-03-01T11:00:00Z"), KindEvent},
		{"all day", ics("BEGIN:VEVENT\nUID:a\nDTSTART;VALUE=DATE:20260301\nEND:VEVENT\n"), "",
			utc("2026-03-01T00:00:00Z"), utc("2026-03-02T00:00:00Z"), KindEvent},
		{"weekly with exception", ics(weekly), "",
			utc("2026-01-05T08:00:00Z"), utc("2026-03-09T09:00:00Z"), KindEvent},
		{"open rule", ics("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nRRULE:FREQ=DAILY\nEND:VEVENT\n"), "",
			utc("2026-03-01T10:00:00Z"), time.Time{}, KindEvent},
		{"far until is open", ics("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nRRULE:FREQ=HOURLY;UNTIL=99991231T000000Z\nEND:VEVENT\n"), "",
			utc("2026-03-01T10:00:00Z"), time.Time{}, KindEvent},
		{"todo without dates", ics("BEGIN:VTODO\nUID:t\nSUMMARY:x\nEND:VTODO\n"), "", time.Time{}, time.Time{}, KindTodo},
		{"vendor tzid", ics("BEGIN:VEVENT\nUID:a\nDTSTART;TZID=/mozilla.org/20050126_1/Europe/Paris:20260301T100000\nEND:VEVENT\n"), "",
			utc("2026-03-01T09:00:00Z"), utc("2026-03-01T09:00:00Z"), KindEvent},
		{"not ical", []byte("hello"), "not valid iCalendar", time.Time{}, time.Time{}, ""},
		{"no uid", ics("BEGIN:VEVENT\nDTSTART:20260301T100000Z\nEND:VEVENT\n"), "no UID", time.Time{}, time.Time{}, ""},
		{"two uids", ics("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nEND:VEVENT\nBEGIN:VEVENT\nUID:b\nDTSTART:20260301T100000Z\nEND:VEVENT\n"), "share one UID", time.Time{}, time.Time{}, ""},
		{"two masters", ics("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nEND:VEVENT\nBEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nEND:VEVENT\n"), "more than one VEVENT", time.Time{}, time.Time{}, ""},
		{"mixed", ics("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nEND:VEVENT\nBEGIN:VTODO\nUID:a\nEND:VTODO\n"), "not both", time.Time{}, time.Time{}, ""},
		{"secondly", ics("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nRRULE:FREQ=SECONDLY\nEND:VEVENT\n"), "more often than hourly", time.Time{}, time.Time{}, ""},
		{"huge count", ics("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nRRULE:FREQ=DAILY;COUNT=99999999\nEND:VEVENT\n"), "COUNT", time.Time{}, time.Time{}, ""},
		{"bad rule", ics("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nRRULE:FREQ=SOMETIMES\nEND:VEVENT\n"), "RRULE", time.Time{}, time.Time{}, ""},
		{"bad date", ics("BEGIN:VEVENT\nUID:a\nDTSTART:2026-03-01\nEND:VEVENT\n"), "not a valid date", time.Time{}, time.Time{}, ""},
		{"journal", ics("BEGIN:VJOURNAL\nUID:a\nEND:VJOURNAL\n"), "not supported", time.Time{}, time.Time{}, ""},
		{"empty", ics(""), "no VEVENT", time.Time{}, time.Time{}, ""},
		{"two calendars", append(ics("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nEND:VEVENT\n"), ics("")...), "exactly one VCALENDAR", time.Time{}, time.Time{}, ""},
		{"deep", ics("BEGIN:VEVENT\nUID:a\nBEGIN:X\nBEGIN:Y\nBEGIN:Z\nEND:Z\nEND:Y\nEND:X\nEND:VEVENT\n"), "nest deeper", time.Time{}, time.Time{}, ""},
		{"too many attendees", ics("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\n" + strings.Repeat("ATTENDEE:mailto:x@example.test\n", 501) + "END:VEVENT\n"), "attendees", time.Time{}, time.Time{}, ""},
		{"too large", ics("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nDESCRIPTION:" + strings.Repeat("x", 1<<20) + "\nEND:VEVENT\n"), "limit", time.Time{}, time.Time{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseCalendar(tc.data, Limits{})
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Kind != tc.kind || !o.Start.Equal(tc.start) || !o.End.Equal(tc.end) {
				t.Fatalf("object = %s %v..%v, want %s %v..%v", o.Kind, o.Start, o.End, tc.kind, tc.start, tc.end)
			}
		})
	}
}

func TestOverlaps(t *testing.T) {
	day := func(s string) time.Time { v, _ := time.Parse("2006-01-02", s); return v }
	open := ics("BEGIN:VEVENT\nUID:a\nDTSTART:20200301T100000Z\nDTEND:20200301T110000Z\nRRULE:FREQ=YEARLY\nEND:VEVENT\n")
	for _, tc := range []struct {
		name       string
		data       []byte
		start, end time.Time
		want       bool
	}{
		{"first instance", ics(weekly), day("2026-01-05"), day("2026-01-06"), true},
		{"excluded instance", ics(weekly), day("2026-01-12"), day("2026-01-13"), false},
		{"overridden original", ics(weekly), day("2026-01-19"), day("2026-01-20"), false},
		{"override's new time", ics(weekly), day("2026-01-20"), day("2026-01-21"), true},
		{"last instance", ics(weekly), day("2026-03-09"), day("2026-03-10"), true},
		{"after count", ics(weekly), day("2026-03-16"), day("2026-03-17"), false},
		{"before", ics(weekly), day("2025-01-01"), day("2026-01-01"), false},
		{"open rule far ahead", open, day("2099-03-01"), day("2099-03-02"), true},
		{"open rule off day", open, day("2099-03-02"), day("2099-03-03"), false},
		{"open-ended range", open, day("2030-01-01"), time.Time{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Overlaps(tc.data, tc.start, tc.end, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Overlaps = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPathologicalRuleIsBounded(t *testing.T) {
	// February 30th never comes: the expansion must end without taking long.
	data := ics("BEGIN:VEVENT\nUID:a\nDTSTART:20260301T100000Z\nRRULE:FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30;COUNT=3\nEND:VEVENT\n")
	start := time.Now()
	if _, err := ParseCalendar(data, Limits{}); err != nil {
		t.Logf("refused: %v", err)
	}
	t.Logf("took %v", time.Since(start))
}

func TestParseContact(t *testing.T) {
	for _, tc := range []struct {
		name, data, err string
	}{
		{"v3", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Ann\r\nEND:VCARD\r\n", ""},
		{"v4", "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:1\r\nFN:Ann\r\nEND:VCARD\r\n", ""},
		{"v2.1", "BEGIN:VCARD\r\nVERSION:2.1\r\nUID:c1\r\nFN:Ann\r\nEND:VCARD\r\n", "not supported"},
		{"no uid", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nEND:VCARD\r\n", "no UID"},
		{"two cards", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:1\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nUID:2\r\nEND:VCARD\r\n", "exactly one"},
		{"garbage", "hello", "not a valid vCard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseContact([]byte(tc.data), Limits{})
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || o.UID == "" || o.Kind != KindContact {
				t.Fatalf("ParseContact = %+v, %v", o, err)
			}
		})
	}
}

func TestItemRoundTrip(t *testing.T) {
	o, err := ParseCalendar(ics(weekly), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	it := o.Item("w1.ics")
	body, err := Body(it.Raw)
	if err != nil || string(body) != string(o.Data) {
		t.Fatalf("Body = %q, %v", body, err)
	}
	if it.Props[PropETag] != ETag(o.Data) || it.Props[PropName] != "w1.ics" || it.Props[PropUID] != "w1" || it.Props[PropEnd] == "" {
		t.Fatalf("props = %v", it.Props)
	}
	if !strings.Contains(string(it.Raw), "component=VEVENT") {
		t.Fatalf("raw = %q", it.Raw)
	}
}

func FuzzParseCalendar(f *testing.F) {
	f.Add(ics(weekly))
	f.Add(ics("BEGIN:VTODO\nUID:t\nDUE:20260301\nRRULE:FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20270101\nEND:VTODO\n"))
	f.Add([]byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxInstances: 500, MaxCount: 500}
		o, err := ParseCalendar(data, lim)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not marked invalid: %v", err)
			}
			return
		}
		if o.UID == "" || (o.Kind != KindEvent && o.Kind != KindTodo) {
			t.Fatalf("accepted object without UID or kind: %+v", o)
		}
		if _, err := Overlaps(data, o.Start, o.Start.Add(time.Hour), lim); err != nil {
			t.Fatalf("Overlaps refused what ParseCalendar accepted: %v", err)
		}
	})
}

func FuzzParseContact(f *testing.F) {
	f.Add([]byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Ann\r\nEMAIL:a@x.test\r\nEND:VCARD\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := ParseContact(data, Limits{})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not marked invalid: %v", err)
			}
			return
		}
		if o.UID == "" {
			t.Fatal("accepted a vCard without UID")
		}
	})
}
