package dav

// Implicit scheduling (RFC 6638): a calendar object the user organises sends its
// invitations and cancellations when it is stored or deleted, an attendee's changed
// answer sends the REPLY, and the principal has a scheduling inbox and outbox (3.2,
// 2.1, 2.2). The outbox answers free-busy POSTs (RFC 6638 appendix / the earlier
// draft-desruisseaux-caldav-sched-04 6.1); calendars answer free-busy-query
// (RFC 4791 7.10). The scheduler does the work; this file only decides when to call it.

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"mailroom/internal/directory"
	"mailroom/internal/pim"
	"mailroom/internal/scheduling"
	"mailroom/internal/store"
)

// Scheduler is the meeting scheduler; *scheduling.Service is one.
type Scheduler interface {
	Organize(ctx context.Context, organiser directory.User, previous, current []byte) error
	Answered(ctx context.Context, user directory.User, event []byte) error
	FreeBusy(ctx context.Context, user directory.User, start, end time.Time) ([]scheduling.Period, error)
}

// Users finds the directory entries of the signed-in user and of the people a
// free-busy request asks about; *directory.Directory is one.
type Users interface {
	UserByID(ctx context.Context, id int64) (directory.User, error)
	ResolveRecipient(ctx context.Context, address string) (directory.Recipient, error)
}

// The scheduling collections' segments below the principal.
const (
	inboxName  = "inbox"
	outboxName = "outbox"
)

// scheduleTimeout bounds the scheduling that follows one write; it runs on even when
// the client hangs up, so the attendees hear of what was stored.
const scheduleTimeout = 2 * time.Minute

// maxFreeBusyRecipients bounds the attendees of one free-busy POST.
const maxFreeBusyRecipients = 100

func scheduleHref(user, name string) string { return principalHref(user) + name + "/" }

// scheduling reports whether the server schedules at all.
func (h *Handler) scheduling() bool { return h.cfg.Scheduler != nil && h.cfg.Users != nil }

// me is the signed-in user's directory entry.
func (q *request) me(ctx context.Context) (directory.User, error) {
	u, err := q.h.cfg.Users.UserByID(ctx, int64(q.user.Account))
	if err != nil {
		return directory.User{}, fmt.Errorf("the signed-in user: %w", err)
	}
	return u, nil
}

// scheduleChange sends what the change of a stored event from previous to current
// (nil: none) calls for, once the store has it. Nothing here fails the request: a
// notification that cannot be sent is logged (RFC 6638 3.2.9 would record it in
// SCHEDULE-STATUS; Mailroom leaves the stored object as the client wrote it, so its
// ETag stays right).
func (q *request) scheduleChange(previous, current []byte) {
	if !q.h.scheduling() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(q.r.Context()), scheduleTimeout)
	defer cancel()
	if err := q.schedule(ctx, previous, current); err != nil {
		q.h.log.Warn("scheduling after a calendar change failed", "user", q.user.Address, "resource", q.t.name, "err", err)
	}
}

func (q *request) schedule(ctx context.Context, previous, current []byte) error {
	lim := q.h.limits()
	now := current
	if now == nil {
		now = previous
	}
	if now == nil || clientSchedules(now, lim) || previous != nil && clientSchedules(previous, lim) {
		return nil
	}
	info, err := scheduling.Info(now, lim)
	if err != nil || info.Organizer == "" {
		return nil // a VTODO, or an event that is no meeting
	}
	u, err := q.me(ctx)
	if err != nil {
		return err
	}
	mine := []string{strings.ToLower(u.Address)}
	for _, a := range u.Aliases {
		mine = append(mine, strings.ToLower(a))
	}
	if slices.Contains(mine, info.Organizer) || previous != nil && organisedBy(previous, mine, lim) {
		return q.h.cfg.Scheduler.Organize(ctx, u, previous, current)
	}
	// An attendee's own copy: a changed answer goes to the organiser (RFC 6638 3.2.2.1).
	if current == nil || answer(current, mine, lim) == answer(previous, mine, lim) {
		return nil
	}
	return q.h.cfg.Scheduler.Answered(ctx, u, current)
}

