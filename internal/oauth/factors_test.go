package oauth

import (
	"errors"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"mailroom/internal/auth"
)

// TestSignInFactors checks that access tokens carry RFC 9068's auth_time and amr, and
// that SignInFactors reads them back only from a token that verifies.
func TestSignInFactors(t *testing.T) {
	e := newEnv(t)
	signedIn := e.clock.Now().Add(-3 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name string
		amr  []string
		at   time.Time
		mfa  bool
	}{
		{"password", []string{amrPassword}, signedIn, false},
		{"second factor", []string{amrPassword, amrOTP, amrMFA}, signedIn, true},
		{"no claims", nil, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &authRequest{clientID: BuiltinClientID, userID: e.alice.ID, scopes: []string{"activesync"},
				audience: e.srv.audience, amr: tt.amr, authTime: tt.at}
			ctx := op.ContextWithIssuer(e.ctx, e.issuer)
			token, _, _, err := op.CreateAccessToken(ctx, req, op.AccessTokenTypeJWT, e.srv.provider, opClient{Client: builtinClient(), loginURL: loginURL}, "")
			if err != nil {
				t.Fatal(err)
			}
			f, err := e.srv.SignInFactors(e.ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			if f.UserID != e.alice.ID || f.MFA() != tt.mfa || !f.AuthTime.Equal(tt.at) || len(f.AMR) != len(tt.amr) {
				t.Errorf("factors %+v, want user %d, amr %v at %v", f, e.alice.ID, tt.amr, tt.at)
			}
			if _, err := e.srv.SignInFactors(e.ctx, token+"x"); !errors.Is(err, auth.ErrBadToken) {
				t.Errorf("tampered token: %v, want ErrBadToken", err)
			}
		})
	}
	auth, token := Endpoints("https://mail.example.test:8443")
	if auth != "https://mail.example.test:8443/oauth/authorize" || token != "https://mail.example.test:8443/oauth/token" {
		t.Errorf("Endpoints: %s %s", auth, token)
	}
}
