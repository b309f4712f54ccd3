package pop3

// USER and PASS (RFC 1939 section 7), AUTH (RFC 5034) with PLAIN (RFC 4616), LOGIN,
// OAUTHBEARER (RFC 7628) and XOAUTH2, and the maildrop lock taken at login (RFC 1939 section 8).

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/store"
)

// errAuthz refuses a SASL authorization identity naming someone else than the user
// who logged in: Mailroom has no proxy logins.
var errAuthz = errors.New("authorization identity is not the login")

// requireTLS refuses a login over plain text. RFC 3206 section 5 has [AUTH] cover
// logins refused by policy, and RFC 2595 section 4 lets a server refuse them until
// STLS.
func (c *session) requireTLS() error {
	switch {
	case c.tls:
		return nil
	case c.srv.cfg.TLS == nil:
		return fail(codeAuth, "logins need TLS, which this port does not offer")
	}
	return fail(codeAuth, "logins need TLS; send STLS first")
}

// cmdUser takes the login name; PASS must follow (RFC 1939 section 7, USER). The
// reply is the same whether the name exists or not.
func (c *session) cmdUser(cmd command) error {
	if err := c.requireTLS(); err != nil {
		return err
	}
	name := strings.TrimSpace(cmd.rest)
	if name == "" || len(cmd.args) != 1 {
		return fail("", "USER takes one argument, a login name")
	}
	c.user = name
	return c.writeLine("+OK send PASS")
}

// cmdPass takes the password for the name USER gave and logs in (RFC 1939 section 7,
// PASS). The whole rest of the line is the password, spaces included.
func (c *session) cmdPass(ctx context.Context, cmd command) error {
	if err := c.requireTLS(); err != nil {
		return err
	}
	if c.user == "" {
		return fail("", "send USER first")
	}
	name := c.user
	c.user = ""
	if cmd.rest == "" {
		return fail("", "PASS takes one argument, the password")
	}
	return c.login(ctx, "USER", name, cmd.rest, "")
}

// cmdAuth runs a SASL exchange (RFC 5034 section 4). AUTH without a mechanism lists
// the mechanisms, as in RFC 1734, which some clients, Outlook among them, still send.
func (c *session) cmdAuth(ctx context.Context, cmd command) error {
	if err := c.requireTLS(); err != nil {
		return err
	}
	if len(cmd.args) == 0 {
		return c.writeMulti("+OK SASL mechanisms follow", c.mechanisms())
	}
	if len(cmd.args) > 2 {
		return fail("", "AUTH takes a mechanism and an optional initial response")
	}
	var initial *string
	if len(cmd.args) == 2 {
		initial = &cmd.args[1]
	}
	switch mech := strings.ToUpper(cmd.args[0]); {
	case slices.Contains(auth.TokenMechanisms, mech) && c.srv.cfg.Auth.TokensEnabled():
		resp, err := c.saslStep("", initial)
		if err != nil {
			return err
		}
		return c.loginToken(ctx, mech, resp)
	case mech == "PLAIN":
		resp, err := c.saslStep("", initial)
		if err != nil {
			return err
		}
		// RFC 4616 section 2: authzid NUL authcid NUL passwd.
		parts := bytes.Split(resp, []byte{0})
		if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 {
			return fail(codeAuth, "malformed PLAIN response")
		}
		return c.login(ctx, "PLAIN", string(parts[1]), string(parts[2]), string(parts[0]))
	case mech == "LOGIN":
		user, err := c.saslStep("Username:", initial)
		if err != nil {
			return err
		}
		pass, err := c.saslStep("Password:", nil)
		if err != nil {
			return err
		}
		return c.login(ctx, "LOGIN", string(user), string(pass), "")
	}
	return fail("", "unsupported SASL mechanism %.20q; this server offers %s", cmd.args[0], strings.Join(c.mechanisms(), " "))
}

// saslStep returns the client's next SASL response: the initial response sent with
// AUTH if there is one, else the answer to a challenge it sends. RFC 5034 section 4:
// challenges and responses are base64, "=" is an empty initial response, and "*"
// cancels the exchange.
func (c *session) saslStep(challenge string, initial *string) ([]byte, error) {
	var line string
	if initial != nil {
		if *initial == "=" {
			return []byte{}, nil
		}
		line = *initial
	} else {
		if err := c.writeLine("+ %s", base64.StdEncoding.EncodeToString([]byte(challenge))); err != nil {
			return nil, err
		}
		l, err := c.readLine(maxSASLLine)
		switch {
		case errors.Is(err, errLineTooLong):
			return nil, fail("", "SASL response too long; authentication cancelled")
		case errors.Is(err, errInterrupted), err != nil && isTimeout(err) && c.isClosing():
			return nil, &reply{text: "server shutting down", hangup: true}
		case err != nil && isTimeout(err):
			return nil, &reply{text: "idle for too long, closing connection", hangup: true}
		case err != nil:
			return nil, err
		case l == "*":
			return nil, fail("", "authentication cancelled")
		}
		line = l
	}
	b, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		return nil, fail("", "invalid base64 in SASL response; authentication cancelled")
	}
	return b, nil
}

