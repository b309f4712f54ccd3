package pop3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/store"
)

// TestDroppedConnection checks that DELE without QUIT deletes nothing (RFC 1939
// section 6) and that the maildrop lock goes with the connection.
func TestDroppedConnection(t *testing.T) {
	e := newEnv(t)
	c := e.login(t, "alice@example.com")
	c.send("DELE 1")
	c.expect("+OK message 1 deleted")
	c.send("DELE 2")
	c.expect("+OK message 2 deleted")
	c.conn.Close()

	// The session ends soon after the connection; until then the lock holds.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := e.dial(t, e.plain, nil)
		c.starttls(e.client)
		c.send("USER alice@example.com")
		c.expect("+OK*")
		c.send("PASS " + testPassword)
		line := c.expect("*")
		if strings.HasPrefix(line, "+OK maildrop has 3 messages") {
			c.send("QUIT")
			c.expect("+OK*")
			break
		}
		if !strings.HasPrefix(line, "-ERR [IN-USE]") || time.Now().After(deadline) {
			t.Fatalf("login after a dropped connection: %q", line)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ids := e.inboxIDs(t); !slices.Equal(ids, e.ids) {
		t.Fatalf("Inbox holds %v, want %v", ids, e.ids)
	}
}

// TestExclusiveLock checks that a maildrop has one session at a time (RFC 1939
// section 8), whichever name the second login uses, and that it is free after QUIT.
func TestExclusiveLock(t *testing.T) {
	e := newEnv(t)
	a := e.login(t, "alice@example.com")
	a.send("DELE 3")
	a.expect("+OK*")

	b := e.dial(t, e.implicit, e.client)
	for _, name := range []string{"alice@example.com", "ally@example.com", `EXAMPLE\asmith`} {
		b.send("USER " + name)
		b.expect("+OK send PASS")
		b.send("PASS " + testPassword)
		b.expect("-ERR [IN-USE] maildrop already in use by another session")
	}
	// A locked maildrop is no failed login: the connection stays usable.
	b.send("NOOP")
	b.expect("-ERR NOOP is only valid after logging in")

	a.send("QUIT")
	a.expect("+OK mail.example.com POP3 server signing off (2 messages left)")
	a.expectClosed()

	b.send("USER alice@example.com")
	b.expect("+OK send PASS")
	b.send("PASS " + testPassword)
	b.expect("+OK maildrop has 2 messages (*)")
	b.send("QUIT")
	b.expect("+OK*")
}

// TestLoginForms logs in by every name the directory accepts.
func TestLoginForms(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{
		"alice@example.com",
		"ALICE@Example.COM",
		"ally@example.com",
		"alice.upn@corp.example",
		`EXAMPLE\asmith`,
		`example\ASMITH`,
		`example.com\asmith`,
	} {
		t.Run(name, func(t *testing.T) {
			c := e.login(t, name)
			c.send("STAT")
			c.expect("+OK 3 *")
			c.send("QUIT")
			c.expect("+OK*")
			c.expectClosed()
		})
	}
}

// TestDisabledAccount checks that a disabled user with the right password is told so.
func TestDisabledAccount(t *testing.T) {
	e := newEnv(t)
	if err := e.dir.SetEnabled(context.Background(), "alice@example.com", false); err != nil {
		t.Fatal(err)
	}
	c := e.dial(t, e.implicit, e.client)
	c.send("USER alice@example.com")
	c.expect("+OK*")
	c.send("PASS " + testPassword)
	c.expect("-ERR [AUTH] account disabled")
}

// TestIdleTimeout checks the autologout timer (RFC 1939 section 3): it closes the
// session, before login and after, without entering the UPDATE state.
func TestIdleTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	fresh := e.dial(t, e.plain, nil)
	c := e.login(t, "alice@example.com")
	c.send("DELE 1")
	c.expect("+OK*")
	start := time.Now()
	for _, cl := range []*client{fresh, c} {
		cl.expect("-ERR idle for too long, closing connection")
		cl.expectClosed()
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("idle session closed after %v", d)
	}
	if ids := e.inboxIDs(t); !slices.Equal(ids, e.ids) {
		t.Fatalf("Inbox holds %v after a timeout, want %v", ids, e.ids)
	}
}

// TestShutdown checks that Shutdown tells connected clients, deletes nothing that
// was not confirmed by QUIT, stops accepting and makes Serve return.
func TestShutdown(t *testing.T) {
	e := newEnv(t)
	loggedIn := e.login(t, "alice@example.com")
	loggedIn.send("DELE 1")
	loggedIn.expect("+OK*")
	fresh := e.dial(t, e.implicit, e.client)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, c := range []*client{loggedIn, fresh} {
		c.expect("-ERR server shutting down")
		c.expectClosed()
	}
	for range 2 {
		if err := <-e.served; !errors.Is(err, ErrServerClosed) || !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	}
	if conn, err := net.DialTimeout("tcp", e.plain, time.Second); err == nil {
		conn.Close()
		t.Error("server still accepts connections after Shutdown")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Serve(ln, false); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown returned %v", err)
	}
	if ids := e.inboxIDs(t); !slices.Equal(ids, e.ids) {
		t.Fatalf("Inbox holds %v after Shutdown, want %v", ids, e.ids)
	}
}

