// Package connserver runs what Mailroom's line-protocol servers (IMAP, POP3) share: the
// accept loop, the bookkeeping of listeners and sessions, and the graceful shutdown that
// lets a command in progress finish. It knows nothing of any protocol: each server hands
// it a function that makes the session for a new connection.
//
// It never closes a session's connection while the session may still write, except
// once shutdown's deadline has passed.
package connserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"
)

// ErrClosed is what Serve returns after Shutdown; it matches net.ErrClosed too.
var ErrClosed = fmt.Errorf("server closed: %w", net.ErrClosed)

// Session is one connection's protocol session.
type Session interface {
	// Serve runs the session until the connection ends. ctx ends when shutdown gives up
	// waiting, cancelling the session's store calls.
	Serve(ctx context.Context)
	// Interrupt asks the session to end at its next command boundary.
	Interrupt()
	// Close closes the session's connection at once.
	Close()
}

// Server tracks the listeners and sessions of one protocol server.
type Server struct {
	log    *slog.Logger
	base   context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	sessions  map[Session]struct{}
	wg        sync.WaitGroup
}

// New returns a server that logs through log.
func New(log *slog.Logger) *Server {
	base, cancel := context.WithCancel(context.Background())
	return &Server{log: log, base: base, cancel: cancel,
		listeners: map[net.Listener]struct{}{}, sessions: map[Session]struct{}{}}
}

// Serve accepts connections on ln until Shutdown, which makes it return ErrClosed, and
// runs each in its own goroutine as the session newSession makes.
func (s *Server) Serve(ln net.Listener, newSession func(net.Conn) Session) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accept: %w", err)
			}
			// Running out of file descriptors and the like passes; wait a little rather
			// than spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "addr", ln.Addr().String(), "err", err, "retry", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.start(conn, newSession)
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// start runs a session for conn, unless the server is shutting down.
func (s *Server) start(conn net.Conn, newSession func(net.Conn) Session) {
	c := newSession(conn)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.sessions[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.sessions, c)
			s.mu.Unlock()
		}()
		// A bug must cost one connection, not the process serving every protocol.
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("session panicked", "remote", conn.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
				c.Close()
			}
		}()
		c.Serve(s.base)
	}()
}

// Shutdown stops accepting connections, interrupts every session and waits for them
// to end. If ctx ends first, it closes the remaining connections, cancels the sessions'
// context and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	sessions := make([]Session, 0, len(s.sessions))
	for c := range s.sessions {
		sessions = append(sessions, c)
	}
	s.mu.Unlock()

	for _, c := range sessions {
		c.Interrupt()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		s.mu.Lock()
		for c := range s.sessions {
			c.Close()
		}
		s.mu.Unlock()
		return fmt.Errorf("shutdown: %w", ctx.Err())
	}
}
