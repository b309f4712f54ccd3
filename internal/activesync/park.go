package activesync

// Parking holds a waiting Ping ([MS-ASCMD] 2.2.1.13) without a goroutine or net/http's
// buffers. Over HTTP/1.1 the handler takes the connection over (http.Hijacker), keeps
// only the bare connection and what the answer needs, and returns. One store
// subscription per account and one timer for all heartbeats wake the parked Pings; a
// short-lived goroutine then writes the HTTP/1.1 response itself and hands the
// connection back to the same http.Server (Config.Resume), which serves the device's
// next request on it as usual.
//
// A parked Ping's connection is not read while it waits, but watched (netpark): once
// the device sends anything, a hang-up above all, the Ping is answered at once with
// status 1, as if its heartbeat had ended. Writing to a connection the device closed
// fails and closes it; anything else goes back to the HTTP server as usual.

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"mailroom/internal/netpark"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// Resumer takes back a connection a parked Ping took over from the HTTP server, so the
// device's next request on it is served as usual; *httpresume.Listener is one. After
// an error the caller still owns the connection.
type Resumer interface {
	Resume(c net.Conn) error
}

// notifier is a Store that calls a function on each change of an account instead of
// sending on a channel, so parked Pings need no goroutine to watch; *sqlstore.Store is
// one. f must return quickly and may run once more after cancel.
type notifier interface {
	Notify(id store.AccountID, f func(store.ModSeq)) (cancel func())
}

const (
	// parkWorkers bounds the goroutines writing the answers of one batch of Pings
	// (one account's change, or one tick of the heartbeat timer).
	parkWorkers = 32
	// parkChecks bounds the accounts whose change log is read at once.
	parkChecks = 16
	// answerTimeout bounds the write of one answer: a device that stopped reading
	// must not hold a worker.
	answerTimeout = 10 * time.Second
)

// parking is the registry of parked Pings.
type parking struct {
	s      *Server
	resume Resumer
	notify notifier
	// hangups watches the parked connections for a device going away; nil where
	// netpark is unsupported (the heartbeat's end then notices it).
	hangups *netpark.Watcher
	ctx     context.Context // the change log reads; ended by close
	stop    context.CancelFunc
	checks  chan struct{}  // one per account whose change log is being read
	busy    sync.WaitGroup // the goroutines checking and answering

	mu       sync.Mutex
	closed   bool
	accounts map[store.AccountID]*parkAccount
	due      parkHeap    // parked Pings, soonest heartbeat end first
	timer    *time.Timer // fires at due[0]'s heartbeat end
	parked   int
}

// parkAccount is one account with parked Pings, or with Pings about to park.
type parkAccount struct {
	id       store.AccountID
	cancel   func() // the store subscription
	joining  int    // Pings that joined and are neither parked nor gone
	pings    map[*parkedPing]struct{}
	wakes    uint64 // store notifications so far
	checking bool   // a goroutine reads the change log for the account's Pings
	again    bool   // a notification came while checking
}

// parkedPing is what a parked Ping keeps: the connection and what its answer needs.
type parkedPing struct {
	conn     net.Conn
	acct     *parkAccount
	watch    *pingWatch
	deadline time.Time // the heartbeat's end
	header   []byte    // the header lines the handler had set, in wire form
	close    bool      // close the connection after the answer instead of resuming it
	index    int       // in parking.due; -1 once taken out
	ticket   *netpark.Ticket
}

func newParking(s *Server, resume Resumer, n notifier) *parking {
	ctx, stop := context.WithCancel(context.Background())
	k := &parking{s: s, resume: resume, notify: n, ctx: ctx, stop: stop,
		checks: make(chan struct{}, parkChecks), accounts: map[store.AccountID]*parkAccount{}}
	var err error
	if k.hangups, err = netpark.New(); err != nil {
		s.log.Info("parked pings: hang-ups are noticed when the heartbeat ends", "err", err)
		k.hangups = nil
	}
	return k
}

