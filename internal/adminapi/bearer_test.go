package adminapi_test

import (
	"encoding/base64"
	"net/http"
	"slices"
	"testing"
	"time"

	"mailroom/internal/adminapi"
	"mailroom/internal/auth"
)

// TestBearer: an administrator's access token opens the API; an expired, tampered or
// malformed token, or a token of someone who is no administrator, does not, and a
// refused token is told so with RFC 6750's invalid_token. App passwords work as Basic
// passwords, and every attempt is in the audit log.
func TestBearer(t *testing.T) {
	e := newEnv(t)
	admin, err := e.in.Directory.User(e.ctx, adminLogin)
	must(t, err)
	alice, err := e.in.Directory.User(e.ctx, aliceLogin)
	must(t, err)
	valid := e.issuer.Mint(admin.ID, time.Hour)
	_, appPassword, err := e.signIn.NewAppPassword(e.ctx, admin.ID, "script")
	must(t, err)
	invalid := []string{`Basic realm="Mailroom admin"`, `Bearer realm="Mailroom admin", error="invalid_token"`}
	insufficient := []string{`Bearer realm="Mailroom admin", error="insufficient_scope", scope="admin"`}
	cases := []struct {
		name          string
		authorization string
		want          int
		challenges    []string
	}{
		{"admin token", "Bearer " + valid, http.StatusOK, nil},
		{"lower-case scheme", "bearer " + valid, http.StatusOK, nil},
		{"app password", "Basic " + basic(adminLogin, appPassword), http.StatusOK, nil},
		{"expired", "Bearer " + e.issuer.Mint(admin.ID, -time.Minute), http.StatusUnauthorized, invalid},
		{"tampered", "Bearer " + valid + "A", http.StatusUnauthorized, invalid},
		{"malformed", "Bearer a b", http.StatusUnauthorized, invalid},
		{"empty", "Bearer ", http.StatusUnauthorized, invalid},
		{"user gone", "Bearer " + e.issuer.Mint(987654, time.Hour), http.StatusUnauthorized, invalid},
		{"not an administrator", "Bearer " + e.issuer.Mint(alice.ID, time.Hour), http.StatusForbidden, nil},
		// RFC 6750 section 3.1: a good token for another service is 403 insufficient_scope.
		{"IMAP-only token", "Bearer " + e.issuer.MintScoped(admin.ID, time.Hour, auth.ScopeIMAP), http.StatusForbidden, insufficient},
		{"OpenID-only token", "Bearer " + e.issuer.MintScoped(admin.ID, time.Hour, "openid", "email"), http.StatusForbidden, insufficient},
		{"admin-only token", "Bearer " + e.issuer.MintScoped(admin.ID, time.Hour, auth.ScopeAdmin), http.StatusOK, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(e.ctx, "GET", e.ts.URL+adminapi.Prefix+"users", nil)
			must(t, err)
			req.Header.Set("Authorization", c.authorization)
			a := e.do(req)
			if a.code != c.want {
				t.Fatalf("status %d, want %d: %s", a.code, c.want, a.body)
			}
			if got := a.header.Values("WWW-Authenticate"); c.challenges != nil && !slices.Equal(got, c.challenges) {
				t.Errorf("WWW-Authenticate %q, want %q", got, c.challenges)
			}
		})
	}
	// A disabled administrator's token is refused with 403.
	must(t, e.in.Directory.SetEnabled(e.ctx, adminLogin, false))
	req, err := http.NewRequestWithContext(e.ctx, "GET", e.ts.URL+adminapi.Prefix+"users", nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+valid)
	if a := e.do(req); a.code != http.StatusForbidden {
		t.Errorf("disabled admin's token: %d %s", a.code, a.body)
	}
	events, err := e.signIn.Events(e.ctx, auth.AuditFilter{UserID: admin.ID})
	must(t, err)
	seen := map[string]bool{}
	for _, ev := range events {
		if ev.Protocol == "admin-api" && ev.Success {
			seen[ev.Method] = true
		}
	}
	if !seen[auth.MethodToken] || !seen[auth.MethodAppPassword] {
		t.Errorf("audited methods %v", seen)
	}
}

// basic is the credentials of an Authorization: Basic header (RFC 7617 section 2).
func basic(login, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(login + ":" + password))
}
