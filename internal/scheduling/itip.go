package scheduling

// iTIP (RFC 5546) for VEVENT: reading a scheduling message, applying REQUEST, REPLY
// and CANCEL to a calendar copy, and building them from a stored event. Everything
// here is a pure function of its input; the store is in calendar.go.

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"mailroom/internal/pim"
)

// Method is an iTIP method (RFC 5546 1.4).
type Method string

// The methods handled; PUBLISH, ADD, REFRESH, COUNTER and DECLINECOUNTER are not.
const (
	MethodRequest Method = "REQUEST"
	MethodReply   Method = "REPLY"
	MethodCancel  Method = "CANCEL"
)

// PartStat is an attendee's participation status (RFC 5545 3.2.12).
type PartStat string

// Participation statuses of a VEVENT attendee.
const (
	NeedsAction PartStat = "NEEDS-ACTION"
	Accepted    PartStat = "ACCEPTED"
	Tentative   PartStat = "TENTATIVE"
	Declined    PartStat = "DECLINED"
)

// Errors a scheduling message can meet. Each is wrapped with what it concerns.
var (
	// ErrInvalid: the message is not a well-formed iTIP message for a VEVENT.
	ErrInvalid = errors.New("invalid scheduling message")
	// ErrUnsupported: a method or component this server does not process.
	ErrUnsupported = errors.New("unsupported scheduling message")
	// ErrSpoofed: the message claims to come from someone it does not come from, or
	// speaks for an event another organiser owns.
	ErrSpoofed = errors.New("scheduling message from someone not entitled to send it")
	// ErrUnknownEvent: there is no calendar copy of the event the message concerns.
	ErrUnknownEvent = errors.New("no such event")
	// ErrStale: the message is older (lower SEQUENCE) than the calendar copy.
	ErrStale = errors.New("scheduling message older than the calendar copy")
	// ErrNotAttendee: the person is not an attendee of the event.
	ErrNotAttendee = errors.New("not an attendee of the event")
)

// prodID names this server in the iCalendar it writes (RFC 5545 3.7.3).
const prodID = "-//Mailroom//Scheduling//EN"

// Message is a parsed iTIP message.
type Message struct {
	Method    Method
	UID       string
	Sequence  int
	Organizer string   // address, lower case
	Attendees []string // addresses, lower case, each once; for a REPLY exactly one
	Summary   string
	cal       *ical.Calendar
}

// Parse reads an iTIP message for a VEVENT within lim (RFC 5546 3.2): one METHOD, one
// UID and one ORGANIZER across its components, and for a REPLY exactly one attendee.
func Parse(data []byte, lim pim.Limits) (*Message, error) {
	lim = lim.WithDefaults()
	cal, err := pim.DecodeITIP(data, lim)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	m := &Message{cal: cal}
	method := strings.ToUpper(propValue(cal.Component, ical.PropMethod))
	switch Method(method) {
	case MethodRequest, MethodReply, MethodCancel:
		m.Method = Method(method)
	case "":
		return nil, fmt.Errorf("%w: the calendar has no METHOD", ErrInvalid)
	default:
		return nil, fmt.Errorf("%w: METHOD %s", ErrUnsupported, method)
	}
	events := 0
	for _, c := range cal.Children {
		switch c.Name {
		case ical.CompTimezone:
			continue
		case ical.CompEvent:
		default:
			return nil, fmt.Errorf("%w: %s components", ErrUnsupported, c.Name)
		}
		if events++; events > lim.MaxComponents {
			return nil, fmt.Errorf("%w: more than %d components", ErrInvalid, lim.MaxComponents)
		}
		if n := len(c.Props[ical.PropAttendee]); n > lim.MaxAttendees {
			return nil, fmt.Errorf("%w: %d attendees, more than the limit of %d", ErrInvalid, n, lim.MaxAttendees)
		}
		uid := propValue(c, ical.PropUID)
		org := address(c.Props.Get(ical.PropOrganizer))
		switch {
		case uid == "":
			return nil, fmt.Errorf("%w: a VEVENT has no UID", ErrInvalid)
		case m.UID != "" && uid != m.UID:
			return nil, fmt.Errorf("%w: one message concerns one UID, found %q and %q", ErrInvalid, m.UID, uid)
		case org == "":
			return nil, fmt.Errorf("%w: a VEVENT has no mailto: ORGANIZER (RFC 5546 3.2)", ErrInvalid)
		case m.Organizer != "" && org != m.Organizer:
			return nil, fmt.Errorf("%w: one message has one ORGANIZER, found %s and %s", ErrInvalid, m.Organizer, org)
		}
		m.UID, m.Organizer = uid, org
		if seq := sequence(c); seq > m.Sequence {
			m.Sequence = seq
		}
		if m.Summary == "" {
			m.Summary, _ = c.Props.Text(ical.PropSummary)
		}
		for _, a := range c.Props[ical.PropAttendee] {
			if addr := address(&a); addr != "" && !slices.Contains(m.Attendees, addr) {
				m.Attendees = append(m.Attendees, addr)
			}
		}
	}
	if events == 0 {
		return nil, fmt.Errorf("%w: the message holds no VEVENT", ErrInvalid)
	}
	if m.Method == MethodReply && len(m.Attendees) != 1 {
		return nil, fmt.Errorf("%w: a REPLY names exactly one attendee, not %d (RFC 5546 3.2.3)", ErrInvalid, len(m.Attendees))
	}
	return m, nil
}

