package activesync

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teambition/rrule-go"

	"mailroom/internal/pim"
	"mailroom/internal/wbxml"
)

// TestTimeZoneRules describes IANA zones as TIME_ZONE_INFORMATION and matches them back.
func TestTimeZoneRules(t *testing.T) {
	for _, tc := range []struct {
		zone         string
		bias         int
		dst          tzRule // zero: no daylight time
		std          tzRule
		dstBiasDelta int
	}{
		{"America/New_York", 300, tzRule{3, 0, 2, 2, 0}, tzRule{11, 0, 1, 2, 0}, -60},
		{"Europe/Berlin", -60, tzRule{3, 0, 5, 2, 0}, tzRule{10, 0, 5, 3, 0}, -60},
		{"Australia/Sydney", -600, tzRule{10, 0, 1, 2, 0}, tzRule{4, 0, 1, 3, 0}, -60},
		{"Asia/Kolkata", -330, tzRule{}, tzRule{}, 0},
		{"UTC", 0, tzRule{}, tzRule{}, 0},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			loc, err := time.LoadLocation(tc.zone)
			must(t, err)
			z := zoneInfo(loc, 2026)
			if z.bias != tc.bias || z.dst != tc.dst || z.std != tc.std || z.dstBias != tc.dstBiasDelta {
				t.Fatalf("zoneInfo = %+v", z)
			}
			back, err := decodeTimeZone(z.encode())
			must(t, err)
			if !back.sameRules(z) || back.stdName != tc.zone {
				t.Fatalf("round trip %+v, want %+v", back, z)
			}
			back.stdName = "" // a device's own name: found by the rules alone
			got := zoneFromInfo(back, 2026)
			if tc.zone == "UTC" {
				if got.tzid != "" {
					t.Fatalf("UTC matched %q", got.tzid)
				}
				return
			}
			if got.loc == nil || !zoneInfo(got.loc, 2026).sameRules(z) {
				t.Fatalf("matched %q", got.tzid)
			}
			// Every instant converts the same as the zone itself.
			for _, at := range []time.Time{time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC)} {
				_, want := at.In(loc).Zone()
				if off := z.offsetAt(at); off != want {
					t.Errorf("offsetAt(%s) = %d, want %d", at, off, want)
				}
			}
		})
	}
}

// TestTimeZoneCustom keeps a zone no IANA zone matches as a VTIMEZONE of its own rules.
func TestTimeZoneCustom(t *testing.T) {
	z := timeZoneInfo{bias: 200, stdName: "Somewhere Standard Time", std: tzRule{10, 0, 5, 3, 0}, dst: tzRule{3, 0, 5, 2, 0}, dstBias: -60}
	got := zoneFromInfo(z, 2026)
	if got.loc != nil || got.tzid != "Somewhere Standard Time" {
		t.Fatalf("zone %+v", got)
	}
	w := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	if in := got.instant(w); !in.Equal(time.Date(2026, 7, 1, 11, 20, 0, 0, time.UTC)) {
		t.Errorf("summer 09:00 local is %s", in)
	}
	tz := got.vtimezone(2026)
	info, ok := infoFromVTimezone(tz)
	if !ok || !info.sameRules(z) {
		t.Errorf("VTIMEZONE reads back as %+v", info)
	}
	if _, err := decodeTimeZone("AAAA"); err == nil {
		t.Error("a 3-byte Timezone was accepted")
	}
}

