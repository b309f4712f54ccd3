package imap

// IDLE: RFC 2177, RFC 9051 section 6.3.13.

import (
	"context"
	"errors"

	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// cmdIdle pushes the changes of the selected mailbox, whichever session or protocol
// makes them, until the client sends DONE. It subscribes to the account's change
// notifications, which come within a second of any change, and on each wake-up writes
// what the view's sync finds at once. A session that is not selected idles with
// nothing to push. The autologout timer runs on during IDLE (RFC 2177 section 3,
// RFC 9051 section 5.4); clients re-issue IDLE well within it.
func (c *session) cmdIdle(ctx context.Context, cmd *imapwire.Command) error {
	var wake <-chan store.ModSeq
	if c.sel != nil {
		ch, cancel := c.srv.cfg.Store.Subscribe(c.sel.mbox.account)
		defer cancel()
		wake = ch
		// A change made between the last update and the subscription woke no one.
		if err := c.syncSelected(ctx, true); err != nil {
			c.log.Warn("cannot update the selected mailbox", "err", err)
		}
	}
	c.w.Continue("idling")
	if err := c.flush(); err != nil {
		return err
	}
	if !c.arm(c.srv.cfg.IdleTimeout) {
		c.bye("server shutting down")
		return errInterrupted
	}
	// The reader waits for DONE in its own goroutine; this one writes. They share
	// no state but the connection, whose reads and writes are independent.
	done := make(chan error, 1)
	go func() { done <- c.r.ReadDone() }()
	// hangUp ends the session while the reader still waits: closing the connection
	// ends its read.
	hangUp := func(text string, err error) error {
		c.bye(text)
		c.raw.Close()
		<-done
		return err
	}
	for {
		select {
		case _, ok := <-wake:
			if !ok {
				wake = nil // the store is closing; DONE or shutdown follows
				continue
			}
			if err := c.syncSelected(ctx, true); err != nil {
				c.log.Warn("cannot update the selected mailbox", "err", err)
			}
			if err := c.flush(); err != nil {
				c.raw.Close()
				<-done
				return err
			}
		case <-c.stop:
			return hangUp("server shutting down", errInterrupted)
		case err := <-done:
			var se *imapwire.SyntaxError
			var le *imapwire.LimitError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &se), errors.As(err, &le) && le.Recoverable:
				return bad("IDLE ends with DONE")
			case isTimeout(err) && c.isClosing():
				c.bye("server shutting down")
				return errInterrupted
			case isTimeout(err):
				return &reply{cond: imapwire.BYE, text: "idle for too long, closing connection"}
			}
			return err
		}
	}
}
