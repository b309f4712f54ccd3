package oauth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"mailroom/internal/auth"
)

// storage is the Server as zitadel's op.Storage (and DeviceAuthorizationStorage).
type storage struct{ s *Server }

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.DeviceAuthorizationStorage     = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
)

// authRequestTTL bounds how long a user may take between the app opening the browser
// and the code's exchange.
const authRequestTTL = 15 * time.Minute

// authRequest is a stored authorization request (op.AuthRequest).
type authRequest struct {
	id, clientID, redirectURI string
	scopes                    []string
	state, nonce              string
	responseType              oidc.ResponseType
	responseMode              oidc.ResponseMode
	challenge, method         string
	userID                    int64
	authTime                  time.Time
	amr                       []string
	audience                  string
}

func (a *authRequest) GetID() string                      { return a.id }
func (a *authRequest) GetACR() string                     { return "" }
func (a *authRequest) GetAMR() []string                   { return a.amr }
func (a *authRequest) GetAudience() []string              { return []string{a.audience, a.clientID} }
func (a *authRequest) GetAuthTime() time.Time             { return a.authTime }
func (a *authRequest) GetClientID() string                { return a.clientID }
func (a *authRequest) GetNonce() string                   { return a.nonce }
func (a *authRequest) GetRedirectURI() string             { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.responseMode }
func (a *authRequest) GetScopes() []string                { return a.scopes }
func (a *authRequest) GetState() string                   { return a.state }
func (a *authRequest) GetSubject() string                 { return subject(a.userID) }
func (a *authRequest) Done() bool                         { return a.userID != 0 }

func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.challenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.challenge, Method: oidc.CodeChallengeMethod(a.method)}
}

// subject is a user's "sub": the directory id, which never changes or gets reused.
func subject(userID int64) string {
	if userID == 0 {
		return ""
	}
	return strconv.FormatInt(userID, 10)
}

func parseSubject(sub string) (int64, error) {
	id, err := strconv.ParseInt(sub, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: subject %q", ErrInvalid, sub)
	}
	return id, nil
}

// CreateAuthRequest stores a validated authorization request. Every client must use
// PKCE with S256 (RFC 7636 section 4.2; OAuth 2.1 requires it of all clients), which
// makes a stolen code useless.
func (st *storage) CreateAuthRequest(ctx context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if r.CodeChallenge == "" || r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method S256 is required")
	}
	s := st.s
	a := &authRequest{
		id: randomToken(18), clientID: r.ClientID, redirectURI: r.RedirectURI, scopes: r.Scopes,
		state: r.State, nonce: r.Nonce, responseType: r.ResponseType, responseMode: r.ResponseMode,
		challenge: r.CodeChallenge, method: string(r.CodeChallengeMethod), audience: s.audience,
	}
	now := s.store.micros()
	err := s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
		// Purge requests nobody finished, so the table stays small.
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_auth_requests WHERE expires < $1`, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_auth_requests (id, client_id, redirect_uri, scopes, state, nonce, response_type, response_mode,
			code_challenge, code_challenge_method, created, expires) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			a.id, a.clientID, a.redirectURI, joinList(a.scopes), a.state, a.nonce, string(a.responseType), string(a.responseMode),
			a.challenge, a.method, now, now+authRequestTTL.Microseconds())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store authorization request: %w", err)
	}
	return a, nil
}

func (st *storage) authRequestWhere(ctx context.Context, cond string, arg any) (*authRequest, error) {
	s := st.s
	a := &authRequest{audience: s.audience}
	var scopes, amr, rt, rm string
	var authTime int64
	err := s.store.db.Read().QueryRowContext(ctx, `SELECT id, client_id, redirect_uri, scopes, state, nonce, response_type, response_mode,
		code_challenge, code_challenge_method, user_id, auth_time, amr FROM oauth_auth_requests WHERE `+cond+` AND expires > $2`, arg, s.store.micros()).Scan(
		&a.id, &a.clientID, &a.redirectURI, &scopes, &a.state, &a.nonce, &rt, &rm, &a.challenge, &a.method, &a.userID, &authTime, &amr)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: authorization request (expired or used)", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read authorization request: %w", err)
	}
	a.scopes, a.amr = splitList(scopes), splitList(amr)
	a.responseType, a.responseMode = oidc.ResponseType(rt), oidc.ResponseMode(rm)
	if authTime != 0 {
		a.authTime = fromMicros(authTime)
	}
	return a, nil
}

func (st *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return st.authRequestWhere(ctx, `id = $1`, id)
}

func (st *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	return st.authRequestWhere(ctx, `code_hash = $1`, hashSecret(code))
}

// SaveAuthCode records the code of a finished request; only its hash is kept.
func (st *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return st.s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE oauth_auth_requests SET code_hash = $1 WHERE id = $2 AND user_id <> 0 AND code_hash IS NULL`, hashSecret(code), id)
		if err != nil {
			return fmt.Errorf("store authorization code: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: authorization request %s has a code already or no user", ErrInvalid, id)
		}
		return nil
	})
}

