package pim

// Calendar objects: RFC 5545 text as CalDAV stores it (RFC 4791 4.1: one UID per
// resource, the master component and its overrides, the VTIMEZONEs they use).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// maxDepth bounds component nesting (VCALENDAR > VEVENT > VALARM is 3; VTIMEZONE >
// STANDARD also 3), checked before decoding so deep input cannot recurse the decoder.
const maxDepth = 4

// ParseCalendar validates an iCalendar object for a calendar collection and returns
// it with its UID, kind and time span.
func ParseCalendar(data []byte, lim Limits) (*Object, error) {
	lim = lim.WithDefaults()
	if len(data) > lim.MaxSize {
		return nil, fmt.Errorf("%w: the calendar object has %d bytes, more than the limit of %d", ErrInvalid, len(data), lim.MaxSize)
	}
	if err := checkNesting(data); err != nil {
		return nil, err
	}
	cal, err := decodeOne(data)
	if err != nil {
		return nil, err
	}
	c, err := components(cal, lim)
	if err != nil {
		return nil, err
	}
	o := &Object{Kind: c.kind, UID: c.uid, Data: data}
	o.Start, o.End, err = c.span(lim)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// checkNesting refuses text whose BEGIN lines nest deeper than maxDepth.
func checkNesting(data []byte) error {
	depth := 0
	for line := range bytes.Lines(data) {
		switch {
		case hasPrefixFold(line, "BEGIN:"):
			if depth++; depth > maxDepth {
				return fmt.Errorf("%w: components nest deeper than %d levels", ErrInvalid, maxDepth)
			}
		case hasPrefixFold(line, "END:"):
			depth--
		}
	}
	return nil
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// decodeOne decodes exactly one VCALENDAR. The decoder panics on some malformed
// lines; that is turned into an error like any other bad input.
func decodeOne(data []byte) (cal *ical.Calendar, err error) {
	defer recoverInvalid(&err, "iCalendar")
	dec := ical.NewDecoder(bytes.NewReader(data))
	cal, err = dec.Decode()
	if err != nil {
		return nil, fmt.Errorf("%w: not valid iCalendar: %v", ErrInvalid, err)
	}
	if cal.Name != ical.CompCalendar {
		return nil, fmt.Errorf("%w: the object is a %s, not a VCALENDAR", ErrInvalid, cal.Name)
	}
	if _, err := dec.Decode(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: a calendar resource holds exactly one VCALENDAR (RFC 4791 4.1)", ErrInvalid)
	}
	return cal, nil
}

// parsed is a calendar object's components, checked.
type parsed struct {
	kind      Kind
	uid       string
	master    *ical.Component // nil when the object holds only overrides
	overrides []*ical.Component
	zones     map[string]*time.Location
}

// components checks RFC 4791 4.1's rules for a calendar object resource and the
// limits.
func components(cal *ical.Calendar, lim Limits) (*parsed, error) {
	p := &parsed{zones: map[string]*time.Location{}}
	seen := map[string]bool{}
	n := 0
	for _, child := range cal.Children {
		switch child.Name {
		case ical.CompTimezone:
			if n++; n > lim.MaxComponents {
				return nil, fmt.Errorf("%w: more than %d components", ErrInvalid, lim.MaxComponents)
			}
			continue
		case ical.CompEvent, ical.CompToDo:
		default:
			return nil, fmt.Errorf("%w: %s components are not supported here; a resource holds VEVENTs or VTODOs", ErrInvalid, child.Name)
		}
		if n++; n > lim.MaxComponents {
			return nil, fmt.Errorf("%w: more than %d components", ErrInvalid, lim.MaxComponents)
		}
		kind := Kind(child.Name)
		if p.kind != "" && p.kind != kind {
			return nil, fmt.Errorf("%w: one resource holds either VEVENTs or VTODOs, not both (RFC 4791 4.1)", ErrInvalid)
		}
		p.kind = kind
		uid := propText(child, ical.PropUID)
		if uid == "" {
			return nil, fmt.Errorf("%w: a %s has no UID", ErrInvalid, kind)
		}
		if p.uid != "" && uid != p.uid {
			return nil, fmt.Errorf("%w: all components of one resource share one UID (RFC 4791 4.1), found %q and %q", ErrInvalid, p.uid, uid)
		}
		p.uid = uid
		if a := len(child.Props[ical.PropAttendee]); a > lim.MaxAttendees {
			return nil, fmt.Errorf("%w: %d attendees, more than the limit of %d", ErrInvalid, a, lim.MaxAttendees)
		}
		rid := child.Props.Get(ical.PropRecurrenceID)
		key := ""
		if rid != nil {
			key = rid.Value
			if key == "" {
				return nil, fmt.Errorf("%w: an empty RECURRENCE-ID", ErrInvalid)
			}
		}
		if seen[key] {
			if key == "" {
				return nil, fmt.Errorf("%w: more than one %s without RECURRENCE-ID", ErrInvalid, kind)
			}
			return nil, fmt.Errorf("%w: two overrides for RECURRENCE-ID %s", ErrInvalid, key)
		}
		seen[key] = true
		if rid == nil {
			p.master = child
		} else {
			p.overrides = append(p.overrides, child)
		}
	}
	if p.kind == "" {
		return nil, fmt.Errorf("%w: the calendar holds no VEVENT or VTODO", ErrInvalid)
	}
	for _, c := range append([]*ical.Component{p.master}, p.overrides...) {
		if c == nil {
			continue
		}
		if err := checkRecurrence(c, lim); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func propText(c *ical.Component, name string) string {
	if p := c.Props.Get(name); p != nil {
		return strings.TrimSpace(p.Value)
	}
	return ""
}

// checkRecurrence checks a component's RRULE: one at most, a known frequency no finer
// than hourly (finer rules are never what a person means and expand without bound),
// and a COUNT within the limit.
func checkRecurrence(c *ical.Component, lim Limits) error {
	rules := c.Props[ical.PropRecurrenceRule]
	switch {
	case len(rules) == 0:
		return nil
	case len(rules) > 1:
		return fmt.Errorf("%w: more than one RRULE in one component (RFC 5545 3.6.1 allows one)", ErrInvalid)
	case c.Props.Get(ical.PropDateTimeStart) == nil:
		return fmt.Errorf("%w: an RRULE needs a DTSTART", ErrInvalid)
	}
	opt, err := rrule.StrToROption(rules[0].Value)
	if err != nil {
		return fmt.Errorf("%w: RRULE %q: %v", ErrInvalid, rules[0].Value, err)
	}
	if opt.Freq == rrule.MINUTELY || opt.Freq == rrule.SECONDLY {
		return fmt.Errorf("%w: RRULE %q repeats more often than hourly", ErrInvalid, rules[0].Value)
	}
	if opt.Count < 0 || opt.Count > lim.MaxCount {
		return fmt.Errorf("%w: RRULE COUNT %d is over the limit of %d", ErrInvalid, opt.Count, lim.MaxCount)
	}
	if opt.Interval < 0 || opt.Interval > 1000 {
		return fmt.Errorf("%w: RRULE INTERVAL %d is out of range", ErrInvalid, opt.Interval)
	}
	return nil
}

// location resolves a TZID: an IANA name, possibly behind a vendor prefix such as
// "/mozilla.org/20050126_1/". A zone the system does not know is taken as UTC, which
// can shift time-range answers by the zone's offset but never refuses the object.
func (p *parsed) location(tzid string) *time.Location {
	if loc, ok := p.zones[tzid]; ok {
		return loc
	}
	name := tzid
	for {
		if loc, err := time.LoadLocation(name); err == nil && name != "" && !strings.HasPrefix(name, "/") {
			p.zones[tzid] = loc
			return loc
		}
		i := strings.IndexByte(name, '/')
		if i < 0 {
			break
		}
		name = name[i+1:]
	}
	p.zones[tzid] = time.UTC
	return time.UTC
}

// when parses a DATE or DATE-TIME property in its zone (floating times as UTC).
func (p *parsed) when(prop *ical.Prop) (t time.Time, allDay bool, err error) {
	v := strings.TrimSpace(prop.Value)
	switch {
	case len(v) == len("20060102"):
		t, err = time.ParseInLocation("20060102", v, time.UTC)
		allDay = true
	case strings.HasSuffix(v, "Z"):
		t, err = time.Parse("20060102T150405Z", v)
	default:
		loc := time.UTC
		if tz := prop.Params.Get(ical.PropTimezoneID); tz != "" {
			loc = p.location(tz)
		}
		t, err = time.ParseInLocation("20060102T150405", v, loc)
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%w: %s %q is not a valid date or date-time", ErrInvalid, prop.Name, prop.Value)
	}
	// Year 0 parses but is no calendar year (RFC 5545's DATE has years 0001-9999 in
	// practice), and recurrence expansion fails on it.
	if t.Year() < 1 {
		return time.Time{}, false, fmt.Errorf("%w: %s %q is before year 1", ErrInvalid, prop.Name, prop.Value)
	}
	return t, allDay, nil
}

// instance is one occurrence's time span.
type instance struct{ start, end time.Time }

// times returns a component's first start and its duration (RFC 4791 9.9's rules for
// VEVENT and VTODO, simplified to one span). ok is false for a VTODO without dates.
func (p *parsed) times(c *ical.Component) (start time.Time, dur time.Duration, ok bool, err error) {
	startProp := c.Props.Get(ical.PropDateTimeStart)
	endName := ical.PropDateTimeEnd
	if c.Name == ical.CompToDo {
		endName = ical.PropDue
	}
	endProp := c.Props.Get(endName)
	if startProp == nil && endProp == nil {
		if c.Name == ical.CompEvent {
			return time.Time{}, 0, false, fmt.Errorf("%w: a VEVENT has no DTSTART", ErrInvalid)
		}
		return time.Time{}, 0, false, nil
	}
	if startProp == nil {
		end, _, err := p.when(endProp)
		return end, 0, err == nil, err
	}
	start, allDay, err := p.when(startProp)
	if err != nil {
		return time.Time{}, 0, false, err
	}
	switch {
	case endProp != nil:
		end, _, err := p.when(endProp)
		if err != nil {
			return time.Time{}, 0, false, err
		}
		if end.After(start) {
			dur = end.Sub(start)
		}
	case c.Props.Get(ical.PropDuration) != nil:
		d, err := c.Props.Get(ical.PropDuration).Duration()
		if err != nil {
			return time.Time{}, 0, false, fmt.Errorf("%w: DURATION %q: %v", ErrInvalid, c.Props.Get(ical.PropDuration).Value, err)
		}
		if d > 0 {
			dur = d
		}
	case allDay:
		dur = 24 * time.Hour
	}
	return start, dur, true, nil
}

// rule builds the recurrence of a component starting at start, or nil.
func (p *parsed) rule(c *ical.Component, start time.Time) (*rrule.RRule, error) {
	r := c.Props.Get(ical.PropRecurrenceRule)
	if r == nil {
		return nil, nil
	}
	opt, err := rrule.StrToROptionInLocation(r.Value, start.Location())
	if err != nil {
		return nil, fmt.Errorf("%w: RRULE %q: %v", ErrInvalid, r.Value, err)
	}
	opt.Dtstart = start
	rr, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, fmt.Errorf("%w: RRULE %q: %v", ErrInvalid, r.Value, err)
	}
	return rr, nil
}

// extraDates returns a component's RDATE (add) or EXDATE instants.
func (p *parsed) extraDates(c *ical.Component, name string) ([]time.Time, error) {
	var out []time.Time
	for _, prop := range c.Props[name] {
		for v := range strings.SplitSeq(prop.Value, ",") {
			if strings.Contains(v, "/") { // an RDATE PERIOD: its start is the instant
				v, _, _ = strings.Cut(v, "/")
			}
			one := prop
			one.Value = v
			t, _, err := p.when(&one)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
			if len(out) > 10000 {
				return nil, fmt.Errorf("%w: more than 10000 %s values", ErrInvalid, name)
			}
		}
	}
	return out, nil
}

// expand calls fn for each instance of c in order of start until fn returns false.
// It reports bounded when it stopped at lim.MaxInstances with the rule not exhausted
// and fn still asking for more.
func (p *parsed) expand(c *ical.Component, lim Limits, fn func(instance) bool) (bounded bool, err error) {
	// rrule-go panics on some rules it accepted (a weekly rule from year 0, found by
	// fuzzing): such an object is refused like any other that cannot be expanded.
	defer func() {
		if r := recover(); r != nil {
			bounded, err = false, fmt.Errorf("%w: the recurrence cannot be expanded: %v", ErrInvalid, r)
		}
	}()
	start, dur, ok, err := p.times(c)
	if err != nil || !ok {
		return false, err
	}
	rr, err := p.rule(c, start)
	if err != nil {
		return false, err
	}
	rdates, err := p.extraDates(c, ical.PropRecurrenceDates)
	if err != nil {
		return false, err
	}
	exdates, err := p.extraDates(c, ical.PropExceptionDates)
	if err != nil {
		return false, err
	}
	excluded := func(t time.Time) bool {
		for _, x := range exdates {
			if x.Equal(t) {
				return true
			}
		}
		return false
	}
	// RDATEs are few and unordered relative to the rule: offer them first.
	if rr == nil {
		rdates = append([]time.Time{start}, rdates...)
	}
	for _, t := range rdates {
		if !excluded(t) && !fn(instance{t, t.Add(dur)}) {
			return false, nil
		}
	}
	if rr == nil {
		return false, nil
	}
	next := rr.Iterator()
	for range lim.MaxInstances {
		t, more := next()
		if !more {
			return false, nil
		}
		if !excluded(t) && !fn(instance{t, t.Add(dur)}) {
			return false, nil
		}
	}
	return true, nil
}

// span is the object's overall time span: the earliest start and the latest end of
// any instance; an open-ended recurrence has a zero end.
func (p *parsed) span(lim Limits) (start, end time.Time, err error) {
	open := false
	for _, c := range append([]*ical.Component{p.master}, p.overrides...) {
		if c == nil {
			continue
		}
		s, _, ok, err := p.times(c)
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		if !ok {
			// A VTODO without dates overlaps every range (RFC 4791 9.9).
			return time.Time{}, time.Time{}, nil
		}
		if start.IsZero() || s.Before(start) {
			start = s
		}
		if r := c.Props.Get(ical.PropRecurrenceRule); r != nil {
			opt, _ := rrule.StrToROption(r.Value)
			if opt == nil || opt.Count == 0 && opt.Until.IsZero() {
				open = true
				continue
			}
		}
		var last time.Time
		bounded, err := p.expand(c, lim, func(in instance) bool {
			if in.end.After(last) {
				last = in.end
			}
			if in.start.Before(start) {
				start = in.start
			}
			return true
		})
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		if bounded {
			open = true
		}
		if last.After(end) {
			end = last
		}
	}
	if open {
		end = time.Time{}
	}
	return start.UTC(), end.UTC(), nil
}

// Overlaps reports whether any instance of the calendar object data overlaps the
// time range [start, end) (RFC 4791 9.9); a zero start or end is open. An override
// replaces its instance; a rule expanded to the instance limit without reaching the
// range counts as overlapping, so a query errs towards returning too much.
func Overlaps(data []byte, start, end time.Time, lim Limits) (bool, error) {
	lim = lim.WithDefaults()
	if err := checkNesting(data); err != nil {
		return false, err
	}
	cal, err := decodeOne(data)
	if err != nil {
		return false, err
	}
	p, err := components(cal, lim)
	if err != nil {
		return false, err
	}
	hit := false
	// test records a hit and says whether to go on; instances come in order of start,
	// so one starting at or after end ends the search.
	test := func(in instance) bool {
		if !end.IsZero() && !in.start.Before(end) {
			return false
		}
		if in.end.Equal(in.start) {
			hit = !in.start.Before(start)
		} else {
			hit = start.IsZero() || in.end.After(start)
		}
		return !hit
	}
	overridden := map[int64]bool{}
	for _, c := range p.overrides {
		if t, _, err := p.when(c.Props.Get(ical.PropRecurrenceID)); err == nil {
			overridden[t.Unix()] = true
		}
		if _, _, ok, err := p.times(c); err != nil || !ok {
			return !ok, err
		}
		if _, err := p.expand(c, lim, test); err != nil || hit {
			return hit, err
		}
	}
	if p.master == nil {
		return false, nil
	}
	if _, _, ok, err := p.times(p.master); err != nil || !ok {
		return !ok, err
	}
	bounded, err := p.expand(p.master, lim, func(in instance) bool {
		if overridden[in.start.Unix()] {
			return end.IsZero() || in.start.Before(end)
		}
		return test(in)
	})
	return hit || bounded, err
}
