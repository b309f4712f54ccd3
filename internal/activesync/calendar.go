package activesync

// The Calendar class ([MS-ASCAL] 2.2.2) against RFC 5545 VEVENTs as pim keeps them.
// Times travel as compact UTC ([MS-ASDTYPE] 2.7.2) with the event's zone beside them
// (timezone.go); a series carries its rule (recurrence.go) and its exceptions: a
// deleted instance is an EXDATE, a changed one an override VEVENT with RECURRENCE-ID.
// Protocol 16.x names an instance by airsyncbase:InstanceId instead of
// ExceptionStartTime and a place by airsyncbase:Location instead of calendar:Location
// ([MS-ASAIRS] 2.2.2.25, 2.2.2.27).

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"mailroom/internal/pim"
	"mailroom/internal/wbxml"
)

const (
	compactTime = "20060102T150405Z"
	prodID      = "-//Mailroom//ActiveSync//EN"
	// busyStatusProp keeps what TRANSP cannot say (out of office, elsewhere).
	busyStatusProp = "X-MICROSOFT-CDO-BUSYSTATUS"
)

// parseEASTime reads a Compact DateTime (20260302T100000Z) or a dateTime with
// punctuation (2026-03-02T10:00:00.000Z), [MS-ASDTYPE] 2.3 and 2.7.2.
func parseEASTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{compactTime, "2006-01-02T15:04:05.000Z", "2006-01-02T15:04:05Z"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ActiveSync date-time", s)
}

func propValue(c *ical.Component, name string) string {
	if p := c.Props.Get(name); p != nil {
		return strings.TrimSpace(p.Value)
	}
	return ""
}

func propText(c *ical.Component, name string) string {
	if p := c.Props.Get(name); p != nil {
		if v, err := p.Text(); err == nil {
			return v
		}
		return p.Value
	}
	return ""
}

// splitComponents returns the master component of kind and its overrides; an object
// of overrides only has its first override as master.
func splitComponents(cal *ical.Calendar, kind string) (master *ical.Component, overrides []*ical.Component) {
	for _, c := range cal.Children {
		if c.Name != kind {
			continue
		}
		if c.Props.Get(ical.PropRecurrenceID) == nil && master == nil {
			master = c
		} else {
			overrides = append(overrides, c)
		}
	}
	if master == nil && len(overrides) > 0 {
		master, overrides = overrides[0], overrides[1:]
	}
	return master, overrides
}

// icalTime reads a DATE or DATE-TIME property of cal: the instant, and whether it is
// a DATE (an all-day value, taken at midnight in zone).
func icalTime(cal *ical.Calendar, p *ical.Prop, zone calZone) (time.Time, bool, error) {
	v := strings.TrimSpace(p.Value)
	switch {
	case len(v) == 8:
		d, err := time.Parse("20060102", v)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%s %q: %w", p.Name, v, err)
		}
		return zone.instant(d), true, nil
	case strings.HasSuffix(v, "Z"):
		t, err := time.Parse(compactTime, v)
		return t, false, err
	}
	w, err := time.Parse("20060102T150405", v)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%s %q: %w", p.Name, v, err)
	}
	if tz := p.Params.Get(ical.PropTimezoneID); tz != "" {
		return zoneFromCalendar(cal, tz).instant(w), false, nil
	}
	return w, false, nil // floating: taken as UTC
}

// setTime sets a DATE or DATE-TIME property: a DATE for all-day values, a local time
// with TZID in a named zone, else UTC.
func setTime(c *ical.Component, name string, t time.Time, zone calZone, allDay bool) {
	p := &ical.Prop{Name: name, Params: ical.Params{}}
	switch {
	case allDay:
		p.Params.Set(ical.ParamValue, "DATE")
		p.Value = zone.wall(t).Format("20060102")
	case zone.tzid != "":
		p.Params.Set(ical.PropTimezoneID, zone.tzid)
		p.Value = zone.wall(t).Format("20060102T150405")
	default:
		p.Value = t.UTC().Format(compactTime)
	}
	c.Props.Set(p)
}