// DeleteAuthRequest removes a request once its code is exchanged: a code is good
// once (RFC 6749 section 4.1.2).
func (st *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	return st.s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_auth_requests WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete authorization request: %w", err)
		}
		return nil
	})
}

// completeAuthRequest marks a request signed in by userID with the factors amr.
func (s *Server) completeAuthRequest(ctx context.Context, id string, userID int64, amr []string) error {
	return s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE oauth_auth_requests SET user_id = $1, auth_time = $2, amr = $3 WHERE id = $4 AND user_id = 0 AND expires > $2`,
			userID, s.store.micros(), joinList(amr), id)
		if err != nil {
			return fmt.Errorf("complete authorization request: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: authorization request (expired or used)", ErrNotFound)
		}
		return nil
	})
}

// grant is what every token request carries, whatever the grant type.
type grant struct {
	userID   int64
	clientID string
	scopes   []string
	amr      []string
	authTime time.Time
}

func grantOf(r op.TokenRequest) (grant, error) {
	g := grant{scopes: r.GetScopes()}
	var err error
	if g.userID, err = parseSubject(r.GetSubject()); err != nil {
		return grant{}, err
	}
	if ir, ok := r.(op.IDTokenRequest); ok {
		g.clientID, g.amr, g.authTime = ir.GetClientID(), ir.GetAMR(), ir.GetAuthTime()
	}
	if g.clientID == "" {
		return grant{}, fmt.Errorf("%w: token request without a client", ErrInvalid)
	}
	return g, nil
}

// CreateAccessToken records an access token issued without a refresh token.
func (st *storage) CreateAccessToken(ctx context.Context, r op.TokenRequest) (string, time.Time, error) {
	g, err := grantOf(r)
	if err != nil {
		return "", time.Time{}, err
	}
	s := st.s
	id := randomToken(18)
	exp := s.store.now().Add(s.accessTTL)
	err = s.store.db.WriteTx(ctx, func(tx *sql.Tx) error { return s.insertAccessToken(ctx, tx, id, id, g, exp) })
	if err != nil {
		return "", time.Time{}, err
	}
	s.record(ctx, auth.Event{Kind: auth.EventTokenGrant, UserID: g.userID, ClientID: g.clientID, Success: true, Detail: "scopes: " + joinList(g.scopes)})
	return id, exp, nil
}

func (s *Server) insertAccessToken(ctx context.Context, tx *sql.Tx, id, family string, g grant, exp time.Time) error {
	now := s.store.micros()
	// Purge access tokens a day past their expiry; the day keeps an expired token's row
	// so that it is refused as expired rather than unknown.
	if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_access_tokens WHERE expires < $1`, now-(24*time.Hour).Microseconds()); err != nil {
		return fmt.Errorf("purge access tokens: %w", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO oauth_access_tokens (id, family, user_id, client_id, scopes, expires) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, family, g.userID, g.clientID, joinList(g.scopes), exp.UnixMicro())
	if err != nil {
		return fmt.Errorf("store access token: %w", err)
	}
	return nil
}

// refreshRequest is a stored refresh token (op.RefreshTokenRequest).
type refreshRequest struct {
	id, family string
	grant
	audience string
}

