package auth

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// ErrBadToken is wrapped by every refusal of an access token: unknown, expired,
// revoked, for another audience or malformed.
var ErrBadToken = errors.New("invalid or expired access token")

// TokenClaims is what a verified OAuth 2.0 access token says about its bearer.
type TokenClaims struct {
	UserID   int64 // the directory id of the signed-in user
	ClientID string
	Scopes   []string
	Expiry   time.Time
}

// TokenVerifier checks an OAuth 2.0 access token (signature, expiry, audience,
// revocation); internal/oauth's server is one. A refused token is an error wrapping
// ErrBadToken with the reason.
type TokenVerifier interface {
	VerifyAccessToken(ctx context.Context, token string) (TokenClaims, error)
}

// MFAStatus says whether a user has a second factor enrolled; internal/oauth keeps
// the factors.
type MFAStatus interface {
	MFAEnabled(ctx context.Context, userID int64) (bool, error)
}

// Source is where a sign-in attempt comes from: the protocol and the client's address.
type Source struct {
	// Protocol is the audit log's name of the service: "imap", "pop3", "smtp",
	// "activesync", "dav", "autodiscover", "profiles", "admin-api", "web", "oauth".
	// For a token it also names the scope it needs (ScopesFor).
	Protocol string
	Remote   netip.Addr
}
