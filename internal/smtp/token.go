package smtp

// SASL OAUTHBEARER (RFC 7628) and XOAUTH2 for AUTH (RFC 4954), for go-smtp, which
// offers neither server.

import (
	"errors"
	"fmt"

	"github.com/emersion/go-sasl"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
)

// tokenServer runs one token exchange: the client's response (initial, or after an
// empty challenge), then, when the token is refused, the mechanism's error challenge
// and the client's dummy answer before the failure (RFC 7628 section 3.2.2).
type tokenServer struct {
	mech   string
	verify func(login, token string) (directory.User, error)
	finish func(login string, u directory.User, err error) error

	asked   bool
	login   string
	refused error // set once the error challenge is sent
}

func newTokenServer(mech string, verify func(login, token string) (directory.User, error), finish func(string, directory.User, error) error) sasl.Server {
	return &tokenServer{mech: mech, verify: verify, finish: finish}
}

// Next implements sasl.Server. A nil response means the client sent no initial
// response.
func (t *tokenServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch {
	case t.refused != nil:
		return nil, true, t.finish(t.login, directory.User{}, t.refused)
	case response == nil && !t.asked:
		t.asked = true
		return nil, false, nil
	}
	r, err := auth.ParseBearerResponse(t.mech, response)
	if err != nil {
		return nil, true, t.finish("", directory.User{}, fmt.Errorf("%w: %w", directory.ErrBadCredentials, err))
	}
	u, err := t.verify(r.Login, r.Token)
	if err != nil && errors.Is(err, directory.ErrBadCredentials) {
		t.login, t.refused = r.Login, err
		return auth.BearerFailureFor(t.mech, err), false, nil
	}
	return nil, true, t.finish(r.Login, u, err)
}
