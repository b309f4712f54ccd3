package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"mailroom/internal/directory"
)

// Errors of app-password administration, for errors.Is.
var (
	ErrNotFound = errors.New("no such app password")
	ErrExists   = errors.New("an app password of that name already exists")
	ErrInvalid  = errors.New("invalid")
)

// App passwords are four groups of four lower-case letters, "abcd-efgh-ijkl-mnop",
// as Apple and Google hand them out: easy to type on a phone, 26^16 (75 bits) of
// randomness. They are typed with or without the dashes and spaces, in any case. The
// first group is stored in clear as a hint, so a login checks the one hash it could
// match instead of all of the user's; the remaining 56 bits behind argon2id are far
// beyond guessing offline, and lockout bounds guessing online.
const (
	appPasswordLetters = 16
	appPasswordGroup   = 4
	maxAppPasswords    = 50 // per user
	maxAppPasswordName = 100
	// lastUsedEvery bounds how often a sign-in rewrites last_used: ActiveSync signs
	// in with every request.
	lastUsedEvery = time.Hour
)

// AppPassword is a stored app password, without its secret.
type AppPassword struct {
	ID       int64     `json:"id"`
	UserID   int64     `json:"userId"`
	Name     string    `json:"name"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"lastUsed,omitzero"` // zero: never used
}

// NewAppPassword creates an app password named name (e.g. "iPhone Mail") for the
// user and returns it with its secret, which is stored only as a hash: this is the
// one time anyone sees it.
func (s *Service) NewAppPassword(ctx context.Context, userID int64, name string) (AppPassword, string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return AppPassword{}, "", fmt.Errorf("%w: an app password needs a name, such as the client it is for", ErrInvalid)
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return AppPassword{}, "", fmt.Errorf("%w: the name %q has control characters", ErrInvalid, name)
	case utf8.RuneCountInString(name) > maxAppPasswordName:
		return AppPassword{}, "", fmt.Errorf("%w: the name is longer than %d characters", ErrInvalid, maxAppPasswordName)
	case isAllDigits(name):
		return AppPassword{}, "", fmt.Errorf("%w: the name %q would read as an id", ErrInvalid, name)
	}
	u, err := s.dir.UserByID(ctx, userID)
	if err != nil {
		return AppPassword{}, "", err
	}
	if u.Kind != directory.KindUser {
		return AppPassword{}, "", fmt.Errorf("%w: %s is a shared mailbox, which never signs in", ErrInvalid, u.Address)
	}
	secret := newAppSecret()
	hash, err := s.dir.HashPassword(ctx, secret)
	if err != nil {
		return AppPassword{}, "", fmt.Errorf("hash app password: %w", err)
	}
	ap := AppPassword{UserID: userID, Name: name, Created: s.now().UTC().Truncate(time.Microsecond)}
	err = s.db.SerialTx(ctx, "auth_app_passwords", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_app_passwords WHERE user_id = $1`, userID).Scan(&n); err != nil {
			return err
		}
		if n >= maxAppPasswords {
			return fmt.Errorf("%w: %s already has %d app passwords; revoke one first", ErrInvalid, u.Address, n)
		}
		var taken int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM auth_app_passwords WHERE user_id = $1 AND name_key = $2`, userID, strings.ToLower(name)).Scan(&taken)
		if err == nil {
			return fmt.Errorf("%w: %s has an app password named %q", ErrExists, u.Address, name)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO auth_app_passwords (user_id, name, name_key, hint, hash, created)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			userID, name, strings.ToLower(name), secret[:appPasswordGroup], hash, ap.Created.UnixMicro()).Scan(&ap.ID)
	})
	if err != nil {
		return AppPassword{}, "", fmt.Errorf("create app password: %w", err)
	}
	s.record(ctx, Event{Kind: EventAppPasswordAdded, UserID: userID, Login: u.Address, Success: true, Protocol: "admin", Detail: name})
	return ap, formatAppSecret(secret), nil
}

// AppPasswords lists the user's app passwords, oldest first.
func (s *Service) AppPasswords(ctx context.Context, userID int64) ([]AppPassword, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, user_id, name, created, last_used FROM auth_app_passwords
		WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list app passwords: %w", err)
	}
	defer rows.Close()
	out := []AppPassword{}
	for rows.Next() {
		var ap AppPassword
		var created, used int64
		if err := rows.Scan(&ap.ID, &ap.UserID, &ap.Name, &created, &used); err != nil {
			return nil, fmt.Errorf("list app passwords: %w", err)
		}
		ap.Created = time.UnixMicro(created).UTC()
		if used != 0 {
			ap.LastUsed = time.UnixMicro(used).UTC()
		}
		out = append(out, ap)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list app passwords: %w", err)
	}
	return out, nil
}