// TestShutdownDeadline checks that Shutdown gives up on a session whose client does
// not read, closes it, and says why.
func TestShutdownDeadline(t *testing.T) {
	e := newEnv(t)
	// A message larger than the socket buffers of both ends, which the client asks
	// for and never reads, keeps the session blocked in a write.
	big := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 78)+"\r\n", 100_000)
	if _, err := e.store.Deliver(context.Background(), store.NewMessage{Raw: []byte(big)},
		[]store.Placement{{Account: store.AccountID(e.alice.ID)}}); err != nil {
		t.Fatal(err)
	}
	c := e.login(t, "alice@example.com")
	c.send("RETR 4")
	c.expect("+OK 8000016 octets")
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := e.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown returned %v, want the deadline", err)
	}
}

// TestAbuse checks that a client sending garbage or an endless line is dropped.
func TestAbuse(t *testing.T) {
	e := newEnv(t)
	t.Run("bad commands", func(t *testing.T) {
		c := e.dial(t, e.plain, nil)
		for i := 1; i < maxBadCommands; i++ {
			c.send("FROB")
			c.expect("-ERR unknown command FROB")
		}
		c.send("NOOP " + strings.Repeat("y", 300))
		c.expect("-ERR command line too long; the limit is 255 octets; too many bad commands, closing connection")
		c.expectClosed()
	})
	t.Run("endless line", func(t *testing.T) {
		c := e.dial(t, e.plain, nil)
		chunk := []byte(strings.Repeat("z", 4096))
		for range 64 {
			if _, err := c.conn.Write(chunk); err != nil {
				break
			}
		}
		c.expectClosed()
	})
	t.Run("long SASL response", func(t *testing.T) {
		c := e.dial(t, e.plain, nil)
		c.starttls(e.client)
		c.send("AUTH PLAIN")
		c.expect("+ ")
		c.send(strings.Repeat("QUFB", 3000))
		c.expect("-ERR SASL response too long; authentication cancelled")
		c.send("QUIT")
		c.expect("+OK*")
	})
}

// TestSTLSInjection checks that commands sent in plain text behind STLS are dropped,
// not run as if they came over TLS.
func TestSTLSInjection(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, e.plain, nil)
	if _, err := c.conn.Write([]byte("STLS\r\nCAPA\r\n")); err != nil {
		t.Fatal(err)
	}
	c.expect("+OK begin TLS negotiation")
	c.handshake(e.client)
	c.send("NOOP")
	c.expect("-ERR NOOP is only valid after logging in")
}

// TestNoTLS checks a server without a TLS configuration: no STLS, no logins, no
// implicit-TLS listener.
func TestNoTLS(t *testing.T) {
	e := newEnv(t)
	srv := New(Config{Store: e.store, Auth: e.auth, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln, true); err == nil {
		t.Fatal("Serve with implicit TLS and no TLS configuration succeeded")
	}
	go srv.Serve(ln, false)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := e.wrap(t, conn)
	c.expect("+OK localhost POP3 server ready")
	c.send("CAPA")
	c.expect("+OK capability list follows")
	var caps []string
	for line := c.expect("*"); line != "."; line = c.expect("*") {
		caps = append(caps, line)
	}
	if slices.Contains(caps, "STLS") || slices.Contains(caps, "USER") {
		t.Errorf("capabilities %q offer STLS or USER without TLS", caps)
	}
	c.send("STLS")
	c.expect("-ERR TLS is not available on this server")
	c.send("USER alice@example.com")
	c.expect("-ERR [AUTH] logins need TLS, which this port does not offer")
}

// failingAuth stands for a directory that cannot answer.
type failingAuth struct{}

func (failingAuth) Password(context.Context, string, string, auth.Source) (directory.User, error) {
	return directory.User{}, errors.New("database is locked")
}

func (failingAuth) Bearer(context.Context, string, string, auth.Source) (directory.User, error) {
	return directory.User{}, errors.New("database is locked")
}

func (failingAuth) TokensEnabled() bool { return true }

// TestAuthOutage checks that a directory failure is a [SYS/TEMP] reply, not a failed
// login.
func TestAuthOutage(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Auth = failingAuth{} })
	c := e.dial(t, e.implicit, e.client)
	for range maxAuthFailures + 1 {
		c.send("USER alice@example.com")
		c.expect("+OK*")
		c.send("PASS " + testPassword)
		c.expect("-ERR [SYS/TEMP] cannot check credentials now, try again later")
	}
}

