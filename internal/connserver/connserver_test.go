package connserver

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"
)

// echo is a session that echoes lines until interrupted, finishing the line it is on.
type echo struct {
	conn net.Conn
}

func (e *echo) Serve(ctx context.Context) {
	defer e.conn.Close()
	r := bufio.NewReader(e.conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		e.conn.Write([]byte(line))
	}
}
func (e *echo) Interrupt() { e.conn.SetReadDeadline(time.Now()) }
func (e *echo) Close()     { e.conn.Close() }

func TestServeAndShutdown(t *testing.T) {
	s := New(slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln, func(c net.Conn) Session { return &echo{conn: c} }) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello\n"))
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "hello\n" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("session still open after shutdown")
	}
	// A listener handed over after shutdown is closed at once.
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := s.Serve(ln2, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve after Shutdown = %v", err)
	}
}

// stuck ignores Interrupt, so only the deadline ends it.
type stuck struct{ echo }

func (s *stuck) Interrupt() {}

func TestShutdownDeadline(t *testing.T) {
	s := New(slog.New(slog.DiscardHandler))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go s.Serve(ln, func(c net.Conn) Session { return &stuck{echo{conn: c}} })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x\n"))
	bufio.NewReader(c).ReadString('\n')
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the deadline", err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection not closed after the deadline")
	}
}
