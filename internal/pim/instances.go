package pim

// The occurrences of a calendar object within a time range, for free/busy (RFC 4791
// 7.10, RFC 5545 3.6.4), and the bounded decoding of scheduling messages, which are
// not calendar resources.

import (
	"fmt"
	"time"

	"github.com/emersion/go-ical"
)

// DecodeITIP decodes the one VCALENDAR of an iTIP message (RFC 5546) within the size
// and nesting limits, without the rules of a calendar resource (a REPLY need not carry
// DTSTART); a decoder panic on malformed input is returned as an ErrInvalid error.
func DecodeITIP(data []byte, lim Limits) (*ical.Calendar, error) {
	lim = lim.WithDefaults()
	if len(data) > lim.MaxSize {
		return nil, fmt.Errorf("%w: the calendar object has %d bytes, more than the limit of %d", ErrInvalid, len(data), lim.MaxSize)
	}
	if err := checkNesting(data); err != nil {
		return nil, err
	}
	return decodeOne(data)
}

// Instance is one occurrence of a calendar object: its span in UTC and the component
// it comes from (the master for a generated instance, or the override that replaces it),
// so a caller can read what may differ per instance (STATUS, TRANSP).
type Instance struct {
	Start, End time.Time
	Component  *ical.Component
}

// Instances calls fn, until it returns false, for every instance of the calendar
// object data that overlaps [start, end), which must be a bounded range. An override
// replaces the instance its RECURRENCE-ID names; a rule is expanded at most
// lim.MaxInstances times per component, so an endless rule yields what lies within
// that bound. A VTODO without dates has no instance.
func Instances(data []byte, start, end time.Time, lim Limits, fn func(Instance) bool) error {
	if start.IsZero() || end.IsZero() || !end.After(start) {
		return fmt.Errorf("%w: an instance range needs a start before its end", ErrInvalid)
	}
	lim = lim.WithDefaults()
	cal, err := DecodeITIP(data, lim)
	if err != nil {
		return err
	}
	p, err := components(cal, lim)
	if err != nil {
		return err
	}
	stop := false
	emit := func(c *ical.Component, skip map[int64]bool) func(instance) bool {
		// A rule's instances come in order of start, so the first one past the range
		// ends the expansion; RDATEs come first and unordered, and are few.
		ordered := c.Props.Get(ical.PropRecurrenceDates) == nil
		return func(in instance) bool {
			if !in.start.Before(end) {
				return !ordered
			}
			if skip[in.start.Unix()] || !overlaps(in, start) {
				return true
			}
			if !fn(Instance{Start: in.start.UTC(), End: in.end.UTC(), Component: c}) {
				stop = true
				return false
			}
			return true
		}
	}
	overridden := map[int64]bool{}
	for _, c := range p.overrides {
		if t, _, err := p.when(c.Props.Get(ical.PropRecurrenceID)); err == nil {
			overridden[t.Unix()] = true
		}
		if _, err := p.expand(c, lim, emit(c, nil)); err != nil || stop {
			return err
		}
	}
	if p.master == nil {
		return nil
	}
	_, err = p.expand(p.master, lim, emit(p.master, overridden))
	return err
}

// overlaps applies RFC 4791 9.9's test of an instance against a range's start (the
// end is tested by the caller): a zero-length instance must start within the range.
func overlaps(in instance, start time.Time) bool {
	if in.end.Equal(in.start) {
		return !in.start.Before(start)
	}
	return in.end.After(start)
}
