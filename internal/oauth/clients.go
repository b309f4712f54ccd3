package oauth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"mailroom/internal/auth"
)

// BuiltinClientID is the public client every installation has: the mail apps on
// desktops and phones (Thunderbird, Apple Mail and the like) that sign in with a
// browser and a loopback redirect (RFC 8252), or with a device code.
const BuiltinClientID = "mailroom-mail"

// Scopes of the services, named as auth.Source names the protocol (the admin API's
// is "admin"), so that a token's scopes say directly which services it opens;
// auth.Service.Bearer checks them (auth.ScopesFor).
const (
	ScopeIMAP       = auth.ScopeIMAP
	ScopePOP3       = auth.ScopePOP3
	ScopeSMTP       = auth.ScopeSMTP
	ScopeActiveSync = auth.ScopeActiveSync
	ScopeDAV        = auth.ScopeDAV
	ScopeAdmin      = auth.ScopeAdmin
)

// mailScopes are the scopes any client, the built-in one and the device grant
// included, may ask for besides OpenID Connect's.
var mailScopes = auth.Scopes()

// builtinRedirectGlobs accept any loopback address, any port and any path: RFC 8252
// section 7.3 has the app pick a free port at run time, and apps differ in the path
// (Thunderbird uses none). They are path.Match patterns, hence the escaped brackets;
// op refuses a match whose host is not a loopback address.
var builtinRedirectGlobs = []string{`http://127.0.0.1*`, `http://127.0.0.1:*/*`, `http://\[::1\]*`, `http://\[::1\]:*/*`, `http://localhost*`, `http://localhost:*/*`}

// Client is a registered OAuth client.
type Client struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	RedirectURIs []string  `json:"redirectUris"`
	Native       bool      `json:"native"`       // a native app: loopback redirects on any port
	Confidential bool      `json:"confidential"` // has a secret
	Builtin      bool      `json:"builtin,omitempty"`
	Created      time.Time `json:"created"`
}

// NewClient describes a client to register.
type NewClient struct {
	ID           string
	Name         string
	RedirectURIs []string
	Native       bool
	Confidential bool // give it a secret; a native app cannot keep one
}

func builtinClient() Client {
	return Client{ID: BuiltinClientID, Name: "Mail apps", RedirectURIs: []string{"http://127.0.0.1/", "http://[::1]/", "http://localhost/"}, Native: true, Builtin: true}
}

