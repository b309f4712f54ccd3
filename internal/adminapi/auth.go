package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/httpauth"
)

// Errors an Authenticator returns, wrapped.
var (
	// ErrNoCredentials: the request carries no credentials of the authenticator's
	// kind, and the next one is asked.
	ErrNoCredentials = errors.New("no credentials")
	// ErrBadCredentials: the request carries credentials of the authenticator's kind
	// and they are wrong, malformed or expired.
	ErrBadCredentials = errors.New("bad credentials")
)

// Authenticator finds out who sent a request: HTTP Basic or an OAuth bearer token
// here, the console's session cookie elsewhere. It returns the directory id of the
// signed-in user; whether that user may administer is decided after it, from the
// directory record, the same way for every kind of sign-in.
type Authenticator interface {
	Authenticate(r *http.Request) (userID int64, err error)
}

// Challenger is an Authenticator that tells clients how to sign in: the
// WWW-Authenticate value sent with a 401 (RFC 9110 section 11.6.1), given why the
// request was refused.
type Challenger interface {
	Challenge(refused error) string
}

// Passwords checks a login name (any form the directory accepts) and its password or
// app password, with lockout and an audit trail; *auth.Service has it.
type Passwords interface {
	Password(ctx context.Context, login, password string, from auth.Source) (directory.User, error)
}

// Tokens checks an OAuth 2.0 access token; *auth.Service has it.
type Tokens interface {
	Bearer(ctx context.Context, login, token string, from auth.Source) (directory.User, error)
}

// realm is the protection space of the API's challenges (RFC 9110 section 11.5).
const realm = "Mailroom admin"

// source is where a request signs in from, as the audit log records it.
func source(r *http.Request) auth.Source {
	return auth.Source{Protocol: "admin-api", Remote: auth.RemoteHTTP(r.RemoteAddr)}
}

// Basic signs administrators in with HTTP Basic (RFC 7617), which the API accepts
// only over TLS.
type Basic struct {
	Passwords Passwords
}

// Authenticate checks the request's Basic credentials.
func (b Basic) Authenticate(r *http.Request) (int64, error) {
	c, err := httpauth.Parse(r.Header.Get("Authorization"))
	switch {
	case c.Scheme != httpauth.Basic:
		return 0, ErrNoCredentials
	case err != nil:
		return 0, fmt.Errorf("%w: %w", ErrBadCredentials, err)
	}
	u, err := b.Passwords.Password(r.Context(), c.Login, c.Password, source(r))
	if err != nil {
		return 0, err
	}
	return u.ID, nil
}

// Challenge asks for Basic credentials for the admin realm.
func (Basic) Challenge(error) string { return `Basic realm="` + realm + `"` }

// Bearer signs administrators in with an OAuth 2.0 access token (RFC 6750 section
// 2.1), for scripts that hold one instead of a password.
type Bearer struct {
	Tokens Tokens
}

// Authenticate checks the request's bearer token.
func (b Bearer) Authenticate(r *http.Request) (int64, error) {
	c, err := httpauth.Parse(r.Header.Get("Authorization"))
	switch {
	case c.Scheme != httpauth.Bearer:
		return 0, ErrNoCredentials
	case err != nil:
		return 0, fmt.Errorf("%w: %w: %w", ErrBadCredentials, auth.ErrBadToken, err)
	}
	u, err := b.Tokens.Bearer(r.Context(), "", c.Token, source(r))
	if err != nil {
		return 0, err
	}
	return u.ID, nil
}

// Challenge asks for a token; after a refused one it says invalid_token (RFC 6750
// section 3.1).
func (Bearer) Challenge(refused error) string {
	if errors.Is(refused, auth.ErrBadToken) {
		return `Bearer realm="` + realm + `", error="invalid_token"`
	}
	return `Bearer realm="` + realm + `"`
}

// signInError is a refused sign-in with the status it gets.
type signInError struct {
	status int
	msg    string
	err    error // the cause, logged, never sent
}

func (e *signInError) Error() string { return e.msg }

// authenticate asks the authenticators in turn and checks that the user they name is,
// by the directory's current record, an enabled administrator: a session or token
// issued before the admin right was taken away gives no access.
func (a *API) authenticate(r *http.Request) (directory.User, error) {
	var id int64
	err := ErrNoCredentials
	for _, au := range a.c.Authenticators {
		if id, err = au.Authenticate(r); !errors.Is(err, ErrNoCredentials) {
			break
		}
	}
	switch {
	case errors.Is(err, ErrNoCredentials):
		return directory.User{}, &signInError{http.StatusUnauthorized, "sign in with the credentials of an administrator", err}
	case errors.Is(err, auth.ErrInsufficientScope):
		return directory.User{}, &signInError{http.StatusForbidden, "this access token was not issued for the admin API; ask for the scope " + auth.ScopeAdmin, err}
	case errors.Is(err, ErrBadCredentials), errors.Is(err, directory.ErrBadCredentials):
		return directory.User{}, &signInError{http.StatusUnauthorized, "invalid login name or password", err}
	case errors.Is(err, directory.ErrDisabled):
		return directory.User{}, &signInError{http.StatusForbidden, "this account is disabled", err}
	case err != nil:
		return directory.User{}, fmt.Errorf("sign in: %w", err)
	}
	u, err := a.c.Directory.UserByID(r.Context(), id)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return directory.User{}, &signInError{http.StatusUnauthorized, "invalid login name or password", err}
	case err != nil:
		return directory.User{}, fmt.Errorf("sign in: %w", err)
	case !u.Enabled:
		return directory.User{}, &signInError{http.StatusForbidden, "this account is disabled", nil}
	case u.Kind != directory.KindUser || !u.Admin:
		return directory.User{}, &signInError{http.StatusForbidden, u.Address + " is not an administrator", nil}
	}
	return u, nil
}

// refuse answers a request whose sign-in failed.
func (a *API) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var se *signInError
	if !errors.As(err, &se) {
		a.fail(w, r, err)
		return
	}
	if !httpauth.InsufficientScope(w.Header(), realm, se.err) && se.status == http.StatusUnauthorized {
		for _, au := range a.c.Authenticators {
			if c, ok := au.(Challenger); ok {
				w.Header().Add("WWW-Authenticate", c.Challenge(se.err))
			}
		}
	}
	if !errors.Is(se.err, ErrNoCredentials) {
		a.log.Info("admin sign-in refused", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path,
			"status", se.status, "reason", se.Error())
	}
	writeError(w, se.status, apiError{Message: se.msg})
}
