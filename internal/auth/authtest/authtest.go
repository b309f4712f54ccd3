// Package authtest is test support for code that signs users in through
// internal/auth: a token issuer that stands in for internal/oauth, verifying only the
// access tokens it minted itself, and an MFA status a test sets per user. It must
// never be used outside tests.
package authtest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailroom/internal/auth"
)

// Issuer mints access tokens "userid.expiry.scopes.mac" (scopes joined by "+") under
// a random key and verifies them; it is an auth.TokenVerifier.
type Issuer struct {
	key []byte
	now func() time.Time
}

// NewIssuer returns an Issuer on the clock now (nil: time.Now).
func NewIssuer(now func() time.Time) *Issuer {
	if now == nil {
		now = time.Now
	}
	k := make([]byte, 32)
	rand.Read(k)
	return &Issuer{key: k, now: now}
}

// Mint returns a token for the user, with every scope of auth.Scopes, that expires
// after valid (negative: already expired).
func (i *Issuer) Mint(userID int64, valid time.Duration) string {
	return i.MintScoped(userID, valid, auth.Scopes()...)
}

// MintScoped is Mint with the given scopes only.
func (i *Issuer) MintScoped(userID int64, valid time.Duration, scopes ...string) string {
	body := strconv.FormatInt(userID, 10) + "." + strconv.FormatInt(i.now().Add(valid).Unix(), 10) + "." + strings.Join(scopes, "+")
	return body + "." + i.mac(body)
}

func (i *Issuer) mac(body string) string {
	m := hmac.New(sha256.New, i.key)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// VerifyAccessToken implements auth.TokenVerifier.
func (i *Issuer) VerifyAccessToken(_ context.Context, token string) (auth.TokenClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || !hmac.Equal([]byte(i.mac(strings.Join(parts[:3], "."))), []byte(parts[3])) {
		return auth.TokenClaims{}, fmt.Errorf("%w: not minted here", auth.ErrBadToken)
	}
	id, err1 := strconv.ParseInt(parts[0], 10, 64)
	exp, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return auth.TokenClaims{}, fmt.Errorf("%w: malformed", auth.ErrBadToken)
	}
	if i.now().Unix() >= exp {
		return auth.TokenClaims{}, fmt.Errorf("%w: expired", auth.ErrBadToken)
	}
	var scopes []string
	if parts[2] != "" {
		scopes = strings.Split(parts[2], "+")
	}
	return auth.TokenClaims{UserID: id, ClientID: "authtest", Scopes: scopes, Expiry: time.Unix(exp, 0)}, nil
}

// MFA is an auth.MFAStatus whose answers a test sets.
type MFA struct {
	mu sync.Mutex
	on map[int64]bool
}

// Set turns the user's second factor on or off.
func (m *MFA) Set(userID int64, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.on == nil {
		m.on = map[int64]bool{}
	}
	m.on[userID] = on
}

// MFAEnabled implements auth.MFAStatus.
func (m *MFA) MFAEnabled(_ context.Context, userID int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.on[userID], nil
}
