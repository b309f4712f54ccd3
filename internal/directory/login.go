package directory

import (
	"context"
	"errors"
	"fmt"
)

// Authenticate checks a login name and password and returns the user. The login is
// the primary address, any alias, the UPN, or NETBIOS\sam or domain.tld\sam, in any
// case.
//
// An unknown login, a wrong password, a shared mailbox or a group all give
// ErrBadCredentials, and an unknown login costs a password hash like a known one, so
// neither the answer nor its timing tells whether a name exists. Only with the right
// password does a disabled user get ErrDisabled.
func (d *Directory) Authenticate(ctx context.Context, login, password string) (User, error) {
	q := d.db.Read()
	var u User
	var hash string
	ref, err := findMailbox(ctx, q, login)
	switch {
	case err == nil:
		us, hashes, err := queryUsers(ctx, q, `p.id = $1`, ref.id)
		if err != nil {
			return User{}, err
		}
		if len(us) == 1 && us[0].Kind == KindUser {
			u, hash = us[0], hashes[ref.id]
		}
	case !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalid):
		return User{}, err
	}
	if hash == "" {
		d.decoyVerify(ctx, password)
		return User{}, ErrBadCredentials
	}
	ok, err := d.VerifyPassword(ctx, u.ID, hash, password)
	if err != nil {
		return User{}, fmt.Errorf("log in %s: %w", u.Address, err)
	}
	if !ok {
		return User{}, ErrBadCredentials
	}
	// Checked on every login, cached or not, so disabling takes effect at once.
	if !u.Enabled {
		return User{}, fmt.Errorf("%w: %s may not log in", ErrDisabled, u.Address)
	}
	return u, nil
}