// ApplyRequest returns an attendee's calendar copy after a REQUEST (RFC 5546 3.2.2):
// the organiser's event without METHOD. current is the copy held so far, or nil. A
// REQUEST for a copy another organiser owns is ErrSpoofed, one older than the copy
// ErrStale; a re-sent REQUEST of the same SEQUENCE keeps the answers recorded.
func ApplyRequest(current []byte, m *Message, lim pim.Limits) ([]byte, error) {
	if m.Method != MethodRequest {
		return nil, fmt.Errorf("%w: %s is not a REQUEST", ErrInvalid, m.Method)
	}
	var cur *ical.Calendar
	if current != nil {
		var err error
		if cur, err = checkCopy(current, m, lim); err != nil {
			return nil, err
		}
	}
	out := newCalendar()
	for _, c := range m.cal.Children {
		out.Children = append(out.Children, cloneComponent(c))
	}
	if cur != nil && copySequence(cur) == m.Sequence {
		for _, c := range events(out) {
			old := matching(cur, recurrenceID(c))
			if old == nil {
				continue
			}
			for i := range c.Props[ical.PropAttendee] {
				a := &c.Props[ical.PropAttendee][i]
				if o := attendee(old, address(a)); o != nil && o.Params.Get(ical.ParamParticipationStatus) != "" {
					a.Params.Set(ical.ParamParticipationStatus, o.Params.Get(ical.ParamParticipationStatus))
				}
			}
		}
	}
	return encode(out)
}

// ApplyCancel returns the calendar copy after a CANCEL (RFC 5546 3.2.5): the whole
// event, or the instances the message names by RECURRENCE-ID, marked cancelled.
func ApplyCancel(current []byte, m *Message, lim pim.Limits) ([]byte, error) {
	if m.Method != MethodCancel {
		return nil, fmt.Errorf("%w: %s is not a CANCEL", ErrInvalid, m.Method)
	}
	if current == nil {
		return nil, fmt.Errorf("%w: UID %q", ErrUnknownEvent, m.UID)
	}
	cur, err := checkCopy(current, m, lim)
	if err != nil {
		return nil, err
	}
	for _, c := range events(m.cal) {
		rid := c.Props.Get(ical.PropRecurrenceID)
		if rid == nil {
			for _, e := range events(cur) {
				set(e, ical.PropStatus, "CANCELLED")
				setSequence(e, m.Sequence)
			}
			break
		}
		if o := matching(cur, rid.Value); o != nil {
			set(o, ical.PropStatus, "CANCELLED")
			setSequence(o, m.Sequence)
			continue
		}
		// One instance of a series: excluded from the master (RFC 5545 3.8.5.1).
		if master := matching(cur, ""); master != nil {
			ex := ical.NewProp(ical.PropExceptionDates)
			ex.Value = rid.Value
			for k, v := range rid.Params {
				ex.Params[k] = slices.Clone(v)
			}
			master.Props.Add(ex)
		}
	}
	return encode(cur)
}

