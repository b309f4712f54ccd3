package imap

import (
	"context"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// TestIdlePush checks that changes made outside the session, a delivery as SMTP
// makes it, a flag change and an expunge, reach an idling client within a second.
func TestIdlePush(t *testing.T) {
	e := newSrvEnv(t)
	ctx := context.Background()
	inbox := e.folder(t, e.alice.ID, "INBOX")
	first := e.deliver(t, e.alice.ID, 0, srvMsg(1, "first"))
	c := e.loginRaw(t)
	c.send("s1 SELECT INBOX")
	c.until("s1")
	c.send("i1 IDLE")
	c.expect(`\+ idling`)

	// wait reads lines until one matches want, failing after a second.
	wait := func(what, want string) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for {
			left := time.Until(deadline)
			if left <= 0 {
				t.Fatalf("%s: no %q within a second", what, want)
			}
			line, err := c.readLine(left)
			if err != nil {
				t.Fatalf("%s: no %q within a second: %v", what, want, err)
			}
			if strings.Contains(line, want) {
				return
			}
		}
	}
	e.deliver(t, e.alice.ID, 0, srvMsg(2, "second"))
	wait("delivery", "* 2 EXISTS")
	if _, err := e.store.StoreFlags(ctx, store.FlagUpdate{Folder: inbox.ID, UIDs: []store.UID{first.UID}, Op: store.FlagsAdd, Flags: []string{store.FlagFlagged}}); err != nil {
		t.Fatal(err)
	}
	wait("flag change", `* 1 FETCH (FLAGS (\Flagged))`)
	if _, err := e.store.Expunge(ctx, inbox.ID, []store.UID{first.UID}); err != nil {
		t.Fatal(err)
	}
	wait("expunge", "* 1 EXPUNGE")
	c.send("DONE")
	c.expect(`i1 OK IDLE completed`)
	c.send("n1 NOOP")
	c.expect(`n1 OK NOOP completed`)
}

// TestIdleShutdown checks that Shutdown says BYE to an idling client.
func TestIdleShutdown(t *testing.T) {
	e := newSrvEnv(t)
	c := e.loginRaw(t)
	c.send("s1 SELECT INBOX")
	c.until("s1")
	c.send("i1 IDLE")
	c.expect(`\+ idling`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.expect(`\* BYE server shutting down`)
}

// TestIdleTimeout checks the autologout timer during IDLE and between commands.
func TestIdleTimeout(t *testing.T) {
	e := newSrvEnv(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	c := e.loginRaw(t)
	c.send("i1 IDLE")
	c.expect(`\+ idling`)
	c.expect(`\* BYE idle for too long, closing connection`)
	d := e.loginRaw(t)
	d.expect(`\* BYE idle for too long, closing connection`)
}

// TestIdleSeveralSessions checks the idle hub: two sessions idling on the same account
// both hear of a delivery and of a new keyword; once one has left IDLE, the other still
// hears of the next change, and the one that left hears of it at its next command.
func TestIdleSeveralSessions(t *testing.T) {
	e := newSrvEnv(t)
	ctx := context.Background()
	inbox := e.folder(t, e.alice.ID, "INBOX")
	first := e.deliver(t, e.alice.ID, 0, srvMsg(1, "first"))
	var cs []*rawClient
	for range 2 {
		c := e.loginRaw(t)
		c.send("s SELECT INBOX")
		c.until("s")
		c.send("i IDLE")
		c.expect(`\+ idling`)
		cs = append(cs, c)
	}
	// waitFor reads lines of c until one is want; generous, as the machine may be busy.
	waitFor := func(c *rawClient, want string) {
		t.Helper()
		for {
			line, err := c.readLine(10 * time.Second)
			if err != nil {
				t.Fatalf("no %q: %v", want, err)
			}
			if line == want {
				return
			}
		}
	}
	e.deliver(t, e.alice.ID, 0, srvMsg(2, "second"))
	for _, c := range cs {
		waitFor(c, "* 2 EXISTS")
	}
	if _, err := e.store.StoreFlags(ctx, store.FlagUpdate{Folder: inbox.ID, UIDs: []store.UID{first.UID}, Op: store.FlagsAdd, Flags: []string{"$Later"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		waitFor(c, `* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Later)`)
		waitFor(c, `* 1 FETCH (FLAGS ($Later))`)
	}
	cs[0].send("DONE")
	waitFor(cs[0], "i OK IDLE completed")
	e.deliver(t, e.alice.ID, 0, srvMsg(3, "third"))
	waitFor(cs[1], "* 3 EXISTS")
	cs[0].send("n NOOP")
	waitFor(cs[0], "* 3 EXISTS")
	waitFor(cs[0], "n OK NOOP completed")
	cs[1].send("DONE")
	waitFor(cs[1], "i OK IDLE completed")
}