func (r *refreshRequest) GetAMR() []string             { return r.amr }
func (r *refreshRequest) GetAudience() []string        { return []string{r.audience, r.clientID} }
func (r *refreshRequest) GetAuthTime() time.Time       { return r.authTime }
func (r *refreshRequest) GetClientID() string          { return r.clientID }
func (r *refreshRequest) GetScopes() []string          { return r.scopes }
func (r *refreshRequest) GetSubject() string           { return subject(r.userID) }
func (r *refreshRequest) SetCurrentScopes(sc []string) { r.scopes = sc }

// errRefreshReused is a refresh token presented after it was exchanged.
var errRefreshReused = errors.New("refresh token used before; its grant is revoked")

// detailReused is the audit detail of a refresh token's reuse.
const detailReused = "a used refresh token was presented again: its whole grant is revoked"

// CreateAccessAndRefreshTokens issues an access token and a refresh token. With
// current set (the refresh grant) current is used up in the same transaction and the
// new token continues its family; that only one exchange of a token can succeed is
// what makes reuse detectable (OAuth 2.0 Security BCP, RFC 9700 section 4.14.2).
func (st *storage) CreateAccessAndRefreshTokens(ctx context.Context, r op.TokenRequest, current string) (string, string, time.Time, error) {
	g, err := grantOf(r)
	if err != nil {
		return "", "", time.Time{}, err
	}
	s := st.s
	accessID, refreshID, refresh := randomToken(18), randomToken(18), randomToken(32)
	now := s.store.now()
	exp := now.Add(s.accessTTL)
	family := refreshID
	reused := false
	err = s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
		reused = false
		if current != "" {
			if err := tx.QueryRowContext(ctx, `SELECT family FROM oauth_refresh_tokens WHERE token_hash = $1`, hashSecret(current)).Scan(&family); err != nil {
				return fmt.Errorf("read refresh token: %w", err)
			}
			res, err := tx.ExecContext(ctx, `UPDATE oauth_refresh_tokens SET used = $1 WHERE token_hash = $2 AND used = 0 AND revoked = 0`, now.UnixMicro(), hashSecret(current))
			if err != nil {
				return fmt.Errorf("use refresh token: %w", err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				reused = true
				return errRefreshReused
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_refresh_tokens (id, token_hash, family, user_id, client_id, scopes, amr, auth_time, created, expires)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			refreshID, hashSecret(refresh), family, g.userID, g.clientID, joinList(g.scopes), joinList(g.amr), g.authTime.UnixMicro(),
			now.UnixMicro(), now.Add(s.refreshTTL).UnixMicro())
		if err != nil {
			return fmt.Errorf("store refresh token: %w", err)
		}
		return s.insertAccessToken(ctx, tx, accessID, family, g, exp)
	})
	if reused {
		if rerr := s.revokeFamily(ctx, family); rerr != nil {
			err = errors.Join(err, rerr)
		}
		s.record(ctx, auth.Event{Kind: auth.EventTokenRevoke, UserID: g.userID, ClientID: g.clientID, Detail: detailReused})
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("%s", errRefreshReused).WithParent(err)
	}
	if err != nil {
		return "", "", time.Time{}, err
	}
	s.record(ctx, auth.Event{Kind: auth.EventTokenGrant, UserID: g.userID, ClientID: g.clientID, Success: true, Detail: "with a refresh token; scopes: " + joinList(g.scopes)})
	return accessID, refresh, exp, nil
}

