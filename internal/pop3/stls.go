package pop3

// STLS: RFC 2595 section 4.

import (
	"bufio"
	"context"
)

// cmdStls starts TLS on a plain connection. Only the AUTHORIZATION state allows it,
// and only once.
func (c *session) cmdStls(ctx context.Context, cmd command) error {
	switch {
	case len(cmd.args) != 0:
		return fail("", "STLS takes no arguments")
	case c.tls:
		return fail("", "TLS is already active")
	case c.srv.cfg.TLS == nil:
		return fail("", "TLS is not available on this server")
	}
	if err := c.writeLine("+OK begin TLS negotiation"); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	if err := c.handshake(ctx); err != nil {
		return err
	}
	// A fresh reader drops anything the client sent after STLS in plain text, which
	// an attacker could have injected into the stream to run it as if sent over TLS.
	// RFC 2595 section 4 also wants everything learnt before TLS forgotten, which is
	// the name from USER.
	c.r = bufio.NewReader(c.conn)
	c.user = ""
	return nil
}
