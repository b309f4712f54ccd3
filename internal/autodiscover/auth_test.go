package autodiscover

import (
	"context"
	"slices"
	"testing"
	"time"

	"mailroom/internal/auth"
)

// TestSignInMethods: Autodiscover takes passwords, app passwords and bearer tokens
// through the sign-in service, and refuses a bad token with RFC 6750's invalid_token.
func TestSignInMethods(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	a, err := e.dir.User(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	_, appPassword, err := e.signIn.NewAppPassword(ctx, a.ID, "iPhone Mail")
	if err != nil {
		t.Fatal(err)
	}
	valid := e.issuer.Mint(a.ID, time.Hour)
	tampered := valid[:len(valid)-2] + "xx"
	const basic = `Basic realm="mail.example.test", charset="UTF-8"`
	cases := []struct {
		name            string
		login, password string
		authorization   string
		status          int
		challenges      []string
	}{
		{"password", alice, testPassword, "", 200, nil},
		{"app password", alice, appPassword, "", 200, nil},
		{"token", "", "", "Bearer " + valid, 200, nil},
		{"no credentials", "", "", "", 401, []string{basic, `Bearer realm="mail.example.test"`}},
		{"wrong password", alice, "wrong password here", "", 401, []string{basic, `Bearer realm="mail.example.test"`}},
		{"expired token", "", "", "Bearer " + e.issuer.Mint(a.ID, -time.Minute), 401, []string{basic, `Bearer realm="mail.example.test", error="invalid_token"`}},
		{"tampered token", "", "", "Bearer " + tampered, 401, []string{basic, `Bearer realm="mail.example.test", error="invalid_token"`}},
		{"malformed token", "", "", `Bearer "quoted"`, 401, []string{basic, `Bearer realm="mail.example.test", error="invalid_token"`}},
		{"token of no user", "", "", "Bearer " + e.issuer.Mint(99999, time.Hour), 401, []string{basic, `Bearer realm="mail.example.test", error="invalid_token"`}},
		{"token for OpenID only", "", "", "Bearer " + e.issuer.MintScoped(a.ID, time.Hour, "openid"), 403,
			[]string{`Bearer realm="mail.example.test", error="insufficient_scope", scope="imap pop3 smtp activesync dav"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.authorization != "" {
				hdr = []string{"Authorization", c.authorization}
			}
			r := e.do(t, false, "GET", "/autodiscover/mail.mobileconfig", c.login, c.password, nil, hdr...)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if got := r.header.Values("WWW-Authenticate"); c.challenges != nil && !slices.Equal(got, c.challenges) {
				t.Errorf("WWW-Authenticate %q, want %q", got, c.challenges)
			}
		})
	}
	// A valid token for alice asking for bob's settings is refused like a bad token.
	r := e.do(t, false, "GET", "/autodiscover/mail.mobileconfig?emailaddress="+bob, "", "", nil, "Authorization", "Bearer "+valid)
	if r.status != 401 || !slices.Contains(r.header.Values("WWW-Authenticate"), `Bearer realm="mail.example.test", error="invalid_token"`) {
		t.Errorf("someone else's address with a token: %d %q", r.status, r.header.Values("WWW-Authenticate"))
	}
	// Every attempt is in the audit log, under the protocol autodiscover.
	events, err := e.signIn.Events(ctx, auth.AuditFilter{UserID: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]bool{}
	for _, ev := range events {
		if ev.Protocol == "autodiscover" && ev.Success {
			methods[ev.Method] = true
		}
	}
	if !methods["password"] || !methods["app-password"] || !methods["token"] {
		t.Errorf("audited successful methods %v", methods)
	}
}
