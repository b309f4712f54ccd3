package activesync

// calendar:Timezone ([MS-ASCAL] 2.2.2.46 (Timezone), [MS-ASDTYPE] 2.7.4): the base64
// of a Windows TIME_ZONE_INFORMATION structure, 172 bytes little-endian — Bias (int32,
// minutes, UTC = local + Bias), StandardName (32 UTF-16 units), StandardDate
// (SYSTEMTIME), StandardBias (int32), DaylightName, DaylightDate, DaylightBias. A
// SYSTEMTIME with wYear 0 is a yearly rule: month, day of week (0 Sunday), week of the
// month (1–4, 5 the last), and the local time of the change in the time then in force.
//
// Towards a device, a zone is described by its rules in the year of the event; from a
// device, a rule set is matched to an IANA zone when one has the same rules (so CalDAV
// clients and pim see a zone they know), or else kept as a VTIMEZONE of its own.

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/emersion/go-ical"

	"mailroom/internal/pim"
)

const tziSize = 172

// tzRule is one yearly change of a zone: at hour:minute local time on the week-th
// weekday (1–4, 5 the last) of month.
type tzRule struct {
	month, weekday, week, hour, minute int
}

// timeZoneInfo is a decoded TIME_ZONE_INFORMATION. A zone without daylight saving
// time has zero rules.
type timeZoneInfo struct {
	bias             int // minutes; UTC = local + bias
	stdName, dstName string
	std, dst         tzRule
	stdBias, dstBias int
}

var errTimeZone = errors.New("not a valid TIME_ZONE_INFORMATION")

// hasDST reports whether the zone changes between standard and daylight time.
func (z timeZoneInfo) hasDST() bool { return z.std.month != 0 && z.dst.month != 0 }

// sameRules reports whether two zones have the same offsets and changes, whatever
// their names.
func (z timeZoneInfo) sameRules(o timeZoneInfo) bool {
	if z.bias+z.stdBias != o.bias+o.stdBias || z.hasDST() != o.hasDST() {
		return false
	}
	return !z.hasDST() || z.std == o.std && z.dst == o.dst && z.dstBias-z.stdBias == o.dstBias-o.stdBias
}

// decodeTimeZone reads a calendar:Timezone value.
func decodeTimeZone(s string) (timeZoneInfo, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return timeZoneInfo{}, fmt.Errorf("%w: %v", errTimeZone, err)
	}
	if len(b) != tziSize {
		return timeZoneInfo{}, fmt.Errorf("%w: %d bytes instead of %d", errTimeZone, len(b), tziSize)
	}
	i32 := func(off int) int { return int(int32(binary.LittleEndian.Uint32(b[off:]))) }
	name := func(off int) string {
		u := make([]uint16, 0, 32)
		for i := range 32 {
			c := binary.LittleEndian.Uint16(b[off+2*i:])
			if c == 0 {
				break
			}
			u = append(u, c)
		}
		return strings.ToValidUTF8(string(utf16.Decode(u)), "")
	}
	rule := func(off int) (tzRule, error) {
		f := func(i int) int { return int(binary.LittleEndian.Uint16(b[off+2*i:])) }
		year, r := f(0), tzRule{month: f(1), weekday: f(2), week: f(3), hour: f(4), minute: f(5)}
		if r.month == 0 {
			return tzRule{}, nil
		}
		if year != 0 && r.month <= 12 && r.week >= 1 && r.week <= 31 {
			// An absolute date: the same weekday and week of the month every year.
			d := time.Date(year, time.Month(r.month), r.week, 0, 0, 0, 0, time.UTC)
			r.weekday, r.week = int(d.Weekday()), weekOfMonth(d)
		}
		if r.month > 12 || r.weekday > 6 || r.week < 1 || r.week > 5 || r.hour > 23 || r.minute > 59 {
			return tzRule{}, fmt.Errorf("%w: a change date out of range", errTimeZone)
		}
		return r, nil
	}
	z := timeZoneInfo{bias: i32(0), stdName: name(4), stdBias: i32(84), dstName: name(88), dstBias: i32(168)}
	if z.std, err = rule(68); err != nil {
		return timeZoneInfo{}, err
	}
	if z.dst, err = rule(152); err != nil {
		return timeZoneInfo{}, err
	}
	for _, v := range []int{z.bias, z.stdBias, z.dstBias, z.bias + z.dstBias, z.bias + z.stdBias} {
		if v < -1440 || v > 1440 {
			return timeZoneInfo{}, fmt.Errorf("%w: a bias of %d minutes", errTimeZone, v)
		}
	}
	if !z.hasDST() {
		z.std, z.dst, z.dstBias = tzRule{}, tzRule{}, 0
	}
	return z, nil
}