// TestRecurrenceConversion converts RRULEs to ActiveSync patterns and back.
func TestRecurrenceConversion(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday
	for _, tc := range []struct{ rule, want, back string }{
		{"FREQ=DAILY;COUNT=5", "type=0 interval=1 count=5", "FREQ=DAILY;COUNT=5"},
		{"FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;UNTIL=20261231T235959Z", "type=1 interval=2 dow=10", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;UNTIL=20261231T235959Z"},
		{"FREQ=WEEKLY", "type=1 interval=1 dow=2", "FREQ=WEEKLY;BYDAY=MO"},
		{"FREQ=MONTHLY;BYMONTHDAY=15", "type=2 interval=1 dom=15", "FREQ=MONTHLY;BYMONTHDAY=15"},
		{"FREQ=MONTHLY;BYDAY=-1FR", "type=3 interval=1 dow=32 week=5", "FREQ=MONTHLY;BYDAY=-1FR"},
		{"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1", "type=3 interval=1 dow=62 week=1", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1"},
		{"FREQ=MONTHLY;BYMONTHDAY=-1", "type=3 interval=1 dow=127 week=5", "FREQ=MONTHLY;BYMONTHDAY=-1"},
		{"FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=2", "type=5 interval=1 dom=2 month=3", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=2"},
		{"FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", "type=6 interval=1 dow=16 week=4 month=11", "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH"},
		{"FREQ=WEEKLY;BYDAY=SU;WKST=SU", "type=1 interval=1 dow=1 fdow=0", "FREQ=WEEKLY;BYDAY=SU;WKST=SU"},
	} {
		r, err := recurrenceFromRule(tc.rule, start)
		must(t, err)
		if got := describe(r); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.rule, got, tc.want)
		}
		back, err := r.rule(false)
		must(t, err)
		if back != tc.back {
			t.Errorf("%s: back as %s, want %s", tc.rule, back, tc.back)
		}
	}
	if _, err := recurrenceFromRule("FREQ=HOURLY", start); err == nil {
		t.Error("an hourly rule was converted")
	}
	for _, bad := range []easRecurrence{{Type: 4}, {Type: 1}, {Type: 2, DayOfMonth: 32}, {Type: 0, Occurrences: 100000}, {Type: 6, WeekOfMonth: 2, DayOfWeek: 2}} {
		if _, err := bad.rule(false); err == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}
}

func describe(r easRecurrence) string {
	s := "type=" + strconv.Itoa(r.Type) + " interval=" + strconv.Itoa(r.Interval)
	for _, f := range []struct {
		name string
		v    int
	}{{"count", r.Occurrences}, {"dow", r.DayOfWeek}, {"dom", r.DayOfMonth}, {"week", r.WeekOfMonth}, {"month", r.MonthOfYear}} {
		if f.v != 0 {
			s += " " + f.name + "=" + strconv.Itoa(f.v)
		}
	}
	if r.FirstDayOfWeek >= 0 {
		s += " fdow=" + strconv.Itoa(r.FirstDayOfWeek)
	}
	return s
}

// FuzzTimeZone decodes arbitrary Timezone values: a value that decodes encodes to one
// that decodes to the same rules, and converting times with it never panics.
func FuzzTimeZone(f *testing.F) {
	for _, z := range []string{"America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata"} {
		loc, _ := time.LoadLocation(z)
		f.Add(zoneInfo(loc, 2026).encode())
	}
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		z, err := decodeTimeZone(s)
		if err != nil {
			return
		}
		back, err := decodeTimeZone(z.encode())
		if err != nil || !back.sameRules(z) {
			t.Fatalf("round trip of %+v: %+v %v", z, back, err)
		}
		zone := zoneFromInfo(z, 2026)
		at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		_ = zone.instant(zone.wall(at))
		if tz := zone.vtimezone(2026); tz != nil {
			_, _ = infoFromVTimezone(tz)
		}
	})
}

// FuzzRecurrence converts arbitrary Recurrence elements to RRULEs: what converts is a
// rule pim accepts and expands within its bounds, and converts back to the same
// pattern.
func FuzzRecurrence(f *testing.F) {
	f.Add(1, 2, 0, 10, 0, 0, 0, -1, "")
	f.Add(3, 1, 5, 32, 0, 5, 0, 0, "20261231T000000Z")
	f.Add(6, 1, 0, 16, 0, 4, 11, 1, "")
	f.Add(5, 1, 999, 0, 29, 0, 2, -1, "")
	f.Fuzz(func(t *testing.T, typ, interval, count, dow, dom, week, month, fdow int, until string) {
		r := easRecurrence{Type: typ, Interval: interval, Occurrences: count, DayOfWeek: dow, DayOfMonth: dom,
			WeekOfMonth: week, MonthOfYear: month, FirstDayOfWeek: fdow}
		if u, err := parseEASTime(until); err == nil {
			r.Until = u
		}
		rule, err := r.rule(false)
		if err != nil {
			return
		}
		start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		opt, err := rrule.StrToROption(rule)
		if err != nil {
			t.Fatalf("%+v became %q, which does not parse: %v", r, rule, err)
		}
		_ = opt
		obj := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20260101T000000Z\r\n" +
			"DTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nRRULE:" + rule + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
		if _, err := pim.ParseCalendar([]byte(obj), pim.Limits{MaxInstances: 2000}); err != nil {
			t.Fatalf("%+v became %q, which pim refuses: %v", r, rule, err)
		}
		back, err := recurrenceFromRule(rule, start)
		if err != nil {
			t.Fatalf("%q does not convert back: %v", rule, err)
		}
		again, err := back.rule(false)
		if err != nil || again != rule {
			t.Fatalf("%q came back as %q (%v)", rule, again, err)
		}
	})
}

