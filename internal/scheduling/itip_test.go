package scheduling

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/pim"
)

// ics builds a VCALENDAR from VEVENT property lines, with METHOD when method is set.
func ics(method string, lines ...string) []byte {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n")
	if method != "" {
		b.WriteString("METHOD:" + method + "\r\n")
	}
	b.WriteString("BEGIN:VEVENT\r\n")
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	return []byte(b.String())
}

// meeting is the property lines of a meeting alice organises with bob and carol.
func meeting(uid string, seq int, extra ...string) []string {
	return append([]string{
		"UID:" + uid,
		"DTSTAMP:20261101T090000Z",
		"DTSTART:20261202T100000Z",
		"DTEND:20261202T110000Z",
		"SUMMARY:Planning",
		"SEQUENCE:" + strconv.Itoa(seq),
		"ORGANIZER;CN=Alice:mailto:alice@a.test",
		"ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@a.test",
		"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@b.test",
		"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:Carol@A.test",
	}, extra...)
}

func mustParse(t testing.TB, data []byte) *Message {
	t.Helper()
	m, err := Parse(data, pim.Limits{})
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, data)
	}
	return m
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want error
		uid  string
	}{
		{"request", ics("REQUEST", meeting("m1", 0)...), nil, "m1"},
		{"reply", ics("REPLY", "UID:m1", "DTSTAMP:20261101T090000Z", "ORGANIZER:mailto:alice@a.test", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@b.test"), nil, "m1"},
		{"no method", ics("", meeting("m1", 0)...), ErrInvalid, ""},
		{"publish", ics("PUBLISH", meeting("m1", 0)...), ErrUnsupported, ""},
		{"counter", ics("COUNTER", meeting("m1", 0)...), ErrUnsupported, ""},
		{"no organizer", ics("REQUEST", "UID:m1", "DTSTAMP:20261101T090000Z", "DTSTART:20261202T100000Z"), ErrInvalid, ""},
		{"organizer not mailto", ics("REQUEST", "UID:m1", "DTSTAMP:20261101T090000Z", "ORGANIZER:urn:x"), ErrInvalid, ""},
		{"no uid", ics("REQUEST", "DTSTAMP:20261101T090000Z", "ORGANIZER:mailto:alice@a.test"), ErrInvalid, ""},
		{"reply with two attendees", ics("REPLY", meeting("m1", 0)...), ErrInvalid, ""},
		{"todo", []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:REQUEST\r\nBEGIN:VTODO\r\nUID:t\r\nDTSTAMP:20261101T090000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"), ErrUnsupported, ""},
		{"not icalendar", []byte("hello"), ErrInvalid, ""},
		{"two uids", []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:REQUEST\r\n" +
			"BEGIN:VEVENT\r\nUID:a\r\nORGANIZER:mailto:o@x.test\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:b\r\nORGANIZER:mailto:o@x.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"), ErrInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.data, pim.Limits{})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && m.UID != tt.uid {
				t.Errorf("UID = %q", m.UID)
			}
		})
	}
	m := mustParse(t, ics("REQUEST", meeting("m1", 3)...))
	if m.Organizer != "alice@a.test" || m.Sequence != 3 || len(m.Attendees) != 3 || m.Attendees[2] != "carol@a.test" {
		t.Errorf("parsed %+v", m)
	}
}