// encode writes the zone as a calendar:Timezone value.
func (z timeZoneInfo) encode() string {
	b := make([]byte, tziSize)
	put32 := func(off, v int) { binary.LittleEndian.PutUint32(b[off:], uint32(int32(v))) }
	name := func(off int, s string) {
		u := utf16.Encode([]rune(s))
		for i := 0; i < len(u) && i < 31; i++ {
			binary.LittleEndian.PutUint16(b[off+2*i:], u[i])
		}
	}
	rule := func(off int, r tzRule) {
		for i, v := range []int{0, r.month, r.weekday, r.week, r.hour, r.minute} {
			binary.LittleEndian.PutUint16(b[off+2*i:], uint16(v))
		}
	}
	put32(0, z.bias)
	name(4, z.stdName)
	rule(68, z.std)
	put32(84, z.stdBias)
	name(88, z.dstName)
	rule(152, z.dst)
	put32(168, z.dstBias)
	return base64.StdEncoding.EncodeToString(b)
}

// weekOfMonth is the week (1–4, 5 the last) of a day's weekday in its month.
func weekOfMonth(d time.Time) int {
	if d.AddDate(0, 0, 7).Month() != d.Month() {
		return 5
	}
	return (d.Day()-1)/7 + 1
}

// at is the wall-clock moment of the rule's change in year (as a UTC time value).
func (r tzRule) at(year int) time.Time {
	first := time.Date(year, time.Month(r.month), 1, r.hour, r.minute, 0, 0, time.UTC)
	d := first.AddDate(0, 0, (r.weekday-int(first.Weekday())+7)%7+7*(r.week-1))
	for d.Month() != first.Month() {
		d = d.AddDate(0, 0, -7)
	}
	return d
}

// offsetAt is the zone's offset from UTC, in seconds, at the instant t.
func (z timeZoneInfo) offsetAt(t time.Time) int {
	std := -(z.bias + z.stdBias) * 60
	if !z.hasDST() {
		return std
	}
	dst := -(z.bias + z.dstBias) * 60
	year := t.UTC().Add(time.Duration(std) * time.Second).Year()
	toDST := z.dst.at(year).Add(-time.Duration(std) * time.Second)
	toStd := z.std.at(year).Add(-time.Duration(dst) * time.Second)
	in := !t.Before(toDST) && t.Before(toStd)
	if toStd.Before(toDST) { // southern hemisphere: daylight time spans the new year
		in = !t.Before(toDST) || t.Before(toStd)
	}
	if in {
		return dst
	}
	return std
}

// zoneInfo describes loc's rules in year; the names are the zone's IANA name, so a
// device that sends the zone back names it exactly.
func zoneInfo(loc *time.Location, year int) timeZoneInfo {
	name := loc.String()
	if len(name) > 31 {
		name = name[:31]
	}
	z := timeZoneInfo{stdName: name, dstName: name}
	start := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	_, off0 := start.Zone()
	var changes []time.Time
	prev := off0
	for t := start; len(changes) < 3; {
		_, end := t.ZoneBounds()
		if end.IsZero() || end.Year() > year {
			break
		}
		if _, off := end.Zone(); off != prev { // a change of name alone is no change
			changes = append(changes, end)
			prev = off
		}
		t = end
	}
	stdOff := off0
	if start.IsDST() {
		_, stdOff = time.Date(year, 7, 1, 0, 0, 0, 0, loc).Zone()
	}
	z.bias = -stdOff / 60
	if len(changes) != 2 {
		return z
	}
	for _, c := range changes {
		before := c.Add(-time.Minute)
		_, oldOff := before.Zone()
		wall := c.UTC().Add(time.Duration(oldOff) * time.Second)
		r := tzRule{month: int(wall.Month()), weekday: int(wall.Weekday()), week: weekOfMonth(wall), hour: wall.Hour(), minute: wall.Minute()}
		if c.IsDST() {
			_, off := c.Zone()
			z.dst, z.dstBias = r, -(off-stdOff)/60
		} else {
			z.std = r
		}
	}
	if !z.hasDST() {
		z.std, z.dst, z.dstBias = tzRule{}, tzRule{}, 0
	}
	return z
}

