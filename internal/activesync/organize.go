package activesync

// A device's change to a meeting the user organises sends the invitations and
// cancellations it calls for, as a CalDAV write does (RFC 5546 3.2.2, 3.2.5, through
// internal/scheduling); [MS-ASCAL] leaves sending them to the server.

import (
	"context"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/pim"
	"mailroom/internal/store"
)

// Organizer is a Scheduler that also sends what a change to an organiser's event calls
// for; *scheduling.Service is one.
type Organizer interface {
	Organize(ctx context.Context, organiser directory.User, previous, current []byte) error
}

// organizeTimeout bounds the scheduling that follows one device change.
const organizeTimeout = 2 * time.Minute

// organize hands a calendar item's change, once stored, to the scheduler: previous is
// the stored item before (nil for an Add), item what replaced it (a tombstone for a
// Delete). A failure is logged; the device's Sync is never failed by it.
func (s *Server) organize(ctx context.Context, r *request, role store.Role, previous []byte, item store.NewMessage) {
	o, ok := s.cfg.Scheduler.(Organizer)
	if !ok || role != store.RoleCalendar {
		return
	}
	var prev, cur []byte
	if previous != nil {
		prev, _ = pim.Body(previous)
	}
	if item.Props[pim.PropKind] == string(pim.KindEvent) {
		cur, _ = pim.Body(item.Raw)
	}
	if prev == nil && cur == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), organizeTimeout)
	defer cancel()
	if err := o.Organize(ctx, r.user, prev, cur); err != nil {
		s.log.Warn("sending the invitations of a device's calendar change failed", "user", r.user.Address, "device", r.deviceID, "err", err)
	}
}
