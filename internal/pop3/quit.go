package pop3

// QUIT and the UPDATE state: RFC 1939 sections 4 and 6.

import (
	"context"
	"errors"
	"time"

	"mailroom/internal/retention"
	"mailroom/internal/store"
)

// cmdQuit ends the session. In the TRANSACTION state it enters the UPDATE state first:
// the messages marked deleted leave the Inbox in one store call, and only now; a
// session that ends any other way removes nothing (RFC 1939 section 6).
func (c *session) cmdQuit(ctx context.Context, cmd command) error {
	if len(cmd.args) != 0 {
		return fail("", "QUIT takes no arguments")
	}
	if c.state != stateTransaction {
		if err := c.writeLine("+OK %s POP3 server signing off", c.srv.cfg.Hostname); err != nil {
			return err
		}
		return errQuit
	}
	var uids []store.UID
	for _, m := range c.drop.msgs {
		if m.deleted {
			uids = append(uids, m.info.UID)
		}
	}
	if len(uids) > 0 {
		if err := c.update(ctx, uids); err != nil {
			// The client must not take its deletions for done; it may try again.
			err.hangup = true
			return err
		}
	}
	// RFC 1939 section 6 releases the lock after the reply; releasing it before lets
	// a client that reconnects as soon as it reads the reply in at once.
	c.srv.locks.release(c.account)
	c.locked = false
	left, _ := c.drop.stat()
	if err := c.writeLine("+OK %s POP3 server signing off (%d messages left)", c.srv.cfg.Hostname, left); err != nil {
		return err
	}
	return errQuit
}

// update removes the messages marked deleted from the Inbox. Where the user's domain
// keeps POP3 deletions, they move to Deleted Items in one Move, and each copy is
// marked with when POP3 put it there, for retention.Purge; elsewhere they are
// expunged. When the setting cannot be read nothing is removed, since either guess
// could be wrong and only a wrong expunge cannot be undone.
func (c *session) update(ctx context.Context, uids []store.UID) *reply {
	st := c.srv.cfg.Store
	dom, err := c.srv.cfg.Domains.Domain(ctx, c.domain)
	if err != nil {
		return failErr(err, codeSysTemp, "cannot read this mailbox's settings now; no messages deleted")
	}
	if !dom.POP3KeepDeleted {
		gone, err := st.Expunge(ctx, c.drop.folder, uids)
		if err != nil {
			return failErr(err, codeSysTemp, "some deleted messages not removed")
		}
		c.log.Info("messages deleted", "count", len(gone))
		return nil
	}
	trash, err := st.FolderByRole(ctx, c.account, store.RoleTrash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return failErr(err, codeSysPerm, "this mailbox has no Deleted Items folder; no messages deleted; ask an administrator")
	case err != nil:
		return failErr(err, codeSysTemp, "cannot open Deleted Items now; no messages deleted")
	}
	// Move is one transaction: every message moves or none does.
	res, err := st.Move(ctx, c.drop.folder, uids, trash.ID)
	if err != nil {
		return failErr(err, codeSysTemp, "cannot move deleted messages to Deleted Items now; no messages deleted")
	}
	// The messages have left the Inbox now, so the client is told its deletions are
	// done even if marking fails: an unmarked copy merely stays in Deleted Items until
	// the user deletes it, which errs on the side of keeping mail.
	marked := 0
	if len(res.Dest) > 0 {
		moved, err := st.Infos(ctx, trash.ID, res.Dest)
		if err != nil {
			c.log.Error("deleted messages moved to Deleted Items but not marked for retention", "count", len(res.Dest), "err", err)
		}
		at := map[string]string{retention.DeletedAtProp: time.Now().UTC().Format(time.RFC3339)}
		for _, m := range moved {
			if _, err := st.SetProps(ctx, m.ID, at); err != nil {
				c.log.Error("deleted message moved to Deleted Items but not marked for retention", "message", m.ID, "err", err)
				continue
			}
			marked++
		}
	}
	c.log.Info("messages moved to Deleted Items", "count", len(res.Dest), "marked", marked, "retention_days", dom.POP3RetentionDays)
	return nil
}