// zoneCandidates are the IANA zones a device's rules are matched against, most used
// first, one per distinct rule set where several share one.
var zoneCandidates = []string{
	"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
	"America/Anchorage", "Pacific/Honolulu", "America/Halifax", "America/St_Johns", "America/Sao_Paulo",
	"America/Mexico_City", "America/Bogota", "America/Santiago", "America/Argentina/Buenos_Aires",
	"America/Caracas", "America/Havana", "Atlantic/Azores",
	"Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Helsinki", "Europe/Athens", "Europe/Moscow",
	"Europe/Istanbul", "Africa/Cairo", "Africa/Johannesburg", "Africa/Lagos", "Africa/Nairobi", "Africa/Casablanca",
	"Asia/Jerusalem", "Asia/Tehran", "Asia/Dubai", "Asia/Kabul", "Asia/Karachi", "Asia/Kolkata", "Asia/Kathmandu",
	"Asia/Dhaka", "Asia/Yangon", "Asia/Bangkok", "Asia/Shanghai", "Asia/Singapore", "Asia/Tokyo", "Asia/Seoul",
	"Australia/Perth", "Australia/Eucla", "Australia/Darwin", "Australia/Adelaide", "Australia/Brisbane",
	"Australia/Sydney", "Australia/Lord_Howe", "Pacific/Noumea", "Pacific/Auckland", "Pacific/Chatham",
	"Pacific/Tongatapu", "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC",
}

// calZone is the zone of an event's times: an IANA zone when one fits, else the rules
// of a TIME_ZONE_INFORMATION or a VTIMEZONE.
type calZone struct {
	tzid string         // "" for UTC (times written with Z)
	loc  *time.Location // nil: use info
	info timeZoneInfo
}

var utcZone = calZone{loc: time.UTC}

// wall is t's wall-clock time in the zone, as a time value in a fixed zone.
func (z calZone) wall(t time.Time) time.Time {
	if z.loc != nil {
		return t.In(z.loc)
	}
	return t.In(time.FixedZone(z.tzid, z.info.offsetAt(t)))
}

// instant is the moment of a wall-clock time (its fields, whatever its location).
func (z calZone) instant(w time.Time) time.Time {
	if z.loc != nil {
		return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, z.loc)
	}
	naive := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.UTC)
	std := naive.Add(-time.Duration(z.info.offsetAt(naive)) * time.Second)
	return naive.Add(-time.Duration(z.info.offsetAt(std)) * time.Second)
}

// timezoneFor is the Timezone value describing z in the year of t.
func (z calZone) timezoneFor(t time.Time) string {
	if z.loc != nil {
		return zoneInfo(z.loc, t.In(z.loc).Year()).encode()
	}
	return z.info.encode()
}

// zoneFromInfo picks the zone for a device's Timezone, in the year of the event.
func zoneFromInfo(z timeZoneInfo, year int) calZone {
	if !z.hasDST() && z.bias+z.stdBias == 0 {
		return utcZone
	}
	names := append([]string{z.stdName}, zoneCandidates...)
	for _, n := range names {
		if loc, ok := pim.LoadZone(n); ok && n != "" && zoneInfo(loc, year).sameRules(z) {
			return calZone{tzid: loc.String(), loc: loc}
		}
	}
	off := z.bias + z.stdBias
	if !z.hasDST() && off%60 == 0 && off/60 >= -12 && off/60 <= 14 {
		// Etc/GMT+5 is five hours behind UTC (the POSIX sign).
		name := "Etc/GMT+" + strconv.Itoa(off/60)
		if off < 0 {
			name = "Etc/GMT" + strconv.Itoa(off/60)
		}
		if loc, ok := pim.LoadZone(name); ok {
			return calZone{tzid: name, loc: loc}
		}
	}
	tzid := strings.TrimSpace(z.stdName)
	if tzid == "" {
		tzid = fmt.Sprintf("UTC%+03d%02d", -off/60, abs(off)%60)
	}
	return calZone{tzid: tzid, info: z}
}

func abs(v int) int { return max(v, -v) }

// zoneFromCalendar is the zone a TZID names in cal: an IANA zone, or the rules of the
// calendar's VTIMEZONE with that TZID (RFC 5545 3.6.5), or UTC when neither is found.
func zoneFromCalendar(cal *ical.Calendar, tzid string) calZone {
	if tzid == "" {
		return utcZone
	}
	if loc, ok := pim.LoadZone(tzid); ok {
		return calZone{tzid: tzid, loc: loc}
	}
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone && c.Props.Get(ical.PropTimezoneID) != nil && c.Props.Get(ical.PropTimezoneID).Value == tzid {
			if z, ok := infoFromVTimezone(c); ok {
				z.stdName, z.dstName = tzid, tzid
				return calZone{tzid: tzid, info: z}
			}
		}
	}
	return calZone{tzid: tzid, loc: time.UTC}
}

