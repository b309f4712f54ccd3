package scheduling

// Incoming iMIP: a message stored in a user's Inbox that carries a REQUEST, CANCEL or
// REPLY updates that user's calendar, once its sender is found to be the one the iTIP
// message says may send it (RFC 6047 2.2.1 and 2.3 leave matching the mail's
// originator against ORGANIZER or ATTENDEE to the receiver; RFC 5546 6.1 lists the
// spoofing it prevents).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"mailroom/internal/store"
)

// processTimeout bounds the work on one delivered message.
const processTimeout = time.Minute

// Delivered hears of a message just stored in local mailboxes. It never blocks and
// reads nothing: the copies are queued for Run, and when the queue is full they stay
// in their Inboxes unprocessed (logged).
func (s *Service) Delivered(ctx context.Context, d []store.Delivered) {
	if len(d) == 0 {
		return
	}
	select {
	case s.jobs <- slices.Clone(d):
	default:
		s.log.Warn("scheduling queue full: message left unprocessed", "mailboxes", len(d))
	}
}

// Run processes queued messages until ctx ends.
func (s *Service) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ds := <-s.jobs:
			for _, d := range ds {
				pctx, cancel := context.WithTimeout(ctx, processTimeout)
				if err := s.processStored(pctx, d); err != nil {
					s.log.Warn("invitation not applied", "account", d.Account, "err", err)
				}
				cancel()
			}
		}
	}
}

// processStored looks at a stored message's parse for a text/calendar part and, only
// when it has one, reads the bytes and processes them.
func (s *Service) processStored(ctx context.Context, d store.Delivered) error {
	m, err := s.cfg.Store.Message(ctx, d.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // moved or deleted since
	}
	if err != nil {
		return fmt.Errorf("delivered message: %w", err)
	}
	if findCalendar(&m.Root, 0) == nil {
		return nil
	}
	raw, err := s.cfg.Store.Raw(ctx, d.ID)
	if err != nil {
		return fmt.Errorf("delivered message: %w", err)
	}
	return s.Process(ctx, d, raw)
}

// Process applies the iMIP message raw, stored as d, to its recipient's calendar.
// Only a copy in the Inbox counts (not one the MX put in Junk); a message that is not
// iMIP is no error.
func (s *Service) Process(ctx context.Context, d store.Delivered, raw []byte) error {
	f, err := s.cfg.Store.Folder(ctx, d.Folder)
	if err != nil {
		return fmt.Errorf("folder of the delivered message: %w", err)
	}
	if f.Role != store.RoleInbox {
		return nil
	}
	data, ok := Extract(raw)
	if !ok {
		return nil
	}
	m, err := Parse(data, s.cfg.Limits)
	if errors.Is(err, ErrUnsupported) {
		return nil
	}
	if err != nil {
		return err
	}
	if dmarcFailed(raw) {
		return fmt.Errorf("%w: the %s for %q failed DMARC", ErrSpoofed, m.Method, m.UID)
	}
	if err := checkSender(raw, m); err != nil {
		return err
	}
	u, err := s.cfg.Directory.UserByID(ctx, int64(d.Account))
	if err != nil {
		return fmt.Errorf("recipient account %d: %w", d.Account, err)
	}
	mine := addresses(u)
	organiser := slices.Contains(mine, m.Organizer)
	switch {
	case m.Method == MethodReply && !organiser, m.Method != MethodReply && organiser:
		return nil // not addressed to this user's role in the event
	}
	_, err = s.update(ctx, d.Account, m.UID, func(cur []byte) ([]byte, error) {
		switch m.Method {
		case MethodRequest:
			return ApplyRequest(cur, m, s.cfg.Limits)
		case MethodCancel:
			return ApplyCancel(cur, m, s.cfg.Limits)
		}
		return ApplyReply(cur, m, s.cfg.Limits)
	})
	if err != nil {
		return fmt.Errorf("%s for %q: %w", m.Method, m.UID, err)
	}
	s.log.Info("invitation applied", "method", m.Method, "uid", m.UID, "account", d.Account)
	return nil
}

// checkSender checks that the message's From is who may send m: the organiser (or
// whom the ORGANIZER names as SENT-BY) for a REQUEST or CANCEL, the attendee (or their
// SENT-BY) for a REPLY.
func checkSender(raw []byte, m *Message) error {
	from := senders(raw)
	if len(from) != 1 {
		return fmt.Errorf("%w: the message has %d From mailboxes, not one", ErrSpoofed, len(from))
	}
	allowed := []string{m.Organizer}
	if m.Method == MethodReply {
		allowed = []string{m.Attendees[0]}
	}
	allowed = append(allowed, delegates(m)...)
	if !slices.Contains(allowed, from[0]) {
		return fmt.Errorf("%w: a %s for %q from %s, who is not %s", ErrSpoofed, m.Method, m.UID, from[0], allowed[0])
	}
	return nil
}
