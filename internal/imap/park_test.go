package imap

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mailroom/internal/netpark"
	"mailroom/internal/store"
)

// canPark says whether sessions can park on this system; tests of parking skip
// where they cannot.
func canPark(t *testing.T) {
	t.Helper()
	w, err := netpark.New()
	if err != nil {
		t.Skip(err)
	}
	w.Close()
}

// waitCount waits up to ten seconds for count to return n.
func waitCount(t *testing.T, what string, count func() int, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := count()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s sessions, want %d", got, what, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitParked waits for the server to hold n parked sessions.
func (e *srvEnv) waitParked(t *testing.T, n int) {
	t.Helper()
	waitCount(t, "parked", e.srv.parking.parkedCount, n)
}

// waitLine reads lines of c until one is want, failing after ten seconds: generous,
// as the machine may be busy (TestIdlePush holds pushes to a second).
func waitLine(t *testing.T, c *rawClient, what, want string) {
	t.Helper()
	const d = 10 * time.Second
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: no %q within %v", what, want, d)
		}
		line, err := c.readLine(left)
		if err != nil {
			t.Fatalf("%s: no %q within %v: %v", what, want, d, err)
		}
		if line == want {
			return
		}
	}
}

// deflateConn is the client's side of COMPRESS=DEFLATE (RFC 4978): each write ends
// with a sync flush, and goes out in one piece, so that a server closing the
// connection at LOGOUT cannot break a write in the middle.
type deflateConn struct {
	net.Conn
	out bytes.Buffer
	fw  *flate.Writer // to out
	fr  io.Reader
}

