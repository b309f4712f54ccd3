package scheduling

// An answer the attendee's own client has already recorded (RFC 6638 3.2.2.1: a CalDAV
// client changes its PARTSTAT in the attendee's copy and the server sends the REPLY).

import (
	"context"
	"fmt"
	"slices"

	"mailroom/internal/directory"
)

// Answered sends the REPLY of user's answer as their stored copy event records it to
// the organiser, applying it at once to the organiser's copy when the organiser is
// ours. Unlike Respond it writes nothing to the user's calendar: the caller has stored
// event already. An answer other than ACCEPTED, TENTATIVE or DECLINED sends nothing.
func (s *Service) Answered(ctx context.Context, user directory.User, event []byte) error {
	info, err := Info(event, s.cfg.Limits)
	if err != nil {
		return err
	}
	mine := addresses(user)
	if info.Organizer == "" {
		return nil
	}
	if slices.Contains(mine, info.Organizer) {
		return fmt.Errorf("%w: %q", ErrOrganizer, info.UID)
	}
	i := slices.IndexFunc(info.Attendees, func(a Attendee) bool { return slices.Contains(mine, a.Address) })
	if i < 0 {
		return fmt.Errorf("%w: %s in %q", ErrNotAttendee, user.Address, info.UID)
	}
	switch ps := info.Attendees[i].PartStat; ps {
	case Accepted, Tentative, Declined:
		return s.reply(ctx, user, info.Attendees[i].Address, info, ps)
	}
	return nil
}
