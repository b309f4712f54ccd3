package activesync

// The Tasks class ([MS-ASTASK] 2.2.2; iOS shows it as Reminders) against RFC 5545
// VTODOs. Dates come in pairs: StartDate and DueDate are the local wall-clock time
// written as if UTC, UtcStartDate and UtcDueDate the instant ([MS-ASTASK] 2.2.2.23,
// 2.2.2.7). A repeating task's rule travels as tasks:Recurrence ([MS-ASTASK] 2.2.2.18)
// with its Start; Regenerate and DeadOccur are not kept.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"mailroom/internal/wbxml"
)

// todoTime reads a VTODO date property: the instant and its wall-clock time.
func todoTime(cal *ical.Calendar, c *ical.Component, name string) (instant, wall time.Time, ok bool) {
	p := c.Props.Get(name)
	if p == nil {
		return time.Time{}, time.Time{}, false
	}
	zone := zoneFromCalendar(cal, p.Params.Get(ical.PropTimezoneID))
	t, _, err := icalTime(cal, p, zone)
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	w := zone.wall(t)
	return t, time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.UTC), true
}

// importance maps PRIORITY (RFC 5545 3.8.1.9: 1 highest … 9 lowest, 0 undefined) to
// Importance ([MS-ASTASK] 2.2.2.11: 0 low, 1 normal, 2 high).
func importanceOf(priority string) int {
	p, _ := strconv.Atoi(priority)
	switch {
	case p >= 1 && p <= 4:
		return 2
	case p >= 6:
		return 0
	}
	return 1
}

// renderTask writes a VTODO as Tasks class ApplicationData.
func renderTask(app *wbxml.Element, cal *ical.Calendar, opts itemOptions, version int) error {
	ns := wbxml.NSTasks
	c, _ := splitComponents(cal, ical.CompToDo)
	if c == nil {
		return fmt.Errorf("the object holds no VTODO")
	}
	addTextBody(app, propText(c, ical.PropDescription), opts)
	app.AddText(ns, "Subject", propText(c, ical.PropSummary))
	app.AddText(ns, "Importance", strconv.Itoa(importanceOf(propValue(c, ical.PropPriority))))
	if u, w, ok := todoTime(cal, c, ical.PropDateTimeStart); ok {
		app.AddText(ns, "UtcStartDate", u.UTC().Format(dateTimeFormat))
		app.AddText(ns, "StartDate", w.Format(dateTimeFormat))
	}
	if u, w, ok := todoTime(cal, c, ical.PropDue); ok {
		app.AddText(ns, "UtcDueDate", u.UTC().Format(dateTimeFormat))
		app.AddText(ns, "DueDate", w.Format(dateTimeFormat))
	}
	if rr := c.Props.Get(ical.PropRecurrenceRule); rr != nil {
		if _, w, ok := todoTime(cal, c, ical.PropDateTimeStart); ok {
			if rec, err := recurrenceFromRule(rr.Value, w); err == nil {
				addRecurrence(app, ns, rec, version, func(t time.Time) string { return t.UTC().Format(dateTimeFormat) })
				e := app.Children[len(app.Children)-1]
				start := &wbxml.Element{Space: ns, Name: "Start", Text: w.Format(dateTimeFormat)}
				e.Children = slices.Insert(e.Children, 1, start)
			}
		}
	}
	done := strings.EqualFold(propValue(c, ical.PropStatus), "COMPLETED") || c.Props.Get(ical.PropCompleted) != nil
	app.AddText(ns, "Complete", boolText(done))
	if done {
		if t, err := time.Parse(compactTime, propValue(c, ical.PropCompleted)); err == nil {
			app.AddText(ns, "DateCompleted", t.Format(dateTimeFormat))
		}
	}
	app.AddText(ns, "Sensitivity", strconv.Itoa(sensitivity(propValue(c, ical.PropClass))))
	if t, ok := todoReminder(cal, c); ok {
		app.AddText(ns, "ReminderSet", "1")
		app.AddText(ns, "ReminderTime", t.UTC().Format(dateTimeFormat))
	} else {
		app.AddText(ns, "ReminderSet", "0")
	}
	if cats := c.Props.Get(ical.PropCategories); cats != nil {
		if list, err := cats.TextList(); err == nil && len(list) > 0 {
			ce := app.Add(ns, "Categories")
			for _, s := range list {
				ce.AddText(ns, "Category", s)
			}
		}
	}
	return nil
}

// todoReminder is the moment of a VTODO's first alarm: absolute, or relative to its
// start or due time.
func todoReminder(cal *ical.Calendar, c *ical.Component) (time.Time, bool) {
	for _, a := range c.Children {
		tr := a.Props.Get(ical.PropTrigger)
		if a.Name != ical.CompAlarm || tr == nil {
			continue
		}
		if tr.Params.Get(ical.ParamValue) == "DATE-TIME" {
			if t, err := time.Parse(compactTime, tr.Value); err == nil {
				return t, true
			}
			continue
		}
		d, err := tr.Duration()
		if err != nil {
			continue
		}
		anchor := ical.PropDateTimeStart
		if strings.EqualFold(tr.Params.Get(ical.ParamRelated), "END") || c.Props.Get(anchor) == nil {
			anchor = ical.PropDue
		}
		if t, _, ok := todoTime(cal, c, anchor); ok {
			return t.Add(d), true
		}
	}
	return time.Time{}, false
}

