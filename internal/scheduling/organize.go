package scheduling

// The organiser's side (RFC 5546 3.2.2, 3.2.5; the server-side scheduling of RFC 6638
// 3.2 in spirit): a change to an organiser's event becomes REQUESTs and CANCELs. Every
// attendee gets the iMIP message; an attendee of ours also gets the event in their
// calendar at once.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"mailroom/internal/directory"
)

// Organize sends what changing an organiser's event from previous (nil: it is new) to
// current (nil: it was deleted) calls for: a REQUEST to every attendee when the event
// is new or changed in a way they must hear of, else to the attendees added only; a
// CANCEL to attendees removed, and to everyone when the event is cancelled or deleted.
// An event the user does not organise, or without attendees, sends nothing.
func (s *Service) Organize(ctx context.Context, organiser directory.User, previous, current []byte) error {
	lim := s.cfg.Limits
	var prev, cur EventInfo
	var err error
	if previous != nil {
		if prev, err = Info(previous, lim); err != nil {
			return fmt.Errorf("the previous event: %w", err)
		}
	}
	if current != nil {
		if cur, err = Info(current, lim); err != nil {
			return err
		}
	}
	mine := addresses(organiser)
	from := cur.Organizer
	if current == nil {
		from = prev.Organizer
	}
	if !slices.Contains(mine, from) {
		return nil
	}
	others := func(in EventInfo) []string {
		var out []string
		for _, a := range in.Attendees {
			if !slices.Contains(mine, a.Address) {
				out = append(out, a.Address)
			}
		}
		return out
	}
	before, now := others(prev), others(cur)
	var cancel, invite []string
	switch {
	case current == nil || previous != nil && cur.Cancelled && !prev.Cancelled:
		cancel = append(before, now...)
	case cur.Cancelled:
		return nil // cancelled before anyone heard of it, or already cancelled
	default:
		for _, a := range before {
			if !slices.Contains(now, a) {
				cancel = append(cancel, a)
			}
		}
		changed := previous == nil
		if !changed {
			p, err1 := significant(previous, lim)
			c, err2 := significant(current, lim)
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
			changed = p != c
		}
		for _, a := range now {
			if changed || !slices.Contains(before, a) {
				invite = append(invite, a)
			}
		}
	}
	slices.Sort(cancel)
	cancel = slices.Compact(cancel)
	var errs []error
	if len(cancel) > 0 {
		src := previous
		if current != nil {
			src = current
		}
		errs = append(errs, s.distribute(ctx, organiser, from, cancel, MethodCancel, src))
	}
	if len(invite) > 0 {
		errs = append(errs, s.distribute(ctx, organiser, from, invite, MethodRequest, current))
	}
	return errors.Join(errs...)
}

// distribute sends the REQUEST or CANCEL of event to the attendees to, first placing
// it in the calendars of those who are ours.
func (s *Service) distribute(ctx context.Context, organiser directory.User, from string, to []string, method Method, event []byte) error {
	build := Request
	if method == MethodCancel {
		build = Cancel
	}
	itip, err := build(event, s.cfg.Limits)
	if err != nil {
		return err
	}
	m, err := Parse(itip, s.cfg.Limits)
	if err != nil {
		return err
	}
	var errs []error
	for _, addr := range to {
		users, err := s.localUsers(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, u := range users {
			if u.ID == organiser.ID {
				continue
			}
			_, err := s.update(ctx, accountOf(u), m.UID, func(cur []byte) ([]byte, error) {
				if method == MethodCancel {
					return ApplyCancel(cur, m, s.cfg.Limits)
				}
				return ApplyRequest(cur, m, s.cfg.Limits)
			})
			if err != nil && !errors.Is(err, ErrUnknownEvent) {
				errs = append(errs, fmt.Errorf("%s in the calendar of %s: %w", method, u.Address, err))
			}
		}
	}
	subject, text := invitationText(method, m.Summary, from)
	errs = append(errs, s.send(ctx, organiser, from, to, subject, text, method, itip))
	return errors.Join(errs...)
}

// invitationText is the subject and plain-text alternative of an iMIP message.
func invitationText(method Method, summary, from string) (subject, text string) {
	if summary == "" {
		summary = "(no title)"
	}
	switch method {
	case MethodCancel:
		return "Cancelled: " + summary, "The meeting \"" + summary + "\" has been cancelled by " + from + ".\n"
	}
	return "Invitation: " + summary, from + " invites you to \"" + summary + "\".\nYour mail or calendar application can accept or decline it.\n"
}

// replyText is the subject and text of a REPLY.
func replyText(ps PartStat, summary, from string) (subject, text string) {
	if summary == "" {
		summary = "(no title)"
	}
	word := map[PartStat]string{Accepted: "Accepted", Tentative: "Tentative", Declined: "Declined"}[ps]
	if word == "" {
		word = "Reply"
	}
	return word + ": " + summary, from + " has answered " + strings.ToLower(word) + " to \"" + summary + "\".\n"
}
