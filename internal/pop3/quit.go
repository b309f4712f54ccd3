package pop3

// QUIT and the UPDATE state: RFC 1939 sections 4 and 6.

import (
	"context"

	"mailroom/internal/store"
)

// cmdQuit ends the session. In the TRANSACTION state it enters the UPDATE state first:
// the messages marked deleted are removed in one Expunge, and only now; a session
// that ends any other way removes nothing (RFC 1939 section 6).
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
		gone, err := c.srv.cfg.Store.Expunge(ctx, c.drop.folder, uids)
		if err != nil {
			r := failErr(err, codeSysTemp, "some deleted messages not removed")
			r.hangup = true
			return r
		}
		c.log.Info("messages deleted", "count", len(gone))
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