// todoProps are the properties the Tasks class maps.
var todoProps = []string{
	ical.PropSummary, ical.PropDescription, ical.PropPriority, ical.PropDateTimeStart, ical.PropDue, ical.PropDuration,
	ical.PropStatus, ical.PropCompleted, ical.PropPercentComplete, ical.PropClass, ical.PropCategories,
	ical.PropDateTimeStamp, ical.PropSequence, ical.PropLastModified, ical.PropRecurrenceRule,
}

// todoFromDevice builds the VTODO for a device's Add (prev nil) or Change.
func todoFromDevice(app *wbxml.Element, prev *ical.Calendar, uid string, now time.Time) (*ical.Calendar, error) {
	ns := wbxml.NSTasks
	c := ical.NewComponent(ical.CompToDo)
	var prevTodo *ical.Component
	if prev != nil {
		prevTodo, _ = splitComponents(prev, ical.CompToDo)
	}
	carryOver(c, prevTodo, todoProps, uid)
	c.Props.SetDateTime(ical.PropDateTimeStamp, now.UTC())
	c.Props.SetDateTime(ical.PropLastModified, now.UTC())
	if s := app.ChildText(ns, "Subject"); s != "" {
		c.Props.SetText(ical.PropSummary, s)
	}
	if b := app.Child(wbxml.NSAirSyncBase, "Body"); b != nil {
		if s := bodyText(b); s != "" {
			c.Props.SetText(ical.PropDescription, s)
		}
	}
	date := func(utcName, localName string) (time.Time, bool, error) {
		s := app.ChildText(ns, utcName)
		if s == "" {
			s = app.ChildText(ns, localName)
		}
		if s == "" {
			return time.Time{}, false, nil
		}
		t, err := parseEASTime(s)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%s: %w", utcName, err)
		}
		return t, true, nil
	}
	start, hasStart, err := date("UtcStartDate", "StartDate")
	if err != nil {
		return nil, err
	}
	due, hasDue, err := date("UtcDueDate", "DueDate")
	if err != nil {
		return nil, err
	}
	recElem := app.Child(ns, "Recurrence")
	if recElem != nil && !hasStart {
		// A rule needs a DTSTART: the recurrence's Start, or else the due date.
		start, hasStart = due, hasDue
		if s := recElem.ChildText(ns, "Start"); s != "" {
			if start, err = parseEASTime(s); err != nil {
				return nil, fmt.Errorf("recurrence Start: %w", err)
			}
			hasStart = true
		}
		if !hasStart {
			return nil, fmt.Errorf("a recurring task needs a start or due date")
		}
	}
	if hasStart && hasDue && due.Before(start) {
		start = due // RFC 5545 3.6.2: DUE may not come before DTSTART
	}
	if recElem != nil {
		rec, err := parseRecurrence(recElem, ns)
		if err != nil {
			return nil, err
		}
		rule, err := rec.rule(false)
		if err != nil {
			return nil, err
		}
		c.Props.Set(&ical.Prop{Name: ical.PropRecurrenceRule, Params: ical.Params{}, Value: rule})
	}
	if hasStart {
		c.Props.SetDateTime(ical.PropDateTimeStart, start.UTC())
	}
	if hasDue {
		c.Props.SetDateTime(ical.PropDue, due.UTC())
	}
	if s := app.ChildText(ns, "Importance"); s != "" {
		switch s {
		case "0":
			c.Props.SetText(ical.PropPriority, "9")
		case "2":
			c.Props.SetText(ical.PropPriority, "1")
		case "1":
		default:
			return nil, fmt.Errorf("the Importance %q is out of range", s)
		}
	}
	if app.ChildText(ns, "Complete") == "1" {
		c.Props.SetText(ical.PropStatus, "COMPLETED")
		done := now
		if s := app.ChildText(ns, "DateCompleted"); s != "" {
			if done, err = parseEASTime(s); err != nil {
				return nil, fmt.Errorf("DateCompleted: %w", err)
			}
		}
		c.Props.SetDateTime(ical.PropCompleted, done.UTC())
		c.Props.SetText(ical.PropPercentComplete, "100")
	} else {
		c.Props.SetText(ical.PropStatus, "NEEDS-ACTION")
	}
	if s := app.ChildText(ns, "Sensitivity"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > 3 {
			return nil, fmt.Errorf("the Sensitivity %q is out of range", s)
		}
		if v != 0 {
			c.Props.SetText(ical.PropClass, classes[v])
		}
	}
	if cats := app.Child(ns, "Categories"); cats != nil {
		var list []string
		for _, x := range cats.All(ns, "Category") {
			if x.Text != "" {
				list = append(list, x.Text)
			}
		}
		if len(list) > 0 {
			p := ical.NewProp(ical.PropCategories)
			p.SetTextList(list)
			c.Props.Set(p)
		}
	}
	if app.ChildText(ns, "ReminderSet") == "1" {
		t, err := parseEASTime(app.ChildText(ns, "ReminderTime"))
		if err != nil {
			return nil, fmt.Errorf("ReminderTime: %w", err)
		}
		alarm := ical.NewComponent(ical.CompAlarm)
		alarm.Props.SetText(ical.PropAction, "DISPLAY")
		alarm.Props.SetText(ical.PropDescription, "Reminder")
		trig := &ical.Prop{Name: ical.PropTrigger, Params: ical.Params{}}
		trig.Params.Set(ical.ParamValue, "DATE-TIME")
		trig.Value = t.UTC().Format(compactTime)
		alarm.Props.Set(trig)
		c.Children = append(c.Children, alarm)
	}
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, prodID)
	cal.Children = append(cal.Children, c)
	return cal, nil
}