func partstat(t *testing.T, data []byte, who string) PartStat {
	t.Helper()
	in, err := Info(data, pim.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range in.Attendees {
		if a.Address == who {
			return a.PartStat
		}
	}
	return ""
}

func TestApplyRequest(t *testing.T) {
	v0 := ics("REQUEST", meeting("m1", 0)...)
	copy0, err := ApplyRequest(nil, mustParse(t, v0), pim.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(copy0), "METHOD") {
		t.Errorf("calendar copy keeps METHOD:\n%s", copy0)
	}
	if _, err := pim.ParseCalendar(copy0, pim.Limits{}); err != nil {
		t.Fatalf("copy is not a valid calendar object: %v", err)
	}
	accepted, err := SetPartStat(copy0, "bob@b.test", Accepted, pim.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		current []byte
		msg     []byte
		want    error
		bob     PartStat
	}{
		{"new", nil, v0, nil, NeedsAction},
		{"resent keeps the answer", accepted, v0, nil, Accepted},
		{"rescheduled asks again", accepted, ics("REQUEST", meeting("m1", 1)...), nil, NeedsAction},
		{"older sequence", mustApply(t, accepted, ics("REQUEST", meeting("m1", 2)...)), ics("REQUEST", meeting("m1", 1)...), ErrStale, ""},
		{"another organiser", accepted, ics("REQUEST", strings.ReplaceAll(strings.Join(meeting("m1", 5), "\n"), "ORGANIZER;CN=Alice:mailto:alice@a.test", "ORGANIZER:mailto:mallory@evil.test")), ErrSpoofed, ""},
		{"other uid in the slot", accepted, ics("REQUEST", meeting("m2", 0)...), ErrUnknownEvent, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ApplyRequest(tt.current, mustParse(t, tt.msg), pim.Limits{})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil {
				if got := partstat(t, out, "bob@b.test"); got != tt.bob {
					t.Errorf("bob's PARTSTAT = %s, want %s", got, tt.bob)
				}
			}
		})
	}
}

// mustApply is current after a REQUEST.
func mustApply(t *testing.T, current, req []byte) []byte {
	t.Helper()
	out, err := ApplyRequest(current, mustParse(t, req), pim.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestApplyReply(t *testing.T) {
	organiser := mustApply(t, nil, ics("REQUEST", meeting("m1", 1)...))
	reply := func(uid string, seq int, who, ps string) []byte {
		return ics("REPLY", "UID:"+uid, "DTSTAMP:20261101T090000Z", "SEQUENCE:"+strconv.Itoa(seq), "ORGANIZER:mailto:alice@a.test",
			"ATTENDEE;PARTSTAT="+ps+":mailto:"+who)
	}
	tests := []struct {
		name    string
		current []byte
		msg     []byte
		want    error
		who     string
		ps      PartStat
	}{
		{"accept", organiser, reply("m1", 1, "bob@b.test", "ACCEPTED"), nil, "bob@b.test", Accepted},
		{"decline, case of address", organiser, reply("m1", 1, "CAROL@a.test", "DECLINED"), nil, "carol@a.test", Declined},
		{"newer sequence", organiser, reply("m1", 2, "bob@b.test", "TENTATIVE"), nil, "bob@b.test", Tentative},
		{"stale", organiser, reply("m1", 0, "bob@b.test", "ACCEPTED"), ErrStale, "", ""},
		{"party crasher", organiser, reply("m1", 1, "mallory@evil.test", "ACCEPTED"), ErrNotAttendee, "", ""},
		{"unknown uid", nil, reply("m9", 1, "bob@b.test", "ACCEPTED"), ErrUnknownEvent, "", ""},
		{"other organiser", organiser, []byte(strings.ReplaceAll(string(reply("m1", 1, "bob@b.test", "ACCEPTED")), "mailto:alice@a.test", "mailto:mallory@evil.test")), ErrSpoofed, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ApplyReply(tt.current, mustParse(t, tt.msg), pim.Limits{})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil {
				if got := partstat(t, out, tt.who); got != tt.ps {
					t.Errorf("PARTSTAT of %s = %s, want %s", tt.who, got, tt.ps)
				}
			}
		})
	}
}

func TestApplyCancel(t *testing.T) {
	series := mustApply(t, nil, ics("REQUEST", meeting("s1", 0, "RRULE:FREQ=DAILY;COUNT=5")...))
	whole := ics("CANCEL", meeting("s1", 1)...)
	one := ics("CANCEL", meeting("s1", 1, "RECURRENCE-ID:20261203T100000Z")...)
	tests := []struct {
		name    string
		current []byte
		msg     []byte
		want    error
		check   string
	}{
		{"whole event", series, whole, nil, "STATUS:CANCELLED"},
		{"one instance", series, one, nil, "EXDATE:20261203T100000Z"},
		{"unknown", nil, whole, ErrUnknownEvent, ""},
		{"stale", mustApply(t, series, ics("REQUEST", meeting("s1", 3, "RRULE:FREQ=DAILY;COUNT=5")...)), whole, ErrStale, ""},
		{"spoofed", series, []byte(strings.ReplaceAll(string(whole), "mailto:alice@a.test", "mailto:mallory@evil.test")), ErrSpoofed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ApplyCancel(tt.current, mustParse(t, tt.msg), pim.Limits{})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && !strings.Contains(string(out), tt.check) {
				t.Errorf("result lacks %q:\n%s", tt.check, out)
			}
		})
	}
}