// eventSpan reads a component's start and end.
func eventSpan(cal *ical.Calendar, c *ical.Component, zone calZone) (start, end time.Time, allDay bool, err error) {
	sp := c.Props.Get(ical.PropDateTimeStart)
	if sp == nil {
		return time.Time{}, time.Time{}, false, fmt.Errorf("the event has no DTSTART")
	}
	if start, allDay, err = icalTime(cal, sp, zone); err != nil {
		return
	}
	switch {
	case c.Props.Get(ical.PropDateTimeEnd) != nil:
		end, _, err = icalTime(cal, c.Props.Get(ical.PropDateTimeEnd), zone)
	case c.Props.Get(ical.PropDuration) != nil:
		var d time.Duration
		d, err = c.Props.Get(ical.PropDuration).Duration()
		end = start.Add(d)
	case allDay:
		end = start.AddDate(0, 0, 1)
	default:
		end = start
	}
	if end.Before(start) {
		end = start
	}
	return start, end, allDay, err
}

// renderEvent writes a calendar object as Calendar class ApplicationData; self is the
// user's address, to tell a meeting they organise from one they were invited to.
func renderEvent(app *wbxml.Element, cal *ical.Calendar, opts itemOptions, version int, self string) error {
	ns := wbxml.NSCalendar
	master, overrides := splitComponents(cal, ical.CompEvent)
	if master == nil {
		return fmt.Errorf("the object holds no VEVENT")
	}
	zone := zoneFromCalendar(cal, master.Props.Get(ical.PropDateTimeStart).Params.Get(ical.PropTimezoneID))
	start, _, _, err := eventSpan(cal, master, zone)
	if err != nil {
		return err
	}
	app.AddText(ns, "Timezone", zone.timezoneFor(start))
	stamp := time.Now().UTC()
	if p := master.Props.Get(ical.PropDateTimeStamp); p != nil {
		if t, err := time.Parse(compactTime, p.Value); err == nil {
			stamp = t
		}
	}
	app.AddText(ns, "DtStamp", stamp.Format(compactTime))
	if err := eventFields(app, cal, master, zone, opts, version, false); err != nil {
		return err
	}
	app.AddText(ns, "UID", propValue(master, ical.PropUID))
	if org := master.Props.Get(ical.PropOrganizer); org != nil {
		if n := org.Params.Get(ical.ParamCommonName); n != "" {
			app.AddText(ns, "OrganizerName", n)
		}
		app.AddText(ns, "OrganizerEmail", mailtoAddress(org.Value))
	}
	attendees := master.Props[ical.PropAttendee]
	if len(attendees) > 0 {
		list := app.Add(ns, "Attendees")
		for _, a := range attendees {
			e := list.Add(ns, "Attendee")
			e.AddText(ns, "Email", mailtoAddress(a.Value))
			name := a.Params.Get(ical.ParamCommonName)
			if name == "" {
				name = mailtoAddress(a.Value)
			}
			e.AddText(ns, "Name", name)
			e.AddText(ns, "AttendeeStatus", strconv.Itoa(attendeeStatus(a.Params.Get(ical.ParamParticipationStatus))))
			e.AddText(ns, "AttendeeType", strconv.Itoa(attendeeType(a.Params)))
		}
	}
	meeting := 0
	if len(attendees) > 0 {
		meeting = 3
		if org := master.Props.Get(ical.PropOrganizer); org == nil || strings.EqualFold(mailtoAddress(org.Value), self) {
			meeting = 1
		}
	}
	app.AddText(ns, "MeetingStatus", strconv.Itoa(meeting))
	if rr := master.Props.Get(ical.PropRecurrenceRule); rr != nil {
		if rec, err := recurrenceFromRule(rr.Value, zone.wall(start)); err == nil {
			addRecurrence(app, ns, rec, version, func(t time.Time) string { return t.UTC().Format(compactTime) })
		}
	}
	var excs []*wbxml.Element
	instanceTag := func(e *wbxml.Element, t time.Time) {
		if version >= 160 {
			e.AddText(wbxml.NSAirSyncBase, "InstanceId", t.UTC().Format(compactTime))
		} else {
			e.AddText(ns, "ExceptionStartTime", t.UTC().Format(compactTime))
		}
	}
	for _, p := range master.Props[ical.PropExceptionDates] {
		for v := range strings.SplitSeq(p.Value, ",") {
			one := p
			one.Value = v
			t, _, err := icalTime(cal, &one, zone)
			if err != nil {
				continue
			}
			e := wbxml.New(ns, "Exception")
			e.AddText(ns, "Deleted", "1")
			instanceTag(e, t)
			excs = append(excs, e)
		}
	}
	for _, o := range overrides {
		t, _, err := icalTime(cal, o.Props.Get(ical.PropRecurrenceID), zone)
		if err != nil {
			continue
		}
		e := wbxml.New(ns, "Exception")
		instanceTag(e, t)
		if err := eventFields(e, cal, o, zone, opts, version, true); err != nil {
			continue
		}
		excs = append(excs, e)
	}
	if len(excs) > 0 {
		app.Add(ns, "Exceptions").Children = excs
	}
	return nil
}

