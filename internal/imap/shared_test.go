package imap

import (
	"testing"
)

// TestSharedMailbox checks that a user with FullAccess on sales@ finds it in the
// other-users namespace and can select and fetch it, and that a user without the
// grant cannot.
func TestSharedMailbox(t *testing.T) {
	e := newSrvEnv(t)
	e.deliver(t, e.sales.ID, 0, srvMsg(1, "order 1"))
	e.deliver(t, e.sales.ID, 0, srvMsg(2, "order 2"))
	c := e.loginRaw(t)
	c.send(`a1 LIST "Shared/" %`)
	c.expect(`\* LIST \(\\Noselect \\HasChildren\) "/" "Shared/sales@example.com"`)
	c.expect(`a1 OK LIST completed`)
	c.send(`a2 SELECT Shared/sales@example.com/INBOX`)
	lines := c.until("a2")
	if lines[1] != "* 2 EXISTS" || lines[len(lines)-1] != "a2 OK [READ-WRITE] SELECT completed" {
		t.Fatalf("SELECT: %q", lines)
	}
	c.send(`a3 FETCH 2 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])`)
	c.expect(`\* 2 FETCH \(UID 2 BODY\[HEADER.FIELDS \(SUBJECT\)\] \{\d+\}`)
	c.expect(`Subject: order 2`)
	c.expect(``)
	c.expect(`\)`)
	c.expect(`a3 OK FETCH completed`)
	// A copy from the shared mailbox into the user's own.
	c.send(`a4 COPY 1 INBOX`)
	c.expect(`a4 OK \[COPYUID \d+ 1 1\] COPY completed`)
	c.send(`a5 GETQUOTAROOT Shared/sales@example.com/INBOX`)
	c.expect(`\* QUOTAROOT "Shared/sales@example.com/INBOX"`)
	c.expect(`a5 OK GETQUOTAROOT completed`)

	// bob holds no grant: no shared namespace, no access.
	b := e.dialRaw(t, e.implicit, e.client)
	b.expect(`\* OK .*`)
	b.send(`b1 LOGIN bob@example.com "` + srvPassword + `"`)
	b.expect(`b1 OK .*`)
	b.send(`b2 NAMESPACE`)
	b.expect(`\* NAMESPACE \(\("" "/"\)\) NIL NIL`)
	b.expect(`b2 OK NAMESPACE completed`)
	b.send(`b3 SELECT Shared/sales@example.com/INBOX`)
	b.expect(`b3 NO \[NONEXISTENT\] no shared mailbox sales@example.com`)
}

// TestLoginFailures checks that the third failed login ends the connection.
func TestLoginFailures(t *testing.T) {
	e := newSrvEnv(t)
	c := e.dialRaw(t, e.implicit, e.client)
	c.expect(`\* OK .*`)
	for i := 1; i <= 3; i++ {
		c.send(`f LOGIN alice@example.com wrong`)
		if i < 3 {
			c.expect(`f NO \[AUTHENTICATIONFAILED\] invalid login name or password`)
		}
	}
	c.expect(`f NO \[AUTHENTICATIONFAILED\] invalid login name or password; too many failed attempts, closing connection`)
	c.expect(`\* BYE .*`)
	if _, err := c.readLine(5e9); err == nil {
		t.Fatal("connection still open")
	}
}

// TestLimits checks that an over-long line is refused with BAD [TOOBIG] and the
// session goes on, and that an APPEND over APPENDLIMIT is refused before its literal.
func TestLimits(t *testing.T) {
	e := newSrvEnv(t, func(c *Config) { c.AppendLimit = 1000 })
	c := e.loginRaw(t)
	c.send("a1 NOOP " + string(make([]byte, 70000)))
	c.expect(`a1 BAD \[TOOBIG\] line too long: the limit is \d+ octets`)
	c.send("a2 APPEND INBOX {5000}")
	c.expect(`a2 NO \[TOOBIG\] message too large: the limit is 1000 octets`)
	c.send("a3 NOOP")
	c.expect(`a3 OK NOOP completed`)
}
