// Package httpresume hands connections a handler took over (http.Hijacker) back to an
// http.Server, so the next request on them is served as if the server had never let
// go. A Listener is given to http.Server.Serve beside the server's real listeners;
// its Accept returns the connections handed back.
//
// A *tls.Conn that already finished its handshake is still a *tls.Conn: net/http sees
// it as TLS, so Request.TLS and the client certificate stay available. A connection the
// server gets this way is new to it: its first request must arrive within the server's
// ReadHeaderTimeout, not its IdleTimeout.
package httpresume

import (
	"net"
	"sync"
)

// Listener is a net.Listener whose connections come from Resume. It is safe for
// concurrent use.
type Listener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// New returns a Listener with nothing to accept yet.
func New() *Listener {
	return &Listener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Resume hands c to the server serving l. It waits until the server accepts c; after
// Close it returns net.ErrClosed and the caller keeps c.
func (l *Listener) Resume(c net.Conn) error {
	select {
	case l.conns <- c:
		return nil
	case <-l.done:
		return net.ErrClosed
	}
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener: Accept and Resume fail from now on.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr implements net.Listener. The connections keep their own addresses; the
// listener has none of its own.
func (l *Listener) Addr() net.Addr { return addr{} }

// addr names the Listener in net/http's logs.
type addr struct{}

func (addr) Network() string { return "resumed" }
func (addr) String() string  { return "resumed connections" }
