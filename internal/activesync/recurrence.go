package activesync

// Recurrence of events and tasks: calendar:Recurrence ([MS-ASCAL] 2.2.2.38) and
// tasks:Recurrence ([MS-ASTASK] 2.2.2.18) against RFC 5545 3.3.10 RRULE. ActiveSync
// knows six patterns (Type 0 daily, 1 weekly, 2 monthly on a day, 3 monthly on the nth
// weekday, 5 yearly on a day, 6 yearly on the nth weekday); a rule beyond them (hourly,
// several month days, BYHOUR, BYWEEKNO …) is sent as the nearest pattern, and a device's
// pattern always becomes an exact rule.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"mailroom/internal/wbxml"
)

// easRecurrence is the Recurrence element's fields.
type easRecurrence struct {
	Type, Interval, Occurrences                     int
	DayOfWeek, DayOfMonth, WeekOfMonth, MonthOfYear int
	FirstDayOfWeek                                  int // -1: not given
	Until                                           time.Time
}

// DayOfWeek bits ([MS-ASCAL] 2.2.2.17): 1 Sunday … 64 Saturday; 127 any day.
const everyDay = 127

var errRecurrence = errors.New("recurrence cannot be converted")

// dayBit is the DayOfWeek bit of an rrule weekday (Monday 0 … Sunday 6).
func dayBit(d rrule.Weekday) int { return 1 << ((d.Day() + 1) % 7) }

var icalDays = [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

// dayList writes a DayOfWeek mask as RRULE BYDAY values, each with prefix.
func dayList(mask int, prefix string) string {
	var out []string
	for i, d := range icalDays {
		if mask&(1<<i) != 0 {
			out = append(out, prefix+d)
		}
	}
	return strings.Join(out, ",")
}

// recurrenceFromRule converts an RRULE value of a series starting at the wall-clock
// time start.
func recurrenceFromRule(value string, start time.Time) (easRecurrence, error) {
	opt, err := rrule.StrToROption(value)
	if err != nil {
		return easRecurrence{}, fmt.Errorf("%w: %v", errRecurrence, err)
	}
	r := easRecurrence{Interval: max(opt.Interval, 1), Occurrences: opt.Count, FirstDayOfWeek: -1}
	if !opt.Until.IsZero() {
		r.Until = opt.Until.UTC()
	}
	if strings.Contains(strings.ToUpper(value), "WKST=") {
		r.FirstDayOfWeek = (opt.Wkst.Day() + 1) % 7
	}
	mask, nth := 0, 0
	for _, d := range opt.Byweekday {
		mask |= dayBit(d)
		if d.N() != 0 {
			nth = d.N()
		}
	}
	if nth == 0 && len(opt.Bysetpos) > 0 {
		nth = opt.Bysetpos[0]
	}
	week := func() int {
		if nth < 0 {
			return 5
		}
		return min(max(nth, 1), 5)
	}
	monthDay := start.Day()
	if len(opt.Bymonthday) > 0 {
		monthDay = opt.Bymonthday[0]
	}
	month := int(start.Month())
	if len(opt.Bymonth) > 0 {
		month = opt.Bymonth[0]
	}
	switch opt.Freq {
	case rrule.DAILY:
		r.Type, r.DayOfWeek = 0, mask
	case rrule.WEEKLY:
		r.Type, r.DayOfWeek = 1, mask
		if mask == 0 {
			r.DayOfWeek = 1 << int(start.Weekday())
		}
	case rrule.MONTHLY, rrule.YEARLY:
		yearly := opt.Freq == rrule.YEARLY
		switch {
		case mask != 0:
			r.Type, r.WeekOfMonth, r.DayOfWeek = 3, week(), mask
		case monthDay < 0: // the last day of the month
			r.Type, r.WeekOfMonth, r.DayOfWeek = 3, 5, everyDay
		default:
			r.Type, r.DayOfMonth = 2, monthDay
		}
		if yearly {
			r.Type += 3
			r.MonthOfYear = month
		}
	default:
		return easRecurrence{}, fmt.Errorf("%w: RRULE %q repeats more often than daily", errRecurrence, value)
	}
	return r, nil
}

// rule writes the recurrence as an RRULE value; allDay writes UNTIL as a DATE, as a
// series of DATE starts requires (RFC 5545 3.3.10).
func (r easRecurrence) rule(allDay bool) (string, error) {
	if err := r.check(); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("FREQ=" + [...]string{"DAILY", "WEEKLY", "MONTHLY", "MONTHLY", "", "YEARLY", "YEARLY"}[r.Type])
	if r.Interval > 1 {
		b.WriteString(";INTERVAL=" + strconv.Itoa(r.Interval))
	}
	nth := strconv.Itoa(r.WeekOfMonth)
	if r.WeekOfMonth == 5 {
		nth = "-1"
	}
	if r.Type == 5 || r.Type == 6 {
		b.WriteString(";BYMONTH=" + strconv.Itoa(r.MonthOfYear))
	}
	switch r.Type {
	case 0, 1:
		if r.DayOfWeek != 0 {
			b.WriteString(";BYDAY=" + dayList(r.DayOfWeek, ""))
		}
	case 2, 5:
		b.WriteString(";BYMONTHDAY=" + strconv.Itoa(r.DayOfMonth))
	case 3, 6:
		switch {
		case r.DayOfWeek == everyDay && r.WeekOfMonth == 5:
			b.WriteString(";BYMONTHDAY=-1")
		case r.DayOfWeek&(r.DayOfWeek-1) == 0: // one day
			b.WriteString(";BYDAY=" + dayList(r.DayOfWeek, nth))
		default:
			b.WriteString(";BYDAY=" + dayList(r.DayOfWeek, "") + ";BYSETPOS=" + nth)
		}
	}
	switch {
	case r.Occurrences > 0:
		b.WriteString(";COUNT=" + strconv.Itoa(r.Occurrences))
	case !r.Until.IsZero() && allDay:
		b.WriteString(";UNTIL=" + r.Until.UTC().Format("20060102"))
	case !r.Until.IsZero():
		b.WriteString(";UNTIL=" + r.Until.UTC().Format("20060102T150405Z"))
	}
	if r.FirstDayOfWeek >= 0 {
		b.WriteString(";WKST=" + icalDays[r.FirstDayOfWeek])
	}
	return b.String(), nil
}

// check refuses values outside [MS-ASCAL] 2.2.2.38's ranges.
func (r easRecurrence) check() error {
	bad := func(what string, v int) error {
		return fmt.Errorf("%w: %s %d is out of range", errRecurrence, what, v)
	}
	switch {
	case r.Type < 0 || r.Type > 6 || r.Type == 4:
		return bad("Type", r.Type)
	case r.Interval < 0 || r.Interval > 999:
		return bad("Interval", r.Interval)
	case r.Occurrences < 0 || r.Occurrences > 999:
		return bad("Occurrences", r.Occurrences)
	case r.DayOfWeek < 0 || r.DayOfWeek > everyDay:
		return bad("DayOfWeek", r.DayOfWeek)
	case r.FirstDayOfWeek < -1 || r.FirstDayOfWeek > 6:
		return bad("FirstDayOfWeek", r.FirstDayOfWeek)
	}
	switch r.Type {
	case 1:
		if r.DayOfWeek == 0 {
			return fmt.Errorf("%w: a weekly recurrence names no day", errRecurrence)
		}
	case 2, 5:
		if r.DayOfMonth < 1 || r.DayOfMonth > 31 {
			return bad("DayOfMonth", r.DayOfMonth)
		}
	case 3, 6:
		if r.WeekOfMonth < 1 || r.WeekOfMonth > 5 {
			return bad("WeekOfMonth", r.WeekOfMonth)
		}
		if r.DayOfWeek == 0 {
			return fmt.Errorf("%w: a monthly recurrence on a weekday names no day", errRecurrence)
		}
	}
	if (r.Type == 5 || r.Type == 6) && (r.MonthOfYear < 1 || r.MonthOfYear > 12) {
		return bad("MonthOfYear", r.MonthOfYear)
	}
	return nil
}

// parseRecurrence reads a Recurrence element whose children are in space.
func parseRecurrence(e *wbxml.Element, space string) (easRecurrence, error) {
	num := func(name string, def int) (int, error) {
		s := e.ChildText(space, name)
		if s == "" {
			return def, nil
		}
		v, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("%w: %s %q is not a number", errRecurrence, name, s)
		}
		return v, nil
	}
	var r easRecurrence
	var err error
	for _, f := range []struct {
		name string
		dst  *int
		def  int
	}{
		{"Type", &r.Type, -1}, {"Interval", &r.Interval, 1}, {"Occurrences", &r.Occurrences, 0},
		{"DayOfWeek", &r.DayOfWeek, 0}, {"DayOfMonth", &r.DayOfMonth, 0}, {"WeekOfMonth", &r.WeekOfMonth, 0},
		{"MonthOfYear", &r.MonthOfYear, 0}, {"FirstDayOfWeek", &r.FirstDayOfWeek, -1},
	} {
		if *f.dst, err = num(f.name, f.def); err != nil {
			return easRecurrence{}, err
		}
	}
	if u := e.ChildText(space, "Until"); u != "" {
		if r.Until, err = parseEASTime(u); err != nil {
			return easRecurrence{}, fmt.Errorf("%w: Until: %v", errRecurrence, err)
		}
	}
	return r, r.check()
}

