package oauth

// The second factor for sign-ins other than this server's own page: the admin
// console (internal/web) asks for the same TOTP or recovery code, and enrols a user
// who must have one, through these, so that there is one TOTP implementation and one
// record of used codes.

import (
	"context"
	"errors"
	"fmt"
	"html/template"

	"github.com/pquerna/otp"

	"mailroom/internal/auth"
)

// Verify checks a user's current TOTP code (each good once) or one of their unused
// recovery codes, which it uses up, and returns the method it was (MethodTOTP or
// MethodRecovery). A wrong, reused or old code wraps auth.ErrWrongCode; a user with no
// second factor, ErrNotFound. It is an auth.CodeCheck.
func (s *Store) Verify(ctx context.Context, userID int64, code string) (string, error) {
	recovery, err := s.verifySecondFactor(ctx, userID, code)
	switch {
	case errors.Is(err, errBadCode):
		return MethodTOTP, fmt.Errorf("%w: %w", auth.ErrWrongCode, err)
	case err != nil:
		return "", err
	case recovery:
		return MethodRecovery, nil
	}
	return MethodTOTP, nil
}

// Enrolment is a TOTP secret offered to a user, not yet confirmed: RFC 6238 with
// SHA-1, 6 digits and 30 seconds, which every authenticator app understands.
type Enrolment struct{ key *otp.Key }

// NewEnrolment makes a secret for account (the user's address), named in the
// authenticator app after issuer ("Mailroom <hostname>").
func NewEnrolment(issuer, account string) (Enrolment, error) {
	k, err := newTOTPKey(issuer, account)
	if err != nil {
		return Enrolment{}, err
	}
	return Enrolment{k}, nil
}

// ParseEnrolment reads back an Enrolment from its URI, kept while the user types the
// first code.
func ParseEnrolment(uri string) (Enrolment, error) {
	k, err := otp.NewKeyFromURL(uri)
	if err != nil || k.Type() != "totp" {
		return Enrolment{}, fmt.Errorf("%w: not a TOTP enrolment URI", ErrInvalid)
	}
	return Enrolment{k}, nil
}

// URI is the otpauth:// URI of the secret, which the QR code holds.
func (e Enrolment) URI() string { return e.key.URL() }

// Secret is the base32 secret, for typing into an app.
func (e Enrolment) Secret() string { return e.key.Secret() }

// QR is the URI as a PNG QR code in a data: URL, as the sign-in page shows it.
func (e Enrolment) QR() template.URL { return qrCode(e.key) }

// Enrol confirms the enrolment with the code the user's app shows now, stores the
// secret and returns ten fresh recovery codes, shown to the user once. A wrong code
// wraps auth.ErrWrongCode and stores nothing; a user who has a factor already,
// ErrExists.
func (s *Store) Enrol(ctx context.Context, userID int64, e Enrolment, code string) ([]string, error) {
	if e.key == nil {
		return nil, fmt.Errorf("%w: no enrolment secret", ErrInvalid)
	}
	codes, err := s.enrolTOTP(ctx, userID, e.Secret(), code)
	if errors.Is(err, errBadCode) {
		return nil, fmt.Errorf("%w: %w", auth.ErrWrongCode, err)
	}
	return codes, err
}
