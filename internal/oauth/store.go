// Package oauth is Mailroom's OAuth 2.0 and OpenID Connect authorization server: the
// authorization code flow with PKCE (RFC 6749, RFC 7636) for native and mobile mail
// apps, the device authorization grant (RFC 8628) for clients without a browser,
// rotating refresh tokens, revocation (RFC 7009), discovery (OpenID Connect Discovery
// 1.0, RFC 8414) and the JWKS. It signs access tokens as RS256 JWTs (RFC 9068) and
// verifies them for the mail protocols (auth.TokenVerifier).
//
// It also keeps the second factors of sign-in: TOTP (RFC 6238) with one-time recovery
// codes, and which users and groups must use them; the sign-in pages are plain
// server-rendered HTML.
//
// The protocol machinery is github.com/zitadel/oidc/v3/pkg/op; this package implements
// its Storage on Mailroom's database. It must never store a bearer secret (code,
// refresh token, device code, recovery code, sign-in cookie) other than as a hash,
// never issue a token to a user who has not passed every factor required of them, and
// never accept an access token that is expired, revoked, for another audience or not
// signed by its own key.
package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"mailroom/internal/db"
)

//go:embed migrations/*/*.sql
var migrationFiles embed.FS

// Errors callers can match with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrInvalid  = errors.New("invalid")
)

// Store holds the server's clients, keys and tokens and the users' second factors in
// the database. The admin commands use it alone; the Server adds the HTTP side. It is
// safe for concurrent use.
type Store struct {
	db  *db.DB
	now func() time.Time
}

// Open applies the package's migrations to d and returns the store. now is the clock;
// nil means time.Now.
func Open(ctx context.Context, d *db.DB, now func() time.Time) (*Store, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("oauth migrations: %w", err)
	}
	if err := d.Migrate(ctx, "oauth", sub); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: d, now: now}, nil
}

func (s *Store) micros() int64 { return s.now().UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// randomToken returns n random bytes as unpadded base64url: the form of every secret
// and identifier the server hands out.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashSecret is how a bearer secret is stored and looked up. The secrets are random
// and long, so a fast hash is enough to make a copy of the table useless.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func joinList(items []string) string { return strings.Join(items, " ") }

func splitList(s string) []string { return strings.Fields(s) }
