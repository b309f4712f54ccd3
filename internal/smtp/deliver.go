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

import (
	"context"
	"errors"
	"strings"
	"time"

	"mailroom/internal/store"
)

func (s *session) deliver(ctx context.Context, raw []byte) error {
	tx := s.tx
	msg := raw
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
		if msg, err = s.authResults(ctx, msg); err != nil {
			s.log.Error("authentication check failed", "id", tx.id, "err", err)
			return errTemporary()
		}
	}
	msg = prepend(msg, s.received(ctx, time.Now()))

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
			if !seen[u.ID] {
				seen[u.ID] = true
				placements = append(placements, store.Placement{Account: store.AccountID(u.ID)})
			}
		}
	}

	if len(placements) > 0 {
		if _, err := s.srv.cfg.Mailboxes.Deliver(ctx, store.NewMessage{Raw: msg}, placements); err != nil {
			s.log.Warn("local delivery failed", "id", tx.id, "err", err)
			switch {
			case errors.Is(err, store.ErrOverQuota):
				return reply(552, 5, 2, 2, "Mailbox full")
			case errors.Is(err, store.ErrTooLarge):
				return reply(552, 5, 3, 4, "Message too large")
			}
			return errTemporary()
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