// organisedBy reports whether one of addrs organises event.
func organisedBy(event []byte, addrs []string, lim pim.Limits) bool {
	info, err := scheduling.Info(event, lim)
	return err == nil && info.Organizer != "" && slices.Contains(addrs, info.Organizer)
}

// answer is the PARTSTAT of the first of addrs among event's attendees; "" when event
// is nil or does not list them.
func answer(event []byte, addrs []string, lim pim.Limits) scheduling.PartStat {
	if event == nil {
		return ""
	}
	info, err := scheduling.Info(event, lim)
	if err != nil {
		return ""
	}
	for _, a := range info.Attendees {
		if slices.Contains(addrs, a.Address) {
			return a.PartStat
		}
	}
	return ""
}

// clientSchedules reports whether the client takes the scheduling of event on itself:
// SCHEDULE-AGENT=CLIENT (or NONE) on its ORGANIZER or on any ATTENDEE (RFC 6638 7.1).
// Mailroom then sends nothing for the whole change.
func clientSchedules(event []byte, lim pim.Limits) bool {
	cal, err := pim.DecodeITIP(event, lim)
	if err != nil {
		return false
	}
	for _, c := range cal.Children {
		if c.Name != ical.CompEvent {
			continue
		}
		props := append(slices.Clone(c.Props[ical.PropAttendee]), c.Props[ical.PropOrganizer]...)
		for _, p := range props {
			if agent := strings.ToUpper(p.Params.Get("SCHEDULE-AGENT")); agent != "" && agent != "SERVER" {
				return true
			}
		}
	}
	return false
}

// storedBody is the calendar text of a stored item, for the scheduler; nil when it is
// not an event or cannot be read (logged: the write goes on, unscheduled).
func (q *request) storedBody(m *member) []byte {
	if m == nil || !m.live() || m.kind != pim.KindEvent || !q.h.scheduling() {
		return nil
	}
	raw, err := q.h.cfg.Store.Raw(q.r.Context(), m.id)
	if err == nil {
		var body []byte
		if body, err = pim.Body(raw); err == nil {
			return body
		}
	}
	q.h.log.Warn("the previous version of a calendar object could not be read for scheduling", "resource", m.name, "err", err)
	return nil
}

// principalScheduleProps are the principal's scheduling properties (RFC 6638 2.1.1,
// 2.2.1).
func (q *request) principalScheduleProps(name xml.Name) (string, bool) {
	if !q.h.scheduling() {
		return "", false
	}
	switch name {
	case caldav("schedule-inbox-URL"):
		return hrefElem(scheduleHref(q.user.Address, inboxName)), true
	case caldav("schedule-outbox-URL"):
		return hrefElem(scheduleHref(q.user.Address, outboxName)), true
	}
	return "", false
}

// scheduleProps are the properties of the inbox and outbox. The inbox stays empty:
// incoming invitations are filed in the calendar directly (docs/scheduling.md).
func (q *request) scheduleProps(name xml.Name) (string, bool) {
	switch name {
	case dav("resourcetype"):
		kind := "schedule-inbox"
		if q.t.coll == outboxName {
			kind = "schedule-outbox"
		}
		return elem(dav("collection"), "") + elem(caldav(kind), ""), true
	case dav("displayname"):
		return escape(q.t.coll), true
	case dav("current-user-privilege-set"):
		if q.t.coll == outboxName {
			return privileges(false) + elem(dav("privilege"), elem(caldav("schedule-send"), "")), true
		}
		return privileges(false) + elem(dav("privilege"), elem(caldav("schedule-deliver"), "")), true
	case caldav("schedule-default-calendar-URL"):
		if all, err := q.folders(); err == nil && q.t.coll == inboxName {
			if i := slices.IndexFunc(all, func(f store.Folder) bool { return f.Role == store.RoleCalendar }); i >= 0 {
				return hrefElem(collectionHref(spaceCalendars, q.user.Address, all[i].Name)), true
			}
		}
	}
	return q.commonProps(name)
}

