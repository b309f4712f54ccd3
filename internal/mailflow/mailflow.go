// Package mailflow routes a finished message to where it must go: the mailboxes of the
// organisation's own recipients through the store, in one durable step, and every other
// recipient through the outbound queue.
//
// It sits below the protocols (ActiveSync's SendMail, the queue's delivery notifications)
// and above the store and the queue; it never speaks a protocol itself and never returns
// before what it accepted is on disk.
package mailflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"mailroom/internal/directory"
	"mailroom/internal/queue"
	"mailroom/internal/store"
)

// ErrUnknownRecipient is returned when an address in one of our domains belongs to no one.
var ErrUnknownRecipient = errors.New("no such recipient")

// Directory resolves recipient addresses.
type Directory interface {
	ResolveRecipient(ctx context.Context, address string) (directory.Recipient, error)
}

// Mailboxes stores messages.
type Mailboxes interface {
	Deliver(ctx context.Context, m store.NewMessage, to []store.Placement) ([]store.Delivered, error)
}

// Queue takes messages for remote recipients.
type Queue interface {
	Enqueue(ctx context.Context, m queue.Message) (int64, error)
}

// DeliveryHook hears of every message stored in local mailboxes, after the store has
// it, as the SMTP server's hook does (internal/scheduling processes invitations from
// it); it must not block or fail the delivery.
type DeliveryHook interface {
	Delivered(ctx context.Context, d []store.Delivered)
}

// Flow routes messages.
type Flow struct {
	Directory Directory
	Mailboxes Mailboxes
	Queue     Queue
	Delivered DeliveryHook // nil: no one hears of local deliveries
	Logger    *slog.Logger
}

// Plan is where one message goes: local mailboxes (each once) and remote addresses.
type Plan struct {
	Local   []store.Placement
	Remote  []string
	Unknown []string // addresses in our domains that belong to no one
}

// Plan resolves the recipients without delivering anything.
func (f *Flow) Plan(ctx context.Context, rcpts []string) (Plan, error) {
	var p Plan
	seen := map[store.AccountID]bool{}
	remote := map[string]bool{}
	for _, r := range rcpts {
		rec, err := f.Directory.ResolveRecipient(ctx, r)
		switch {
		case errors.Is(err, directory.ErrUnknownDomain):
			addr := strings.ToLower(strings.TrimSpace(r))
			if !remote[addr] {
				remote[addr] = true
				p.Remote = append(p.Remote, strings.TrimSpace(r))
			}
			continue
		case errors.Is(err, directory.ErrNotFound):
			p.Unknown = append(p.Unknown, r)
			continue
		case err != nil:
			return p, fmt.Errorf("resolve %s: %w", r, err)
		}
		for _, u := range rec.Users {
			id := store.AccountID(u.ID)
			if !seen[id] {
				seen[id] = true
				p.Local = append(p.Local, store.Placement{Account: id})
			}
		}
	}
	return p, nil
}

// Route delivers raw from the envelope sender from to every recipient. Unknown local
// recipients make it fail before anything is delivered, naming them.
func (f *Flow) Route(ctx context.Context, from string, rcpts []string, raw []byte) error {
	p, err := f.Plan(ctx, rcpts)
	if err != nil {
		return err
	}
	if len(p.Unknown) > 0 {
		return fmt.Errorf("%w: %s", ErrUnknownRecipient, strings.Join(p.Unknown, ", "))
	}
	return f.deliver(ctx, from, p, raw)
}

func (f *Flow) deliver(ctx context.Context, from string, p Plan, raw []byte) error {
	if len(p.Local) > 0 {
		d, err := f.Mailboxes.Deliver(ctx, store.NewMessage{Raw: raw}, p.Local)
		if err != nil {
			return fmt.Errorf("local delivery: %w", err)
		}
		if f.Delivered != nil {
			f.Delivered.Delivered(ctx, d)
		}
	}
	if len(p.Remote) > 0 {
		if _, err := f.Queue.Enqueue(ctx, queue.Message{From: from, To: p.Remote, Raw: raw}); err != nil {
			return fmt.Errorf("queue for %s: %w", strings.Join(p.Remote, ", "), err)
		}
	}
	return nil
}

// Deliver implements queue.Deliverer for the queue's delivery status notifications. A
// notification for an address nobody has any more is dropped with a log line: it cannot
// be delivered, and a notification is never answered by another (RFC 3461 section 6.2).
func (f *Flow) Deliver(ctx context.Context, from string, to []string, raw []byte) error {
	p, err := f.Plan(ctx, to)
	if err != nil {
		return err
	}
	if len(p.Unknown) > 0 && f.Logger != nil {
		f.Logger.Warn("delivery notification dropped: recipient unknown", "recipients", strings.Join(p.Unknown, ","))
	}
	return f.deliver(ctx, from, p, raw)
}
