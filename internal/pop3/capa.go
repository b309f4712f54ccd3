package pop3

// CAPA: RFC 2449 section 5.

import (
	"strings"

	"mailroom/internal/auth"
)

// mechanisms are the SASL mechanisms AUTH offers (RFC 5034): PLAIN (RFC 4616), LOGIN,
// which is no standard but what Outlook and older clients use, and when the server
// takes tokens OAUTHBEARER (RFC 7628) and XOAUTH2.
func (c *session) mechanisms() []string {
	m := []string{"PLAIN", "LOGIN"}
	if c.srv.cfg.Auth.TokensEnabled() {
		m = append(m, auth.TokenMechanisms...)
	}
	return m
}

// cmdCapa lists the server's capabilities. USER and SASL are listed only over TLS and
// before login, because logins are refused otherwise; this plays the part of IMAP's
// LOGINDISABLED (RFC 2595 section 4 for STLS, RFC 2449 section 5 for lists that
// differ by state).
func (c *session) cmdCapa(cmd command) error {
	if len(cmd.args) != 0 {
		return fail("", "CAPA takes no arguments")
	}
	caps := []string{
		"TOP",            // RFC 2449 section 6.1
		"UIDL",           // RFC 2449 section 6.8
		"RESP-CODES",     // RFC 2449 section 6.4
		"AUTH-RESP-CODE", // RFC 3206 section 6
		"PIPELINING",     // RFC 2449 section 6.6: replies come in order, whatever is queued
	}
	if c.state == stateAuthorization {
		switch {
		case c.tls:
			caps = append(caps, "USER", "SASL "+strings.Join(c.mechanisms(), " ")) // RFC 2449 sections 6.2, 6.3
		case c.srv.cfg.TLS != nil:
			caps = append(caps, "STLS") // RFC 2595 section 4
		}
	}
	caps = append(caps, "IMPLEMENTATION Mailroom") // RFC 2449 section 6.9
	return c.writeMulti("+OK capability list follows", caps)
}