// ApplyReply returns the organiser's calendar copy after a REPLY (RFC 5546 3.2.3): the
// replying attendee's PARTSTAT, on the whole event or the instance the reply names. An
// attendee the copy does not list is ErrNotAttendee (no party crashers), a reply to an
// older SEQUENCE is ErrStale.
func ApplyReply(current []byte, m *Message, lim pim.Limits) ([]byte, error) {
	if m.Method != MethodReply {
		return nil, fmt.Errorf("%w: %s is not a REPLY", ErrInvalid, m.Method)
	}
	if current == nil {
		return nil, fmt.Errorf("%w: UID %q", ErrUnknownEvent, m.UID)
	}
	cur, err := checkCopy(current, m, lim)
	if err != nil {
		return nil, err
	}
	who := m.Attendees[0]
	changed := false
	for _, c := range events(m.cal) {
		a := attendee(c, who)
		if a == nil {
			continue
		}
		ps := PartStat(strings.ToUpper(a.Params.Get(ical.ParamParticipationStatus)))
		if ps == "" {
			ps = NeedsAction
		}
		targets := events(cur)
		if rid := recurrenceID(c); rid != "" {
			targets = nil
			if o := matching(cur, rid); o != nil {
				targets = append(targets, o)
			}
		}
		for _, t := range targets {
			if ta := attendee(t, who); ta != nil {
				ta.Params.Set(ical.ParamParticipationStatus, string(ps))
				ta.Params.Del("RSVP")
				changed = true
			}
		}
	}
	if !changed {
		return nil, fmt.Errorf("%w: %s in UID %q", ErrNotAttendee, who, m.UID)
	}
	return encode(cur)
}

// checkCopy decodes the calendar copy m is to change and checks that m may change it:
// same UID, same organiser, not older.
func checkCopy(current []byte, m *Message, lim pim.Limits) (*ical.Calendar, error) {
	cur, err := pim.DecodeITIP(current, lim)
	if err != nil {
		return nil, fmt.Errorf("the stored copy of %q: %w", m.UID, err)
	}
	master := first(cur)
	if master == nil || propValue(master, ical.PropUID) != m.UID {
		return nil, fmt.Errorf("%w: UID %q", ErrUnknownEvent, m.UID)
	}
	if org := address(master.Props.Get(ical.PropOrganizer)); org != m.Organizer {
		return nil, fmt.Errorf("%w: the event %q is organised by %s, not %s", ErrSpoofed, m.UID, org, m.Organizer)
	}
	if seq := copySequence(cur); m.Sequence < seq {
		return nil, fmt.Errorf("%w: SEQUENCE %d of %q, the copy has %d (RFC 5546 2.1.5)", ErrStale, m.Sequence, m.UID, seq)
	}
	return cur, nil
}

// Request builds the REQUEST an organiser sends for their stored event.
func Request(event []byte, lim pim.Limits) ([]byte, error) {
	cal, err := pim.DecodeITIP(event, lim)
	if err != nil {
		return nil, err
	}
	return withMethod(cal, MethodRequest)
}

// Cancel builds the CANCEL of a stored event (RFC 5546 3.2.5), for the attendees it
// still lists, with its SEQUENCE raised.
func Cancel(event []byte, lim pim.Limits) ([]byte, error) {
	cal, err := pim.DecodeITIP(event, lim)
	if err != nil {
		return nil, err
	}
	for _, c := range events(cal) {
		set(c, ical.PropStatus, "CANCELLED")
		setSequence(c, sequence(c)+1)
	}
	return withMethod(cal, MethodCancel)
}

// Reply builds the REPLY of attendee who to their calendar copy of an event
// (RFC 5546 3.2.3): each component with only that attendee and the given status.
func Reply(event []byte, who string, ps PartStat, now time.Time, lim pim.Limits) ([]byte, error) {
	cal, err := pim.DecodeITIP(event, lim)
	if err != nil {
		return nil, err
	}
	who = strings.ToLower(who)
	out := newCalendar()
	for _, c := range cal.Children {
		if c.Name != ical.CompEvent {
			out.Children = append(out.Children, cloneComponent(c))
			continue
		}
		a := attendee(c, who)
		if a == nil {
			continue
		}
		r := ical.NewComponent(ical.CompEvent)
		for _, name := range []string{ical.PropUID, ical.PropOrganizer, ical.PropSequence, ical.PropRecurrenceID,
			ical.PropDateTimeStart, ical.PropDateTimeEnd, ical.PropDuration, ical.PropSummary} {
			if p := c.Props.Get(name); p != nil {
				r.Props.Set(cloneProp(p))
			}
		}
		na := cloneProp(a)
		na.Params.Set(ical.ParamParticipationStatus, string(ps))
		na.Params.Del("RSVP")
		r.Props.Set(na)
		r.Props.SetDateTime(ical.PropDateTimeStamp, now.UTC())
		out.Children = append(out.Children, r)
	}
	if len(events(out)) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotAttendee, who)
	}
	return withMethod(out, MethodReply)
}

