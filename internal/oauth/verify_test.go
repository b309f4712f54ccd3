package oauth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"mailroom/internal/auth"
)

// issue makes an access token the way the token endpoint does.
func (e *env) issue(scopes ...string) string {
	e.t.Helper()
	req := &authRequest{clientID: BuiltinClientID, userID: e.alice.ID, scopes: scopes, audience: e.srv.audience}
	ctx := op.ContextWithIssuer(e.ctx, e.issuer)
	token, _, _, err := op.CreateAccessToken(ctx, req, op.AccessTokenTypeJWT, e.srv.provider, opClient{Client: builtinClient(), loginURL: loginURL}, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return token
}

func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func sign(t *testing.T, claims map[string]any, key *rsa.PrivateKey, kid string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerifyAccessTokenRefuses shows each way a token is refused, each time with every
// other property of the token intact.
func TestVerifyAccessTokenRefuses(t *testing.T) {
	e := newEnv(t)
	good := e.issue(ScopeIMAP)
	if c, err := e.verify(good); err != nil || c.UserID != e.alice.ID || len(c.Scopes) != 1 || c.Scopes[0] != ScopeIMAP {
		t.Fatalf("a good token: %+v, %v", c, err)
	}
	key := e.srv.keys.signing()
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(map[string]any)) map[string]any {
		c := maps.Clone(claimsOf(t, good))
		change(c)
		return c
	}
	tests := []struct {
		name  string
		token func() string
		want  string
	}{
		{"resigned unchanged is fine", func() string { return sign(t, with(func(map[string]any) {}), key.key, key.id) }, ""},
		{"wrong audience", func() string {
			return sign(t, with(func(c map[string]any) { c["aud"] = []string{"https://other.example", BuiltinClientID} }), key.key, key.id)
		}, "audience"},
		{"audience as one string", func() string {
			return sign(t, with(func(c map[string]any) { c["aud"] = "https://other.example" }), key.key, key.id)
		}, "audience"},
		{"wrong issuer", func() string {
			return sign(t, with(func(c map[string]any) { c["iss"] = "https://other.example" }), key.key, key.id)
		}, "issued by"},
		{"expired", func() string {
			return sign(t, with(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), key.key, key.id)
		}, "expired"},
		{"never issued", func() string {
			return sign(t, with(func(c map[string]any) { c["jti"] = randomToken(18) }), key.key, key.id)
		}, "unknown"},
		{"other subject", func() string { return sign(t, with(func(c map[string]any) { c["sub"] = "999" }), key.key, key.id) }, "differ"},
		{"signed by another key", func() string { return sign(t, with(func(map[string]any) {}), stranger, key.id) }, "signature"},
		{"unknown key id", func() string { return sign(t, with(func(map[string]any) {}), stranger, "nope") }, "unknown signing key"},
		{"tampered payload", func() string {
			parts := strings.Split(good, ".")
			forged, _ := json.Marshal(with(func(c map[string]any) { c["scope"] = "imap smtp activesync" }))
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
		}, "signature"},
		{"alg none", func() string {
			parts := strings.Split(good, ".")
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
		}, "not a signed JWT"},
		{"garbage", func() string { return "not-a-token" }, "not a signed JWT"},
		{"empty", func() string { return "" }, "not a signed JWT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.verify(tc.token())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && !errors.Is(err, auth.ErrBadToken):
				t.Fatalf("err = %v, want one wrapping auth.ErrBadToken", err)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}

	// Revoked: through the storage, as the revocation endpoint does.
	revoked := e.issue(ScopeSMTP)
	c := claimsOf(t, revoked)
	if oerr := (&storage{e.srv}).RevokeToken(e.ctx, c["jti"].(string), c["sub"].(string), BuiltinClientID); oerr != nil {
		t.Fatal(oerr)
	}
	if _, err := e.verify(revoked); !errors.Is(err, auth.ErrBadToken) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked token: %v", err)
	}
	// Expired by the clock: the hour passes.
	e.clock.advance(time.Hour + time.Second)
	if _, err := e.verify(good); !errors.Is(err, auth.ErrBadToken) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("token an hour old: %v", err)
	}
}
