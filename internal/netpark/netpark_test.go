package netpark

import (
	"errors"
	"net"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

func TestWakeUps(t *testing.T) {
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	tests := []struct {
		name     string
		deadline time.Duration
		cause    func(w *Watcher, tk *Ticket, client *net.TCPConn)
	}{
		{"input", time.Hour, func(_ *Watcher, _ *Ticket, c *net.TCPConn) { c.Write([]byte("DONE\r\n")) }},
		{"hang-up", time.Hour, func(_ *Watcher, _ *Ticket, c *net.TCPConn) { c.Close() }},
		{"half close", time.Hour, func(_ *Watcher, _ *Ticket, c *net.TCPConn) { c.CloseWrite() }},
		{"deadline", 50 * time.Millisecond, func(*Watcher, *Ticket, *net.TCPConn) {}},
		{"Wake", time.Hour, func(w *Watcher, tk *Ticket, _ *net.TCPConn) {
			if !w.Wake(tk) {
				t.Error("Wake of a parked connection = false")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, client := pair(t)
			woken := make(chan struct{}, 2)
			tk, err := w.Park(server, time.Now().Add(tt.deadline), func() { woken <- struct{}{} })
			if err != nil {
				t.Fatal(err)
			}
			if n := w.Len(); n != 1 {
				t.Fatalf("Len = %d, want 1", n)
			}
			tt.cause(w, tk, client)
			select {
			case <-woken:
			case <-time.After(10 * time.Second):
				t.Fatal("not woken")
			}
			if w.Wake(tk) {
				t.Error("second wake-up")
			}
			if n := w.Len(); n != 0 {
				t.Errorf("Len = %d after the wake-up, want 0", n)
			}
			// The connection is the caller's again: it reads what woke it.
			if tt.name == "input" {
				buf := make([]byte, 16)
				n, err := server.Read(buf)
				if err != nil || string(buf[:n]) != "DONE\r\n" {
					t.Errorf("read after wake-up = %q, %v", buf[:n], err)
				}
			}
		})
	}
}

// TestInputBeforePark checks that input already waiting when a connection is parked
// wakes it at once.
func TestInputBeforePark(t *testing.T) {
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	server, client := pair(t)
	client.Write([]byte("x"))
	time.Sleep(50 * time.Millisecond)
	woken := make(chan struct{})
	if _, err := w.Park(server, time.Now().Add(time.Hour), func() { close(woken) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("not woken")
	}
}

// TestMany parks connections with deadlines in shuffled order and checks that each is
// woken once, by its deadline or by input, and that Close wakes the rest.
func TestMany(t *testing.T) {
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	woken := make(chan int, n)
	clients := make([]*net.TCPConn, n)
	for i := range n {
		server, client := pair(t)
		clients[i] = client
		d := time.Hour
		if i%3 == 0 {
			d = time.Duration(n-i) * time.Millisecond
		}
		if _, err := w.Park(server, time.Now().Add(d), func() { woken <- i }); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < n; i += 3 {
		clients[i].Write([]byte("a"))
	}
	seen := map[int]bool{}
	for range 2 * n / 3 {
		select {
		case i := <-woken:
			if seen[i] || i%3 == 2 {
				t.Fatalf("connection %d woken wrongly", i)
			}
			seen[i] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("woken %d of %d", len(seen), 2*n/3)
		}
	}
	if got := w.Len(); got != n/3 {
		t.Fatalf("Len = %d, want %d", got, n/3)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for range n / 3 {
		select {
		case i := <-woken:
			if seen[i] {
				t.Fatalf("connection %d woken twice", i)
			}
			seen[i] = true
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not wake every connection")
		}
	}
	if _, err := w.Park(clients[0], time.Now(), func() {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Park after Close = %v, want ErrClosed", err)
	}
}

// TestCancel: a cancelled connection is no longer watched and its callback never
// runs, even when input arrives afterwards; a second Cancel, or one after the
// wake-up, reports false.
func TestCancel(t *testing.T) {
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	server, client := pair(t)
	woken := make(chan struct{}, 1)
	tk, err := w.Park(server, time.Now().Add(time.Hour), func() { woken <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	if !w.Cancel(tk) || w.Len() != 0 {
		t.Fatalf("Cancel of a parked connection: Len %d after", w.Len())
	}
	if w.Cancel(tk) {
		t.Error("second Cancel = true")
	}
	client.Write([]byte("late input\r\n"))
	select {
	case <-woken:
		t.Fatal("the callback of a cancelled connection ran")
	case <-time.After(200 * time.Millisecond):
	}

	server2, client2 := pair(t)
	tk2, err := w.Park(server2, time.Now().Add(time.Hour), func() { woken <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	client2.Close()
	<-woken
	if w.Cancel(tk2) {
		t.Error("Cancel after the wake-up = true")
	}
}