// RevokeAppPassword deletes the user's app password named by its id or its name
// (case-insensitively). It stops working at once on this node, and on the others
// within the sign-in cache's few seconds (signincache.go).
func (s *Service) RevokeAppPassword(ctx context.Context, userID int64, idOrName string) (AppPassword, error) {
	defer s.signIns.invalidate()
	idOrName = strings.TrimSpace(idOrName)
	list, err := s.AppPasswords(ctx, userID)
	if err != nil {
		return AppPassword{}, err
	}
	var ap AppPassword
	found := false
	for _, a := range list {
		if fmt.Sprint(a.ID) == idOrName || strings.EqualFold(a.Name, idOrName) {
			ap, found = a, true
			break
		}
	}
	if !found {
		return AppPassword{}, fmt.Errorf("%w: %q", ErrNotFound, idOrName)
	}
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM auth_app_passwords WHERE id = $1 AND user_id = $2`, ap.ID, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%w: %q", ErrNotFound, idOrName)
		}
		return nil
	})
	if err != nil {
		return AppPassword{}, fmt.Errorf("revoke app password: %w", err)
	}
	s.record(ctx, Event{Kind: EventAppPasswordRevoked, UserID: userID, Success: true, Protocol: "admin", Detail: ap.Name})
	return ap, nil
}

// checkAppPassword reports whether password is one of u's app passwords, and returns
// u if so. A password not shaped like one costs nothing.
func (s *Service) checkAppPassword(ctx context.Context, u directory.User, password string) (directory.User, bool, error) {
	secret, ok := normalizeAppSecret(password)
	if !ok {
		return directory.User{}, false, nil
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, hash, last_used FROM auth_app_passwords
		WHERE user_id = $1 AND hint = $2`, u.ID, secret[:appPasswordGroup])
	if err != nil {
		return directory.User{}, false, fmt.Errorf("read app passwords: %w", err)
	}
	type cand struct {
		id       int64
		hash     string
		lastUsed int64
	}
	var cands []cand
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.id, &c.hash, &c.lastUsed); err != nil {
			rows.Close()
			return directory.User{}, false, fmt.Errorf("read app passwords: %w", err)
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return directory.User{}, false, fmt.Errorf("read app passwords: %w", err)
	}
	for _, c := range cands {
		ok, err := s.dir.VerifyPassword(ctx, c.id, c.hash, secret)
		if err != nil {
			return directory.User{}, false, fmt.Errorf("check app password: %w", err)
		}
		if !ok {
			continue
		}
		now := s.now()
		if now.Sub(time.UnixMicro(c.lastUsed)) >= lastUsedEvery {
			err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `UPDATE auth_app_passwords SET last_used = $1 WHERE id = $2`, now.UnixMicro(), c.id)
				return err
			})
			if err != nil {
				return directory.User{}, false, fmt.Errorf("note app password use: %w", err)
			}
		}
		return u, true, nil
	}
	return directory.User{}, false, nil
}

// newAppSecret returns 16 random lower-case letters.
func newAppSecret() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, appPasswordLetters)
	for i := range b {
		// Rejection sampling keeps the letters uniform: 26 does not divide 256.
		var c [1]byte
		for {
			rand.Read(c[:])
			if c[0] < 26*9 {
				break
			}
		}
		b[i] = letters[c[0]%26]
	}
	return string(b)
}

// formatAppSecret groups the letters with dashes for reading.
func formatAppSecret(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += appPasswordGroup {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i : i+appPasswordGroup])
	}
	return b.String()
}

// normalizeAppSecret returns what the user typed as 16 lower-case letters, if it is
// shaped like an app password at all.
func normalizeAppSecret(typed string) (string, bool) {
	if len(typed) > 2*appPasswordLetters {
		return "", false
	}
	b := make([]byte, 0, appPasswordLetters)
	for i := 0; i < len(typed); i++ {
		c := typed[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c < 'a' || c > 'z':
			return "", false
		}
		b = append(b, c)
	}
	if len(b) != appPasswordLetters {
		return "", false
	}
	return string(b), true
}

func isAllDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// SetPasswordWithMFA sets whether the user may still sign in to the mail protocols
// with their own password once they have MFA. The default, false, leaves them app
// passwords and tokens only, so a stolen password alone opens no mailbox.
func (s *Service) SetPasswordWithMFA(ctx context.Context, userID int64, allow bool) error {
	defer s.signIns.invalidate()
	if _, err := s.dir.UserByID(ctx, userID); err != nil {
		return err
	}
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if !allow {
			_, err := tx.ExecContext(ctx, `DELETE FROM auth_password_with_mfa WHERE user_id = $1`, userID)
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO auth_password_with_mfa (user_id, set_at) VALUES ($1, $2)
			ON CONFLICT (user_id) DO NOTHING`, userID, s.now().UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("set password sign-in: %w", err)
	}
	return nil
}

// PasswordWithMFA reports whether the user keeps password sign-in once MFA is on.
func (s *Service) PasswordWithMFA(ctx context.Context, userID int64) (bool, error) {
	var one int
	err := s.db.Read().QueryRowContext(ctx, `SELECT 1 FROM auth_password_with_mfa WHERE user_id = $1`, userID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read password sign-in: %w", err)
	}
	return true, nil
}

// passwordOff reports whether the user's own password is refused on the mail
// protocols: MFA is on and they have not kept password sign-in.
func (s *Service) passwordOff(ctx context.Context, userID int64) (bool, error) {
	if s.mfa == nil {
		return false, nil
	}
	on, err := s.mfa.MFAEnabled(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("read MFA status: %w", err)
	}
	if !on {
		return false, nil
	}
	keep, err := s.PasswordWithMFA(ctx, userID)
	return !keep, err
}