// eventFields writes what a series and its exceptions share.
func eventFields(e *wbxml.Element, cal *ical.Calendar, c *ical.Component, zone calZone, opts itemOptions, version int, exception bool) error {
	ns := wbxml.NSCalendar
	start, end, allDay, err := eventSpan(cal, c, zone)
	if err != nil {
		return err
	}
	e.AddText(ns, "StartTime", start.UTC().Format(compactTime))
	e.AddText(ns, "EndTime", end.UTC().Format(compactTime))
	e.AddText(ns, "Subject", propText(c, ical.PropSummary))
	if loc := propText(c, ical.PropLocation); loc != "" {
		if version >= 160 {
			e.Add(wbxml.NSAirSyncBase, "Location").AddText(wbxml.NSAirSyncBase, "DisplayName", loc)
		} else {
			e.AddText(ns, "Location", loc)
		}
	}
	if d := propText(c, ical.PropDescription); d != "" || !exception {
		addTextBody(e, d, opts)
	}
	e.AddText(ns, "Sensitivity", strconv.Itoa(sensitivity(propValue(c, ical.PropClass))))
	e.AddText(ns, "BusyStatus", strconv.Itoa(busyStatus(c)))
	e.AddText(ns, "AllDayEvent", boolText(allDay))
	if m, ok := reminderMinutes(c); ok {
		e.AddText(ns, "Reminder", strconv.Itoa(m))
	}
	if cats := c.Props.Get(ical.PropCategories); cats != nil {
		if list, err := cats.TextList(); err == nil && len(list) > 0 {
			ce := e.Add(ns, "Categories")
			for _, s := range list {
				ce.AddText(ns, "Category", s)
			}
		}
	}
	return nil
}

func mailtoAddress(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 7 && strings.EqualFold(v[:7], "mailto:") {
		return v[7:]
	}
	return v
}

// attendeeStatus maps PARTSTAT to AttendeeStatus ([MS-ASCAL] 2.2.2.5): 0 unknown,
// 2 tentative, 3 accepted, 4 declined, 5 not responded.
func attendeeStatus(partstat string) int {
	switch strings.ToUpper(partstat) {
	case "ACCEPTED":
		return 3
	case "DECLINED":
		return 4
	case "TENTATIVE":
		return 2
	case "NEEDS-ACTION":
		return 5
	}
	return 0
}

var partstats = map[string]string{"2": "TENTATIVE", "3": "ACCEPTED", "4": "DECLINED", "5": "NEEDS-ACTION"}

// attendeeType maps ROLE and CUTYPE to AttendeeType ([MS-ASCAL] 2.2.2.6): 1 required,
// 2 optional, 3 resource.
func attendeeType(p ical.Params) int {
	switch {
	case slices.Contains([]string{"RESOURCE", "ROOM"}, strings.ToUpper(p.Get(ical.ParamCalendarUserType))):
		return 3
	case strings.EqualFold(p.Get(ical.ParamRole), "OPT-PARTICIPANT"):
		return 2
	}
	return 1
}

// sensitivity maps CLASS ([MS-ASCAL] 2.2.2.41): 0 normal, 1 personal, 2 private,
// 3 confidential.
func sensitivity(class string) int {
	switch strings.ToUpper(class) {
	case "X-PERSONAL":
		return 1
	case "PRIVATE":
		return 2
	case "CONFIDENTIAL":
		return 3
	}
	return 0
}

var classes = [...]string{"PUBLIC", "X-PERSONAL", "PRIVATE", "CONFIDENTIAL"}