// TokenRequestByRefreshToken returns the grant of a current refresh token. A used one
// revokes its family: either the client or a thief presents it, and the server cannot
// tell which.
func (st *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	s := st.s
	r := &refreshRequest{audience: s.audience}
	var scopes, amr string
	var authTime, expires, used, revoked int64
	err := s.store.db.Read().QueryRowContext(ctx, `SELECT id, family, user_id, client_id, scopes, amr, auth_time, expires, used, revoked
		FROM oauth_refresh_tokens WHERE token_hash = $1`, hashSecret(token)).Scan(
		&r.id, &r.family, &r.userID, &r.clientID, &scopes, &amr, &authTime, &expires, &used, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, op.ErrInvalidRefreshToken
	}
	if err != nil {
		return nil, fmt.Errorf("read refresh token: %w", err)
	}
	switch {
	case revoked != 0:
		return nil, fmt.Errorf("%w: revoked", op.ErrInvalidRefreshToken)
	case used != 0:
		if err := s.revokeFamily(ctx, r.family); err != nil {
			return nil, err
		}
		s.record(ctx, auth.Event{Kind: auth.EventTokenRevoke, UserID: r.userID, ClientID: r.clientID, Detail: detailReused})
		return nil, errRefreshReused
	case expires <= s.store.micros():
		return nil, fmt.Errorf("%w: expired", op.ErrInvalidRefreshToken)
	}
	r.scopes, r.amr, r.authTime = splitList(scopes), splitList(amr), fromMicros(authTime)
	return r, nil
}

// revokeFamily revokes every refresh and access token descended from one grant.
func (s *Server) revokeFamily(ctx context.Context, family string) error {
	return s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
		now := s.store.micros()
		for _, q := range []string{
			`UPDATE oauth_refresh_tokens SET revoked = $1 WHERE family = $2 AND revoked = 0`,
			`UPDATE oauth_access_tokens SET revoked = $1 WHERE family = $2 AND revoked = 0`,
		} {
			if _, err := tx.ExecContext(ctx, q, now, family); err != nil {
				return fmt.Errorf("revoke tokens: %w", err)
			}
		}
		return nil
	})
}

// TerminateSession ends what a user granted a client: all its tokens. Mailroom keeps
// no browser session of its own.
func (st *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	id, err := parseSubject(userID)
	if err != nil {
		return err
	}
	s := st.s
	return s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
		now := s.store.micros()
		for _, q := range []string{
			`UPDATE oauth_refresh_tokens SET revoked = $1 WHERE user_id = $2 AND client_id = $3 AND revoked = 0`,
			`UPDATE oauth_access_tokens SET revoked = $1 WHERE user_id = $2 AND client_id = $3 AND revoked = 0`,
		} {
			if _, err := tx.ExecContext(ctx, q, now, id, clientID); err != nil {
				return fmt.Errorf("end session: %w", err)
			}
		}
		return nil
	})
}

// GetRefreshTokenInfo names a refresh token for revocation.
func (st *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	var id string
	var userID int64
	err := st.s.store.db.Read().QueryRowContext(ctx, `SELECT id, user_id FROM oauth_refresh_tokens WHERE token_hash = $1 AND client_id = $2`,
		hashSecret(token), clientID).Scan(&id, &userID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", op.ErrInvalidRefreshToken
	}
	if err != nil {
		return "", "", fmt.Errorf("read refresh token: %w", err)
	}
	return subject(userID), id, nil
}

