package activesync

// ResolveRecipients follows [MS-ASCMD] 2.2.1.15: each To is resolved against the
// directory (the GAL) by address or name prefix. Availability (2.2.3.16) gives a
// recipient resolved to one user their MergedFreeBusy (2.2.3.107) from the Scheduler.
// Certificates and pictures are not offered; a request for them gets the recipients
// without them.

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/scheduling"
	"mailroom/internal/wbxml"
)

// defaultAmbiguous is how many suggestions an ambiguous name gets unless the device
// asks otherwise.
const defaultAmbiguous = 20

// Availability: the default span after StartTime, the longest span (Exchange 2010's),
// and the slot of MergedFreeBusy ([MS-ASCMD] 2.2.3.61.1, 2.2.3.107).
const (
	defaultAvailability = 7 * 24 * time.Hour
	maxAvailability     = 42 * 24 * time.Hour
	freeBusySlot        = 30 * time.Minute
)

// availabilityStatus is the Status of a recipient's Availability ([MS-ASCMD]
// 2.2.3.177.12).
type availabilityStatus int

const (
	availabilityOK          availabilityStatus = 1
	availabilityUnavailable availabilityStatus = 162 // free/busy could not be retrieved
)

func (s *Server) resolveRecipients(ctx context.Context, w http.ResponseWriter, r *request) error {
	req, err := decodeBody(r)
	if err != nil {
		return err
	}
	ns := wbxml.NSResolveRecipients
	resp := wbxml.New(ns, "ResolveRecipients")
	top := resp.AddText(ns, "Status", text(resolveOK))
	limit := defaultAmbiguous
	if v := req.Child(ns, "Options").ChildText(ns, "MaxAmbiguousRecipients"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			top.Text = text(resolveProtocolError)
			return s.writeWBXML(w, resp)
		}
		limit = min(n, 100)
	}
	var span *[2]time.Time // 12.1 has no Availability
	if av := req.Child(ns, "Options").Child(ns, "Availability"); av != nil && r.version >= 140 {
		start, end, ok := availabilitySpan(av.ChildText(ns, "StartTime"), av.ChildText(ns, "EndTime"))
		if !ok {
			top.Text = text(resolveProtocolError)
			return s.writeWBXML(w, resp)
		}
		span = &[2]time.Time{start, end}
	}
	tos := req.All(ns, "To")
	if len(tos) == 0 || len(tos) > 100 {
		top.Text = text(resolveProtocolError)
		return s.writeWBXML(w, resp)
	}
	for _, to := range tos {
		out := resp.Add(ns, "Response")
		out.AddText(ns, "To", to.Text)
		status := out.AddText(ns, "Status", text(resolveOK))
		matches, err := s.galMatches(ctx, to.Text)
		if err != nil {
			return err
		}
		// An exact address is unambiguous even if it is also a prefix of others.
		for _, u := range matches {
			if u.Address == to.Text {
				matches = matches[:0]
				matches = append(matches, u)
				break
			}
		}
		switch {
		case len(matches) == 0:
			status.Text = text(resolveNotFound)
		case len(matches) > 1 && len(matches) <= limit:
			status.Text = text(resolveAmbiguous)
		case len(matches) > 1:
			status.Text = text(resolveAmbiguousSome)
		}
		shown := matches
		if len(shown) > 1 {
			shown = shown[:min(len(shown), limit)]
		}
		out.AddText(ns, "RecipientCount", strconv.Itoa(len(shown)))
		for _, u := range shown {
			rc := out.Add(ns, "Recipient")
			rc.AddText(ns, "Type", "1") // from the GAL
			rc.AddText(ns, "DisplayName", cleanText(u.DisplayName))
			rc.AddText(ns, "EmailAddress", u.Address)
			if span != nil && len(matches) == 1 {
				s.addAvailability(ctx, rc, u, span[0], span[1])
			}
		}
	}
	return s.writeWBXML(w, resp)
}

// availabilitySpan reads Availability's StartTime and EndTime: EndTime defaults to a
// week after StartTime, and the span is at least one slot and at most 42 days.
func availabilitySpan(startText, endText string) (start, end time.Time, ok bool) {
	start, err := parseEASTime(startText)
	if err != nil {
		return start, end, false
	}
	end = start.Add(defaultAvailability)
	if endText != "" {
		if end, err = parseEASTime(endText); err != nil {
			return start, end, false
		}
	}
	d := end.Sub(start)
	return start, end, d >= freeBusySlot && d <= maxAvailability
}

// addAvailability adds a recipient's free/busy over [start, end).
func (s *Server) addAvailability(ctx context.Context, rc *wbxml.Element, u directory.User, start, end time.Time) {
	ns := wbxml.NSResolveRecipients
	av := rc.Add(ns, "Availability")
	if s.cfg.Scheduler == nil {
		av.AddText(ns, "Status", text(availabilityUnavailable))
		return
	}
	periods, err := s.cfg.Scheduler.FreeBusy(ctx, u, start, end)
	if err != nil {
		s.log.Warn("free/busy", "user", u.Address, "err", err)
		av.AddText(ns, "Status", text(availabilityUnavailable))
		return
	}
	av.AddText(ns, "Status", text(availabilityOK))
	av.AddText(ns, "MergedFreeBusy", scheduling.Merged(periods, start, end, freeBusySlot))
}
