package smtp

// Message submission (RFC 6409) for our users: AUTH only under TLS (RFC 4954 4, RFC
// 8314), and a user sends only as one of their own addresses or as a mailbox they hold
// SendAs on, in the envelope and in From: alike (RFC 6409 8.1).

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"time"

	"github.com/emersion/go-sasl"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/mime"
)

// AuthMechanisms implements smtp.AuthSession. Nothing is offered on MX, nor before TLS,
// so EHLO in clear lists no AUTH (RFC 4954 4).
func (s *session) AuthMechanisms() []string {
	if s.role != roleSubmission || !s.tls {
		return nil
	}
	m := []string{sasl.Plain, sasl.Login}
	if s.srv.cfg.Auth.TokensEnabled() {
		m = append(m, auth.TokenMechanisms...)
	}
	return m
}

// Auth implements smtp.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	switch {
	case s.role != roleSubmission:
		return nil, reply(502, 5, 5, 1, "AUTH is not offered here; submit mail on port 587 or 465")
	case !s.tls:
		return nil, s.reject(errEncryptionRequired())
	case s.user != nil:
		return nil, reply(503, 5, 5, 1, "Already authenticated")
	}
	if d, locked := s.srv.authIP.locked(s.addr); locked {
		s.log.Info("AUTH refused: the address is backing off", "for", d.Round(time.Second))
		return nil, s.reject(errAuthBackoff())
	}
	switch mech = strings.ToUpper(mech); mech {
	case auth.MechOAuthBearer, auth.MechXOAUTH2:
		if s.srv.cfg.Auth.TokensEnabled() {
			return newTokenServer(mech, s.verifyToken, func(login string, u directory.User, err error) error {
				return s.signIn("", login, u, err)
			}), nil
		}
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			return s.authenticate(identity, username, password)
		}), nil
	case sasl.Login:
		return newLoginServer(func(username, password string) error {
			return s.authenticate("", username, password)
		}), nil
	}
	return nil, reply(504, 5, 5, 4, "Unrecognized authentication mechanism")
}

// authenticate checks a login and password or app password. An authorization
// identity (RFC 4616 2) may only name the user themselves.
//
// An account backing off is refused before its password is checked, so a guesser
// learns nothing during the lockout, and neither does its real user get in: the
// price of slowing a guesser spread over many addresses (see New).
func (s *session) authenticate(identity, login, password string) error {
	account := strings.ToLower(login)
	if d, locked := s.srv.authAccount.locked(account); locked {
		s.log.Info("AUTH refused: the account is backing off", "login", login, "for", d.Round(time.Second))
		return s.reject(errAuthBackoff())
	}
	ctx, cancel := s.ctx()
	defer cancel()
	u, err := s.srv.cfg.Auth.Password(ctx, login, password, s.source())
	return s.signIn(identity, login, u, err)
}

// verifyToken checks an OAuth bearer token (SASL OAUTHBEARER or XOAUTH2).
func (s *session) verifyToken(login, token string) (directory.User, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.srv.cfg.Auth.Bearer(ctx, login, token, s.source())
}

// source describes the connection for the authenticator's lockout and audit log.
func (s *session) source() auth.Source {
	return auth.Source{Protocol: "smtp", Remote: auth.RemoteAddr(s.conn.Conn().RemoteAddr())}
}

// signIn makes u the session's user, or answers the failure err of signing in as
// login.
func (s *session) signIn(identity, login string, u directory.User, err error) error {
	account := strings.ToLower(login)
	switch {
	case err == nil:
		s.srv.authAccount.succeeded(account)
	case errors.Is(err, directory.ErrBadCredentials), errors.Is(err, directory.ErrDisabled):
		s.authFailures++
		s.log.Warn("authentication failed", "login", login, "err", err)
		if d := s.srv.authIP.fail(s.addr); d > 0 {
			s.log.Warn("too many failed AUTH attempts from the address: backing off", "address", s.addr, "for", d)
		}
		// A token without a user name is counted against its address only.
		if account != "" {
			if d := s.srv.authAccount.fail(account); d > 0 {
				s.log.Warn("too many failed AUTH attempts for the account: backing off", "login", login, "for", d)
			}
		}
		if s.authFailures >= maxAuthFailures {
			return s.closing(errTooManyErrors())
		}
		return s.reject(errBadCredentials())
	default:
		s.log.Error("authenticate", "login", login, "err", err)
		// RFC 4954 6: temporary authentication failure.
		return reply(454, 4, 7, 0, "Temporary authentication failure")
	}
	if identity != "" && !isOwnAddress(u, identity) && !strings.EqualFold(identity, login) {
		s.log.Warn("authorization identity refused", "login", login, "identity", identity)
		return s.reject(reply(535, 5, 7, 8, "%s may not act as %s", u.Address, identity))
	}
	s.user = &u
	s.log = s.log.With("user", u.Address)
	s.log.Info("authenticated")
	return nil
}

func isOwnAddress(u directory.User, addr string) bool {
	if strings.EqualFold(u.Address, addr) {
		return true
	}
	for _, a := range u.Aliases {
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	return false
}

// sendableAddresses reads the user afresh (a user disabled since AUTH sends no more)
// and returns, in lower case, their addresses and those of every mailbox they hold
// SendAs on.
func (s *session) sendableAddresses(ctx context.Context) (map[string]bool, error) {
	u, err := s.srv.cfg.Directory.User(ctx, s.user.Address)
	if err != nil {
		s.log.Error("read user", "err", err)
		return nil, errTemporary()
	}
	if !u.Enabled {
		return nil, s.closing(reply(421, 4, 7, 0, "%s is disabled, closing connection", u.Address))
	}
	grants, err := s.srv.cfg.Directory.GrantsTo(ctx, u.ID)
	if err != nil {
		s.log.Error("read grants", "err", err)
		return nil, errTemporary()
	}
	out := map[string]bool{}
	add := func(m directory.User) {
		out[strings.ToLower(m.Address)] = true
		for _, a := range m.Aliases {
			out[strings.ToLower(a)] = true
		}
	}
	add(u)
	for _, g := range grants {
		for _, r := range g.Rights {
			if r == directory.SendAs {
				add(g.Mailbox)
			}
		}
	}
	return out, nil
}

// checkFrom checks the message's From: field (RFC 5322 3.6.2: exactly one, with one
// or more mailboxes) against the addresses the user may send as, and returns the
// domain of its first mailbox, the DKIM signing domain. It reads From: with the same
// parser the store uses, so what is checked is what mail clients will show.
func (s *session) checkFrom(raw []byte) (string, error) {
	header := raw[:headerEnd(raw)]
	m := mime.Parse(append(bytes.Clone(header), "\r\n"...))
	fields := 0
	for _, f := range m.Headers {
		if strings.EqualFold(f.Name, "From") {
			fields++
		}
	}
	if fields != 1 {
		return "", s.reject(reply(550, 5, 6, 0, "The message must have exactly one From: field, not %d", fields))
	}
	domain := ""
	for _, a := range m.Envelope.From {
		if a.IsGroupStart() || a.IsGroupEnd() {
			continue
		}
		addr := a.Mailbox + "@" + a.Host
		if !s.tx.sendAs[strings.ToLower(addr)] {
			s.log.Info("From: refused", "from", addr)
			return "", s.reject(reply(550, 5, 7, 1, "From: <%s> is not an address %s may send as", addr, s.user.Address))
		}
		if domain == "" {
			domain = strings.ToLower(a.Host)
		}
	}
	if domain == "" {
		return "", s.reject(reply(550, 5, 6, 0, "The From: field names no mailbox"))
	}
	return domain, nil
}