// post answers a free-busy request POSTed to the outbox.
func (q *request) post() error {
	if q.t.kind != targetSchedule || q.t.coll != outboxName || !q.h.scheduling() {
		q.w.Header().Set("Allow", allow)
		return errStatus(http.StatusMethodNotAllowed, "POST is answered only by the scheduling outbox")
	}
	if err := checkMediaType(q.r, "text/calendar"); err != nil {
		return errCondition(http.StatusForbidden, caldav("supported-calendar-data"), "%v", err)
	}
	data, err := io.ReadAll(io.LimitReader(q.r.Body, maxXMLBody+1))
	if err != nil {
		return errStatus(http.StatusBadRequest, "cannot read the request body: %v", err)
	}
	if len(data) > maxXMLBody {
		return errStatus(http.StatusRequestEntityTooLarge, "the request body is larger than %d bytes", maxXMLBody)
	}
	fb, err := parseFreeBusyRequest(data, q.h.limits())
	if err != nil {
		return errCondition(http.StatusForbidden, caldav("valid-calendar-data"), "%v", err)
	}
	ctx := q.r.Context()
	u, err := q.me(ctx)
	if err != nil {
		return err
	}
	if !strings.EqualFold(fb.organizer, u.Address) && !slices.ContainsFunc(u.Aliases, func(a string) bool { return strings.EqualFold(a, fb.organizer) }) {
		return errCondition(http.StatusForbidden, caldav("organizer-allowed"), "the ORGANIZER %s is not one of your addresses", fb.organizer)
	}
	now := time.Now()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<c:schedule-response xmlns:d="DAV:" xmlns:c="` + nsCalDAV + `">`)
	for _, who := range fb.attendees {
		status, reply := q.freeBusyOf(ctx, fb, who, now)
		inner := elem(caldav("recipient"), hrefElem("mailto:"+who)) + text(caldav("request-status"), status)
		if reply != nil {
			inner += text(caldav("calendar-data"), string(reply))
		}
		b.WriteString(elem(caldav("response"), inner))
	}
	b.WriteString(`</c:schedule-response>`)
	q.w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	q.w.WriteHeader(http.StatusOK)
	io.WriteString(q.w, b.String())
	return nil
}

// freeBusyOf is the request status (RFC 5546 3.6) and VFREEBUSY reply for one
// attendee of a free-busy request: only single users of this installation have one.
func (q *request) freeBusyOf(ctx context.Context, fb freeBusyRequest, who string, now time.Time) (string, []byte) {
	rec, err := q.h.cfg.Users.ResolveRecipient(ctx, who)
	switch {
	case errors.Is(err, directory.ErrNotFound), errors.Is(err, directory.ErrUnknownDomain), err == nil && len(rec.Users) != 1:
		return "3.7;Invalid calendar user", nil
	case err != nil:
		q.h.log.Warn("free/busy lookup failed", "recipient", who, "err", err)
		return "5.1;Service unavailable", nil
	}
	periods, err := q.h.cfg.Scheduler.FreeBusy(ctx, rec.Users[0], fb.start, fb.end)
	if err == nil {
		var reply []byte
		if reply, err = scheduling.FreeBusyReply(periods, fb.organizer, who, fb.start, fb.end, now); err == nil {
			return "2.0;Success", reply
		}
	}
	q.h.log.Warn("free/busy failed", "recipient", who, "err", err)
	return "5.1;Service unavailable", nil
}

// freeBusyRequest is a VFREEBUSY request (RFC 5546 3.3.1).
type freeBusyRequest struct {
	organizer  string // address, lower case
	attendees  []string
	start, end time.Time
}

// parseFreeBusyRequest reads the iTIP VFREEBUSY REQUEST of an outbox POST: METHOD
// REQUEST, one VFREEBUSY with ORGANIZER, at least one ATTENDEE, DTSTART and DTEND, the
// range within scheduling.MaxFreeBusyRange.
func parseFreeBusyRequest(data []byte, lim pim.Limits) (freeBusyRequest, error) {
	var fb freeBusyRequest
	cal, err := pim.DecodeITIP(data, lim)
	if err != nil {
		return fb, err
	}
	if m := cal.Props.Get(ical.PropMethod); m == nil || !strings.EqualFold(m.Value, "REQUEST") {
		return fb, errors.New("a free-busy request is an iTIP REQUEST (METHOD:REQUEST)")
	}
	var comp *ical.Component
	for _, c := range cal.Children {
		if c.Name == ical.CompFreeBusy {
			if comp != nil {
				return fb, errors.New("a free-busy request holds one VFREEBUSY")
			}
			comp = c
		}
	}
	if comp == nil {
		return fb, errors.New("the request holds no VFREEBUSY")
	}
	fb.organizer = mailto(comp.Props.Get(ical.PropOrganizer))
	if fb.organizer == "" {
		return fb, errors.New("the VFREEBUSY has no ORGANIZER with a mailto: address")
	}
	for _, p := range comp.Props[ical.PropAttendee] {
		if a := mailto(&p); a != "" && !slices.Contains(fb.attendees, a) {
			fb.attendees = append(fb.attendees, a)
		}
	}
	if len(fb.attendees) == 0 || len(fb.attendees) > maxFreeBusyRecipients {
		return fb, fmt.Errorf("a free-busy request names 1 to %d ATTENDEEs with mailto: addresses, not %d", maxFreeBusyRecipients, len(fb.attendees))
	}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{ical.PropDateTimeStart, &fb.start}, {ical.PropDateTimeEnd, &fb.end}} {
		p := comp.Props.Get(t.name)
		if p == nil {
			return fb, fmt.Errorf("the VFREEBUSY has no %s", t.name)
		}
		if *t.to, err = p.DateTime(time.UTC); err != nil {
			return fb, fmt.Errorf("%s: %w", t.name, err)
		}
	}
	if !fb.end.After(fb.start) || fb.end.Sub(fb.start) > scheduling.MaxFreeBusyRange {
		return fb, fmt.Errorf("the range must end after it starts and span at most %v", scheduling.MaxFreeBusyRange)
	}
	return fb, nil
}

// mailto is the lower-case address of a mailto: calendar user address; "" otherwise.
func mailto(p *ical.Prop) string {
	if p == nil {
		return ""
	}
	v := strings.TrimSpace(p.Value)
	if len(v) < 7 || !strings.EqualFold(v[:7], "mailto:") {
		return ""
	}
	addr, err := url.PathUnescape(v[7:])
	if err != nil || !strings.Contains(addr, "@") {
		return ""
	}
	return strings.ToLower(addr)
}

// freeBusyQuery answers a free-busy-query REPORT (RFC 4791 7.10) with the user's
// VFREEBUSY over the time-range. The busy time is the user's, from all their calendars,
// as the scheduler computes it, whichever calendar is asked.
func (q *request) freeBusyQuery(root *node) error {
	if !q.h.scheduling() {
		return errCondition(http.StatusForbidden, dav("supported-report"), "free-busy-query is not served here")
	}
	tr := root.child(nsCalDAV, "time-range")
	if tr == nil {
		return errCondition(http.StatusForbidden, caldav("valid-filter"), "a free-busy-query needs a time-range")
	}
	start, err := parseUTC(tr.attr("start"))
	if err != nil {
		return err
	}
	end, err := parseUTC(tr.attr("end"))
	if err != nil {
		return err
	}
	if start.IsZero() || end.IsZero() || !end.After(start) || end.Sub(start) > scheduling.MaxFreeBusyRange {
		return errCondition(http.StatusForbidden, caldav("valid-filter"), "the time-range needs a start and an end after it, at most %v apart", scheduling.MaxFreeBusyRange)
	}
	ctx := q.r.Context()
	u, err := q.me(ctx)
	if err != nil {
		return err
	}
	periods, err := q.h.cfg.Scheduler.FreeBusy(ctx, u, start, end)
	if err != nil {
		return err
	}
	data, err := scheduling.VFreeBusy(periods, u.Address, start, end, time.Now())
	if err != nil {
		return err
	}
	q.w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	q.w.WriteHeader(http.StatusOK)
	q.w.Write(data)
	return nil
}