// busyStatus reads BusyStatus ([MS-ASCAL] 2.2.2.8: 0 free, 1 tentative, 2 busy, 3 out
// of office, 4 working elsewhere) from the Microsoft property or TRANSP and STATUS.
func busyStatus(c *ical.Component) int {
	if i := slices.Index(busyNames[:], strings.ToUpper(propValue(c, busyStatusProp))); i >= 0 {
		return i
	}
	switch {
	case strings.EqualFold(propValue(c, ical.PropTransparency), "TRANSPARENT"):
		return 0
	case strings.EqualFold(propValue(c, ical.PropStatus), "TENTATIVE"):
		return 1
	}
	return 2
}

var busyNames = [...]string{"FREE", "TENTATIVE", "BUSY", "OOF", "WORKINGELSEWHERE"}

// reminderMinutes is the lead time of the first display or audio alarm relative to
// the start.
func reminderMinutes(c *ical.Component) (int, bool) {
	for _, a := range c.Children {
		if a.Name != ical.CompAlarm {
			continue
		}
		tr := a.Props.Get(ical.PropTrigger)
		if tr == nil || strings.EqualFold(tr.Params.Get(ical.ParamRelated), "END") || tr.Params.Get(ical.ParamValue) == "DATE-TIME" {
			continue
		}
		d, err := tr.Duration()
		if err != nil || d > 0 {
			continue
		}
		return int(-d / time.Minute), true
	}
	return 0, false
}

// eventProps are the properties the Calendar class maps; a device's Change replaces
// them and keeps every other property of the event.
var eventProps = []string{
	ical.PropDateTimeStart, ical.PropDateTimeEnd, ical.PropDuration, ical.PropSummary, ical.PropLocation,
	ical.PropDescription, ical.PropClass, ical.PropTransparency, busyStatusProp, ical.PropCategories,
	ical.PropRecurrenceRule, ical.PropExceptionDates, ical.PropRecurrenceDates, ical.PropDateTimeStamp, ical.PropSequence,
}

