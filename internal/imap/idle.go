package imap

// IDLE: RFC 2177, RFC 9051 section 6.3.13.

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// cmdIdle pushes the changes of the selected mailbox, whichever session or protocol
// makes them, until the client sends DONE. While it waits for DONE the session holds
// no read or write buffer and, where it can, no goroutine either: it parks its
// connection with the server's watcher (park.go) and resumes on a new goroutine when
// the client speaks. The server's idle hub holds one store subscription per account
// with idling sessions and, on each change notification (within a second of any
// change), has every idling session of the account write what its view's sync finds.
// A session that is not selected idles with nothing to push. The autologout timer
// runs on during IDLE (RFC 2177 section 3, RFC 9051 section 5.4); clients re-issue
// IDLE well within it.
func (c *session) cmdIdle(ctx context.Context, cmd *imapwire.Command) error {
	if err := c.startIdle(ctx); err != nil {
		c.stopIdle()
		return err
	}
	if !c.arm(c.srv.cfg.IdleTimeout) {
		c.stopIdle()
		c.bye("server shutting down")
		return errInterrupted
	}
	c.r.Release()
	if c.detach(cmd) {
		return errDetached
	}
	// Shutdown wakes this read with a deadline in the past (interrupt).
	return c.idleDone(c.r.ReadDone())
}

// startIdle subscribes a selected session to the pushes and answers with the
// continuation request.
func (c *session) startIdle(ctx context.Context) error {
	if c.sel == nil {
		c.w.Continue("idling")
		if err := c.flush(); err != nil {
			return err
		}
		c.w.Release()
		return nil
	}
	acct := c.sel.mbox.account
	c.push.Lock()
	c.push.ctx, c.push.account = ctx, acct
	c.push.idling.Store(true)
	c.push.Unlock()
	c.srv.idlers.add(c, acct)
	// A change made between the last update and the subscription woke no one.
	c.push.Lock()
	defer c.push.Unlock()
	if err := c.syncSelected(ctx, true); err != nil {
		c.log.Warn("cannot update the selected mailbox", "err", err)
	}
	c.w.Continue("idling")
	err := c.flush()
	c.w.Release() // from now on the pushes write, under the lock
	return err
}

// stopIdle ends the pushes, if any; it runs before the session writes again itself.
func (c *session) stopIdle() {
	if !c.push.idling.Load() {
		return
	}
	c.srv.idlers.remove(c, c.push.account)
	// Wait for a push under way, and keep off any still to come.
	c.push.Lock()
	c.push.ctx = nil
	c.push.idling.Store(false)
	c.push.Unlock()
}

// idleDone ends IDLE once the wait for DONE has returned err, on the session's first
// goroutine or on the one that resumed it after parking.
func (c *session) idleDone(err error) error {
	c.stopIdle()
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

// pushState is what the idle hub needs of an idling session; its mutex orders the
// hub's pushes against the session's own writes. The flags are atomic so that the
// hub never waits for a push under way.
type pushState struct {
	sync.Mutex
	ctx     context.Context
	account store.AccountID // the selected mailbox's, whose changes are pushed
	idling  atomic.Bool
	queued  atomic.Bool // a push is waiting for the lock; a further wake-up adds nothing
}

// wake has the session write the changes of its selected mailbox, unless a push is
// already waiting to.
func (c *session) wake() {
	if c.push.idling.Load() && c.push.queued.CompareAndSwap(false, true) {
		go c.pushUpdates()
	}
}

// pushUpdates writes the changes of the selected mailbox during IDLE, parked or not. A
// failed write closes the connection, which ends the session's wait for DONE.
func (c *session) pushUpdates() {
	c.push.Lock()
	defer c.push.Unlock()
	c.push.queued.Store(false)
	if !c.push.idling.Load() {
		return
	}
	if err := c.syncSelected(c.push.ctx, true); err != nil {
		c.log.Warn("cannot update the selected mailbox", "err", err)
	}
	if err := c.flush(); err != nil {
		c.closeConn()
		return
	}
	c.w.Release()
}

// idleHub holds the store subscriptions of idling sessions: one per account, whatever
// the number of sessions idling on it, so that an idling session needs no goroutine
// of its own (none at all once parked).
type idleHub struct {
	store    Store
	mu       sync.Mutex
	accounts map[store.AccountID]*idleAccount
}

// idleAccount is one account's idling sessions and the goroutine that wakes them.
type idleAccount struct {
	sessions map[*session]struct{}
	stop     chan struct{}
}

// add has c woken on every change of acct until remove.
func (h *idleHub) add(c *session, acct store.AccountID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.accounts[acct]
	if a == nil {
		ch, cancel := h.store.Subscribe(acct)
		a = &idleAccount{sessions: map[*session]struct{}{}, stop: make(chan struct{})}
		if h.accounts == nil {
			h.accounts = map[store.AccountID]*idleAccount{}
		}
		h.accounts[acct] = a
		go h.run(acct, a, ch, cancel)
	}
	a.sessions[c] = struct{}{}
}

// remove stops waking c; the account's subscription ends with its last session.
func (h *idleHub) remove(c *session, acct store.AccountID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.accounts[acct]
	if a == nil {
		return
	}
	if _, ok := a.sessions[c]; !ok {
		return
	}
	delete(a.sessions, c)
	if len(a.sessions) == 0 {
		delete(h.accounts, acct)
		close(a.stop)
	}
}

// run wakes a's sessions on each notification of the store until the last session
// leaves or the store closes; the sessions then idle on without updates until DONE
// or shutdown.
func (h *idleHub) run(acct store.AccountID, a *idleAccount, ch <-chan store.ModSeq, cancel func()) {
	defer cancel()
	for {
		select {
		case <-a.stop:
			return
		case _, ok := <-ch:
			h.mu.Lock()
			if !ok {
				if h.accounts[acct] == a {
					delete(h.accounts, acct)
				}
				h.mu.Unlock()
				return
			}
			for c := range a.sessions {
				c.wake()
			}
			h.mu.Unlock()
		}
	}
}
