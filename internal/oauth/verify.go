package oauth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"mailroom/internal/auth"
)

var (
	_ auth.TokenVerifier = (*Verifier)(nil)
	_ auth.TokenVerifier = (*Server)(nil)
	_ auth.MFAStatus     = (*Store)(nil)
)

// Verifier checks the access tokens the Server issues (auth.TokenVerifier) and holds
// the keys that sign them. It is built before the Server so that auth.Service, which
// the Server's sign-in page uses, can be given it. It is safe for concurrent use.
type Verifier struct {
	store *Store
	// issuer is the server's URL; it is also the audience of the access tokens, which
	// the mail services of the same server accept.
	issuer   string
	audience string
	keys     *keyRing
}

// NewVerifier loads the signing keys from the store, creating the first on first use.
// issuer is https://<hostname>[:<port>], without a path.
func NewVerifier(ctx context.Context, store *Store, issuer string) (*Verifier, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" {
		return nil, fmt.Errorf("%w: issuer %q must be https://host[:port] without a path", ErrInvalid, issuer)
	}
	v := &Verifier{store: store, issuer: issuer, audience: issuer, keys: &keyRing{store: store}}
	if err := v.keys.load(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// storedToken is an access token's row.
type storedToken struct {
	userID   int64
	clientID string
	scopes   []string
	expires  time.Time
	revoked  bool
}

func (s *Verifier) accessToken(ctx context.Context, id string) (storedToken, error) {
	var t storedToken
	var scopes string
	var expires, revoked int64
	err := s.store.db.Read().QueryRowContext(ctx, `SELECT user_id, client_id, scopes, expires, revoked FROM oauth_access_tokens WHERE id = $1`, id).Scan(
		&t.userID, &t.clientID, &scopes, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return storedToken{}, fmt.Errorf("%w: unknown token", auth.ErrBadToken)
	}
	if err != nil {
		return storedToken{}, fmt.Errorf("read access token: %w", err)
	}
	t.scopes, t.expires, t.revoked = splitList(scopes), fromMicros(expires), revoked != 0
	if t.revoked {
		return storedToken{}, fmt.Errorf("%w: revoked", auth.ErrBadToken)
	}
	if !s.store.now().Before(t.expires) {
		return storedToken{}, fmt.Errorf("%w: expired", auth.ErrBadToken)
	}
	return t, nil
}

// accessClaims are the claims of RFC 9068 section 2.2 that the check reads.
type accessClaims struct {
	Issuer   string          `json:"iss"`
	Subject  string          `json:"sub"`
	Audience json.RawMessage `json:"aud"` // a string or an array of strings (RFC 7519 section 4.1.3)
	Expiry   int64           `json:"exp"`
	JWTID    string          `json:"jti"`
	ClientID string          `json:"client_id"`
}

func (c accessClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Audience, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Audience, &many)
	return many
}

// VerifyAccessToken checks an access token for the mail services (auth.TokenVerifier):
// an RS256 JWS by one of the server's keys, from this issuer, for this audience, not
// expired, and issued and not revoked according to the database. Every refusal wraps
// auth.ErrBadToken.
func (s *Verifier) VerifyAccessToken(ctx context.Context, token string) (auth.TokenClaims, error) {
	c, err := s.parseAccessToken(ctx, token)
	if err != nil {
		return auth.TokenClaims{}, err
	}
	if c.Issuer != s.issuer {
		return auth.TokenClaims{}, fmt.Errorf("%w: issued by %q", auth.ErrBadToken, c.Issuer)
	}
	if !slices.Contains(c.audiences(), s.audience) {
		return auth.TokenClaims{}, fmt.Errorf("%w: not for this server's audience", auth.ErrBadToken)
	}
	exp := time.Unix(c.Expiry, 0)
	if !s.store.now().Before(exp) {
		return auth.TokenClaims{}, fmt.Errorf("%w: expired", auth.ErrBadToken)
	}
	t, err := s.accessToken(ctx, c.JWTID)
	if err != nil {
		return auth.TokenClaims{}, err
	}
	if subject(t.userID) != c.Subject || t.clientID != c.ClientID {
		return auth.TokenClaims{}, fmt.Errorf("%w: claims differ from the issued token", auth.ErrBadToken)
	}
	return auth.TokenClaims{UserID: t.userID, ClientID: t.clientID, Scopes: t.scopes, Expiry: exp}, nil
}

// parseAccessToken checks the signature and returns the claims.
func (s *Verifier) parseAccessToken(ctx context.Context, token string) (accessClaims, error) {
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return accessClaims{}, fmt.Errorf("%w: not a signed JWT: %v", auth.ErrBadToken, err)
	}
	if len(jws.Signatures) != 1 {
		return accessClaims{}, fmt.Errorf("%w: not one signature", auth.ErrBadToken)
	}
	pub, err := s.keys.public(ctx, jws.Signatures[0].Protected.KeyID)
	if errors.Is(err, errUnknownKey) {
		return accessClaims{}, fmt.Errorf("%w: %v", auth.ErrBadToken, err)
	}
	if err != nil {
		return accessClaims{}, err
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return accessClaims{}, fmt.Errorf("%w: bad signature", auth.ErrBadToken)
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return accessClaims{}, fmt.Errorf("%w: claims: %v", auth.ErrBadToken, err)
	}
	return c, nil
}
