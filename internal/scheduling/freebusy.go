package scheduling

// Free/busy time of a user of ours (RFC 5545 3.6.4 for the meaning of FBTYPE, RFC 4791
// 7.10 for which events count): every instance of every event of their calendars in
// the range, with recurrences expanded as pim bounds them. Transparent and cancelled
// events and those the user declined are free.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"mailroom/internal/directory"
	"mailroom/internal/pim"
	"mailroom/internal/store"
)

// BusyType is how busy a period is, numbered as ActiveSync's MergedFreeBusy digits
// ([MS-ASCMD] 2.2.3.107).
type BusyType int

// Busy types.
const (
	Free             BusyType = 0
	BusyTentative    BusyType = 1
	Busy             BusyType = 2
	OutOfOffice      BusyType = 3
	WorkingElsewhere BusyType = 4
)

// rank orders busy types for merging: the one that says least about availability
// loses (free < working elsewhere < tentative < busy < out of office).
func (t BusyType) rank() int {
	return [...]int{0, 2, 3, 4, 1}[t]
}

// Period is a busy span.
type Period struct {
	Start, End time.Time
	Type       BusyType
}

// MaxFreeBusyRange bounds a free/busy query.
const MaxFreeBusyRange = 366 * 24 * time.Hour

// FreeBusy returns the busy periods of user within [start, end), in order of start.
func (s *Service) FreeBusy(ctx context.Context, user directory.User, start, end time.Time) ([]Period, error) {
	if !end.After(start) || end.Sub(start) > MaxFreeBusyRange {
		return nil, fmt.Errorf("%w: a free/busy range must end after it starts and span at most %v", ErrInvalid, MaxFreeBusyRange)
	}
	all, err := s.cfg.Store.Folders(ctx, accountOf(user))
	if err != nil {
		return nil, fmt.Errorf("folders of %s: %w", user.Address, err)
	}
	mine := addresses(user)
	var out []Period
	for _, f := range pim.Collections(all, store.RoleCalendar) {
		var hits []store.Message
		err := s.eachItem(ctx, f.ID, func(m store.Message) bool {
			if pim.Kind(m.Props[pim.PropKind]) == pim.KindEvent && spans(m.Props, start, end) {
				hits = append(hits, m)
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		for _, m := range hits {
			raw, err := s.cfg.Store.Raw(ctx, m.ID)
			if err != nil {
				return nil, fmt.Errorf("event %s: %w", m.Props[pim.PropUID], err)
			}
			data, err := pim.Body(raw)
			if err != nil {
				return nil, err
			}
			err = pim.Instances(data, start, end, s.cfg.Limits, func(in pim.Instance) bool {
				if t := busyType(in.Component, mine); t != Free {
					out = append(out, Period{Start: maxTime(in.Start, start), End: minTime(in.End, end), Type: t})
				}
				return true
			})
			if err != nil {
				// A stored object pim can no longer read is skipped, not fatal.
				s.log.Warn("free/busy: event skipped", "uid", m.Props[pim.PropUID], "err", err)
			}
		}
	}
	slices.SortFunc(out, func(a, b Period) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// spans tests an item's stored time span against the range.
func spans(props map[string]string, start, end time.Time) bool {
	if v, err := strconv.ParseInt(props[pim.PropStart], 10, 64); err == nil && !time.Unix(v, 0).Before(end) {
		return false
	}
	if v, err := strconv.ParseInt(props[pim.PropEnd], 10, 64); err == nil && !time.Unix(v, 0).After(start) {
		return false
	}
	return true
}

// busyType says how an instance of component c occupies a user with addresses mine.
func busyType(c *ical.Component, mine []string) BusyType {
	if strings.EqualFold(propValue(c, ical.PropStatus), "CANCELLED") ||
		strings.EqualFold(propValue(c, ical.PropTransparency), "TRANSPARENT") {
		return Free
	}
	var ps PartStat
	for _, addr := range mine {
		if a := attendee(c, addr); a != nil {
			ps = PartStat(strings.ToUpper(a.Params.Get(ical.ParamParticipationStatus)))
			break
		}
	}
	if ps == Declined {
		return Free
	}
	// Outlook's own statement of the busy status, where a client wrote one.
	switch strings.ToUpper(propValue(c, "X-MICROSOFT-CDO-BUSYSTATUS")) {
	case "FREE":
		return Free
	case "OOF":
		return OutOfOffice
	case "WORKINGELSEWHERE":
		return WorkingElsewhere
	case "TENTATIVE":
		return BusyTentative
	}
	if ps == NeedsAction || ps == Tentative || strings.EqualFold(propValue(c, ical.PropStatus), "TENTATIVE") {
		return BusyTentative
	}
	return Busy
}

// Merged renders periods as [MS-ASCMD] 2.2.3.107 MergedFreeBusy: one digit per slot
// from start to end (the last slot may be partial), each the busiest type any period
// overlapping it has.
func Merged(periods []Period, start, end time.Time, slot time.Duration) string {
	if slot <= 0 || !end.After(start) {
		return ""
	}
	n := int((end.Sub(start) + slot - 1) / slot)
	out := make([]BusyType, n)
	for _, p := range periods {
		if !p.End.After(start) || !p.Start.Before(end) {
			continue
		}
		first := max(0, int(p.Start.Sub(start)/slot))
		last := min(n-1, int((p.End.Sub(start)-1)/slot))
		for i := first; i <= last; i++ {
			if p.Type.rank() > out[i].rank() {
				out[i] = p.Type
			}
		}
	}
	var b strings.Builder
	for _, t := range out {
		b.WriteByte(byte('0' + t))
	}
	return b.String()
}

// VFreeBusy renders periods as the VFREEBUSY of a CalDAV free-busy answer (RFC 4791
// 7.10, RFC 6638 3.2.1's schedule-response) for who over [start, end).
func VFreeBusy(periods []Period, who string, start, end, now time.Time) ([]byte, error) {
	return encode(freeBusyCalendar(periods, who, start, end, now))
}

// FreeBusyReply renders periods as the iTIP REPLY to organizer's VFREEBUSY request about
// who (RFC 5546 3.3.2), as a CalDAV scheduling outbox POST answers it (RFC 6638 3.2.1 and
// draft-desruisseaux-caldav-sched-04 6.1.2).
func FreeBusyReply(periods []Period, organizer, who string, start, end, now time.Time) ([]byte, error) {
	cal := freeBusyCalendar(periods, who, start, end, now)
	set(cal.Children[0], ical.PropOrganizer, "mailto:"+organizer)
	return withMethod(cal, MethodReply)
}

// freeBusyCalendar is a VCALENDAR with the one VFREEBUSY of periods.
func freeBusyCalendar(periods []Period, who string, start, end, now time.Time) *ical.Calendar {
	cal := newCalendar()
	fb := ical.NewComponent(ical.CompFreeBusy)
	fb.Props.SetDateTime(ical.PropDateTimeStamp, now.UTC())
	fb.Props.SetDateTime(ical.PropDateTimeStart, start.UTC())
	fb.Props.SetDateTime(ical.PropDateTimeEnd, end.UTC())
	set(fb, ical.PropUID, strconv.FormatInt(now.UnixNano(), 36)+"-"+who)
	if who != "" {
		set(fb, ical.PropAttendee, "mailto:"+who)
	}
	// Working elsewhere has no FBTYPE: the person is available, so it is left out.
	fbType := map[BusyType]string{BusyTentative: "BUSY-TENTATIVE", Busy: "BUSY", OutOfOffice: "BUSY-UNAVAILABLE"}
	for _, p := range periods {
		if fbType[p.Type] == "" {
			continue
		}
		prop := ical.NewProp(ical.PropFreeBusy)
		prop.Params.Set("FBTYPE", fbType[p.Type])
		prop.Value = p.Start.UTC().Format("20060102T150405Z") + "/" + p.End.UTC().Format("20060102T150405Z")
		fb.Props.Add(prop)
	}
	cal.Children = append(cal.Children, fb)
	return cal
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
