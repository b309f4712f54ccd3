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
