package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mailroom/internal/directory"
)

// ErrWrongCode is wrapped by a second-factor code that is wrong, used before or too
// old; internal/oauth's checks return it.
var ErrWrongCode = errors.New("wrong or used second-factor code")

// CodeCheck checks a user's second-factor code and returns the method it was (the
// audit log's "totp", "recovery-code"); a wrong code is an error wrapping
// ErrWrongCode. internal/oauth's SecondFactor.Verify is one.
type CodeCheck func(ctx context.Context, userID int64, code string) (method string, err error)

// SecondFactor checks the code of a user who has just given their password, with the
// lockout and audit of a password: wrong codes count against the user's second factor
// and the client's address, and while either backs off every code is refused
// unchecked. The count is the second factor's own, which the password's success does
// not clear, so a guesser who knows the password still gets a few codes per back-off.
//
// A refusal wraps directory.ErrBadCredentials and ErrWrongCode (and ErrLockedOut
// during a back-off); any other error means the code could not be checked.
func (s *Service) SecondFactor(ctx context.Context, userID int64, code string, check CodeCheck, from Source) (string, error) {
	ev := Event{Kind: EventSignIn, UserID: userID, Protocol: from.Protocol, Remote: from.Remote}
	keys := []string{fmt.Sprintf("mfa:%d", userID)}
	if k := ipKey(from.Remote); k != "" {
		keys = append(keys, k)
	}
	if until, err := s.lockedUntil(ctx, keys); err != nil {
		return "", err
	} else if !until.IsZero() {
		return "", s.refuse(ctx, ev, nil, fmt.Errorf("%w: %w: %w until %s", directory.ErrBadCredentials, ErrWrongCode, ErrLockedOut, until.UTC().Format(time.RFC3339)))
	}
	method, err := check(ctx, userID, code)
	ev.Method = method
	switch {
	case errors.Is(err, ErrWrongCode):
		return "", s.refuse(ctx, ev, keys, fmt.Errorf("%w: %w", directory.ErrBadCredentials, err))
	case err != nil:
		return "", err
	}
	if err := s.clearLockout(ctx, keys[0]); err != nil {
		return "", err
	}
	ev.Success = true
	s.record(ctx, ev)
	return method, nil
}
