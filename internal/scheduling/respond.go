package scheduling

// An attendee's answer (RFC 5546 3.2.3): recorded in their calendar copy, sent to the
// organiser as a REPLY, and applied at once to the organiser's copy when the organiser
// is ours. ActiveSync's MeetingResponse is the caller.

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"mailroom/internal/directory"
	"mailroom/internal/store"
)

// ErrOrganizer is returned when a user answers an invitation to their own event.
var ErrOrganizer = errors.New("the user organises this event")

// Response is an attendee's answer to an invitation.
type Response struct {
	// UID names the event in the user's calendar; Invitation, when set instead or as
	// well, is the iTIP REQUEST of the invitation mail answered, whose event is filed
	// first if the calendar does not have it yet (or has an older version).
	UID        string
	Invitation []byte
	PartStat   PartStat
	// Send says whether the organiser gets the REPLY.
	Send bool
}

// Respond records user's answer and, when asked, sends it to the organiser. It
// returns where the user's calendar copy now is.
func (s *Service) Respond(ctx context.Context, user directory.User, r Response) (store.Delivered, error) {
	switch r.PartStat {
	case Accepted, Tentative, Declined:
	default:
		return store.Delivered{}, fmt.Errorf("%w: an answer is ACCEPTED, TENTATIVE or DECLINED, not %q", ErrInvalid, r.PartStat)
	}
	var inv *Message
	if r.Invitation != nil {
		m, err := Parse(r.Invitation, s.cfg.Limits)
		if err != nil {
			return store.Delivered{}, err
		}
		if m.Method != MethodRequest {
			return store.Delivered{}, fmt.Errorf("%w: the message is a %s, not an invitation", ErrInvalid, m.Method)
		}
		if r.UID != "" && r.UID != m.UID {
			return store.Delivered{}, fmt.Errorf("%w: the invitation is for %q, not %q", ErrInvalid, m.UID, r.UID)
		}
		inv, r.UID = m, m.UID
	}
	if r.UID == "" {
		return store.Delivered{}, fmt.Errorf("%w: no event named", ErrInvalid)
	}
	mine := addresses(user)
	var info EventInfo
	var me string
	d, err := s.update(ctx, accountOf(user), r.UID, func(cur []byte) ([]byte, error) {
		if inv != nil {
			next, err := ApplyRequest(cur, inv, s.cfg.Limits)
			switch {
			case err == nil:
				cur = next
			case errors.Is(err, ErrStale) && cur != nil:
				// the calendar has a newer version: answer that one
			default:
				return nil, err
			}
		}
		if cur == nil {
			return nil, fmt.Errorf("%w: UID %q", ErrUnknownEvent, r.UID)
		}
		var err error
		if info, err = Info(cur, s.cfg.Limits); err != nil {
			return nil, err
		}
		if slices.Contains(mine, info.Organizer) {
			return nil, fmt.Errorf("%w: %q", ErrOrganizer, r.UID)
		}
		i := slices.IndexFunc(info.Attendees, func(a Attendee) bool { return slices.Contains(mine, a.Address) })
		if i < 0 {
			return nil, fmt.Errorf("%w: %s in %q", ErrNotAttendee, user.Address, r.UID)
		}
		me = info.Attendees[i].Address
		return SetPartStat(cur, me, r.PartStat, s.cfg.Limits)
	})
	if err != nil || !r.Send || info.Organizer == "" {
		return d, err
	}
	return d, s.reply(ctx, user, me, info, r.PartStat)
}

// reply sends the REPLY of attendee me to the organiser, applying it first to the
// organiser's copy when the organiser is ours.
func (s *Service) reply(ctx context.Context, user directory.User, me string, info EventInfo, ps PartStat) error {
	ev, err := s.findEvent(ctx, accountOf(user), info.UID)
	if err != nil {
		return err
	}
	if ev == nil {
		return fmt.Errorf("%w: UID %q", ErrUnknownEvent, info.UID)
	}
	itip, err := Reply(ev.data, me, ps, s.now(), s.cfg.Limits)
	if err != nil {
		return err
	}
	m, err := Parse(itip, s.cfg.Limits)
	if err != nil {
		return err
	}
	organisers, err := s.localUsers(ctx, info.Organizer)
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range organisers {
		_, err := s.update(ctx, accountOf(o), m.UID, func(cur []byte) ([]byte, error) { return ApplyReply(cur, m, s.cfg.Limits) })
		if err != nil {
			errs = append(errs, fmt.Errorf("the organiser's copy: %w", err))
		}
	}
	subject, text := replyText(ps, info.Summary, me)
	errs = append(errs, s.send(ctx, user, me, []string{info.Organizer}, subject, text, MethodReply, itip))
	return errors.Join(errs...)
}

func accountOf(u directory.User) store.AccountID { return store.AccountID(u.ID) }