func (d *deflateConn) Write(p []byte) (int, error) {
	d.out.Reset()
	d.fw.Write(p)
	d.fw.Flush()
	if _, err := d.Conn.Write(d.out.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (d *deflateConn) Read(p []byte) (int, error) { return d.fr.Read(p) }

// idleClient logs in as alice over the transport named, selects INBOX and enters IDLE.
func (e *srvEnv) idleClient(t *testing.T, transport string) *rawClient {
	t.Helper()
	var c *rawClient
	switch transport {
	case "implicit TLS", "COMPRESS":
		c = e.loginRaw(t)
	case "STARTTLS":
		c = e.dialRaw(t, e.plain, nil)
		c.expect(`\* OK \[CAPABILITY .*`)
		c.send("t1 STARTTLS")
		c.expect(`t1 OK .*`)
		c.conn = tls.Client(c.conn, e.client)
		c.r = bufio.NewReader(c.conn)
		c.send("l1 LOGIN alice@example.com " + quoteArg(srvPassword))
		c.expect(`l1 OK .*`)
	default:
		t.Fatalf("unknown transport %q", transport)
	}
	if transport == "COMPRESS" {
		c.send("z1 COMPRESS DEFLATE")
		c.expect("z1 OK DEFLATE active")
		d := &deflateConn{Conn: c.conn, fr: flate.NewReader(c.conn)}
		d.fw, _ = flate.NewWriter(&d.out, flate.BestSpeed)
		c.conn = d
		c.r = bufio.NewReader(c.conn)
	}
	c.send("s1 SELECT INBOX")
	c.until("s1")
	c.send("i1 IDLE")
	c.expect(`\+ idling`)
	return c
}

// TestParkTransports checks IDLE over each transport: a session parks unless
// COMPRESS is active, hears of a delivery, a flag change and an expunge while parked,
// then ends IDLE with DONE and carries on.
func TestParkTransports(t *testing.T) {
	canPark(t)
	tests := []struct {
		transport string
		parks     bool
	}{
		{"implicit TLS", true},
		{"STARTTLS", true},
		{"COMPRESS", false}, // the inflater may hold input the watcher cannot see
	}
	for _, tt := range tests {
		t.Run(tt.transport, func(t *testing.T) {
			e := newSrvEnv(t)
			ctx := context.Background()
			inbox := e.folder(t, e.alice.ID, "INBOX")
			first := e.deliver(t, e.alice.ID, 0, srvMsg(1, "first"))
			c := e.idleClient(t, tt.transport)
			want := 0
			if tt.parks {
				want = 1
			}
			e.waitParked(t, want)
			e.deliver(t, e.alice.ID, 0, srvMsg(2, "second"))
			waitLine(t, c, "delivery", "* 2 EXISTS")
			if _, err := e.store.StoreFlags(ctx, store.FlagUpdate{Folder: inbox.ID, UIDs: []store.UID{first.UID}, Op: store.FlagsAdd, Flags: []string{store.FlagFlagged}}); err != nil {
				t.Fatal(err)
			}
			waitLine(t, c, "flag change", `* 1 FETCH (FLAGS (\Flagged))`)
			if _, err := e.store.Expunge(ctx, inbox.ID, []store.UID{first.UID}); err != nil {
				t.Fatal(err)
			}
			waitLine(t, c, "expunge", "* 1 EXPUNGE")
			// Pushes leave the session parked.
			e.waitParked(t, want)
			c.send("DONE")
			c.expect(`i1 OK IDLE completed`)
			e.waitParked(t, 0)
			c.send("n1 NOOP")
			c.expect(`n1 OK NOOP completed`)
			// Parking again after a resume.
			c.send("i2 IDLE")
			c.expect(`\+ idling`)
			e.waitParked(t, want)
			c.send("DONE")
			c.expect(`i2 OK IDLE completed`)
			c.send("o1 LOGOUT")
			c.expect(`\* BYE logging out`)
			c.expect(`o1 OK LOGOUT completed`)
		})
	}
}

// TestParkPipelinedDone checks clients that send DONE before the continuation
// request: with IDLE in one write, or in a write of its own right after IDLE's (with
// TLS, a record crypto/tls may have read along with IDLE's). The session must not
// park on input it holds, and answers at once.
func TestParkPipelinedDone(t *testing.T) {
	canPark(t)
	e := newSrvEnv(t)
	tests := []struct {
		name   string
		writes []string
		pause  time.Duration // between writes
	}{
		{"one write", []string{"i1 IDLE\r\nDONE\r\n"}, 0},
		{"two writes", []string{"i1 IDLE\r\n", "DONE\r\n"}, 0},
		{"DONE split", []string{"i1 IDLE\r\nDO", "NE\r\n"}, 0},
		{"DONE split, late end", []string{"i1 IDLE\r\nD", "ONE\r\n"}, 300 * time.Millisecond},
		{"then NOOP", []string{"i1 IDLE\r\nDONE\r\nn1 NOOP\r\n"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 5 {
				c := e.loginRaw(t)
				c.send("s1 SELECT INBOX")
				c.until("s1")
				for i, w := range tt.writes {
					if i > 0 {
						time.Sleep(tt.pause)
					}
					if _, err := io.WriteString(c.conn, w); err != nil {
						t.Fatal(err)
					}
				}
				c.expect(`\+ idling`)
				c.expect(`i1 OK IDLE completed`)
				if strings.Contains(tt.writes[0], "NOOP") {
					c.expect(`n1 OK NOOP completed`)
				}
				e.waitParked(t, 0)
				c.conn.Close()
			}
		})
	}
}

// TestParkEnd checks the ways a parked session ends: the client goes away, the
// autologout timer, a line that is not DONE, and Shutdown; none leaves a session
// parked or detached behind.
func TestParkEnd(t *testing.T) {
	canPark(t)
	tests := []struct {
		name    string
		timeout time.Duration
		end     func(t *testing.T, e *srvEnv, cs []*rawClient)
	}{
		{"disconnect", 0, func(t *testing.T, e *srvEnv, cs []*rawClient) {
			for _, c := range cs {
				c.conn.Close()
			}
		}},
		{"timeout", 2 * time.Second, func(t *testing.T, e *srvEnv, cs []*rawClient) {
			for _, c := range cs {
				c.expect(`\* BYE idle for too long, closing connection`)
			}
		}},
		{"not DONE", 0, func(t *testing.T, e *srvEnv, cs []*rawClient) {
			for _, c := range cs {
				c.send("x1 NOOP")
				c.expect(`i1 BAD IDLE ends with DONE`)
			}
		}},
		{"shutdown", 0, func(t *testing.T, e *srvEnv, cs []*rawClient) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := e.srv.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				c.expect(`\* BYE server shutting down`)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSrvEnv(t, func(c *Config) {
				if tt.timeout > 0 {
					c.IdleTimeout = tt.timeout
				}
			})
			var cs []*rawClient
			for range 3 {
				cs = append(cs, e.idleClient(t, "implicit TLS"))
			}
			e.waitParked(t, len(cs))
			tt.end(t, e, cs)
			e.waitParked(t, 0)
			if tt.name != "not DONE" {
				waitCount(t, "detached", func() int { return len(e.srv.parking.detached()) }, 0)
			}
		})
	}
}

// TestParkMany parks 100 sessions and wakes them all with one delivery.
func TestParkMany(t *testing.T) {
	canPark(t)
	e := newSrvEnv(t)
	const n = 100
	cs := make([]*rawClient, n)
	for i := range cs {
		cs[i] = e.idleClient(t, "implicit TLS")
	}
	e.waitParked(t, n)
	e.deliver(t, e.alice.ID, 0, srvMsg(1, "for everyone"))
	for i, c := range cs {
		waitLine(t, c, fmt.Sprintf("session %d", i), "* 1 EXISTS")
	}
	e.waitParked(t, n)
	for _, c := range cs {
		c.send("DONE")
	}
	for _, c := range cs {
		c.expect(`i1 OK IDLE completed`)
	}
	e.waitParked(t, 0)
}
