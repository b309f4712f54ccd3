package mailflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"mailroom/internal/directory"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// ErrNotAllowed is returned when a user may not send a message as written: its From is
// not one of their addresses or of a mailbox they hold SendAs on, or it names no
// recipient.
var ErrNotAllowed = errors.New("not allowed to send this message")

// Senders says which addresses a user may send as.
type Senders interface {
	SendableAddresses(ctx context.Context, userID int64) (map[string]bool, error)
}

// Signer DKIM-signs a message for the domain of its From address.
type Signer interface {
	Sign(ctx context.Context, fromDomain string, raw []byte) ([]byte, error)
}

// Submitter sends messages written by a signed-in user of a protocol that hands over
// whole messages with the recipients in their header (ActiveSync's SendMail,
// SmartReply and SmartForward): it checks the sender, signs, routes, and keeps a copy
// in the user's Sent folder when asked.
type Submitter struct {
	Flow    *Flow
	Senders Senders
	Signer  Signer // nil: messages go out unsigned
	Store   interface {
		FolderByRole(ctx context.Context, id store.AccountID, role store.Role) (store.Folder, error)
	}
}

// Submit sends raw for user. The recipients are those of the To, Cc and Bcc fields; the
// Bcc field itself is removed before sending (RFC 5322 3.6.3). It returns only once every
// local copy, the queued remote copy and the Sent copy are durable.
func (s *Submitter) Submit(ctx context.Context, user directory.User, raw []byte, saveInSent bool) error {
	sendable, err := s.Senders.SendableAddresses(ctx, user.ID)
	if err != nil {
		return err
	}
	header := raw[:headerEnd(raw)]
	m := mime.Parse(header)
	from, err := fromAddress(m, sendable, user.Address)
	if err != nil {
		return err
	}
	var rcpts []string
	for _, list := range [][]mime.Address{m.Envelope.To, m.Envelope.Cc, m.Envelope.Bcc} {
		for _, a := range list {
			if a.IsGroupStart() || a.IsGroupEnd() || a.Host == mime.MissingHost || a.Mailbox == mime.MissingMailbox {
				continue
			}
			rcpts = append(rcpts, a.Mailbox+"@"+a.Host)
		}
	}
	if len(rcpts) == 0 {
		return fmt.Errorf("%w: the message names no recipient in To, Cc or Bcc", ErrNotAllowed)
	}
	out := withoutBcc(raw)
	if s.Signer != nil {
		if out, err = s.Signer.Sign(ctx, from[strings.LastIndexByte(from, '@')+1:], out); err != nil {
			return fmt.Errorf("DKIM signing: %w", err)
		}
	}
	if err := s.Flow.Route(ctx, from, rcpts, out); err != nil {
		return err
	}
	if !saveInSent {
		return nil
	}
	sent, err := s.Store.FolderByRole(ctx, store.AccountID(user.ID), store.RoleSent)
	if err != nil {
		return fmt.Errorf("sent folder: %w", err)
	}
	// The Sent copy keeps the Bcc field, as a sender's own copy should.
	_, err = s.Flow.Mailboxes.Deliver(ctx, store.NewMessage{Raw: raw, Flags: []string{store.FlagSeen}},
		[]store.Placement{{Account: sent.Account, Folder: sent.ID}})
	return err
}

// fromAddress checks that the message has exactly one From field whose mailboxes the
// user may all send as, and returns the first one.
func fromAddress(m *mime.Message, sendable map[string]bool, user string) (string, error) {
	n := 0
	for _, f := range m.Headers {
		if strings.EqualFold(f.Name, "From") {
			n++
		}
	}
	if n != 1 {
		return "", fmt.Errorf("%w: the message must have exactly one From field, not %d", ErrNotAllowed, n)
	}
	first := ""
	for _, a := range m.Envelope.From {
		if a.IsGroupStart() || a.IsGroupEnd() {
			continue
		}
		addr := a.Mailbox + "@" + a.Host
		if !sendable[strings.ToLower(addr)] {
			return "", fmt.Errorf("%w: From <%s> is not an address %s may send as", ErrNotAllowed, addr, user)
		}
		if first == "" {
			first = strings.ToLower(addr)
		}
	}
	if first == "" {
		return "", fmt.Errorf("%w: the From field names no mailbox", ErrNotAllowed)
	}
	return first, nil
}

// headerEnd returns the offset just past the blank line that ends the header, or the
// length of raw when there is none.
func headerEnd(raw []byte) int {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return i + 2
	}
	return len(raw)
}

// withoutBcc returns raw without its Bcc fields (and their folded continuation lines).
func withoutBcc(raw []byte) []byte {
	end := headerEnd(raw)
	var out bytes.Buffer
	out.Grow(len(raw))
	skipping := false
	for line := range bytes.Lines(raw[:end]) {
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if !skipping {
				out.Write(line)
			}
			continue
		}
		skipping = len(line) >= 4 && bytes.EqualFold(line[:4], []byte("bcc:"))
		if !skipping {
			out.Write(line)
		}
	}
	out.Write(raw[end:])
	return out.Bytes()
}