func TestCheckSender(t *testing.T) {
	req := mustParse(t, ics("REQUEST", meeting("m1", 0)...))
	delegated := mustParse(t, ics("REQUEST", strings.ReplaceAll(strings.Join(meeting("m1", 0), "\n"),
		"ORGANIZER;CN=Alice:", `ORGANIZER;SENT-BY="mailto:assistant@a.test":`)))
	reply := mustParse(t, ics("REPLY", "UID:m1", "DTSTAMP:20261101T090000Z", "ORGANIZER:mailto:alice@a.test", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@b.test"))
	mail := func(from string) []byte { return []byte("From: " + from + "\r\nSubject: x\r\n\r\nbody\r\n") }
	tests := []struct {
		name string
		raw  []byte
		m    *Message
		want error
	}{
		{"organiser", mail("Alice <Alice@A.test>"), req, nil},
		{"spoofed request", mail("mallory@evil.test"), req, ErrSpoofed},
		{"attendee sends request", mail("bob@b.test"), req, ErrSpoofed},
		{"sent-by", mail("assistant@a.test"), delegated, nil},
		{"attendee replies", mail("bob@b.test"), reply, nil},
		{"spoofed reply", mail("alice@a.test"), reply, ErrSpoofed},
		{"two senders", mail("bob@b.test, alice@a.test"), reply, ErrSpoofed},
		{"no sender", []byte("Subject: x\r\n\r\n"), reply, ErrSpoofed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkSender(tt.raw, tt.m); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReplyAndMail(t *testing.T) {
	copy0 := mustApply(t, nil, ics("REQUEST", meeting("m1", 2)...))
	r, err := Reply(copy0, "bob@b.test", Accepted, time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC), pim.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m := mustParse(t, r)
	if m.Method != MethodReply || m.Sequence != 2 || len(m.Attendees) != 1 || m.Attendees[0] != "bob@b.test" {
		t.Fatalf("reply %+v\n%s", m, r)
	}
	if _, err := Reply(copy0, "nobody@b.test", Accepted, time.Now(), pim.Limits{}); !errors.Is(err, ErrNotAttendee) {
		t.Errorf("reply of a non-attendee: %v", err)
	}
	raw, err := Mail{From: "bob@b.test", To: []string{"alice@a.test"}, Subject: "Accepted: Planning", Text: "yes",
		Method: MethodReply, Calendar: r, Date: time.Now()}.Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"multipart/alternative", "text/plain", "text/calendar; charset=utf-8; method=REPLY"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("mail lacks %q", want)
		}
	}
	got, ok := Extract(raw)
	if !ok || string(got) != string(r) {
		t.Fatalf("Extract: %v\n%s", ok, got)
	}
}

func TestMerged(t *testing.T) {
	start := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return start.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	tests := []struct {
		name    string
		periods []Period
		end     time.Time
		want    string
	}{
		{"free", nil, at(2, 0), "0000"},
		{"busy hour", []Period{{at(1, 0), at(2, 0), Busy}}, at(2, 0), "0022"},
		{"partial slot counts", []Period{{at(0, 10), at(0, 20), BusyTentative}}, at(1, 0), "10"},
		{"busiest wins", []Period{{at(0, 0), at(1, 0), BusyTentative}, {at(0, 30), at(1, 0), OutOfOffice}, {at(0, 0), at(0, 30), WorkingElsewhere}}, at(1, 0), "13"},
		{"outside", []Period{{at(-2, 0), at(-1, 0), Busy}, {at(5, 0), at(6, 0), Busy}}, at(1, 0), "00"},
		{"last slot partial", []Period{{at(1, 0), at(1, 10), Busy}}, at(1, 10), "002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Merged(tt.periods, start, tt.end, 30*time.Minute); got != tt.want {
				t.Errorf("Merged = %q, want %q", got, tt.want)
			}
		})
	}
}
