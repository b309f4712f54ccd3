package scep

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"mailroom/internal/db"
	"mailroom/internal/pki"
)

//go:embed migrations/*/*.sql
var migrationFiles embed.FS

// DefaultChallengeTTL is how long a challenge stays usable unless Challenges is told
// otherwise: long enough to install a profile just downloaded, short enough that one
// lying around is soon worthless.
const DefaultChallengeTTL = time.Hour

// keepUsed is how long an expired challenge's row stays, so a late attempt is logged
// as expired or reused rather than unknown.
const keepUsed = 24 * time.Hour

// Reasons a challenge is refused. The device hears badRequest for each alike; the log
// tells them apart.
var (
	ErrChallengeUnknown = errors.New("unknown challenge password")
	ErrChallengeUsed    = errors.New("challenge password already used")
	ErrChallengeExpired = errors.New("challenge password expired")
)

// Challenges makes and consumes one-time SCEP challenge passwords, each bound to the
// user it was made for. It is safe for concurrent use, and across nodes sharing the
// database: a challenge is consumed by exactly one request.
type Challenges struct {
	db  *db.DB
	ttl time.Duration
	now func() time.Time
}

// OpenChallenges applies the package's migrations to d. ttl 0 means
// DefaultChallengeTTL; now nil means time.Now.
func OpenChallenges(ctx context.Context, d *db.DB, ttl time.Duration, now func() time.Time) (*Challenges, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("scep migrations: %w", err)
	}
	if err := d.Migrate(ctx, "scep", sub); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		ttl = DefaultChallengeTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Challenges{db: d, ttl: ttl, now: now}, nil
}

// NewChallenge makes a challenge password for s, usable once until expires. Only its
// hash is stored, so it cannot be shown again.
func (c *Challenges) NewChallenge(ctx context.Context, s pki.Subject) (password string, expires time.Time, err error) {
	addr := strings.ToLower(strings.TrimSpace(s.Address))
	if s.UserID <= 0 || !strings.Contains(addr, "@") {
		return "", time.Time{}, fmt.Errorf("%w: challenge for user %d %q", pki.ErrInvalid, s.UserID, s.Address)
	}
	password = rand.Text()
	now := c.now()
	expires = now.Add(c.ttl)
	err = c.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM scep_challenges WHERE expires < $1`, now.Add(-keepUsed).UnixMicro()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO scep_challenges (hash, user_id, address, name, created, expires)
			VALUES ($1, $2, $3, $4, $5, $6)`, hashChallenge(password), s.UserID, addr, s.Name, now.UnixMicro(), expires.UnixMicro())
		return err
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("store SCEP challenge for %s: %w", addr, err)
	}
	return password, expires, nil
}

// consume marks the challenge password used and returns whom it was made for. It
// fails with ErrChallengeUnknown, ErrChallengeUsed or ErrChallengeExpired.
func (c *Challenges) consume(ctx context.Context, password string) (pki.Subject, error) {
	var s pki.Subject
	now := c.now().UnixMicro()
	key := hashChallenge(password)
	err := c.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var expires, used int64
		err := tx.QueryRowContext(ctx, `SELECT user_id, address, name, expires, used FROM scep_challenges WHERE hash = $1`,
			key).Scan(&s.UserID, &s.Address, &s.Name, &expires, &used)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrChallengeUnknown
		case err != nil:
			return err
		case used != 0:
			return ErrChallengeUsed
		case expires <= now:
			return ErrChallengeExpired
		}
		// used = 0 again here: of two nodes racing for the row, one changes it.
		res, err := tx.ExecContext(ctx, `UPDATE scep_challenges SET used = $1 WHERE hash = $2 AND used = 0`, now, key)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return ErrChallengeUsed
		}
		return nil
	})
	if err != nil {
		return pki.Subject{}, fmt.Errorf("SCEP challenge: %w", err)
	}
	return s, nil
}

func hashChallenge(password string) string {
	h := sha256.Sum256([]byte(password))
	return hex.EncodeToString(h[:])
}