// eventFromDevice builds the calendar object for a device's Add (prev nil) or Change
// of a whole series. uid names a new object.
func eventFromDevice(app *wbxml.Element, prev *ical.Calendar, uid string, lim pim.Limits, now time.Time) (*ical.Calendar, error) {
	ns := wbxml.NSCalendar
	lim = lim.WithDefaults()
	if n := len(app.Child(ns, "Attendees").All(ns, "Attendee")); n > lim.MaxAttendees {
		return nil, fmt.Errorf("%d attendees, more than the limit of %d", n, lim.MaxAttendees)
	}
	excs := app.Child(ns, "Exceptions").All(ns, "Exception")
	if len(excs) > lim.MaxComponents-2 {
		return nil, fmt.Errorf("%d exceptions, more than the limit of %d", len(excs), lim.MaxComponents-2)
	}
	var prevMaster *ical.Component
	var prevOverrides []*ical.Component
	if prev != nil {
		prevMaster, prevOverrides = splitComponents(prev, ical.CompEvent)
	}
	zone := utcZone
	if prevMaster != nil && prevMaster.Props.Get(ical.PropDateTimeStart) != nil {
		zone = zoneFromCalendar(prev, prevMaster.Props.Get(ical.PropDateTimeStart).Params.Get(ical.PropTimezoneID))
	}
	var start time.Time
	var err error
	if s := app.ChildText(ns, "StartTime"); s != "" || prevMaster == nil {
		if start, err = parseEASTime(s); err != nil {
			return nil, fmt.Errorf("StartTime: %w", err)
		}
	} else if start, _, _, err = eventSpan(prev, prevMaster, zone); err != nil { // a ghosted start stays
		return nil, err
	}
	if tz := app.ChildText(ns, "Timezone"); tz != "" {
		info, err := decodeTimeZone(tz)
		if err != nil {
			return nil, err
		}
		zone = zoneFromInfo(info, start.Year())
	}
	ev := ical.NewComponent(ical.CompEvent)
	carryOver(ev, prevMaster, eventProps, uid)
	ev.Props.SetDateTime(ical.PropDateTimeStamp, now.UTC())
	allDay, err := applyEventFields(ev, app, zone, start, true)
	if err != nil {
		return nil, err
	}
	if attendees := app.Child(ns, "Attendees"); attendees != nil || prevMaster == nil {
		ev.Props.Del(ical.PropAttendee)
		for _, a := range attendees.All(ns, "Attendee") {
			addr := strings.TrimSpace(a.ChildText(ns, "Email"))
			if addr == "" {
				continue
			}
			p := &ical.Prop{Name: ical.PropAttendee, Params: ical.Params{}, Value: "mailto:" + addr}
			if n := a.ChildText(ns, "Name"); n != "" && n != addr {
				p.Params.Set(ical.ParamCommonName, n)
			}
			if ps := partstats[a.ChildText(ns, "AttendeeStatus")]; ps != "" {
				p.Params.Set(ical.ParamParticipationStatus, ps)
			}
			switch a.ChildText(ns, "AttendeeType") {
			case "2":
				p.Params.Set(ical.ParamRole, "OPT-PARTICIPANT")
			case "3":
				p.Params.Set(ical.ParamCalendarUserType, "RESOURCE")
			default:
				p.Params.Set(ical.ParamRole, "REQ-PARTICIPANT")
			}
			ev.Props.Add(p)
		}
		if email := app.ChildText(ns, "OrganizerEmail"); email != "" {
			p := &ical.Prop{Name: ical.PropOrganizer, Params: ical.Params{}, Value: "mailto:" + strings.TrimSpace(email)}
			if n := app.ChildText(ns, "OrganizerName"); n != "" {
				p.Params.Set(ical.ParamCommonName, n)
			}
			ev.Props.Set(p)
		}
	}
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, prodID)
	if tz := zone.vtimezone(start.Year()); tz != nil {
		cal.Children = append(cal.Children, tz)
	}
	cal.Children = append(cal.Children, ev)

	recElem := app.Child(ns, "Recurrence")
	if recElem == nil {
		return cal, nil
	}
	rec, err := parseRecurrence(recElem, ns)
	if err != nil {
		return nil, err
	}
	rule, err := rec.rule(allDay)
	if err != nil {
		return nil, err
	}
	ev.Props.Set(&ical.Prop{Name: ical.PropRecurrenceRule, Params: ical.Params{}, Value: rule})
	if app.Child(ns, "Exceptions") == nil && prevMaster != nil {
		// Exceptions left out (ghosted) keep those the series had.
		ev.Props[ical.PropExceptionDates] = prevMaster.Props[ical.PropExceptionDates]
		cal.Children = append(cal.Children, prevOverrides...)
		return cal, nil
	}
	for _, x := range excs {
		if err := applyException(cal, ev, x, zone, allDay, now); err != nil {
			return nil, err
		}
	}
	return cal, nil
}

