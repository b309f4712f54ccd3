// Package netpark watches idle network connections for input without a goroutine
// each. A connection parked here costs an entry in one readiness set and one slot in
// one deadline heap; its owner is called back, on a goroutine of its own, once the
// connection is readable or hung up, its deadline passes, or Wake is called. IMAP
// sessions in IDLE park here, so that thousands of them hold no goroutine stack and
// no buffer while nothing happens; parked ActiveSync Pings, to learn that their
// device hung up.
//
// It never reads from, writes to or closes a connection: it only learns that the
// socket has something to read. Input a connection holds above the socket (a
// bufio.Reader, crypto/tls's record buffers, a decompressor) is invisible to it, so
// callers park only connections whose buffers above the socket are known to be empty.
// A parked connection must stay open until its wake-up has been decided (Wake
// returns, or the callback runs): the watcher deregisters the descriptor first, so
// that a descriptor number reused by a later connection is never watched by mistake.
//
// Only Linux (epoll) is supported; elsewhere New returns an error matching
// errors.ErrUnsupported and callers wait with a blocking read instead.
package netpark

import (
	"container/heap"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// ErrClosed is what Park returns once the Watcher is closed.
var ErrClosed = errors.New("netpark: watcher closed")

// poller is the operating system's readiness set: one-shot registrations of
// descriptors for input or hang-up, each named by an id.
type poller interface {
	add(fd int, id uint64) error
	del(fd int) error
	// wait blocks until some registrations fire and stores their ids in ids; it
	// returns stopID among them after stop.
	wait(ids []uint64) (int, error)
	stop() error
	close() error
}

// stopID is the id wait reports after stop; Park never hands it out.
const stopID = 0

// Watcher holds parked connections. Its methods are safe for concurrent use.
type Watcher struct {
	p    poller
	done chan struct{} // closed when the polling goroutine returns

	mu        sync.Mutex
	closed    bool
	lastID    uint64
	parked    map[uint64]*Ticket
	deadlines deadlineHeap
	timer     *time.Timer // fires at the earliest deadline
}

// Ticket is one parked connection.
type Ticket struct {
	id       uint64
	rc       syscall.RawConn
	deadline time.Time
	index    int // in Watcher.deadlines
	wake     func()
}

// New starts a Watcher: one goroutine waiting on the readiness set, and one timer for
// every deadline.
func New() (*Watcher, error) {
	p, err := newPoller()
	if err != nil {
		return nil, err
	}
	w := &Watcher{p: p, done: make(chan struct{}), parked: map[uint64]*Ticket{}}
	w.timer = time.AfterFunc(time.Hour, w.expire)
	w.timer.Stop()
	go w.poll()
	return w, nil
}

// Park watches c until it is readable or hung up, deadline passes, or Wake; then,
// once only, it runs wake on a new goroutine. c is usually a *net.TCPConn (for TLS,
// the tls.Conn's NetConn). The caller must not read c, nor close it, until wake runs
// or Wake or Cancel reports it won't.
func (w *Watcher) Park(c syscall.Conn, deadline time.Time, wake func()) (*Ticket, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("netpark: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	w.lastID++
	t := &Ticket{id: w.lastID, rc: rc, deadline: deadline, wake: wake}
	var addErr error
	// Control keeps the descriptor open while it is registered. An event that fires
	// at once waits for w.mu, so finds t in parked.
	if err := rc.Control(func(fd uintptr) { addErr = w.p.add(int(fd), t.id) }); err != nil {
		return nil, fmt.Errorf("netpark: %w", err)
	}
	if addErr != nil {
		return nil, fmt.Errorf("netpark: register: %w", addErr)
	}
	w.parked[t.id] = t
	heap.Push(&w.deadlines, t)
	w.resetTimer()
	return t, nil
}

// Wake deregisters t and runs its callback on a new goroutine, as if its connection
// had become readable; it reports false when t was woken already. Either way, once
// Wake returns the connection is no longer registered and may be closed.
func (w *Watcher) Wake(t *Ticket) bool {
	w.mu.Lock()
	ok := w.release(t)
	w.mu.Unlock()
	if ok {
		go t.wake()
	}
	return ok
}

// Cancel deregisters t without running its callback; it reports false when t was
// woken already (its callback runs or has run). Either way, once Cancel returns the
// connection is no longer registered and may be read or closed.
func (w *Watcher) Cancel(t *Ticket) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.release(t)
}

// Len returns the number of parked connections.
func (w *Watcher) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.parked)
}

// Close wakes every parked connection and stops the watcher; Park fails from then on.
func (w *Watcher) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	woken := make([]*Ticket, 0, len(w.parked))
	for _, t := range w.parked {
		w.release(t)
		woken = append(woken, t)
	}
	w.timer.Stop()
	w.mu.Unlock()
	for _, t := range woken {
		go t.wake()
	}
	if err := w.p.stop(); err != nil {
		return fmt.Errorf("netpark: stop: %w", err)
	}
	<-w.done
	if err := w.p.close(); err != nil {
		return fmt.Errorf("netpark: %w", err)
	}
	return nil
}

// release forgets t and deregisters its descriptor, unless t was released already;
// w.mu is held.
func (w *Watcher) release(t *Ticket) bool {
	if w.parked[t.id] != t {
		return false
	}
	delete(w.parked, t.id)
	heap.Remove(&w.deadlines, t.index)
	w.resetTimer()
	// A descriptor closed meanwhile has left the set with its file: Control then
	// fails and there is nothing to remove. A one-shot registration that fired stays
	// in the set, disabled, until removed here.
	t.rc.Control(func(fd uintptr) { w.p.del(int(fd)) })
	return true
}

// resetTimer sets the timer to the earliest deadline; w.mu is held.
func (w *Watcher) resetTimer() {
	if len(w.deadlines) == 0 {
		w.timer.Stop()
		return
	}
	w.timer.Reset(time.Until(w.deadlines[0].deadline))
}

// expire wakes the connections whose deadline has passed.
func (w *Watcher) expire() {
	now := time.Now()
	var due []*Ticket
	w.mu.Lock()
	for len(w.deadlines) > 0 && !w.deadlines[0].deadline.After(now) {
		t := w.deadlines[0]
		w.release(t)
		due = append(due, t)
	}
	w.mu.Unlock()
	for _, t := range due {
		go t.wake()
	}
}

// poll wakes the connections the readiness set reports, until stop.
func (w *Watcher) poll() {
	defer close(w.done)
	ids := make([]uint64, 128)
	for {
		n, err := w.p.wait(ids)
		if err != nil {
			// Only a broken descriptor fails here (EINTR is retried below wait);
			// Close still wakes every parked connection.
			return
		}
		for _, id := range ids[:n] {
			if id == stopID {
				return
			}
			w.mu.Lock()
			t := w.parked[id]
			if t != nil {
				w.release(t)
			}
			w.mu.Unlock()
			if t != nil {
				go t.wake()
			}
		}
	}
}

// deadlineHeap orders tickets by deadline (container/heap).
type deadlineHeap []*Ticket

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *deadlineHeap) Push(x any) {
	t := x.(*Ticket)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}