// infoFromVTimezone reads a VTIMEZONE whose STANDARD and DAYLIGHT observances are
// yearly rules on a weekday of a month (the only kind TIME_ZONE_INFORMATION holds).
func infoFromVTimezone(c *ical.Component) (timeZoneInfo, bool) {
	var z timeZoneInfo
	var stdOff, dstOff int
	seen := 0
	for _, o := range c.Children {
		off, ok := parseUTCOffset(propValue(o, ical.PropTimezoneOffsetTo))
		if !ok {
			return z, false
		}
		var r tzRule
		if rr := o.Props.Get(ical.PropRecurrenceRule); rr != nil {
			start, err := time.Parse("20060102T150405", propValue(o, ical.PropDateTimeStart))
			if err != nil {
				return z, false
			}
			r = tzRule{hour: start.Hour(), minute: start.Minute()}
			for part := range strings.SplitSeq(rr.Value, ";") {
				k, v, _ := strings.Cut(part, "=")
				switch strings.ToUpper(k) {
				case "BYMONTH":
					r.month, _ = strconv.Atoi(v)
				case "BYDAY":
					n, day := splitByDay(v)
					r.week, r.weekday = n, day
					if n == -1 {
						r.week = 5
					}
				}
			}
			if r.month < 1 || r.month > 12 || r.week < 1 || r.week > 5 || r.weekday < 0 {
				return z, false
			}
		}
		switch o.Name {
		case "STANDARD":
			stdOff, z.std = off, r
		case "DAYLIGHT":
			dstOff, z.dst = off, r
		default:
			continue
		}
		seen++
	}
	if seen == 0 {
		return z, false
	}
	z.bias = -stdOff / 60
	if z.hasDST() {
		z.dstBias = -(dstOff - stdOff) / 60
	} else {
		z.std, z.dst = tzRule{}, tzRule{}
	}
	return z, true
}

// splitByDay reads one BYDAY value such as "2SU" or "-1MO": n is 0 without a number;
// day is 0 for Sunday, -1 when not a day.
func splitByDay(v string) (n, day int) {
	v = strings.ToUpper(strings.TrimSpace(v))
	if len(v) < 2 {
		return 0, -1
	}
	n, _ = strconv.Atoi(v[:len(v)-2])
	return n, strings.Index("SUMOTUWETHFRSA", v[len(v)-2:]) / 2
}

// parseUTCOffset reads an RFC 5545 3.3.14 UTC offset (+HHMM or +HHMMSS) in seconds.
func parseUTCOffset(s string) (int, bool) {
	if len(s) != 5 && len(s) != 7 || s[0] != '+' && s[0] != '-' {
		return 0, false
	}
	h, e1 := strconv.Atoi(s[1:3])
	m, e2 := strconv.Atoi(s[3:5])
	if e1 != nil || e2 != nil || h > 23 || m > 59 {
		return 0, false
	}
	v := h*3600 + m*60
	if s[0] == '-' {
		v = -v
	}
	return v, true
}

func formatUTCOffset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	return fmt.Sprintf("%s%02d%02d", sign, sec/3600, sec/60%60)
}

// vtimezone is the VTIMEZONE for z as of year (RFC 5545 3.6.5), or nil for UTC.
func (z calZone) vtimezone(year int) *ical.Component {
	if z.tzid == "" {
		return nil
	}
	info := z.info
	if z.loc != nil {
		info = zoneInfo(z.loc, year)
	}
	tz := ical.NewComponent(ical.CompTimezone)
	tz.Props.SetText(ical.PropTimezoneID, z.tzid)
	std, dst := -(info.bias+info.stdBias)*60, -(info.bias+info.dstBias)*60
	obs := func(name string, r tzRule, from, to int) {
		o := ical.NewComponent(name)
		start := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
		if r.month != 0 {
			start = r.at(1970)
			week := strconv.Itoa(r.week)
			if r.week == 5 {
				week = "-1"
			}
			o.Props.Set(&ical.Prop{Name: ical.PropRecurrenceRule, Params: ical.Params{},
				Value: "FREQ=YEARLY;BYMONTH=" + strconv.Itoa(r.month) + ";BYDAY=" + week + [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}[r.weekday]})
		}
		o.Props.Set(&ical.Prop{Name: ical.PropDateTimeStart, Params: ical.Params{}, Value: start.Format("20060102T150405")})
		o.Props.Set(&ical.Prop{Name: ical.PropTimezoneOffsetFrom, Params: ical.Params{}, Value: formatUTCOffset(from)})
		o.Props.Set(&ical.Prop{Name: ical.PropTimezoneOffsetTo, Params: ical.Params{}, Value: formatUTCOffset(to)})
		tz.Children = append(tz.Children, o)
	}
	if info.hasDST() {
		obs("STANDARD", info.std, dst, std)
		obs("DAYLIGHT", info.dst, std, dst)
	} else {
		obs("STANDARD", tzRule{}, std, std)
	}
	return tz
}