// addRecurrence writes r as a Recurrence element in space; until formats Until.
func addRecurrence(parent *wbxml.Element, space string, r easRecurrence, version int, until func(time.Time) string) {
	e := parent.Add(space, "Recurrence")
	e.AddText(space, "Type", strconv.Itoa(r.Type))
	if r.Occurrences > 0 {
		e.AddText(space, "Occurrences", strconv.Itoa(r.Occurrences))
	}
	e.AddText(space, "Interval", strconv.Itoa(max(r.Interval, 1)))
	if r.WeekOfMonth > 0 {
		e.AddText(space, "WeekOfMonth", strconv.Itoa(r.WeekOfMonth))
	}
	if r.DayOfWeek > 0 {
		e.AddText(space, "DayOfWeek", strconv.Itoa(r.DayOfWeek))
	}
	if r.MonthOfYear > 0 {
		e.AddText(space, "MonthOfYear", strconv.Itoa(r.MonthOfYear))
	}
	if r.Occurrences == 0 && !r.Until.IsZero() {
		e.AddText(space, "Until", until(r.Until))
	}
	if r.DayOfMonth > 0 {
		e.AddText(space, "DayOfMonth", strconv.Itoa(r.DayOfMonth))
	}
	if r.FirstDayOfWeek >= 0 && version >= 141 {
		e.AddText(space, "FirstDayOfWeek", strconv.Itoa(r.FirstDayOfWeek))
	}
}
