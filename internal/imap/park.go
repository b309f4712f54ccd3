package imap

// Parking: a session idling in IDLE (RFC 2177) waits for DONE with no goroutine and no
// buffer, so that an idle connection costs little more than its TLS state.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"mailroom/internal/imap/imapwire"
	"mailroom/internal/netpark"
)

// errDetached is what cmdIdle returns once the session has parked: the goroutine that
// ran it unwinds without touching the session, which resume takes on.
var errDetached = errors.New("session parked in IDLE")

// parking is the server's part: the watcher of parked connections, made at the first
// park, and the sessions that have left the connection server's goroutine (parked, or
// resumed on a goroutine of their own), which Shutdown ends and waits for.
type parking struct {
	base   context.Context // the resumed sessions' context
	cancel context.CancelFunc

	mu       sync.Mutex
	w        *netpark.Watcher
	failed   bool // netpark.New failed: sessions wait with a blocking read
	closing  bool
	sessions map[*session]struct{}
	wg       sync.WaitGroup
}

func newParking() *parking {
	base, cancel := context.WithCancel(context.Background())
	return &parking{base: base, cancel: cancel, sessions: map[*session]struct{}{}}
}

// parkState is a session's part.
type parkState struct {
	ticket   *netpark.Ticket // while parked; guarded by session.mu
	detached bool            // in parking.sessions; read by the goroutine running the session
}

// watcher returns the watcher, started on first use; nil when sessions cannot park.
func (p *parking) watcher(c *session) *netpark.Watcher {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w == nil && !p.failed && !p.closing {
		w, err := netpark.New()
		if err != nil {
			c.log.Info("IDLE sessions keep their goroutine", "err", err)
			p.failed = true
			return nil
		}
		p.w = w
	}
	return p.w
}

// enter counts c among the detached sessions, unless the server is shutting down.
func (p *parking) enter(c *session) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	if !c.parked.detached {
		c.parked.detached = true
		p.sessions[c] = struct{}{}
		p.wg.Add(1)
	}
	return true
}

// leave forgets c, whose connection is closed.
func (p *parking) leave(c *session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.sessions, c)
	p.wg.Done()
}

// parkedCount returns the number of parked sessions.
func (p *parking) parkedCount() int {
	p.mu.Lock()
	w := p.w
	p.mu.Unlock()
	if w == nil {
		return 0
	}
	return w.Len()
}

// shutdown refuses further parking and interrupts the detached sessions: a parked one
// is woken and says BYE.
func (p *parking) shutdown() {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	for _, c := range p.detached() {
		c.interrupt()
	}
}

// detached returns the detached sessions.
func (p *parking) detached() []*session {
	p.mu.Lock()
	defer p.mu.Unlock()
	sessions := make([]*session, 0, len(p.sessions))
	for c := range p.sessions {
		sessions = append(sessions, c)
	}
	return sessions
}

// wait waits for the detached sessions to end; if ctx ends first, it closes their
// connections and cancels their context. It then stops the watcher.
func (p *parking) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		for _, c := range p.detached() {
			c.closeConn()
		}
		err = fmt.Errorf("shutdown: %w", ctx.Err())
	}
	p.cancel()
	p.mu.Lock()
	w := p.w
	p.mu.Unlock()
	if w != nil {
		if cerr := w.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// detach parks the session waiting for DONE after IDLE's continuation request, with
// the read deadline of the autologout timer, and reports whether it did; cmd is the
// IDLE command, which resume answers.
//
// The watcher sees only the socket, so the session parks only when no input is held
// above it:
//   - the bufio.Reader is empty: a client that sent DONE with IDLE, without waiting
//     for the continuation request, is served by the blocking read;
//   - COMPRESS=DEFLATE is off: the inflater may hold decompressed input, so a
//     compressed session keeps its goroutine while idling;
//   - with TLS, crypto/tls may hold records it has read from the socket but not yet
//     decrypted. A read with a deadline in the past makes it decrypt what it holds
//     without touching the socket: data comes back (and is put before the rest of the
//     input), or the read times out, and then every byte the client sent is either
//     still in the socket or the start of a record whose end is, which the watcher
//     sees in both cases.
func (c *session) detach(cmd *imapwire.Command) bool {
	if c.fw != nil || len(c.r.Buffered()) > 0 {
		return false
	}
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return false
	}
	w := c.srv.parking.watcher(c)
	if w == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	drained := c.conn == c.raw || c.tlsDrained()
	// The autologout timer, which tlsDrained moved.
	deadline := time.Now().Add(c.srv.cfg.IdleTimeout)
	c.raw.SetReadDeadline(deadline)
	if !drained || !c.srv.parking.enter(c) {
		return false
	}
	t, err := w.Park(sc, deadline, func() { c.resume(cmd) })
	if err != nil {
		// A connection closed by a failed push, or a server shutting down: the
		// blocking read finds out.
		c.log.Debug("cannot park", "err", err)
		return false
	}
	c.parked.ticket = t
	return true
}

// tlsDrained reports whether crypto/tls holds no complete record of input (see
// detach); input it held is put back before the rest. It leaves the read deadline in
// the past; c.mu is held, so that the deadline it moves is not interrupt's.
func (c *session) tlsDrained() bool {
	c.raw.SetReadDeadline(time.Unix(1, 0))
	var buf [64]byte
	n, err := c.conn.Read(buf[:])
	if n > 0 {
		c.r.SetSource(io.MultiReader(bytes.NewReader(bytes.Clone(buf[:n])), connReader{c}))
		return false
	}
	// Any other error is kept by crypto/tls for the blocking read to find.
	return isTimeout(err)
}

// resume runs a parked session again once its connection is readable, its deadline
// has passed or it was woken: the wait for DONE returns just as if the session had
// waited for it with a blocking read.
func (c *session) resume(cmd *imapwire.Command) {
	c.mu.Lock()
	c.parked.ticket = nil
	c.mu.Unlock()
	ctx := c.srv.parking.base
	c.run(func() (string, bool) {
		if reason, end := c.ended(c.respond(ctx, cmd, c.idleDone(c.r.ReadDone()))); end {
			return reason, true
		}
		return c.loop(ctx)
	})
}

// closeConn closes the connection, waking the session first if it is parked so that
// its descriptor leaves the watcher before it is closed.
func (c *session) closeConn() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wakeParked()
	c.raw.Close()
}

// wakeParked wakes the session if it is parked; c.mu is held.
func (c *session) wakeParked() {
	if c.parked.ticket != nil {
		c.srv.parking.w.Wake(c.parked.ticket)
	}
}