// applyEventFields sets the mapped properties of ev from app. A series (whole) has all
// of them replaced; an instance keeps what app leaves out.
func applyEventFields(ev *ical.Component, app *wbxml.Element, zone calZone, start time.Time, whole bool) (allDay bool, err error) {
	ns := wbxml.NSCalendar
	if whole {
		for _, name := range []string{ical.PropDateTimeEnd, ical.PropDuration, ical.PropSummary, ical.PropLocation,
			ical.PropDescription, ical.PropClass, ical.PropTransparency, busyStatusProp, ical.PropCategories} {
			ev.Props.Del(name)
		}
	}
	if s := app.ChildText(ns, "AllDayEvent"); s != "" || whole {
		allDay = s == "1"
	} else {
		allDay = ev.Props.Get(ical.PropDateTimeStart) != nil && len(ev.Props.Get(ical.PropDateTimeStart).Value) == 8
	}
	end := start
	if s := app.ChildText(ns, "EndTime"); s != "" {
		if end, err = parseEASTime(s); err != nil {
			return false, fmt.Errorf("EndTime: %w", err)
		}
		if end.Before(start) {
			return false, fmt.Errorf("the EndTime %s is before the StartTime %s", s, start.Format(compactTime))
		}
	} else if !whole {
		if p := ev.Props.Get(ical.PropDateTimeEnd); p != nil {
			if old := ev.Props.Get(ical.PropDateTimeStart); old != nil {
				os, _ := time.Parse("20060102T150405", strings.TrimSuffix(old.Value, "Z"))
				oe, _ := time.Parse("20060102T150405", strings.TrimSuffix(p.Value, "Z"))
				end = start.Add(oe.Sub(os))
			}
		}
	}
	setTime(ev, ical.PropDateTimeStart, start, zone, allDay)
	if allDay && !end.After(start) {
		end = start.AddDate(0, 0, 1)
	}
	setTime(ev, ical.PropDateTimeEnd, end, zone, allDay)
	text := func(prop, value string) {
		if value != "" {
			ev.Props.SetText(prop, value)
		}
	}
	if app.Child(ns, "Subject") != nil {
		ev.Props.Del(ical.PropSummary)
		text(ical.PropSummary, app.ChildText(ns, "Subject"))
	}
	if l := app.Child(wbxml.NSAirSyncBase, "Location"); l != nil {
		ev.Props.Del(ical.PropLocation)
		text(ical.PropLocation, l.ChildText(wbxml.NSAirSyncBase, "DisplayName"))
	} else if app.Child(ns, "Location") != nil {
		ev.Props.Del(ical.PropLocation)
		text(ical.PropLocation, app.ChildText(ns, "Location"))
	}
	if b := app.Child(wbxml.NSAirSyncBase, "Body"); b != nil {
		ev.Props.Del(ical.PropDescription)
		text(ical.PropDescription, bodyText(b))
	}
	if s := app.ChildText(ns, "Sensitivity"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > 3 {
			return false, fmt.Errorf("the Sensitivity %q is out of range", s)
		}
		ev.Props.Del(ical.PropClass)
		if v != 0 {
			ev.Props.SetText(ical.PropClass, classes[v])
		}
	}
	if s := app.ChildText(ns, "BusyStatus"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > 4 {
			return false, fmt.Errorf("the BusyStatus %q is out of range", s)
		}
		ev.Props.Del(busyStatusProp)
		ev.Props.Del(ical.PropTransparency)
		if v == 0 {
			ev.Props.SetText(ical.PropTransparency, "TRANSPARENT")
		}
		if v != 2 {
			ev.Props.Set(&ical.Prop{Name: busyStatusProp, Params: ical.Params{}, Value: busyNames[v]})
		}
	}
	if cats := app.Child(ns, "Categories"); cats != nil {
		var list []string
		for _, c := range cats.All(ns, "Category") {
			if c.Text != "" {
				list = append(list, c.Text)
			}
		}
		ev.Props.Del(ical.PropCategories)
		if len(list) > 0 {
			p := ical.NewProp(ical.PropCategories)
			p.SetTextList(list)
			ev.Props.Set(p)
		}
	}
	if s := app.ChildText(ns, "Reminder"); s != "" || whole {
		kept := ev.Children[:0]
		for _, c := range ev.Children {
			if c.Name != ical.CompAlarm {
				kept = append(kept, c)
			}
		}
		ev.Children = kept
		if s != "" {
			m, err := strconv.Atoi(s)
			if err != nil || m < 0 || m > 60*24*366 {
				return false, fmt.Errorf("the Reminder %q is out of range", s)
			}
			alarm := ical.NewComponent(ical.CompAlarm)
			alarm.Props.SetText(ical.PropAction, "DISPLAY")
			alarm.Props.SetText(ical.PropDescription, "Reminder")
			alarm.Props.Set(&ical.Prop{Name: ical.PropTrigger, Params: ical.Params{}, Value: "-PT" + strconv.Itoa(m) + "M"})
			ev.Children = append(ev.Children, alarm)
		}
	}
	return allDay, nil
}

// instanceTime reads which instance an Exception or an instance-level command names:
// airsyncbase:InstanceId (16.x) or calendar:ExceptionStartTime.
func instanceTime(e *wbxml.Element) (time.Time, error) {
	s := e.ChildText(wbxml.NSAirSyncBase, "InstanceId")
	if s == "" {
		s = e.ChildText(wbxml.NSCalendar, "ExceptionStartTime")
	}
	if s == "" {
		return time.Time{}, fmt.Errorf("an exception names no instance")
	}
	return parseEASTime(s)
}

