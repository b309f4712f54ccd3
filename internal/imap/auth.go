package imap

// STARTTLS, LOGIN and AUTHENTICATE (RFC 9051 sections 6.2.1 to 6.2.3) with SASL PLAIN
// (RFC 4616), OAUTHBEARER (RFC 7628), XOAUTH2 and SASL-IR (RFC 4959).

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// handshake runs the server side of a TLS handshake and makes the session read and
// write through it.
func (c *session) handshake(ctx context.Context) error {
	d := min(handshakeTimeout, c.srv.cfg.IdleTimeout)
	if !c.arm(d) {
		return errInterrupted
	}
	c.raw.SetWriteDeadline(time.Now().Add(d))
	tc := tls.Server(c.raw, c.srv.cfg.TLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	st := tc.ConnectionState()
	c.log.Debug("TLS established", "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	c.conn = tc
	c.tls = true
	return nil
}

// cmdStartTLS starts TLS on a plain connection (RFC 9051 section 6.2.1).
func (c *session) cmdStartTLS(ctx context.Context, cmd *imapwire.Command) error {
	switch {
	case c.tls:
		return bad("TLS is already active")
	case c.srv.cfg.TLS == nil:
		return no(nil, "TLS is not available on this server")
	}
	c.w.StatusResponse(cmd.Tag, imapwire.OK, nil, "begin TLS negotiation now")
	if err := c.flush(); err != nil {
		return err
	}
	if err := c.handshake(ctx); err != nil {
		return &reply{cond: imapwire.BYE, text: "TLS negotiation failed", err: err}
	}
	// A fresh reader drops anything the client sent after STARTTLS in plain text,
	// which an attacker could have injected to run as if sent over TLS (RFC 9051
	// section 11.1).
	c.r.SetSource(connReader{c})
	return errAnswered
}

// requireTLS refuses a login over plain text (RFC 9051 section 6.2.3, LOGINDISABLED).
func (c *session) requireTLS() error {
	if c.tls {
		return nil
	}
	if c.srv.cfg.TLS == nil {
		return no(codePrivacy, "logins need TLS, which this port does not offer")
	}
	return no(codePrivacy, "logins need TLS; send STARTTLS first")
}

// cmdLogin logs in with a name and password (RFC 9051 section 6.2.3).
func (c *session) cmdLogin(ctx context.Context, a *imapwire.Login) error {
	if err := c.requireTLS(); err != nil {
		return err
	}
	return c.login(ctx, "LOGIN", a.Username, a.Password, "")
}

// cmdAuthenticate runs a SASL exchange (RFC 9051 section 6.2.2): PLAIN, and when the
// server takes tokens OAUTHBEARER (RFC 7628) and XOAUTH2, with the initial response
// in the command (SASL-IR) or after an empty challenge.
func (c *session) cmdAuthenticate(ctx context.Context, a *imapwire.Authenticate) error {
	if err := c.requireTLS(); err != nil {
		return err
	}
	if !slices.Contains(c.mechanisms(), a.Mechanism) {
		return no(nil, "unsupported SASL mechanism %.20q; this server offers %s", a.Mechanism, strings.Join(c.mechanisms(), " "))
	}
	resp := a.InitialResponse
	if resp == nil {
		var err error
		if resp, err = c.saslResponse(nil); err != nil {
			return err
		}
	}
	if a.Mechanism != "PLAIN" {
		return c.loginToken(ctx, a.Mechanism, resp)
	}
	// RFC 4616 section 2: authzid NUL authcid NUL passwd.
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return no(codeAuthFailed, "malformed PLAIN response")
	}
	return c.login(ctx, "PLAIN", string(parts[1]), string(parts[2]), string(parts[0]))
}

// mechanisms are the SASL mechanisms AUTHENTICATE takes.
func (c *session) mechanisms() []string {
	if c.srv.cfg.Auth.TokensEnabled() {
		return append([]string{"PLAIN"}, auth.TokenMechanisms...)
	}
	return []string{"PLAIN"}
}

// saslResponse sends a challenge and reads the client's BASE64 response.
func (c *session) saslResponse(challenge []byte) ([]byte, error) {
	c.w.ContinueBase64(challenge)
	if err := c.flush(); err != nil {
		return nil, err
	}
	line, err := c.r.ReadLine()
	var le *imapwire.LimitError
	switch {
	case errors.As(err, &le) && le.Recoverable:
		return nil, bad("SASL response too long; authentication cancelled")
	case isTimeout(err) || errors.As(err, &le):
		return nil, &reply{cond: imapwire.BYE, text: "no SASL response, closing connection"}
	case err != nil:
		return nil, err
	case line == "*":
		// RFC 9051 section 6.2.2: the client cancelled.
		return nil, bad("authentication cancelled")
	}
	resp, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		return nil, bad("invalid base64 in SASL response; authentication cancelled")
	}
	return resp, nil
}

