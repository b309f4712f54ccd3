package smtp

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

const (
	tooManyConns   = "421 4.7.0 Too many connections from your address"
	authBackingOff = "454 4.7.0 Too many failed authentication attempts, try later"
	authOK         = "235 2.0.0 Authentication succeeded"
	authBad        = "535 5.7.8 Authentication credentials invalid"
	rateExceeded   = "450 4.7.1 Sending rate exceeded, try again later"
	dmarcRejected  = "550 5.7.1 Message rejected per the sender domain's DMARC policy"
)

func authPlain(login, password string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + login + "\x00" + password))
}

// tryAuth tries one AUTH PLAIN on a new connection to the implicit-TLS submission port
// and returns the reply.
func tryAuth(t *testing.T, e *env, login, password string) string {
	t.Helper()
	c := dialTLS(t, e.subTLS, e.roots)
	c.expect("220 ")
	c.cmd("EHLO client.example", "250 ")
	c.send("AUTH PLAIN " + authPlain(login, password) + "\r\n")
	lines := c.reply()
	c.cmd("QUIT", "221 ")
	c.closed()
	return lines[len(lines)-1]
}

func wantAuth(t *testing.T, e *env, login, password, want string) {
	t.Helper()
	if got := tryAuth(t, e, login, password); got != want {
		t.Fatalf("AUTH as %s: %q, want %q", login, got, want)
	}
}

// TestConnectionLimit opens raw sockets up to each role's limit: the next one is told
// 421 and closed, the other role is not affected, and closing one makes room.
func TestConnectionLimit(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) {
		c.MaxConnsPerIP = 3
		c.MaxSubmissionConnsPerIP = 2
	}))
	var open []*rawClient
	for range 3 {
		c := dial(t, e.mx)
		c.expect("220 ")
		open = append(open, c)
	}
	over := dial(t, e.mx)
	if got := over.expect("421 "); got != tooManyConns {
		t.Fatalf("got %q, want %q", got, tooManyConns)
	}
	over.closed()
	out, code := swaks(t, e.mx, "--from", "sender@remote.test", "--to", "alice@example.test")
	wantRefused(t, out, code, tooManyConns)

	// Submission counts apart, the STARTTLS and the implicit-TLS port together; a
	// refusal on the implicit-TLS port comes over TLS.
	sub := dial(t, e.sub)
	sub.expect("220 ")
	subTLS := dialTLS(t, e.subTLS, e.roots)
	subTLS.expect("220 ")
	overTLS := dialTLS(t, e.subTLS, e.roots)
	if got := overTLS.expect("421 "); got != tooManyConns {
		t.Fatalf("got %q, want %q", got, tooManyConns)
	}
	overTLS.closed()

	// A connection that ends frees its place.
	open[0].cmd("QUIT", "221 ")
	open[0].closed()
	c := dial(t, e.mx)
	c.expect("220 ")
	c.cmd("HELO client.example", "250 ")
	c.cmd("MAIL FROM:<sender@remote.test>", "250 ")
	c.cmd("RCPT TO:<alice@example.test>", "250 ")
	c.cmd("DATA", "354 ")
	c.send(string(message("sender@remote.test", "alice@example.test", "room", "after one left")) + ".\r\n")
	c.expect("250 ")
	e.wantInbox("alice", 1)
	if n := strings.Count(e.logs.String(), "too many connections"); n != 3 {
		t.Errorf("%d refusals logged, want 3", n)
	}
}

// TestAuthBackoffPerAddress: five failures from one address in fifteen minutes hold
// every AUTH from it off for a minute, even with the right password, and the next
// five for two.
func TestAuthBackoffPerAddress(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, withConfig(func(c *Config) { c.Now = clock.Now }))
	guess := 0
	fail5 := func() {
		t.Helper()
		// A different login each time, so that no account reaches its own limit.
		for i := range 5 {
			if i > 0 {
				clock.advance(time.Minute) // all five within the window all the same
			}
			guess++
			wantAuth(t, e, fmt.Sprintf("guess%d@example.test", guess), "wrong", authBad)
		}
	}
	fail5()
	wantAuth(t, e, "alice@example.test", testPassword, authBackingOff)
	c := dialTLS(t, e.subTLS, e.roots)
	c.expect("220 ")
	c.cmd("EHLO client.example", "250 ")
	c.cmd("AUTH LOGIN", authBackingOff) // refused before the first challenge
	out, code := swaks(t, e.sub, "--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test",
		"--auth-password", testPassword, "--from", "alice@example.test", "--to", "bob@example.test")
	wantRefused(t, out, code, authBackingOff)
	clock.advance(59 * time.Second)
	wantAuth(t, e, "alice@example.test", testPassword, authBackingOff)
	clock.advance(time.Second)
	wantAuth(t, e, "alice@example.test", testPassword, authOK)

	// Back to back: the second lockout is twice as long.
	fail5()
	clock.advance(61 * time.Second)
	wantAuth(t, e, "alice@example.test", testPassword, authBackingOff)
	clock.advance(59 * time.Second)
	wantAuth(t, e, "alice@example.test", testPassword, authOK)
	if !strings.Contains(e.logs.String(), "backing off") {
		t.Error("the lockout was not logged")
	}
}

