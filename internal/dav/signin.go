package dav

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/httpauth"
	"mailroom/internal/store"
)

// SignIn adapts the sign-in service (*auth.Service) to TokenAuthenticator: passwords
// and app passwords with lockout, the MFA switch and the audit log, and OAuth access
// tokens, all under the protocol name "dav".
type SignIn struct{ Auth httpauth.Service }

// Authenticate implements Authenticator.
func (s SignIn) Authenticate(ctx context.Context, login, password string, remote netip.Addr) (Principal, error) {
	u, err := s.Auth.Password(ctx, login, password, auth.Source{Protocol: "dav", Remote: remote})
	return principal(u, err)
}

// Bearer implements TokenAuthenticator.
func (s SignIn) Bearer(ctx context.Context, token string, remote netip.Addr) (Principal, error) {
	u, err := s.Auth.Bearer(ctx, "", token, auth.Source{Protocol: "dav", Remote: remote})
	return principal(u, err)
}

// TokensEnabled implements TokenAuthenticator.
func (s SignIn) TokensEnabled() bool { return s.Auth.TokensEnabled() }

// principal turns a sign-in's answer into the DAV principal, or into ErrBadCredentials
// for every refusal: a disabled user is refused like a wrong password.
func principal(u directory.User, err error) (Principal, error) {
	if errors.Is(err, directory.ErrBadCredentials) || errors.Is(err, directory.ErrDisabled) {
		return Principal{}, fmt.Errorf("%w: %w", ErrBadCredentials, err)
	}
	if err != nil {
		return Principal{}, err
	}
	return Principal{Account: store.AccountID(u.ID), Address: u.Address, DisplayName: u.DisplayName}, nil
}
