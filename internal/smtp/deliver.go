package smtp

// The end of DATA (RFC 5321 4.1.1.4, 6.1): the message is stored in every local mailbox
// in one Deliver call and the remote part is queued, and only then is it acknowledged.
// With go-smtp outside LMTP mode one reply covers all recipients, so any failure fails
// the whole transaction; Deliver being atomic, nothing then stays behind locally.
//
// A transaction with both local and remote recipients is delivered locally first: a
// store refusal (a full mailbox) is then answered before anything is queued. If the
// queue fails after that, the client retries and local recipients get a second copy;
// SMTP is at-least-once, and a duplicate beats a loss.
//
// On MX the sender domain's DMARC policy is applied (RFC 7489 6.7: the receiver's local
// policy decides, and this is ours): "reject" refuses the message in the session, as
// 10.3 prefers to a later bounce, and stores nothing; "quarantine" delivers it into
// each recipient's Junk folder, or the Inbox of an account that has none; "none"
// delivers it as usual.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"mailroom/internal/store"
)

func (s *session) deliver(ctx context.Context, in *incoming) error {
	tx := s.tx
	raw := in.message()
	msg := raw
	policy, authField := "", ""
	switch s.role {
	case roleSubmission:
		domain, err := s.checkFrom(raw)
		if err != nil {
			return err
		}
		if sg := s.srv.cfg.Signer; sg != nil {
			if msg, err = sg.Sign(ctx, domain, msg); err != nil {
				s.log.Error("DKIM signing failed", "id", tx.id, "domain", domain, "err", err)
				return errTemporary()
			}
		}
	case roleMX:
		var err error
		if msg, authField, policy, err = s.authResults(ctx, msg); err != nil {
			s.log.Error("authentication check failed", "id", tx.id, "err", err)
			return errTemporary()
		}
		if policy == PolicyReject {
			s.log.Info("message rejected per DMARC policy", "id", tx.id, "from", tx.from)
			return errDMARCReject()
		}
	}
	// Received on top, then our Authentication-Results (RFC 8601 5 puts it above the
	// fields it covers), with one copy of the message.
	fields := []string{s.received(ctx, s.srv.cfg.Now())}
	if authField != "" {
		fields = append(fields, authField)
	}
	msg = in.prepend(msg, fields...)

	var placements []store.Placement
	seen := map[int64]bool{}
	var remote []Recipient
	seenRemote := map[string]bool{}
	for _, r := range tx.rcpts {
		if len(r.users) == 0 {
			if key := strings.ToLower(r.dsn.Addr); !seenRemote[key] {
				seenRemote[key] = true
				remote = append(remote, r.dsn)
			}
			continue
		}
		for _, u := range r.users {
			if seen[u.ID] {
				continue
			}
			seen[u.ID] = true
			p := store.Placement{Account: store.AccountID(u.ID)}
			if policy == PolicyQuarantine {
				var err error
				if p.Folder, err = s.junkFolder(ctx, p.Account); err != nil {
					s.log.Error("find Junk folder", "id", tx.id, "account", u.ID, "err", err)
					return errTemporary()
				}
			}
			placements = append(placements, p)
		}
	}
	if policy == PolicyQuarantine {
		s.log.Info("message quarantined per DMARC policy", "id", tx.id, "from", tx.from)
	}

	if len(placements) > 0 {
		delivered, err := s.srv.cfg.Mailboxes.Deliver(ctx, store.NewMessage{Raw: msg}, placements)
		if err != nil {
			s.log.Warn("local delivery failed", "id", tx.id, "err", err)
			switch {
			case errors.Is(err, store.ErrOverQuota):
				return reply(552, 5, 2, 2, "Mailbox full")
			case errors.Is(err, store.ErrTooLarge):
				return reply(552, 5, 3, 4, "Message too large")
			}
			return errTemporary()
		}
		if h := s.srv.cfg.Delivered; h != nil {
			h.Delivered(ctx, delivered)
		}
	}
	if len(remote) > 0 {
		env := Envelope{From: tx.from, To: remote, Ret: string(tx.mail.Return), EnvID: tx.mail.EnvelopeID}
		if err := s.srv.cfg.Outbound.Send(ctx, env, msg); err != nil {
			s.log.Error("queueing failed", "id", tx.id, "err", err)
			return errTemporary()
		}
	}
	s.log.Info("message accepted", "id", tx.id, "from", tx.from, "recipients", len(tx.rcpts),
		"mailboxes", len(placements), "remote", len(remote), "size", len(msg))
	return nil
}

// junkFolder returns the account's Junk folder, or 0 (its Inbox) if it has none, or no
// folders yet: Deliver makes those.
func (s *session) junkFolder(ctx context.Context, id store.AccountID) (store.FolderID, error) {
	f, err := s.srv.cfg.Mailboxes.FolderByRole(ctx, id, store.RoleJunk)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("junk folder of account %d: %w", id, err)
	}
	return f.ID, nil
}