// TestAuthBackoffPerAccount: ten failures for one account lock that account out from
// every address, whatever the password, but no other account.
func TestAuthBackoffPerAccount(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, withConfig(func(c *Config) {
		c.Now = clock.Now
		c.AuthFailuresPerIP = -1 // all tests come from 127.0.0.1: count the account alone
	}))
	for range 10 {
		wantAuth(t, e, "alice@example.test", "wrong", authBad)
	}
	wantAuth(t, e, "alice@example.test", testPassword, authBackingOff)
	wantAuth(t, e, "ALICE@example.test", testPassword, authBackingOff)
	wantAuth(t, e, "bob@example.test", testPassword, authOK)
	clock.advance(time.Minute)
	wantAuth(t, e, "alice@example.test", testPassword, authOK)
}

// TestSubmissionRateLimit: Python sends messages in one session until the server
// refuses MAIL; each user has a bucket of their own, which refills over the minute.
func TestSubmissionRateLimit(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, withConfig(func(c *Config) {
		c.Now = clock.Now
		c.MessagesPerMinute = 3
	}))
	res := python(t, e, "burst", e.subTLS, "5")
	if res["accepted"] != 3.0 || res["refused"] != rateExceeded {
		t.Fatalf("burst: %v, want 3 accepted and then %q", res, rateExceeded)
	}
	e.wantInbox("bob", 3)

	out, code := swaks(t, e.sub, "--tls", "--auth", "PLAIN", "--auth-user", "bob@example.test",
		"--auth-password", testPassword, "--from", "bob@example.test", "--to", "alice@example.test")
	wantOK(t, out, code)

	clock.advance(20 * time.Second) // one token back at three a minute
	res = python(t, e, "burst", e.subTLS, "5")
	if res["accepted"] != 1.0 || res["refused"] != rateExceeded {
		t.Fatalf("after 20 s: %v, want 1 accepted and then %q", res, rateExceeded)
	}
	clock.advance(time.Minute)
	res = python(t, e, "burst", e.subTLS, "2")
	if res["accepted"] != 2.0 || res["refused"] != nil {
		t.Fatalf("after a minute: %v, want 2 accepted", res)
	}
	if !strings.Contains(e.logs.String(), "sending rate exceeded") {
		t.Error("the refusal was not logged")
	}
}

// TestRecipientLimit: RCPT past MaxRecipients gets 452 4.5.3 (RFC 5321 4.5.3.1.10)
// and the message still goes to those accepted.
func TestRecipientLimit(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.MaxRecipients = 2 }))
	c := dial(t, e.mx)
	c.expect("220 ")
	c.send("EHLO client.example\r\n")
	if lines := c.reply(); lines[len(lines)-1] != "250 LIMITS RCPTMAX=2" {
		t.Errorf("EHLO: %q", lines)
	}
	c.cmd("MAIL FROM:<sender@remote.test>", "250 ")
	c.cmd("RCPT TO:<alice@example.test>", "250 ")
	c.cmd("RCPT TO:<bob@example.test>", "250 ")
	c.cmd("RCPT TO:<small@example.test>", "452 4.5.3 Maximum limit of 2 recipients reached")
	c.cmd("DATA", "354 ")
	c.send(string(message("sender@remote.test", "many", "limited", "two of three")) + ".\r\n")
	c.expect("250 ")
	e.wantInbox("alice", 1)
	e.wantInbox("bob", 1)
	e.wantInbox("small", 0)
}