// AddClient registers a client and returns it with its secret, which is shown once and
// stored only as a hash ("" for a public client).
func (s *Store) AddClient(ctx context.Context, nc NewClient) (Client, string, error) {
	c := Client{ID: strings.TrimSpace(nc.ID), Name: strings.TrimSpace(nc.Name), Native: nc.Native, Confidential: nc.Confidential, Created: s.now().UTC().Truncate(time.Microsecond)}
	if err := checkClientID(c.ID); err != nil {
		return Client{}, "", err
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	if c.Native && c.Confidential {
		return Client{}, "", fmt.Errorf("%w: a native app cannot keep a secret; register it without one", ErrInvalid)
	}
	if len(nc.RedirectURIs) == 0 {
		return Client{}, "", fmt.Errorf("%w: a client needs at least one redirect URI", ErrInvalid)
	}
	for _, u := range nc.RedirectURIs {
		if err := checkRedirectURI(u, c.Native); err != nil {
			return Client{}, "", err
		}
		c.RedirectURIs = append(c.RedirectURIs, u)
	}
	var secret, secretHash string
	if c.Confidential {
		secret = randomToken(32)
		secretHash = hashSecret(secret)
	}
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_clients (id, name, secret_hash, redirect_uris, native, created) VALUES ($1, $2, $3, $4, $5, $6)`,
			c.ID, c.Name, secretHash, strings.Join(c.RedirectURIs, "\n"), boolInt(c.Native), c.Created.UnixMicro())
		return err
	})
	if s.db.IsUniqueViolation(err) {
		return Client{}, "", fmt.Errorf("%w: client %s", ErrExists, c.ID)
	}
	if err != nil {
		return Client{}, "", fmt.Errorf("add client %s: %w", c.ID, err)
	}
	return c, secret, nil
}

func checkClientID(id string) error {
	if id == BuiltinClientID {
		return fmt.Errorf("%w: client %s is built in", ErrExists, id)
	}
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%w: a client id has 1 to 64 characters", ErrInvalid)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._", r)) {
			return fmt.Errorf("%w: client id %q: only letters, digits, '-', '.' and '_'", ErrInvalid, id)
		}
	}
	return nil
}

// checkRedirectURI accepts what RFC 8252 section 7 allows a native app (a loopback
// http URL, a private-use scheme, https) and https for other clients. A redirect URI
// has no fragment (RFC 6749 section 3.1.2).
func checkRedirectURI(raw string, native bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("%w: redirect URI %q is not an absolute URL", ErrInvalid, raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%w: redirect URI %q has a fragment", ErrInvalid, raw)
	}
	_, loopback := op.HTTPLoopbackOrLocalhost(raw)
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http" && loopback && native:
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%w: redirect URI %q: plain http only to a loopback address of a native app", ErrInvalid, raw)
	case native && strings.Contains(u.Scheme, "."):
		return nil // RFC 8252 section 7.1: a reverse domain name, e.g. com.example.app:/callback
	default:
		return fmt.Errorf("%w: redirect URI %q: a private-use scheme must be a reverse domain name (RFC 8252 section 7.1)", ErrInvalid, raw)
	}
}

// Clients returns every client, the built-in one first.
func (s *Store) Clients(ctx context.Context) ([]Client, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, name, secret_hash, redirect_uris, native, created FROM oauth_clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read clients: %w", err)
	}
	defer rows.Close()
	clients := []Client{builtinClient()}
	for rows.Next() {
		c, _, err := scanClient(rows.Scan)
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read clients: %w", err)
	}
	return clients, nil
}

func scanClient(scan func(...any) error) (Client, string, error) {
	var c Client
	var hash, uris string
	var native int
	var created int64
	if err := scan(&c.ID, &c.Name, &hash, &uris, &native, &created); err != nil {
		return Client{}, "", fmt.Errorf("read client: %w", err)
	}
	c.RedirectURIs = strings.Split(uris, "\n")
	c.Native = native != 0
	c.Confidential = hash != ""
	c.Created = fromMicros(created)
	return c, hash, nil
}

// client returns a client and its secret's hash.
func (s *Store) client(ctx context.Context, id string) (Client, string, error) {
	if id == BuiltinClientID {
		return builtinClient(), "", nil
	}
	c, hash, err := scanClient(s.db.Read().QueryRowContext(ctx, `SELECT id, name, secret_hash, redirect_uris, native, created FROM oauth_clients WHERE id = $1`, id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return Client{}, "", fmt.Errorf("%w: client %q", ErrNotFound, id)
	}
	return c, hash, err
}

// RemoveClient removes a client and revokes every token issued to it.
func (s *Store) RemoveClient(ctx context.Context, id string) error {
	if id == BuiltinClientID {
		return fmt.Errorf("%w: the built-in client %s cannot be removed", ErrInvalid, id)
	}
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM oauth_clients WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("remove client %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: client %q", ErrNotFound, id)
		}
		now := s.micros()
		for _, q := range []string{
			`UPDATE oauth_refresh_tokens SET revoked = $1 WHERE client_id = $2 AND revoked = 0`,
			`UPDATE oauth_access_tokens SET revoked = $1 WHERE client_id = $2 AND revoked = 0`,
		} {
			if _, err := tx.ExecContext(ctx, q, now, id); err != nil {
				return fmt.Errorf("remove client %s: revoke its tokens: %w", id, err)
			}
		}
		return nil
	})
}

// checkSecret compares a presented client secret with the stored hash.
func checkSecret(hash, secret string) bool {
	return hash != "" && subtle.ConstantTimeCompare([]byte(hash), []byte(hashSecret(secret))) == 1
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// opClient is a Client as zitadel's op sees it.
type opClient struct {
	Client
	loginURL func(authRequestID string) string
}

var _ op.HasRedirectGlobs = opClient{}

func (c opClient) GetID() string                    { return c.ID }
func (c opClient) RedirectURIs() []string           { return c.Client.RedirectURIs }
func (c opClient) PostLogoutRedirectURIs() []string { return nil }
func (c opClient) LoginURL(id string) string        { return c.loginURL(id) }
func (c opClient) AccessTokenType() op.AccessTokenType {
	return op.AccessTokenTypeJWT
}
func (c opClient) IDTokenLifetime() time.Duration { return time.Hour }
func (c opClient) DevMode() bool                  { return false }
func (c opClient) ClockSkew() time.Duration       { return 0 }
func (c opClient) IDTokenUserinfoClaimsAssertion() bool {
	return false
}
func (c opClient) IsScopeAllowed(scope string) bool { return slices.Contains(mailScopes, scope) }

func (c opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c opClient) ApplicationType() op.ApplicationType {
	if c.Native {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (c opClient) AuthMethod() oidc.AuthMethod {
	if c.Confidential {
		return oidc.AuthMethodBasic
	}
	return oidc.AuthMethodNone
}

func (c opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

// GrantTypes: the device grant only for public clients, which are the ones that run
// on a user's device.
func (c opClient) GrantTypes() []oidc.GrantType {
	g := []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	if !c.Confidential {
		g = append(g, oidc.GrantTypeDeviceCode)
	}
	return g
}

func (c opClient) RedirectURIGlobs() []string {
	if c.Builtin {
		return builtinRedirectGlobs
	}
	return nil
}

func (c opClient) PostLogoutRedirectURIGlobs() []string { return nil }