// source describes the session for the authenticator's lockout and audit log.
func (c *session) source() auth.Source {
	return auth.Source{Protocol: "pop3", Remote: auth.RemoteAddr(c.raw.RemoteAddr())}
}

// login checks a password and enters the TRANSACTION state. The password is never
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
// response, and only then with -ERR [AUTH] (RFC 7628 section 3.2.2; XOAUTH2 does the
// same).
func (c *session) loginToken(ctx context.Context, mech string, resp []byte) error {
	r, err := auth.ParseBearerResponse(mech, resp)
	if err != nil {
		return fail(codeAuth, "malformed %s response", mech)
	}
	u, err := c.srv.cfg.Auth.Bearer(ctx, r.Login, r.Token, c.source())
	if errors.Is(err, directory.ErrBadCredentials) {
		if _, rerr := c.saslStep(string(auth.BearerFailureFor(mech, err)), nil); rerr != nil {
			if rp := (*reply)(nil); !errors.As(rerr, &rp) || rp.hangup {
				return rerr
			}
		}
	}
	return c.enter(ctx, c.log.With("login", r.Login, "mechanism", mech), u, err)
}

// enter locks the maildrop of u and lists it, entering the TRANSACTION state (RFC
// 1939 section 4), or answers the failure err. A failed login is answered after a
// delay, and the third closes the connection.
func (c *session) enter(ctx context.Context, log *slog.Logger, u directory.User, err error) error {
	if err != nil {
		text := "invalid login name or password"
		switch {
		case errors.Is(err, directory.ErrDisabled):
			text = "account disabled"
		case errors.Is(err, errAuthz):
			text = "logging in as another user is not supported"
		case !errors.Is(err, directory.ErrBadCredentials):
			return failErr(err, codeSysTemp, "cannot check credentials now, try again later")
		}
		c.failures++
		log.Warn("login failed", "reason", err.Error(), "failures", c.failures)
		t := time.NewTimer(c.srv.cfg.AuthFailureDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		r := fail(codeAuth, "%s", text)
		if c.failures >= maxAuthFailures {
			r.text += "; too many failed attempts, closing connection"
			r.hangup = true
		}
		return r
	}

	acct := store.AccountID(u.ID)
	if !c.srv.locks.acquire(acct) {
		log.Info("login refused: maildrop in use", "user", u.Address)
		return fail(codeInUse, "maildrop already in use by another session")
	}
	drop, err := c.openMaildrop(ctx, acct)
	if err != nil {
		c.srv.locks.release(acct)
		return err
	}
	c.account, c.domain, c.locked, c.drop, c.state = acct, u.Domain, true, drop, stateTransaction
	c.log = c.log.With("user", u.Address)
	n, size := drop.stat()
	log.Info("login", "user", u.Address, "messages", n)
	return c.writeLine("+OK maildrop has %d messages (%d octets)", n, size)
}

// actsAs reports whether a SASL authorization identity names the user who logged
// in, by the login given or any of the user's names.
func actsAs(u directory.User, login, authz string) bool {
	names := append([]string{login, u.Address, u.UPN}, u.Aliases...)
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, authz) })
}

// openMaildrop lists the account's Inbox, in order of arrival.
func (c *session) openMaildrop(ctx context.Context, acct store.AccountID) (*maildrop, error) {
	st := c.srv.cfg.Store
	inbox, err := st.FolderByRole(ctx, acct, store.RoleInbox)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, failErr(err, codeSysPerm, "this mailbox has no Inbox; ask an administrator")
	case err != nil:
		return nil, failErr(err, codeSysTemp, "cannot open the maildrop now, try again later")
	}
	infos, err := st.List(ctx, inbox.ID)
	if err != nil {
		return nil, failErr(err, codeSysTemp, "cannot list the maildrop now, try again later")
	}
	slices.SortFunc(infos, func(a, b store.MessageInfo) int { return cmp.Compare(a.UID, b.UID) })
	d := &maildrop{folder: inbox.ID, msgs: make([]dropMessage, len(infos))}
	for i, m := range infos {
		d.msgs[i].info = m
	}
	return d, nil
}