// errAuthz refuses a SASL authorization identity naming someone else than the user
// who logged in: Mailroom has no proxy logins.
var errAuthz = errors.New("authorization identity is not the login")

// source describes the session for the authenticator's lockout and audit log.
func (c *session) source() auth.Source {
	return auth.Source{Protocol: "imap", Remote: auth.RemoteAddr(c.raw.RemoteAddr())}
}

// login checks a password and enters the authenticated state. The password is never
// logged.
func (c *session) login(ctx context.Context, mech, name, password, authz string) error {
	u, err := c.srv.cfg.Auth.Password(ctx, name, password, c.source())
	if err == nil && authz != "" && !actsAs(u, name, authz) {
		err = errAuthz
	}
	return c.enter(ctx, c.log.With("login", name, "mechanism", mech), u, err)
}

// loginToken signs in with an OAuth bearer token. A refused token is answered first
// with the mechanism's error challenge, which the client acknowledges with a dummy
// response, and only then with NO (RFC 7628 section 3.2.2; XOAUTH2 does the same).
func (c *session) loginToken(ctx context.Context, mech string, resp []byte) error {
	r, err := auth.ParseBearerResponse(mech, resp)
	if err != nil {
		return no(codeAuthFailed, "malformed %s response", mech)
	}
	u, err := c.srv.cfg.Auth.Bearer(ctx, r.Login, r.Token, c.source())
	if errors.Is(err, directory.ErrBadCredentials) {
		if _, rerr := c.saslResponse(auth.BearerFailureFor(mech, err)); rerr != nil {
			if rp := (*reply)(nil); !errors.As(rerr, &rp) || rp.cond == imapwire.BYE {
				return rerr
			}
		}
	}
	return c.enter(ctx, c.log.With("login", r.Login, "mechanism", mech), u, err)
}

// enter enters the authenticated state as u, or answers the failure err. A failed
// login is answered after a delay, and the third ends the connection.
func (c *session) enter(ctx context.Context, log *slog.Logger, u directory.User, err error) error {
	if err != nil {
		r := no(codeAuthFailed, "invalid login name or password")
		switch {
		case errors.Is(err, directory.ErrDisabled):
			r = no(codeAuthzFailed, "account disabled")
		case errors.Is(err, errAuthz):
			r = no(codeAuthzFailed, "logging in as another user is not supported")
		case !errors.Is(err, directory.ErrBadCredentials):
			return noErr(err, codeUnavailable, "cannot check credentials now, try again later")
		}
		c.failures++
		log.Warn("login failed", "reason", err.Error(), "failures", c.failures)
		t := time.NewTimer(c.srv.cfg.AuthFailureDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		if c.failures >= maxAuthFailures {
			r.text += "; too many failed attempts, closing connection"
			r.bye = true
		}
		return r
	}
	acct := store.AccountID(u.ID)
	// A user created without a mailbox in the store gets one now, with the default
	// folders, as at delivery.
	if _, err := c.srv.cfg.Store.EnsureAccount(ctx, acct); err != nil {
		return noErr(err, codeUnavailable, "cannot open the mailbox now, try again later")
	}
	c.user, c.account, c.state = u, acct, stateAuthenticated
	c.log = c.log.With("user", u.Address)
	log.Info("login", "user", u.Address)
	return okReply(nil, "logged in")
}

// actsAs reports whether a SASL authorization identity names the user who logged
// in, by the login given or any of the user's names.
func actsAs(u directory.User, login, authz string) bool {
	names := append([]string{login, u.Address, u.UPN}, u.Aliases...)
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, authz) })
}