// TestDMARCPolicy: p=reject is refused at the end of DATA and stored nowhere,
// p=quarantine lands in Junk (the Inbox for an account without one), p=none in the
// Inbox.
func TestDMARCPolicy(t *testing.T) {
	ctx := context.Background()
	checker := &fixedChecker{}
	e := newEnv(t, withChecker(checker))
	all := func(local string) int {
		t.Helper()
		folders, err := e.Store.Folders(ctx, store.AccountID(e.ids[local]))
		must(t, err)
		n := 0
		for _, f := range folders {
			n += len(e.messagesIn(f.ID))
		}
		return n
	}

	t.Run("reject", func(t *testing.T) {
		checker.setPolicy(PolicyReject)
		out, code := swaks(t, e.mx, "--from", "spoofer@remote.test", "--to", "alice@example.test",
			"--header", "Subject: dmarc reject")
		wantRefused(t, out, code, dmarcRejected)
		if n := all("alice"); n != 0 {
			t.Fatalf("alice holds %d messages after a rejection", n)
		}
		// The refusal ends the transaction, not the session.
		c := dial(t, e.mx)
		c.expect("220 ")
		c.cmd("HELO client.example", "250 ")
		c.cmd("MAIL FROM:<spoofer@remote.test>", "250 ")
		c.cmd("RCPT TO:<alice@example.test>", "250 ")
		c.cmd("DATA", "354 ")
		c.send(string(message("spoofer@remote.test", "alice@example.test", "rejected", "no")) + ".\r\n")
		c.expect(dmarcRejected)
		checker.setPolicy("")
		c.cmd("MAIL FROM:<sender@remote.test>", "250 ")
		c.cmd("RCPT TO:<alice@example.test>", "250 ")
		c.cmd("DATA", "354 ")
		c.send(string(message("sender@remote.test", "alice@example.test", "passed", "yes")) + ".\r\n")
		c.expect("250 ")
		if msgs := e.wantInbox("alice", 1); !strings.Contains(string(msgs[0]), "Subject: passed") {
			t.Errorf("Inbox holds:\n%s", msgs[0])
		}
		if n := all("alice"); n != 1 {
			t.Errorf("alice holds %d messages, want 1", n)
		}
		if !strings.Contains(e.logs.String(), "message rejected per DMARC policy") {
			t.Error("the rejection was not logged")
		}
	})
	t.Run("quarantine", func(t *testing.T) {
		checker.setPolicy(PolicyQuarantine)
		junk, err := e.Store.FolderByRole(ctx, store.AccountID(e.ids["bob"]), store.RoleJunk)
		must(t, err)
		must(t, e.Store.DeleteFolder(ctx, junk.ID))
		out, code := swaks(t, e.mx, "--from", "spoofer@remote.test", "--to", "team@example.test",
			"--header", "Subject: dmarc quarantine")
		wantOK(t, out, code)
		msgs := e.folder("alice", store.RoleJunk)
		if len(msgs) != 1 || !strings.Contains(string(msgs[0]), "Subject: dmarc quarantine") ||
			!strings.Contains(string(msgs[0]), "dmarc=fail (p=quarantine)") {
			t.Fatalf("alice's Junk holds %q", msgs)
		}
		e.wantInbox("alice", 1) // the message passed above only
		if msgs := e.wantInbox("bob", 1); !strings.Contains(string(msgs[0]), "Subject: dmarc quarantine") {
			t.Errorf("bob, who has no Junk folder, got in his Inbox:\n%s", msgs[0])
		}
	})
	t.Run("none", func(t *testing.T) {
		checker.setPolicy(PolicyNone)
		out, code := swaks(t, e.mx, "--from", "sender@remote.test", "--to", "alice@example.test",
			"--header", "Subject: dmarc none")
		wantOK(t, out, code)
		e.wantInbox("alice", 2)
		if n := len(e.folder("alice", store.RoleJunk)); n != 1 {
			t.Errorf("alice's Junk holds %d messages, want 1", n)
		}
	})
}