// SetPartStat records attendee who's answer in their own calendar copy.
func SetPartStat(event []byte, who string, ps PartStat, lim pim.Limits) ([]byte, error) {
	cal, err := pim.DecodeITIP(event, lim)
	if err != nil {
		return nil, err
	}
	found := false
	for _, c := range events(cal) {
		if a := attendee(c, strings.ToLower(who)); a != nil {
			a.Params.Set(ical.ParamParticipationStatus, string(ps))
			a.Params.Del("RSVP")
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: %s", ErrNotAttendee, who)
	}
	return encode(cal)
}

// EventInfo is what scheduling reads from a stored event.
type EventInfo struct {
	UID       string
	Organizer string     // lower case; "" for an event without one
	Attendees []Attendee // of the master (or first) component
	Summary   string
	Cancelled bool
}

// Attendee is one ATTENDEE of an event.
type Attendee struct {
	Address  string // lower case
	PartStat PartStat
}

// Info reads a stored event's UID, organiser and attendees.
func Info(event []byte, lim pim.Limits) (EventInfo, error) {
	cal, err := pim.DecodeITIP(event, lim)
	if err != nil {
		return EventInfo{}, err
	}
	c := first(cal)
	if c == nil {
		return EventInfo{}, fmt.Errorf("%w: the calendar holds no VEVENT", ErrInvalid)
	}
	in := EventInfo{UID: propValue(c, ical.PropUID), Organizer: address(c.Props.Get(ical.PropOrganizer))}
	in.Summary, _ = c.Props.Text(ical.PropSummary)
	in.Cancelled = strings.EqualFold(propValue(c, ical.PropStatus), "CANCELLED")
	for _, a := range c.Props[ical.PropAttendee] {
		if addr := address(&a); addr != "" {
			ps := PartStat(strings.ToUpper(a.Params.Get(ical.ParamParticipationStatus)))
			if ps == "" {
				ps = NeedsAction
			}
			in.Attendees = append(in.Attendees, Attendee{Address: addr, PartStat: ps})
		}
	}
	return in, nil
}

// significant is the part of an event whose change attendees must hear of
// (RFC 5546 2.1.4): times, recurrence, place, title, status and sequence.
func significant(event []byte, lim pim.Limits) (string, error) {
	cal, err := pim.DecodeITIP(event, lim)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, c := range events(cal) {
		for _, name := range []string{ical.PropRecurrenceID, ical.PropDateTimeStart, ical.PropDateTimeEnd, ical.PropDuration,
			ical.PropRecurrenceRule, ical.PropRecurrenceDates, ical.PropExceptionDates, ical.PropLocation,
			ical.PropSummary, ical.PropStatus, ical.PropSequence} {
			for _, p := range c.Props[name] {
				b.WriteString(name + ":" + p.Params.Get(ical.ParamTimezoneID) + ":" + p.Value + "\n")
			}
		}
		b.WriteString("--\n")
	}
	return b.String(), nil
}

// newCalendar is an empty VCALENDAR with the required properties.
func newCalendar() *ical.Calendar {
	cal := ical.NewCalendar()
	set(cal.Component, ical.PropVersion, "2.0")
	set(cal.Component, ical.PropProductID, prodID)
	return cal
}

// withMethod encodes cal as an iTIP message of method.
func withMethod(cal *ical.Calendar, method Method) ([]byte, error) {
	set(cal.Component, ical.PropMethod, string(method))
	return encode(cal)
}

// encode writes cal, adding the DTSTAMP that RFC 5545 3.6.1 requires where a client
// left it out.
func encode(cal *ical.Calendar) ([]byte, error) {
	if cal.Props.Get(ical.PropVersion) == nil {
		set(cal.Component, ical.PropVersion, "2.0")
	}
	if cal.Props.Get(ical.PropProductID) == nil {
		set(cal.Component, ical.PropProductID, prodID)
	}
	for _, c := range events(cal) {
		if c.Props.Get(ical.PropDateTimeStamp) == nil {
			c.Props.SetDateTime(ical.PropDateTimeStamp, time.Now().UTC())
		}
	}
	var b bytes.Buffer
	if err := ical.NewEncoder(&b).Encode(cal); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return b.Bytes(), nil
}

// events returns the VEVENTs of cal.
func events(cal *ical.Calendar) []*ical.Component {
	var out []*ical.Component
	for _, c := range cal.Children {
		if c.Name == ical.CompEvent {
			out = append(out, c)
		}
	}
	return out
}

// first is the master VEVENT, or the first one when there is only overrides.
func first(cal *ical.Calendar) *ical.Component {
	if m := matching(cal, ""); m != nil {
		return m
	}
	if es := events(cal); len(es) > 0 {
		return es[0]
	}
	return nil
}

// matching finds the VEVENT with RECURRENCE-ID rid ("" for the master).
func matching(cal *ical.Calendar, rid string) *ical.Component {
	for _, c := range events(cal) {
		if recurrenceID(c) == rid {
			return c
		}
	}
	return nil
}

func recurrenceID(c *ical.Component) string {
	if p := c.Props.Get(ical.PropRecurrenceID); p != nil {
		return strings.TrimSpace(p.Value)
	}
	return ""
}

// attendee finds the ATTENDEE with address addr in c.
func attendee(c *ical.Component, addr string) *ical.Prop {
	for i := range c.Props[ical.PropAttendee] {
		if a := &c.Props[ical.PropAttendee][i]; address(a) == addr {
			return a
		}
	}
	return nil
}

// address is the mail address of a cal-address property (RFC 5545 3.3.3), lower case,
// or "" when it is not a mailto: URI.
func address(p *ical.Prop) string {
	if p == nil {
		return ""
	}
	v := strings.TrimSpace(p.Value)
	if len(v) < 7 || !strings.EqualFold(v[:7], "mailto:") {
		return ""
	}
	v = strings.ToLower(strings.TrimSpace(v[7:]))
	if at := strings.LastIndexByte(v, '@'); at <= 0 || at == len(v)-1 {
		return ""
	}
	return v
}

// sentBy is the SENT-BY address of a cal-address (RFC 5545 3.2.18), or "".
func sentBy(p *ical.Prop) string {
	if p == nil {
		return ""
	}
	return address(&ical.Prop{Value: strings.Trim(p.Params.Get("SENT-BY"), `"`)})
}

// delegates are the SENT-BY addresses of whoever may send m: the organiser's for a
// REQUEST or CANCEL, the replying attendee's for a REPLY.
func delegates(m *Message) []string {
	var out []string
	for _, c := range events(m.cal) {
		p := c.Props.Get(ical.PropOrganizer)
		if m.Method == MethodReply {
			p = attendee(c, m.Attendees[0])
		}
		if a := sentBy(p); a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func propValue(c *ical.Component, name string) string {
	if p := c.Props.Get(name); p != nil {
		return strings.TrimSpace(p.Value)
	}
	return ""
}

// sequence is a component's SEQUENCE, 0 when absent or not a small number.
func sequence(c *ical.Component) int {
	n, err := strconv.Atoi(propValue(c, ical.PropSequence))
	if err != nil || n < 0 || n > 1<<30 {
		return 0
	}
	return n
}

// copySequence is the highest SEQUENCE of a calendar copy's VEVENTs.
func copySequence(cal *ical.Calendar) int {
	seq := 0
	for _, c := range events(cal) {
		seq = max(seq, sequence(c))
	}
	return seq
}

func setSequence(c *ical.Component, n int) { set(c, ical.PropSequence, strconv.Itoa(n)) }

// set gives c the one property name with a value that needs no escaping.
func set(c *ical.Component, name, value string) {
	p := ical.NewProp(name)
	p.Value = value
	c.Props.Set(p)
}

func cloneComponent(c *ical.Component) *ical.Component {
	out := ical.NewComponent(c.Name)
	for name, ps := range c.Props {
		for i := range ps {
			out.Props[name] = append(out.Props[name], *cloneProp(&ps[i]))
		}
	}
	for _, child := range c.Children {
		out.Children = append(out.Children, cloneComponent(child))
	}
	return out
}

func cloneProp(p *ical.Prop) *ical.Prop {
	q := &ical.Prop{Name: p.Name, Value: p.Value, Params: ical.Params{}}
	for k, v := range p.Params {
		q.Params[k] = slices.Clone(v)
	}
	return q
}
