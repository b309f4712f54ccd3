package oauth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: RFC 6238's defaults, which every authenticator app understands.
const (
	totpPeriod = 30 // seconds (RFC 6238 section 4.1, X)
	totpDigits = otp.DigitsSix
	// totpSkew is how many steps either side of now are accepted (RFC 6238 section
	// 5.2 recommends at most one for network delay).
	totpSkew = 1
	// recoveryCodes is how many one-time recovery codes an enrolment makes.
	recoveryCodes = 10
)

// Requirement kinds: MFA required of one user or of every member of a group.
const (
	RequireUser  = "user"
	RequireGroup = "group"
)

// MFAStatus is what the admin sees of one user's second factors.
type MFAStatus struct {
	Enrolled          bool      `json:"enrolled"`
	EnrolledAt        time.Time `json:"enrolledAt,omitzero"`
	RecoveryCodesLeft int       `json:"recoveryCodesLeft"`
	RequiredForUser   bool      `json:"requiredForUser"`
	RequiredByGroups  []int64   `json:"requiredByGroups,omitempty"` // group principal ids
}

// Required reports whether the user must sign in with a second factor.
func (m MFAStatus) Required() bool { return m.RequiredForUser || len(m.RequiredByGroups) > 0 }

// MFAEnabled reports whether the user has a second factor enrolled (auth.MFAStatus).
func (s *Store) MFAEnabled(ctx context.Context, userID int64) (bool, error) {
	var n int
	if err := s.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM mfa_totp WHERE user_id = $1`, userID).Scan(&n); err != nil {
		return false, fmt.Errorf("read second factor: %w", err)
	}
	return n > 0, nil
}

// SetMFARequired requires (or no longer requires) a second factor of a user or of
// every member of a group, named by its directory principal id.
func (s *Store) SetMFARequired(ctx context.Context, principalID int64, kind string, required bool) error {
	if kind != RequireUser && kind != RequireGroup {
		return fmt.Errorf("%w: requirement kind %q", ErrInvalid, kind)
	}
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		if required {
			_, err = tx.ExecContext(ctx, `INSERT INTO mfa_required (principal_id, kind, created) VALUES ($1, $2, $3)
				ON CONFLICT (principal_id) DO NOTHING`, principalID, kind, s.micros())
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM mfa_required WHERE principal_id = $1`, principalID)
		}
		if err != nil {
			return fmt.Errorf("set MFA requirement: %w", err)
		}
		return nil
	})
}

// Status returns a user's second factors and the requirements that apply to them;
// groupIDs are the groups the user is in (directly or not).
func (s *Store) Status(ctx context.Context, userID int64, groupIDs []int64) (MFAStatus, error) {
	var st MFAStatus
	var created int64
	err := s.db.Read().QueryRowContext(ctx, `SELECT created FROM mfa_totp WHERE user_id = $1`, userID).Scan(&created)
	switch {
	case err == nil:
		st.Enrolled, st.EnrolledAt = true, fromMicros(created)
	case !errors.Is(err, sql.ErrNoRows):
		return MFAStatus{}, fmt.Errorf("read second factor: %w", err)
	}
	if err := s.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used = 0`, userID).Scan(&st.RecoveryCodesLeft); err != nil {
		return MFAStatus{}, fmt.Errorf("read recovery codes: %w", err)
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT principal_id, kind FROM mfa_required`)
	if err != nil {
		return MFAStatus{}, fmt.Errorf("read MFA requirements: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var kind string
		if err := rows.Scan(&id, &kind); err != nil {
			return MFAStatus{}, fmt.Errorf("read MFA requirements: %w", err)
		}
		switch {
		case kind == RequireUser && id == userID:
			st.RequiredForUser = true
		case kind == RequireGroup && slices.Contains(groupIDs, id):
			st.RequiredByGroups = append(st.RequiredByGroups, id)
		}
	}
	return st, rows.Err()
}