// RevokeToken revokes (RFC 7009 section 2.1) a refresh token with every token of its
// family, or one access token. op passes the id of a token it recognised, with its
// user; a token it did not recognise comes without a user and is, as the RFC asks,
// no error.
func (st *storage) RevokeToken(ctx context.Context, tokenID, userID, clientID string) *oidc.Error {
	if userID == "" {
		return nil
	}
	s := st.s
	uid, err := parseSubject(userID)
	if err != nil {
		return nil
	}
	var family string
	err = s.store.db.Read().QueryRowContext(ctx, `SELECT family FROM oauth_refresh_tokens WHERE id = $1 AND user_id = $2 AND client_id = $3`,
		tokenID, uid, clientID).Scan(&family)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE oauth_access_tokens SET revoked = $1 WHERE id = $2 AND user_id = $3 AND client_id = $4 AND revoked = 0`,
				s.store.micros(), tokenID, uid, clientID)
			return err
		})
		if err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		s.record(ctx, auth.Event{Kind: auth.EventTokenRevoke, UserID: uid, ClientID: clientID, Success: true, Detail: "access token"})
		return nil
	}
	if err == nil {
		err = s.revokeFamily(ctx, family)
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	s.record(ctx, auth.Event{Kind: auth.EventTokenRevoke, UserID: uid, ClientID: clientID, Success: true, Detail: "refresh token and its access tokens"})
	return nil
}

func (st *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return st.s.keys.signing(), nil
}

func (st *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (st *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	if err := st.s.keys.load(ctx); err != nil {
		return nil, err
	}
	return st.s.keys.all(), nil
}

// GetClientByClientID returns a client; an unknown one is a plain error, which op
// answers with invalid_client.
func (st *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, _, err := st.s.store.client(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return opClient{Client: c, loginURL: loginURL}, nil
}

func loginURL(authRequestID string) string {
	return pathLogin + "?" + url.Values{"authRequestID": {authRequestID}}.Encode()
}

func (st *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	_, hash, err := st.s.store.client(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return err
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	if !checkSecret(hash, secret) {
		return fmt.Errorf("%w: wrong client secret", ErrInvalid)
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in op and left empty, as it asks;
// SetUserinfoFromRequest does the work.
func (st *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (st *storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	return st.s.userinfo(ctx, info, r.GetSubject(), scopes)
}

// SetUserinfoFromToken answers the userinfo endpoint for a current access token.
func (st *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, sub, _ string) error {
	t, err := st.s.accessToken(ctx, tokenID)
	if err != nil {
		return err
	}
	if subject(t.userID) != sub {
		return fmt.Errorf("%w: token subject", ErrInvalid)
	}
	return st.s.userinfo(ctx, info, sub, t.scopes)
}

// SetIntrospectionFromToken answers RFC 7662 introspection for a confidential client.
func (st *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, sub, _ string) error {
	t, err := st.s.accessToken(ctx, tokenID)
	if err != nil || subject(t.userID) != sub {
		return nil // inactive
	}
	info := new(oidc.UserInfo)
	if err := st.s.userinfo(ctx, info, sub, t.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Active = true
	resp.ClientID = t.clientID
	resp.Scope = t.scopes
	resp.Expiration = oidc.FromTime(t.expires)
	return nil
}

// userinfo fills the claims the scopes allow (OpenID Connect Core 1.0 section 5.4).
func (s *Server) userinfo(ctx context.Context, info *oidc.UserInfo, sub string, scopes []string) error {
	id, err := parseSubject(sub)
	if err != nil {
		return err
	}
	u, err := s.dir.UserByID(ctx, id)
	if err != nil {
		return fmt.Errorf("read user: %w", err)
	}
	info.Subject = sub
	if slices.Contains(scopes, oidc.ScopeEmail) {
		info.Email = u.Address
		info.EmailVerified = true // the directory's own address
	}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.Name, info.GivenName, info.FamilyName = u.DisplayName, u.GivenName, u.Surname
		info.PreferredUsername = u.UPN
	}
	return nil
}

// GetPrivateClaimsFromScopes adds RFC 9068 section 2.2.3's "scope" claim.
func (st *storage) GetPrivateClaimsFromScopes(_ context.Context, _, _ string, scopes []string) (map[string]any, error) {
	return map[string]any{"scope": joinList(scopes)}, nil
}

// GetPrivateClaimsFromRequest puts every granted scope in the access token, the
// OpenID ones included, which op would otherwise strip, and how the user signed in
// (authenticationClaims).
func (st *storage) GetPrivateClaimsFromRequest(ctx context.Context, r op.TokenRequest, _ []string) (map[string]any, error) {
	claims, err := st.GetPrivateClaimsFromScopes(ctx, r.GetSubject(), "", r.GetScopes())
	if err != nil {
		return nil, err
	}
	addAuthenticationClaims(claims, r)
	return claims, nil
}

var errNoJWTProfile = errors.New("JWT profile grants are not supported")

func (st *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNoJWTProfile
}

func (st *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNoJWTProfile
}

func (st *storage) Health(ctx context.Context) error {
	return st.s.store.db.Read().PingContext(ctx)
}

// StoreDeviceAuthorization records a device authorization request (RFC 8628 section
// 3.2) with the scopes the client may have.
func (st *storage) StoreDeviceAuthorization(ctx context.Context, clientID, deviceCode, userCode string, expires time.Time, scopes []string) error {
	s := st.s
	c, _, err := s.store.client(ctx, clientID)
	if err != nil {
		return err
	}
	scopes, err = op.ValidateAuthReqScopes(opClient{Client: c}, scopes)
	if err != nil {
		return err
	}
	err = s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
		// Purge grants an hour past expiry, so user codes do not pile up (RFC 8628
		// section 6.1 relies on few live codes).
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_device_grants WHERE expires < $1`, s.store.micros()-time.Hour.Microseconds()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_device_grants (device_code_hash, user_code, client_id, scopes, expires, state) VALUES ($1, $2, $3, $4, $5, 'pending')`,
			hashSecret(deviceCode), userCode, clientID, joinList(scopes), expires.UnixMicro())
		return err
	})
	if s.store.db.IsUniqueViolation(err) {
		return op.ErrDuplicateUserCode
	}
	if err != nil {
		return fmt.Errorf("store device authorization: %w", err)
	}
	return nil
}

// GetDeviceAuthorizatonState answers a device's poll (RFC 8628 section 3.4). An
// approved grant is handed out once: the row goes in the same statement.
func (st *storage) GetDeviceAuthorizatonState(ctx context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	s := st.s
	var scopes, state, amr string
	var expires, userID, authTime int64
	err := s.store.db.Read().QueryRowContext(ctx, `SELECT scopes, expires, state, user_id, auth_time, amr FROM oauth_device_grants
		WHERE device_code_hash = $1 AND client_id = $2`, hashSecret(deviceCode), clientID).Scan(&scopes, &expires, &state, &userID, &authTime, &amr)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: device code", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read device authorization: %w", err)
	}
	ds := &op.DeviceAuthorizationState{ClientID: clientID, Audience: []string{s.audience}, Scopes: splitList(scopes), Expires: fromMicros(expires)}
	switch state {
	case "denied":
		ds.Denied = true
	case "approved":
		var n int64
		err := s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM oauth_device_grants WHERE device_code_hash = $1 AND state = 'approved'`, hashSecret(deviceCode))
			if err != nil {
				return err
			}
			n, _ = res.RowsAffected()
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("use device authorization: %w", err)
		}
		if n != 1 {
			return nil, fmt.Errorf("%w: device code used", ErrNotFound)
		}
		ds.Done, ds.Subject, ds.AMR, ds.AuthTime = true, subject(userID), splitList(amr), fromMicros(authTime)
	}
	return ds, nil
}

