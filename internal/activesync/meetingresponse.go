package activesync

// MeetingResponse follows [MS-ASCMD] 2.2.1.11: each Request accepts (1), tentatively
// accepts (2) or declines (3) the meeting request named by RequestId, an email in
// CollectionId (the Inbox) or, from 16.0, a calendar item. The user's calendar copy
// records the answer (PARTSTAT) and the organiser gets a REPLY through
// internal/scheduling when the request says SendResponse (16.x; before 16.0 the
// device sends the answer itself with SendMail). An answer to one instance
// (InstanceId) applies to the whole series, and ProposedStartTime/EndTime are not
// forwarded.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/pim"
	"mailroom/internal/scheduling"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// Scheduler records meeting answers and computes free/busy; *scheduling.Service is one.
type Scheduler interface {
	Respond(ctx context.Context, user directory.User, r scheduling.Response) (store.Delivered, error)
	FreeBusy(ctx context.Context, user directory.User, start, end time.Time) ([]scheduling.Period, error)
}

// meetingStatus is meetingresponse:Status ([MS-ASCMD] 2.2.3.177.9).
type meetingStatus int

const (
	meetingOK           meetingStatus = 1
	meetingInvalid      meetingStatus = 2 // not a meeting request, or the user organises it
	meetingMailboxError meetingStatus = 3
)

// maxMeetingRequests bounds the Request elements of one command.
const maxMeetingRequests = 100

var userResponses = map[string]scheduling.PartStat{"1": scheduling.Accepted, "2": scheduling.Tentative, "3": scheduling.Declined}

func (s *Server) meetingResponse(ctx context.Context, w http.ResponseWriter, r *request) error {
	req, err := decodeBody(r)
	if err != nil {
		return err
	}
	ns := wbxml.NSMeetingResponse
	requests := req.All(ns, "Request")
	if len(requests) == 0 || len(requests) > maxMeetingRequests {
		return &badRequestError{errors.New("MeetingResponse needs 1 to 100 Request elements")}
	}
	resp := wbxml.New(ns, "MeetingResponse")
	for _, one := range requests {
		res := resp.Add(ns, "Result")
		id := one.ChildText(ns, "RequestId")
		res.AddText(ns, "RequestId", id)
		status, calendarID := s.answer(ctx, r, one)
		res.AddText(ns, "Status", text(status))
		if calendarID != "" {
			res.AddText(ns, "CalendarId", calendarID)
		}
	}
	return s.writeWBXML(w, resp)
}

// answer handles one Request and returns its status and, unless declined, the
// ServerId of the calendar item.
func (s *Server) answer(ctx context.Context, r *request, req *wbxml.Element) (meetingStatus, string) {
	ns := wbxml.NSMeetingResponse
	ps, ok := userResponses[req.ChildText(ns, "UserResponse")]
	if !ok || s.cfg.Scheduler == nil {
		return meetingInvalid, ""
	}
	id := req.ChildText(ns, "RequestId")
	f, _, ok := parseItemID(id)
	if coll := req.ChildText(ns, "CollectionId"); !ok || coll != "" && coll != folderServerID(f) {
		return meetingInvalid, ""
	}
	m, found, err := s.ownMessage(ctx, r, id)
	if err != nil {
		s.log.Warn("MeetingResponse: read the request", "id", id, "err", err)
		return meetingMailboxError, ""
	}
	if !found {
		return meetingInvalid, ""
	}
	answer := scheduling.Response{PartStat: ps, Send: r.version >= 160 && req.Child(ns, "SendResponse") != nil}
	if pim.Kind(m.Props[pim.PropKind]) == pim.KindEvent {
		answer.UID = m.Props[pim.PropUID]
	} else {
		raw, err := s.store.Raw(ctx, m.ID)
		if err != nil {
			s.log.Warn("MeetingResponse: read the request", "id", id, "err", err)
			return meetingMailboxError, ""
		}
		if answer.Invitation, ok = scheduling.Extract(raw); !ok {
			return meetingInvalid, ""
		}
	}
	d, err := s.cfg.Scheduler.Respond(ctx, r.user, answer)
	switch {
	case errors.Is(err, scheduling.ErrInvalid), errors.Is(err, scheduling.ErrUnsupported), errors.Is(err, scheduling.ErrSpoofed),
		errors.Is(err, scheduling.ErrNotAttendee), errors.Is(err, scheduling.ErrOrganizer), errors.Is(err, scheduling.ErrUnknownEvent),
		errors.Is(err, pim.ErrInvalid):
		return meetingInvalid, ""
	case err != nil:
		// When only sending failed the calendar has the answer already; a retry
		// records the same again and sends.
		s.log.Warn("MeetingResponse failed", "id", id, "recorded", d.ID != 0, "err", err)
		return meetingMailboxError, ""
	}
	if ps == scheduling.Declined {
		return meetingOK, ""
	}
	return meetingOK, itemServerID(d.Folder, d.UID)
}