// TestMaildropSnapshot checks that a session keeps the maildrop it listed at login
// (RFC 1939 section 5): a message delivered meanwhile shows at the next login, and
// one removed through another protocol keeps its number but cannot be read.
func TestMaildropSnapshot(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.login(t, "alice@example.com")
	if _, err := e.store.Deliver(ctx, store.NewMessage{Raw: []byte("Subject: late\r\n\r\nlate\r\n")},
		[]store.Placement{{Account: store.AccountID(e.alice.ID)}}); err != nil {
		t.Fatal(err)
	}
	infos, err := e.store.List(ctx, e.inbox)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Expunge(ctx, e.inbox, []store.UID{infos[1].UID}); err != nil {
		t.Fatal(err)
	}
	c.send("STAT")
	c.expect("+OK 3 *")
	c.send("RETR 2")
	c.expect("-ERR message 2 has been removed by another client")
	c.send("DELE 2")
	c.expect("+OK message 2 deleted")
	c.send("QUIT")
	c.expect("+OK mail.example.com POP3 server signing off (2 messages left)")

	c = e.login(t, "alice@example.com")
	c.send("LIST")
	c.expect("+OK 3 messages (*)")
	c.expect("1 *")
	c.expect("2 *")
	c.expect("3 23")
	c.expect(".")
	c.send("QUIT")
	c.expect("+OK*")
}

// TestRandomCommands sends a logged-in session commands with random arguments and
// checks that each gets an answer and the session lives on.
func TestRandomCommands(t *testing.T) {
	e := newEnv(t)
	c := e.login(t, "alice@example.com")
	rng := rand.New(rand.NewPCG(1, 2))
	keywords := []string{"STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET", "CAPA", "USER", "PASS", "AUTH", "STLS", "APOP"}
	args := []string{"0", "1", "2", "3", "4", "-1", "+1", "01", "999999999", "1000000000", "x", "", "1.5", "\xff", "=", "PLAIN", "LOGIN", "*"}
	for range 500 {
		line := keywords[rng.IntN(len(keywords))]
		for range rng.IntN(4) {
			line += " " + args[rng.IntN(len(args))]
		}
		c.send(line)
		// NOOP answers "+OK" and nothing else does, so it marks the end of the reply.
		c.send("NOOP")
		for i := 0; c.expect("*") != "+OK"; i++ {
			if i > 100 {
				t.Fatalf("no end to the reply to %q", line)
			}
		}
	}
	c.send("QUIT")
	c.expect("+OK*")
}

// failingDomains stands for a directory that cannot read domain settings.
type failingDomains struct{}

func (failingDomains) Domain(context.Context, string) (directory.Domain, error) {
	return directory.Domain{}, errors.New("database is locked")
}

// brokenTrash is a store whose Deleted Items is missing or cannot take messages.
type brokenTrash struct {
	Store
	findErr, moveErr error
}

func (s brokenTrash) FolderByRole(ctx context.Context, id store.AccountID, role store.Role) (store.Folder, error) {
	if role == store.RoleTrash && s.findErr != nil {
		return store.Folder{}, s.findErr
	}
	return s.Store.FolderByRole(ctx, id, role)
}

func (s brokenTrash) Move(ctx context.Context, from store.FolderID, uids []store.UID, to store.FolderID) (store.CopyResult, error) {
	if s.moveErr != nil {
		return store.CopyResult{}, s.moveErr
	}
	return s.Store.Move(ctx, from, uids, to)
}

// TestQuitKeepFailures checks that when DELE'd messages cannot go to Deleted Items as
// the domain asks, or the setting cannot be read, QUIT says so, deletes nothing and
// hangs up, and the next session finds the maildrop whole.
func TestQuitKeepFailures(t *testing.T) {
	tests := []struct {
		name string
		opt  envOption
		want string
	}{
		{"setting unreadable", func(c *Config) { c.Domains = failingDomains{} },
			"-ERR [SYS/TEMP] cannot read this mailbox's settings now; no messages deleted"},
		{"no Deleted Items", func(c *Config) {
			c.Store = brokenTrash{Store: c.Store, findErr: fmt.Errorf("no trash: %w", store.ErrNotFound)}
		}, "-ERR [SYS/PERM] this mailbox has no Deleted Items folder; no messages deleted; ask an administrator"},
		{"Deleted Items unreadable", func(c *Config) {
			c.Store = brokenTrash{Store: c.Store, findErr: errors.New("disk I/O error")}
		}, "-ERR [SYS/TEMP] cannot open Deleted Items now; no messages deleted"},
		{"move fails", func(c *Config) { c.Store = brokenTrash{Store: c.Store, moveErr: store.ErrOverQuota} },
			"-ERR [SYS/TEMP] cannot move deleted messages to Deleted Items now; no messages deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opt)
			c := e.login(t, "alice@example.com")
			c.send("DELE 1")
			c.expect("+OK message 1 deleted")
			c.send("QUIT")
			c.expect(tt.want)
			c.expectClosed()
			if ids := e.inboxIDs(t); !slices.Equal(ids, e.ids) {
				t.Errorf("Inbox holds %v, want %v", ids, e.ids)
			}
			if n := len(e.trash(t)); n != 0 {
				t.Errorf("Deleted Items holds %d messages, want none", n)
			}
			c = e.login(t, "alice@example.com")
			c.send("STAT")
			c.expect("+OK 3 *")
		})
	}
}