// deviceGrant is a pending device authorization as the user sees it.
type deviceGrant struct {
	userCode string
	client   Client
	scopes   []string
}

// pendingDevice returns the pending, unexpired grant with the user code.
func (s *Server) pendingDevice(ctx context.Context, userCode string) (deviceGrant, error) {
	g := deviceGrant{userCode: userCode}
	var clientID, scopes string
	err := s.store.db.Read().QueryRowContext(ctx, `SELECT client_id, scopes FROM oauth_device_grants WHERE user_code = $1 AND state = 'pending' AND expires > $2`,
		userCode, s.store.micros()).Scan(&clientID, &scopes)
	if errors.Is(err, sql.ErrNoRows) {
		return deviceGrant{}, fmt.Errorf("%w: no device is waiting for this code (it may have expired)", ErrNotFound)
	}
	if err != nil {
		return deviceGrant{}, fmt.Errorf("read device authorization: %w", err)
	}
	if g.client, _, err = s.store.client(ctx, clientID); err != nil {
		return deviceGrant{}, err
	}
	g.scopes = splitList(scopes)
	return g, nil
}

// decideDevice approves or denies a pending device grant for a signed-in user.
func (s *Server) decideDevice(ctx context.Context, userCode string, userID int64, amr []string, approve bool) error {
	state := "denied"
	if approve {
		state = "approved"
	}
	return s.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
		now := s.store.micros()
		res, err := tx.ExecContext(ctx, `UPDATE oauth_device_grants SET state = $1, user_id = $2, auth_time = $3, amr = $4
			WHERE user_code = $5 AND state = 'pending' AND expires > $3`, state, userID, now, joinList(amr), userCode)
		if err != nil {
			return fmt.Errorf("record device decision: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: no device is waiting for this code (it may have expired)", ErrNotFound)
		}
		return nil
	})
}
