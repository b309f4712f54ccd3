package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
)

// TestBearerScopes signs in with tokens of different scopes on every protocol: a
// token opens a service only with that service's scope, and OpenID Connect's scopes
// open none.
func TestBearerScopes(t *testing.T) {
	e := newEnv(t, auth.Lockout{}, auth.Lockout{})
	tokens := map[string][]string{
		"imap":   {"imap"},
		"openid": {"openid", "email", "profile", "offline_access"},
		"admin":  {"admin"},
		"phone":  {"activesync", "smtp", "offline_access"},
		"dav":    {"dav"},
		"none":   nil,
		"every":  auth.Scopes(),
	}
	tests := []struct {
		protocol string
		opens    string // the tokens that open it, space-separated
	}{
		{"imap", "imap every"},
		{"pop3", "every"},
		{"smtp", "phone every"},
		{"activesync", "phone every"},
		{"dav", "dav every"},
		{"admin-api", "admin every"},
		{"autodiscover", "imap phone dav every"},
		{"profiles", "imap phone dav every"},
		{"web", ""},
		{"oauth", ""},
		{"no such protocol", ""},
	}
	n := 0
	for _, tt := range tests {
		for name, scopes := range tokens {
			t.Run(tt.protocol+"/"+name, func(t *testing.T) {
				n++
				// Each attempt from its own address: refusals for scope must not lock
				// out anyway, which the end of the test checks from one address.
				from := auth.Source{Protocol: tt.protocol, Remote: netip.AddrFrom4([4]byte{192, 0, 2, byte(n)})}
				u, err := e.svc.Bearer(e.ctx, "", e.tokens.MintScoped(e.alice.ID, time.Hour, scopes...), from)
				want := strings.Contains(" "+tt.opens+" ", " "+name+" ")
				if want {
					if err != nil || u.ID != e.alice.ID {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				var se *auth.ScopeError
				if !errors.As(err, &se) || !errors.Is(err, auth.ErrInsufficientScope) || !errors.Is(err, auth.ErrBadToken) ||
					!errors.Is(err, directory.ErrBadCredentials) {
					t.Fatalf("got %v, want an insufficient-scope refusal", err)
				}
				if got, need := se.Scope(), strings.Join(auth.ScopesFor(tt.protocol), " "); got != need {
					t.Errorf("needs %q, want %q", got, need)
				}
			})
		}
	}
	// Many refusals for scope from one address lock nothing out: the token is good.
	from := auth.Source{Protocol: "admin-api", Remote: netip.MustParseAddr("198.51.100.1")}
	for range 30 {
		if _, err := e.svc.Bearer(e.ctx, "", e.tokens.MintScoped(e.alice.ID, time.Hour, "imap"), from); !errors.Is(err, auth.ErrInsufficientScope) {
			t.Fatalf("imap token on the admin API: %v", err)
		}
	}
	if _, err := e.svc.Bearer(e.ctx, "", e.tokens.MintScoped(e.alice.ID, time.Hour, "admin"), from); err != nil {
		t.Errorf("admin token after 30 refusals for scope: %v", err)
	}
	// The audit log says why.
	evs, err := e.svc.Events(e.ctx, auth.AuditFilter{UserID: e.alice.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		found = found || (!ev.Success && ev.Protocol == "admin-api" && strings.Contains(ev.Detail, "needs the scope admin"))
	}
	if !found {
		t.Error("no audit entry for a token refused for its scope")
	}
}

// TestBearerFailureFor: the SASL error challenge of a refusal for scope (RFC 7628
// section 3.2.2) names the scope; any other refusal keeps invalid_token.
func TestBearerFailureFor(t *testing.T) {
	scopeErr := fmt.Errorf("sign in: %w", &auth.ScopeError{Protocol: "imap", Need: []string{"imap"}})
	tests := []struct {
		mech string
		err  error
		want map[string]string
	}{
		{auth.MechOAuthBearer, scopeErr, map[string]string{"status": "insufficient_scope", "scope": "imap"}},
		{auth.MechXOAUTH2, scopeErr, map[string]string{"status": "403", "schemes": "bearer", "scope": "imap"}},
		{auth.MechOAuthBearer, auth.ErrBadToken, map[string]string{"status": "invalid_token"}},
		{auth.MechXOAUTH2, auth.ErrBadToken, map[string]string{"status": "401", "schemes": "bearer"}},
	}
	for _, tt := range tests {
		var got map[string]string
		if err := json.Unmarshal(auth.BearerFailureFor(tt.mech, tt.err), &got); err != nil {
			t.Fatalf("%s: %v", tt.mech, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s %v: %v, want %v", tt.mech, tt.err, got, tt.want)
		}
	}
}

// TestSecondFactorLockout: wrong codes back off the user's second factor, a right
// password does not clear that, and the back-off ends with time.
func TestSecondFactorLockout(t *testing.T) {
	e := newEnv(t, auth.Lockout{Threshold: 3, Backoff: time.Minute, Max: time.Hour, Forget: time.Hour}, auth.Lockout{})
	check := func(_ context.Context, userID int64, code string) (string, error) {
		if userID == e.alice.ID && code == "123456" {
			return "totp", nil
		}
		return "totp", fmt.Errorf("%w: no", auth.ErrWrongCode)
	}
	from := auth.Source{Protocol: "web", Remote: netip.MustParseAddr("192.0.2.7")}
	for i := range 3 {
		if _, err := e.svc.SecondFactor(e.ctx, e.alice.ID, "000000", check, from); !errors.Is(err, auth.ErrWrongCode) || !errors.Is(err, directory.ErrBadCredentials) {
			t.Fatalf("wrong code %d: %v", i, err)
		}
	}
	if _, err := e.svc.CheckPassword(e.ctx, "alice@example.com", testPassword, from); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SecondFactor(e.ctx, e.alice.ID, "123456", check, from); !errors.Is(err, auth.ErrLockedOut) {
		t.Fatalf("right code during the back-off: %v, want a lockout", err)
	}
	if _, err := e.svc.SecondFactor(e.ctx, e.bob.ID, "000000", check, from); errors.Is(err, auth.ErrLockedOut) {
		t.Errorf("bob is locked out by alice's codes: %v", err)
	}
	e.clock.Advance(2 * time.Minute)
	if m, err := e.svc.SecondFactor(e.ctx, e.alice.ID, "123456", check, from); err != nil || m != "totp" {
		t.Fatalf("right code after the back-off: %q, %v", m, err)
	}
	// The success cleared the count: one wrong code does not lock out again.
	e.svc.SecondFactor(e.ctx, e.alice.ID, "000000", check, from)
	if _, err := e.svc.SecondFactor(e.ctx, e.alice.ID, "123456", check, from); err != nil {
		t.Errorf("after one more wrong code: %v", err)
	}
}