// ResetMFA removes a user's second factor and recovery codes, for a user who lost
// their authenticator: if MFA is required of them, their next sign-in enrols anew.
func (s *Store) ResetMFA(ctx context.Context, userID int64) error {
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM mfa_totp WHERE user_id = $1`, `DELETE FROM mfa_recovery_codes WHERE user_id = $1`} {
			if _, err := tx.ExecContext(ctx, q, userID); err != nil {
				return fmt.Errorf("reset second factor: %w", err)
			}
		}
		return nil
	})
}

// newTOTPKey makes a TOTP secret for a user to enrol, as an otpauth:// URI.
func newTOTPKey(issuer, account string) (*otp.Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("TOTP secret: %w", err)
	}
	return k, nil
}

// matchTOTP returns the time step (RFC 6238 section 4.2, T) whose code is code, within
// the accepted skew of now, or -1.
func matchTOTP(secret, code string, now time.Time) (int64, error) {
	code = strings.TrimSpace(code)
	if len(code) != totpDigits.Length() {
		return -1, nil
	}
	step := now.Unix() / totpPeriod
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((step+d)*totpPeriod, 0), totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return -1, fmt.Errorf("TOTP: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step + d, nil
		}
	}
	return -1, nil
}

// enrolTOTP confirms an enrolment: code must be the secret's current code. It stores
// the secret and fresh recovery codes, which it returns; they are shown once.
func (s *Store) enrolTOTP(ctx context.Context, userID int64, secret, code string) ([]string, error) {
	step, err := matchTOTP(secret, code, s.now())
	if err != nil {
		return nil, err
	}
	if step < 0 {
		return nil, errBadCode
	}
	codes := make([]string, recoveryCodes)
	for i := range codes {
		codes[i] = newRecoveryCode()
	}
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO mfa_totp (user_id, secret, created, last_step) VALUES ($1, $2, $3, $4)`, userID, secret, s.micros(), step); err != nil {
			if s.db.IsUniqueViolation(err) {
				return fmt.Errorf("%w: a second factor is already enrolled", ErrExists)
			}
			return fmt.Errorf("store second factor: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, userID); err != nil {
			return fmt.Errorf("store recovery codes: %w", err)
		}
		for _, c := range codes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)`, userID, hashSecret(normalizeRecoveryCode(c))); err != nil {
				return fmt.Errorf("store recovery codes: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// errBadCode is a second-factor code that is wrong, reused or too old.
var errBadCode = errors.New("wrong code")

// Factors used, as the "amr" claim names them (RFC 8176 section 2).
const (
	amrPassword = "pwd"
	amrOTP      = "otp"
	amrMFA      = "mfa"
)

// verifySecondFactor accepts a current TOTP code not used before, or an unused
// recovery code, which it uses up. recovery tells which it was.
func (s *Store) verifySecondFactor(ctx context.Context, userID int64, code string) (recovery bool, err error) {
	var secret string
	var last int64
	err = s.db.Read().QueryRowContext(ctx, `SELECT secret, last_step FROM mfa_totp WHERE user_id = $1`, userID).Scan(&secret, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("%w: no second factor enrolled", ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("read second factor: %w", err)
	}
	step, err := matchTOTP(secret, code, s.now())
	if err != nil {
		return false, err
	}
	if step >= 0 {
		// Each step's code is good once (RFC 6238 section 5.2): only a later step moves
		// last_step, in one statement, so two sign-ins racing with one code cannot both win.
		var n int64
		err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE mfa_totp SET last_step = $1 WHERE user_id = $2 AND last_step < $1`, step, userID)
			if err != nil {
				return fmt.Errorf("record code use: %w", err)
			}
			n, _ = res.RowsAffected()
			return nil
		})
		if err != nil {
			return false, err
		}
		if n == 0 {
			return false, errBadCode
		}
		return false, nil
	}
	norm := normalizeRecoveryCode(code)
	if len(norm) != recoveryCodeLen {
		return false, errBadCode
	}
	var n int64
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE mfa_recovery_codes SET used = $1 WHERE user_id = $2 AND code_hash = $3 AND used = 0`, s.micros(), userID, hashSecret(norm))
		if err != nil {
			return fmt.Errorf("use recovery code: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return false, err
	}
	if n == 0 {
		return false, errBadCode
	}
	return true, nil
}