// applyException adds one device Exception to a series: an EXDATE for a deleted
// instance, else an override that starts from the series and takes what x changes.
func applyException(cal *ical.Calendar, master *ical.Component, x *wbxml.Element, zone calZone, allDay bool, now time.Time) error {
	orig, err := instanceTime(x)
	if err != nil {
		return err
	}
	rid := ical.NewComponent(ical.CompEvent) // scratch for the formatted RECURRENCE-ID value
	setTime(rid, ical.PropRecurrenceID, orig, zone, allDay)
	ridProp := rid.Props.Get(ical.PropRecurrenceID)
	// Any earlier override or EXDATE of the instance goes.
	kept := cal.Children[:0]
	for _, c := range cal.Children {
		if c.Name == ical.CompEvent && c != master && propValue(c, ical.PropRecurrenceID) == ridProp.Value {
			continue
		}
		kept = append(kept, c)
	}
	cal.Children = kept
	ex := master.Props[ical.PropExceptionDates][:0:0]
	for _, p := range master.Props[ical.PropExceptionDates] {
		if p.Value != ridProp.Value {
			ex = append(ex, p)
		}
	}
	master.Props[ical.PropExceptionDates] = ex
	if x.ChildText(wbxml.NSCalendar, "Deleted") == "1" {
		p := *ridProp
		p.Name = ical.PropExceptionDates
		master.Props.Add(&p)
		return nil
	}
	o := ical.NewComponent(ical.CompEvent)
	for name, props := range master.Props {
		if name != ical.PropRecurrenceRule && name != ical.PropExceptionDates && name != ical.PropRecurrenceDates {
			o.Props[name] = slices.Clone(props)
		}
	}
	o.Children = slices.Clone(master.Children)
	o.Props.Set(ridProp)
	o.Props.SetDateTime(ical.PropDateTimeStamp, now.UTC())
	start := orig
	if s := x.ChildText(wbxml.NSCalendar, "StartTime"); s != "" {
		if start, err = parseEASTime(s); err != nil {
			return fmt.Errorf("exception StartTime: %w", err)
		}
	}
	if _, err := applyEventFields(o, x, zone, start, false); err != nil {
		return err
	}
	cal.Children = append(cal.Children, o)
	return nil
}

// eventInstanceChange applies a 16.x instance-level Change or Delete ([MS-ASCMD]
// 2.2.3.24, [MS-ASAIRS] 2.2.2.25) to a stored series: app nil deletes the instance.
func eventInstanceChange(cal *ical.Calendar, instance time.Time, app *wbxml.Element, now time.Time) error {
	master, _ := splitComponents(cal, ical.CompEvent)
	if master == nil || master.Props.Get(ical.PropRecurrenceRule) == nil {
		return fmt.Errorf("the event is not a recurring series")
	}
	zone := zoneFromCalendar(cal, master.Props.Get(ical.PropDateTimeStart).Params.Get(ical.PropTimezoneID))
	allDay := len(propValue(master, ical.PropDateTimeStart)) == 8
	x := wbxml.New(wbxml.NSCalendar, "Exception")
	x.AddText(wbxml.NSAirSyncBase, "InstanceId", instance.UTC().Format(compactTime))
	if app == nil {
		x.AddText(wbxml.NSCalendar, "Deleted", "1")
	} else {
		x.Children = append(x.Children, app.Children...)
	}
	master.Props.SetDateTime(ical.PropDateTimeStamp, now.UTC())
	return applyException(cal, master, x, zone, allDay, now)
}

// carryOver starts the component a device's Add or Change makes. For a Change (prev
// set) it keeps from prev every property ActiveSync does not carry (not in known) and
// every child but the alarms, which the device's Reminder replaces, and raises
// SEQUENCE by one; an Add gets uid.
func carryOver(c, prev *ical.Component, known []string, uid string) {
	if prev == nil {
		c.Props.SetText(ical.PropUID, uid)
		return
	}
	for name, props := range prev.Props {
		if !slices.Contains(known, name) {
			c.Props[name] = props
		}
	}
	for _, child := range prev.Children {
		if child.Name != ical.CompAlarm {
			c.Children = append(c.Children, child)
		}
	}
	seq, _ := strconv.Atoi(propValue(prev, ical.PropSequence))
	c.Props.SetText(ical.PropSequence, strconv.Itoa(seq+1))
}