// TestEventConversion builds an event from a device's fields and renders it back.
func TestEventConversion(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	tz := zoneInfo(loc, 2026)
	tz.stdName, tz.dstName = "W. Europe Standard Time", "W. Europe Daylight Time"
	app := mustXML(t, `<ApplicationData xmlns="AirSync:" xmlns:cal="Calendar:" xmlns:b="AirSyncBase:">`+
		`<cal:Timezone>`+tz.encode()+`</cal:Timezone><cal:StartTime>20260302T080000Z</cal:StartTime><cal:EndTime>20260302T090000Z</cal:EndTime>`+
		`<cal:Subject>Stand-up</cal:Subject><b:Location><b:DisplayName>Room 1</b:DisplayName></b:Location>`+
		`<b:Body><b:Type>1</b:Type><b:Data>Agenda</b:Data></b:Body><cal:BusyStatus>3</cal:BusyStatus><cal:Reminder>10</cal:Reminder>`+
		`<cal:Recurrence><cal:Type>1</cal:Type><cal:Interval>1</cal:Interval><cal:DayOfWeek>2</cal:DayOfWeek><cal:Occurrences>10</cal:Occurrences></cal:Recurrence>`+
		`<cal:Exceptions><cal:Exception><cal:Deleted>1</cal:Deleted><cal:ExceptionStartTime>20260309T080000Z</cal:ExceptionStartTime></cal:Exception>`+
		`<cal:Exception><b:InstanceId>20260316T080000Z</b:InstanceId><cal:Subject>Moved</cal:Subject><cal:StartTime>20260316T100000Z</cal:StartTime><cal:EndTime>20260316T110000Z</cal:EndTime></cal:Exception></cal:Exceptions>`+
		`</ApplicationData>`)
	now := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	cal, err := eventFromDevice(app, nil, "uid-1", pim.Limits{}, now)
	must(t, err)
	item, err := calendarItem(cal, pim.KindEvent, "x.ics")
	must(t, err)
	text, _ := pim.Body(item.Raw)
	for _, want := range []string{"TZID=Europe/Berlin:20260302T090000", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10",
		"EXDATE;TZID=Europe/Berlin:20260309T090000", "RECURRENCE-ID;TZID=Europe/Berlin:20260316T090000",
		"SUMMARY:Moved", "LOCATION:Room 1", "X-MICROSOFT-CDO-BUSYSTATUS:OOF", "TRIGGER:-PT10M", "BEGIN:VTIMEZONE"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
	back, err := pim.DecodeCalendar(text)
	must(t, err)
	out := wbxml.New(wbxml.NSAirSync, "ApplicationData")
	must(t, renderEvent(out, back, itemOptions{}, 161, "alice@example.com"))
	for _, name := range []string{"StartTime", "EndTime", "Subject", "BusyStatus", "Reminder"} {
		if got, want := out.ChildText(wbxml.NSCalendar, name), app.ChildText(wbxml.NSCalendar, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	excs := out.Child(wbxml.NSCalendar, "Exceptions").All(wbxml.NSCalendar, "Exception")
	if len(excs) != 2 || excs[0].ChildText(wbxml.NSAirSyncBase, "InstanceId") != "20260309T080000Z" ||
		excs[1].ChildText(wbxml.NSCalendar, "StartTime") != "20260316T100000Z" || excs[1].ChildText(wbxml.NSCalendar, "Subject") != "Moved" {
		t.Errorf("exceptions: %s", out.XML())
	}
	if z, err := decodeTimeZone(out.ChildText(wbxml.NSCalendar, "Timezone")); err != nil || !z.sameRules(tz) {
		t.Errorf("timezone %+v %v", z, err)
	}
}

func mustXML(t testing.TB, s string) *wbxml.Element {
	t.Helper()
	e, err := wbxml.ParseXML([]byte(s))
	must(t, err)
	return e
}
