package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"mailroom/internal/directory"
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

// Authenticator finds out who sent a request: HTTP Basic here, the console's session
// cookie and OAuth bearer tokens elsewhere. It returns the directory id of the
// signed-in user; whether that user may administer is decided after it, from the
// directory record, the same way for every kind of sign-in.
type Authenticator interface {
	Authenticate(r *http.Request) (userID int64, err error)
}

// Challenger is an Authenticator that tells clients how to sign in: the
// WWW-Authenticate value sent with a 401 (RFC 9110 section 11.6.1).
type Challenger interface {
	Challenge() string
}

// Passwords checks a login name (any form the directory accepts) and its password.
// *directory.Directory has it; internal/auth's service, which adds lockout and an
// audit trail, replaces it when wired.
type Passwords interface {
	Authenticate(ctx context.Context, login, password string) (directory.User, error)
}

// Basic signs administrators in with HTTP Basic (RFC 7617), which the API accepts
// only over TLS.
type Basic struct {
	Passwords Passwords
}

// Authenticate checks the request's Basic credentials.
func (b Basic) Authenticate(r *http.Request) (int64, error) {
	login, password, ok := r.BasicAuth()
	if !ok {
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if strings.EqualFold(scheme, "Basic") {
			return 0, fmt.Errorf("%w: malformed Basic credentials", ErrBadCredentials)
		}
		return 0, ErrNoCredentials
	}
	u, err := b.Passwords.Authenticate(r.Context(), login, password)
	if err != nil {
		return 0, err
	}
	return u.ID, nil
}

// Challenge asks for Basic credentials for the admin realm.
func (Basic) Challenge() string { return `Basic realm="Mailroom admin"` }

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
	if se.status == http.StatusUnauthorized {
		for _, au := range a.c.Authenticators {
			if c, ok := au.(Challenger); ok {
				w.Header().Add("WWW-Authenticate", c.Challenge())
			}
		}
	}
	if !errors.Is(se.err, ErrNoCredentials) {
		a.log.Info("admin sign-in refused", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path,
			"status", se.status, "reason", se.Error())
	}
	writeError(w, se.status, apiError{Message: se.msg})
}