// canHijack reports whether w, or a ResponseWriter it wraps (Unwrap, as
// http.ResponseController follows), can hand its connection over.
func canHijack(w http.ResponseWriter) bool {
	for {
		if _, ok := w.(http.Hijacker); ok {
			return true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
}

// ping answers at once what it can and otherwise parks the Ping.
func (k *parking) ping(ctx context.Context, w http.ResponseWriter, r *request) error {
	// Join (subscribe) before looking, so a change between the look and the parking
	// still wakes.
	a, wakes := k.join(r.account())
	p, err := k.s.pingLook(ctx, w, r)
	if err != nil || p == nil {
		k.leave(a)
		return err
	}
	var header bytes.Buffer
	if err := w.Header().Write(&header); err != nil {
		k.leave(a)
		return fmt.Errorf("ping: %w", err)
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		k.leave(a)
		return fmt.Errorf("ping: take the connection over: %w", err)
	}
	pp := &parkedPing{
		conn:     conn,
		acct:     a,
		watch:    p,
		deadline: time.Now().Add(p.heartbeat),
		header:   header.Bytes(),
		// Bytes after the Ping (a pipelined request) cannot be given back to net/http
		// with the connection: answer the Ping, then close, and the device sends its
		// next request again on a new connection.
		close: r.closeAfter || brw.Reader.Buffered() > 0,
		index: -1,
	}
	k.watchHangUp(pp)
	k.park(pp, wakes)
	return nil
}

// watchHangUp has netpark watch p's connection, before p is parked: a hang-up
// noticed before then wakes nothing, and is noticed at the heartbeat's end instead.
// The watch outlasts the heartbeat; every answer cancels it first (send).
func (k *parking) watchHangUp(p *parkedPing) {
	if k.hangups == nil {
		return
	}
	c := p.conn
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	t, err := k.hangups.Park(sc, p.deadline.Add(time.Minute), func() { k.hungUp(p) })
	if err != nil {
		return // closed: shutting down, which answers every Ping
	}
	p.ticket = t
}

// hungUp answers p with status 1 once its device sent something while it was parked.
func (k *parking) hungUp(p *parkedPing) {
	k.mu.Lock()
	if k.closed || !k.take(p) {
		k.mu.Unlock()
		return
	}
	k.arm()
	k.busy.Add(1) // under k.mu, so close waits for this answer
	k.mu.Unlock()
	defer k.busy.Done()
	k.answer([]pingReply{{p, pingExpired, nil}})
}

// join registers a Ping of acct about to park, subscribing to the account's changes if
// it is the first; it returns the account's notification count, for park.
func (k *parking) join(acct store.AccountID) (*parkAccount, uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	a := k.accounts[acct]
	if a == nil {
		a = &parkAccount{id: acct, pings: map[*parkedPing]struct{}{}}
		a.cancel = k.notify.Notify(acct, func(store.ModSeq) { k.wake(a) })
		k.accounts[acct] = a
	}
	a.joining++
	return a, a.wakes
}

// leave ends a join that did not park.
func (k *parking) leave(a *parkAccount) {
	k.mu.Lock()
	defer k.mu.Unlock()
	a.joining--
	k.release(a)
}

// release forgets a once nothing waits on it; k.mu is held.
func (k *parking) release(a *parkAccount) {
	if a.joining == 0 && len(a.pings) == 0 && k.accounts[a.id] == a {
		delete(k.accounts, a.id)
		a.cancel()
	}
}

// park registers p, which joined when its account had seen wakes notifications.
func (k *parking) park(p *parkedPing, wakes uint64) {
	a := p.acct
	k.mu.Lock()
	a.joining--
	if k.closed {
		k.release(a)
		k.mu.Unlock()
		p.close = true
		// On the handler's goroutine: close waits for none.
		k.send(p, k.responses([]pingReply{{p, pingExpired, nil}})[0])
		return
	}
	a.pings[p] = struct{}{}
	heap.Push(&k.due, p)
	k.parked++
	if p.index == 0 {
		k.arm()
	}
	woken := a.wakes != wakes
	k.mu.Unlock()
	if woken {
		k.wake(a) // a change came after the look
	}
}

// take removes p from the registry; it reports false if p was already taken. The
// caller arms the timer again. k.mu is held.
func (k *parking) take(p *parkedPing) bool {
	if p.index < 0 {
		return false
	}
	heap.Remove(&k.due, p.index)
	delete(p.acct.pings, p)
	k.parked--
	k.release(p.acct)
	return true
}

// arm sets the timer to the soonest heartbeat end; k.mu is held.
func (k *parking) arm() {
	if len(k.due) == 0 || k.closed {
		if k.timer != nil {
			k.timer.Stop()
		}
		return
	}
	d := time.Until(k.due[0].deadline)
	if k.timer == nil {
		k.timer = time.AfterFunc(d, k.expire)
		return
	}
	k.timer.Reset(d)
}

// expire answers the Pings whose heartbeat has ended with status 1.
func (k *parking) expire() {
	now := time.Now()
	var replies []pingReply
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return
	}
	k.busy.Add(1) // under k.mu, so close waits for these answers
	defer k.busy.Done()
	for len(k.due) > 0 && !k.due[0].deadline.After(now) {
		p := k.due[0]
		k.take(p)
		replies = append(replies, pingReply{p, pingExpired, nil})
	}
	k.arm()
	k.mu.Unlock()
	k.answer(replies)
}

// wake is the store's notification of a change to a's account: the account's parked
// Pings read the change log, unless a read is already under way, which then runs
// once more.
func (k *parking) wake(a *parkAccount) {
	k.mu.Lock()
	a.wakes++
	if a.checking || len(a.pings) == 0 || k.closed {
		a.again = a.checking
		k.mu.Unlock()
		return
	}
	a.checking = true
	k.busy.Add(1)
	k.mu.Unlock()
	go k.check(a)
}

// check reads a's change log once for all its parked Pings and answers those with a
// change, until no notification came during the read.
func (k *parking) check(a *parkAccount) {
	defer k.busy.Done()
	k.checks <- struct{}{}
	defer func() { <-k.checks }()
	for {
		k.mu.Lock()
		a.again = false
		pings := make([]*parkedPing, 0, len(a.pings))
		watches := make([]map[store.FolderID]store.ModSeq, 0, len(a.pings))
		since := store.ModSeq(1 << 62)
		for p := range a.pings {
			pings = append(pings, p)
			watches = append(watches, p.watch.folders)
			since = min(since, p.watch.newest)
		}
		k.mu.Unlock()
		var replies []pingReply
		if len(pings) > 0 {
			hits, newest, err := k.s.changedFoldersOf(k.ctx, a.id, since, watches)
			if err != nil && k.ctx.Err() == nil {
				// The Pings stay parked: the next change or the heartbeat answers them.
				k.s.log.Error("parked ping", "account", a.id, "err", err)
			}
			k.mu.Lock()
			for i, p := range pings {
				switch {
				case err != nil:
				case len(hits[i]) > 0:
					if k.take(p) {
						replies = append(replies, pingReply{p, pingChanges, hits[i]})
					}
				default:
					p.watch.newest = max(p.watch.newest, newest)
				}
			}
			if len(replies) > 0 {
				k.arm()
			}
			k.mu.Unlock()
		}
		k.answer(replies)
		k.mu.Lock()
		if !a.again || len(a.pings) == 0 {
			a.checking = false
			k.mu.Unlock()
			return
		}
		k.mu.Unlock()
	}
}

// pingReply is one answer to write.
type pingReply struct {
	p    *parkedPing
	code pingStatus
	hit  []store.FolderID
}

// answer writes replies with up to parkWorkers goroutines, without waiting for them.
// The caller is close, or holds a count of k.busy, so that close waits for them. The
// connections go back to the HTTP server only once every answer of the batch is
// written: the answers are what the devices wait for, and a device's next request
// waits in the socket meanwhile.
func (k *parking) answer(replies []pingReply) {
	if len(replies) == 0 {
		return
	}
	wire := k.responses(replies)
	var next atomic.Int64
	n := min(len(replies), parkWorkers)
	var written sync.WaitGroup
	written.Add(n)
	k.busy.Add(n)
	for range n {
		go func() {
			defer k.busy.Done()
			var back []net.Conn
			for i := next.Add(1) - 1; i < int64(len(replies)); i = next.Add(1) - 1 {
				if c := k.send(replies[i].p, wire[i]); c != nil {
					back = append(back, c)
				}
			}
			written.Done()
			written.Wait()
			for _, c := range back {
				if err := k.resume.Resume(c); err != nil {
					c.Close() // the HTTP server is shutting down
				}
			}
		}()
	}
}

// responses returns each reply's HTTP/1.1 response as net/http would have written it
// (the handler's headers, Content-Type, Content-Length and Date), or nil where the
// answer cannot be encoded. A wake answers thousands of Pings of one account with the
// same few answers, so each distinct response is built once and its bytes are shared;
// they must not be modified.
func (k *parking) responses(replies []pingReply) [][]byte {
	k.mu.Lock()
	closed := k.closed
	k.mu.Unlock()
	date := k.s.now().UTC().Format(http.TimeFormat)
	built := map[string][]byte{}
	wire := make([][]byte, len(replies))
	var key []byte
	for i, r := range replies {
		r.p.close = r.p.close || closed // the batch owns its Pings
		key = append(key[:0], r.p.header...)
		key = append(key, 0, byte(r.code))
		if r.p.close {
			key = append(key, 'c')
		}
		for _, id := range r.hit {
			key = strconv.AppendInt(append(key, ','), int64(id), 10)
		}
		b, ok := built[string(key)]
		if !ok {
			b = k.response(r, date)
			built[string(key)] = b
		}
		wire[i] = b
	}
	return wire
}

// response builds one reply's HTTP/1.1 response for responses; nil if its body cannot
// be encoded.
func (k *parking) response(r pingReply, date string) []byte {
	body, err := wbxml.Encode(pingResponse(r.code, r.hit))
	if err != nil {
		k.s.log.Error("parked ping answer", "err", err)
		return nil
	}
	b := make([]byte, 0, len(r.p.header)+len(body)+160)
	b = append(b, "HTTP/1.1 200 OK\r\n"...)
	b = append(b, r.p.header...)
	b = append(b, "Content-Type: "+contentTypeWBXML+"\r\n"...)
	b = strconv.AppendInt(append(b, "Content-Length: "...), int64(len(body)), 10)
	b = append(b, "\r\nDate: "+date+"\r\n"...)
	if r.p.close {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// send writes a parked Ping's response (from responses; nil closes the connection
// unanswered). It returns the connection if it is to go back to the HTTP server, and
// closes it otherwise (Connection: close).
func (k *parking) send(p *parkedPing, resp []byte) net.Conn {
	if p.ticket != nil {
		k.hangups.Cancel(p.ticket) // before the connection is closed or read again
	}
	if resp == nil {
		p.conn.Close()
		return nil
	}
	err := p.conn.SetWriteDeadline(time.Now().Add(answerTimeout))
	if err == nil {
		_, err = p.conn.Write(resp)
	}
	if err != nil {
		k.s.log.Debug("parked ping: the device is gone", "remote", p.conn.RemoteAddr().String(), "err", err)
		p.conn.Close()
		return nil
	}
	if p.close {
		p.conn.Close()
		return nil
	}
	if err := p.conn.SetWriteDeadline(time.Time{}); err != nil {
		p.conn.Close()
		return nil
	}
	return p.conn
}

// count returns how many Pings are parked.
func (k *parking) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.parked
}

// close answers every parked Ping with status 1 and closes its connection; Pings that
// park later are answered so at once. It waits for the answers to be written, or for
// ctx to end.
func (k *parking) close(ctx context.Context) error {
	k.mu.Lock()
	k.closed = true
	k.arm() // stops the timer
	replies := make([]pingReply, 0, len(k.due))
	for len(k.due) > 0 {
		p := k.due[0]
		k.take(p)
		replies = append(replies, pingReply{p, pingExpired, nil})
	}
	k.mu.Unlock()
	k.stop()
	k.answer(replies)
	if k.hangups != nil {
		// Wakes what parked meanwhile (answered at once, as closed) and stops.
		if err := k.hangups.Close(); err != nil {
			k.s.log.Error("parked pings", "err", err)
		}
	}
	done := make(chan struct{})
	go func() { k.busy.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("parked pings: %w", ctx.Err())
	}
}

// errNoNotify is a Config with Resume whose Store cannot notify.
var errNoNotify = errors.New("activesync: Resume needs a Store with Notify")

// parkHeap orders parked Pings by the end of their heartbeat (container/heap).
type parkHeap []*parkedPing

func (h parkHeap) Len() int           { return len(h) }
func (h parkHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h parkHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *parkHeap) Push(x any) {
	p := x.(*parkedPing)
	p.index = len(*h)
	*h = append(*h, p)
}
func (h *parkHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	p.index = -1
	*h = old[:len(old)-1]
	return p
}