// TestLimitDefaults: zero takes the defaults, a negative value turns a limit off.
func TestLimitDefaults(t *testing.T) {
	s := New(Config{})
	c := s.cfg
	if c.MaxConnsPerIP != 20 || c.MaxSubmissionConnsPerIP != 10 || c.AuthFailuresPerIP != 5 ||
		c.AuthFailuresPerAccount != 10 || c.AuthFailureWindow != 15*time.Minute || c.MessagesPerMinute != 60 ||
		c.MaxRecipients != 100 || s.authIP == nil || s.authAccount == nil || s.rate == nil {
		t.Errorf("defaults: %+v", c)
	}
	s = New(Config{MaxConnsPerIP: -1, MaxSubmissionConnsPerIP: -1, AuthFailuresPerIP: -1,
		AuthFailuresPerAccount: -1, MessagesPerMinute: -1, MaxRecipients: -1})
	if s.limitFor(roleMX) != 0 || s.limitFor(roleSubmission) != 0 || s.authIP != nil || s.authAccount != nil ||
		s.rate != nil || s.mx.MaxRecipients != 0 {
		t.Errorf("limits still on: %+v", s.cfg)
	}
	// Nil limiters allow everything.
	if d, locked := s.authIP.locked("x"); locked || d != 0 || s.authIP.fail("x") != 0 {
		t.Error("a nil backoff locked out")
	}
	if ok, _ := s.rate.take("x"); !ok {
		t.Error("a nil rate limiter refused")
	}
}

func TestBackoff(t *testing.T) {
	clock := newFakeClock()
	b := newBackoff(clock.Now, 3, 15*time.Minute, time.Minute, 3*time.Minute)
	lockout := func(want time.Duration) {
		t.Helper()
		for i := range 3 {
			got := b.fail("k")
			if i < 2 && got != 0 || i == 2 && got != want {
				t.Fatalf("failure %d started a lockout of %v, want %v", i+1, got, want)
			}
		}
		if d, locked := b.locked("k"); !locked || d != want {
			t.Fatalf("locked %v for %v, want %v", locked, d, want)
		}
		clock.advance(want - time.Second)
		if _, locked := b.locked("k"); !locked {
			t.Fatal("unlocked early")
		}
		clock.advance(time.Second)
		if _, locked := b.locked("k"); locked {
			t.Fatal("still locked")
		}
	}
	lockout(time.Minute)
	lockout(2 * time.Minute)
	lockout(3 * time.Minute) // 4 capped at 3
	lockout(3 * time.Minute)

	// Quiet for the window after the lockout: forgotten, back to one minute.
	clock.advance(15 * time.Minute)
	lockout(time.Minute)

	// The window slides: failures older than it no longer count.
	clock.advance(15 * time.Minute)
	b.fail("k")
	b.fail("k")
	clock.advance(15*time.Minute + time.Second)
	if d := b.fail("k"); d != 0 {
		t.Fatalf("failures outside the window started a lockout of %v", d)
	}
	// A success forgets the failures in the window.
	b.succeeded("k")
	b.fail("k")
	if d := b.fail("k"); d != 0 {
		t.Fatalf("failures before a success started a lockout of %v", d)
	}
	// Other keys are apart.
	if _, locked := b.locked("other"); locked {
		t.Fatal("another key is locked")
	}
}

func TestRateLimiter(t *testing.T) {
	clock := newFakeClock()
	l := newRateLimiter(clock.Now, 60)
	for i := range 60 {
		if ok, _ := l.take("u"); !ok {
			t.Fatalf("message %d refused within the burst", i+1)
		}
	}
	ok, wait := l.take("u")
	if ok || wait != time.Second {
		t.Fatalf("61st message: ok %v, wait %v; want refused for 1s", ok, wait)
	}
	if ok, _ := l.take("v"); !ok {
		t.Fatal("another user was refused")
	}
	clock.advance(time.Second)
	if ok, _ := l.take("u"); !ok {
		t.Fatal("refused after a token came back")
	}
	if ok, _ := l.take("u"); ok {
		t.Fatal("a second message passed on one token")
	}
	// A bucket full again is dropped at the next sweep.
	clock.advance(2 * time.Minute)
	l.take("w")
	if _, ok := l.t.entries["u"]; ok {
		t.Error("a full bucket was kept")
	}
}

// TestTableBounded: a table at maxTracked drops the entry idle longest for a new one.
func TestTableBounded(t *testing.T) {
	clock := newFakeClock()
	b := newBackoff(clock.Now, 5, time.Hour, time.Minute, time.Hour)
	for i := range maxTracked + 1 {
		b.fail(fmt.Sprint(i))
		clock.advance(time.Millisecond)
	}
	if n := len(b.t.entries); n != maxTracked {
		t.Fatalf("%d entries, want %d", n, maxTracked)
	}
	if _, ok := b.t.entries["0"]; ok {
		t.Error("the oldest entry was kept")
	}
	if _, ok := b.t.entries[fmt.Sprint(maxTracked)]; !ok {
		t.Error("the newest entry was dropped")
	}
}
