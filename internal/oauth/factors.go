package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"mailroom/internal/auth"
)

// Endpoints returns the authorization and token endpoint URLs of the server whose
// issuer is issuer, as its discovery document publishes them (RFC 8414 section 2).
// Device profiles name them in OAuthSignInURL and OAuthTokenRequestURL.
func Endpoints(issuer string) (authorization, token string) {
	return issuer + pathAuthorize, issuer + pathToken
}

// Factors is how the user behind an access token signed in.
type Factors struct {
	UserID int64
	// AMR names the methods used (RFC 8176 section 2): "pwd", and "otp" and "mfa"
	// after a second factor.
	AMR []string
	// AuthTime is when the user signed in. A refresh keeps it: a token refreshed a
	// month after the sign-in still says a month ago.
	AuthTime time.Time
}

// MFA reports whether the sign-in used a second factor.
func (f Factors) MFA() bool { return slices.Contains(f.AMR, amrMFA) }

// authenticationClaims are RFC 9068 section 2.2.1's authentication information
// claims, which every access token carries: when and how the user signed in.
type authenticationClaims struct {
	AuthTime int64    `json:"auth_time"`
	AMR      []string `json:"amr"`
}

// addAuthenticationClaims puts r's authentication information claims into claims.
// Every grant (code, refresh, device) hands op an op.IDTokenRequest.
func addAuthenticationClaims(claims map[string]any, r op.TokenRequest) {
	ir, ok := r.(op.IDTokenRequest)
	if !ok {
		return
	}
	if amr := ir.GetAMR(); len(amr) > 0 {
		claims["amr"] = amr
	}
	if at := ir.GetAuthTime(); !at.IsZero() {
		claims["auth_time"] = at.Unix()
	}
}

// SignInFactors checks token as VerifyAccessToken does and returns how its user
// signed in, so that a service can ask for a recent second factor before it hands
// out something valuable (RFC 9470's step-up). A token without the claims (issued
// before they were added) reports no factors. Refusals wrap auth.ErrBadToken.
func (s *Verifier) SignInFactors(ctx context.Context, token string) (Factors, error) {
	c, err := s.VerifyAccessToken(ctx, token)
	if err != nil {
		return Factors{}, err
	}
	// VerifyAccessToken has checked the signature of these very bytes.
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return Factors{}, fmt.Errorf("%w: %v", auth.ErrBadToken, err)
	}
	var a authenticationClaims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &a); err != nil {
		return Factors{}, fmt.Errorf("%w: claims: %v", auth.ErrBadToken, err)
	}
	f := Factors{UserID: c.UserID, AMR: a.AMR}
	if a.AuthTime > 0 {
		f.AuthTime = time.Unix(a.AuthTime, 0)
	}
	return f, nil
}
