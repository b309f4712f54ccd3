package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"mailroom/internal/oauth"
	"mailroom/internal/profiles"
)

// enrol gives the user a TOTP second factor, confirmed with the code of the previous
// time step so that the current and the next step are still good for the test, and
// returns the secret and the recovery codes.
func (c *console) enrol(address string) (string, []string) {
	c.t.Helper()
	u := mustUser(c.t, c, address)
	e, err := oauth.NewEnrolment("Mailroom test", address)
	if err != nil {
		c.t.Fatal(err)
	}
	codes, err := c.mfa.Enrol(context.Background(), u.ID, e, totpCode(c.t, e.Secret(), -30*time.Second))
	if err != nil {
		c.t.Fatal(err)
	}
	return e.Secret(), codes
}

// totpCode is the secret's code at now+offset.
func totpCode(t *testing.T, secret string, offset time.Duration) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, time.Now().Add(offset))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// halfSignIn gives the password and expects to be sent to the step at want; it
// returns the browser on that step's page (its CSRF token read).
func (c *console) halfSignIn(login, want, next string) *browser {
	c.t.Helper()
	b := c.browser()
	code, _, resp := b.do(http.MethodPost, "/me/signin", url.Values{"login": {login}, "password": {password}, "next": {next}})
	if code != http.StatusSeeOther || resp.Header.Get("Location") != want {
		c.t.Fatalf("password of %s: HTTP %d to %q, want 303 to %s", login, code, resp.Header.Get("Location"), want)
	}
	if code, body, _ := b.do(http.MethodGet, want, nil); code != http.StatusOK || b.csrf == "" {
		c.t.Fatalf("GET %s: HTTP %d\n%s", want, code, body)
	}
	return b
}

// TestSignInSecondFactor: a user with a second factor gives it after the password —
// a TOTP code or a recovery code, each good once — before any page opens.
func TestSignInSecondFactor(t *testing.T) {
	c := newConsole(t)
	secret, recovery := c.enrol("user@example.test")
	tests := []struct {
		name string
		code string
		want int // the answer to the code
	}{
		{"TOTP code", totpCode(t, secret, 0), http.StatusSeeOther},
		{"the same TOTP code again", totpCode(t, secret, 0), http.StatusUnauthorized},
		{"recovery code", recovery[0], http.StatusSeeOther},
		{"recovery code, lower case, without dash", strings.ToLower(strings.ReplaceAll(recovery[1], "-", "")), http.StatusSeeOther},
		{"used recovery code", recovery[0], http.StatusUnauthorized},
		{"wrong code", "000000", http.StatusUnauthorized},
		{"empty", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := c.halfSignIn("user@example.test", pathCode, "/me/devices/PHONE1")
			code, body, resp := b.do(http.MethodPost, pathCode, url.Values{"csrf": {b.csrf}, "code": {tt.code}})
			if code != tt.want {
				t.Fatalf("HTTP %d, want %d\n%s", code, tt.want, body)
			}
			if tt.want != http.StatusSeeOther {
				if !strings.Contains(body, `id="code-error"`) {
					t.Errorf("no error next to the code:\n%s", body)
				}
				if code, _, _ := b.do(http.MethodGet, "/me/", nil); code != http.StatusSeeOther {
					t.Errorf("self-service page after a wrong code: HTTP %d", code)
				}
				return
			}
			if loc := resp.Header.Get("Location"); loc != "/me/devices/PHONE1" {
				t.Errorf("sent to %q, want the page asked for", loc)
			}
			if code, _, _ := b.do(http.MethodGet, "/me/", nil); code != http.StatusOK {
				t.Errorf("self-service page after the second factor: HTTP %d", code)
			}
		})
	}
}

// TestSecondFactorNotSkipped: a half sign-in opens no page, takes no form, and its
// code form needs its own CSRF token.
func TestSecondFactorNotSkipped(t *testing.T) {
	c := newConsole(t)
	c.enrol("admin@example.test")
	b := c.halfSignIn("admin@example.test", pathCode, "")
	for _, path := range []string{"/me/", "/admin/", "/admin/users", "/me/profile.mobileconfig", pathVerify} {
		code, _, resp := b.do(http.MethodGet, path, nil)
		if loc := resp.Header.Get("Location"); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/me/signin?") {
			t.Errorf("GET %s: HTTP %d to %q, want 303 to the sign-in", path, code, loc)
		}
	}
	for _, path := range []string{"/admin/domains", "/me/app-passwords", "/me/signout"} {
		if code, _, _ := b.do(http.MethodPost, path, url.Values{"csrf": {b.csrf}, "name": {"evil.test"}}); code != http.StatusForbidden {
			t.Errorf("POST %s: HTTP %d, want 403", path, code)
		}
	}
	// The sign-in page sends a half sign-in back to its step; the enrolment step is
	// not this one's.
	if code, _, resp := b.do(http.MethodGet, "/me/signin", nil); code != http.StatusSeeOther || resp.Header.Get("Location") != pathCode {
		t.Errorf("sign-in page: HTTP %d to %q", code, resp.Header.Get("Location"))
	}
	if code, _, _ := b.do(http.MethodPost, pathEnrol, url.Values{"csrf": {b.csrf}, "code": {"123456"}}); code != http.StatusForbidden {
		t.Errorf("enrolment of a user with a factor: HTTP %d, want 403", code)
	}
	if code, _, _ := b.do(http.MethodPost, pathCode, url.Values{"csrf": {"forged"}, "code": {"123456"}}); code != http.StatusForbidden {
		t.Errorf("code without the CSRF token: HTTP %d, want 403", code)
	}
	if _, err := c.in.Directory.Domain(context.Background(), "evil.test"); err == nil {
		t.Error("a half sign-in added a domain")
	}
	// Nor does a half sign-in last: after ten minutes it is gone.
	c.clock.Add(pendingTTL + time.Second)
	if code, _, resp := b.do(http.MethodGet, pathCode, nil); code != http.StatusSeeOther || resp.Header.Get("Location") != "/me/signin" {
		t.Errorf("code page after %s: HTTP %d to %q", pendingTTL, code, resp.Header.Get("Location"))
	}
}

// TestSecondFactorBackOff: five wrong codes end the half sign-in, and the second
// factor backs off, so the right code after the password again is refused too.
func TestSecondFactorBackOff(t *testing.T) {
	c := newConsole(t)
	secret, _ := c.enrol("user@example.test")
	b := c.halfSignIn("user@example.test", pathCode, "")
	for i := 1; i <= maxCodeFailures; i++ {
		code, body, _ := b.do(http.MethodPost, pathCode, url.Values{"csrf": {b.csrf}, "code": {"00000" + string(rune('0'+i))}})
		if code != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: HTTP %d", i, code)
		}
		if i == maxCodeFailures && !strings.Contains(body, "Too many wrong codes") {
			t.Errorf("after %d wrong codes:\n%s", i, body)
		}
	}
	if code, _, resp := b.do(http.MethodGet, pathCode, nil); code != http.StatusSeeOther || resp.Header.Get("Location") != "/me/signin" {
		t.Errorf("code page after too many wrong codes: HTTP %d to %q", code, resp.Header.Get("Location"))
	}
	b = c.halfSignIn("user@example.test", pathCode, "")
	if code, _, _ := b.do(http.MethodPost, pathCode, url.Values{"csrf": {b.csrf}, "code": {totpCode(t, secret, 0)}}); code != http.StatusUnauthorized {
		t.Errorf("right code during the back-off: HTTP %d, want 401", code)
	}
	if code, _, _ := b.do(http.MethodGet, "/me/", nil); code != http.StatusSeeOther {
		t.Errorf("self-service page during the back-off: HTTP %d", code)
	}
}

// TestEnrolAtSignIn: a user who must use a second factor and has none sets one up
// after the password, sees the recovery codes once and is signed in; the next
// sign-in asks for a code.
func TestEnrolAtSignIn(t *testing.T) {
	c := newConsole(t)
	ctx := context.Background()
	u := mustUser(t, c, "user@example.test")
	if err := c.mfa.SetMFARequired(ctx, u.ID, oauth.RequireUser, true); err != nil {
		t.Fatal(err)
	}
	b := c.browser()
	code, _, resp := b.do(http.MethodPost, "/me/signin", url.Values{"login": {"user@example.test"}, "password": {password}})
	if code != http.StatusSeeOther || resp.Header.Get("Location") != pathEnrol {
		t.Fatalf("password: HTTP %d to %q", code, resp.Header.Get("Location"))
	}
	if code, _, _ := b.do(http.MethodGet, "/me/", nil); code != http.StatusSeeOther {
		t.Errorf("self-service page before enrolling: HTTP %d", code)
	}
	code, body, resp := b.do(http.MethodGet, pathEnrol, nil)
	secret := between(body, `<code id="secret">`, `</code>`)
	if code != http.StatusOK || secret == "" || !strings.Contains(body, `src="data:image/png;base64,`) {
		t.Fatalf("enrolment page: HTTP %d\n%s", code, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data:") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("enrolment page CSP %q", csp)
	}
	if code, _, _ := b.do(http.MethodPost, pathEnrol, url.Values{"csrf": {b.csrf}, "code": {"000000"}}); code != http.StatusUnauthorized {
		t.Errorf("wrong first code: HTTP %d", code)
	}
	if st, _ := c.mfa.Status(ctx, u.ID, nil); st.Enrolled {
		t.Fatal("a wrong first code enrolled the user")
	}
	code, body, _ = b.do(http.MethodPost, pathEnrol, url.Values{"csrf": {b.csrf}, "code": {totpCode(t, secret, -30*time.Second)}})
	if code != http.StatusOK || len(strings.Fields(between(body, `<pre id="codes">`, `</pre>`))) != 10 {
		t.Fatalf("enrolment: HTTP %d\n%s", code, body)
	}
	if code, _, _ := b.do(http.MethodGet, "/me/", nil); code != http.StatusOK {
		t.Errorf("self-service page after enrolling: HTTP %d", code)
	}
	if st, _ := c.mfa.Status(ctx, u.ID, nil); !st.Enrolled || st.RecoveryCodesLeft != 10 {
		t.Errorf("status after enrolling: %+v", st)
	}
	b = c.halfSignIn("user@example.test", pathCode, "")
	if code, _, _ := b.do(http.MethodPost, pathCode, url.Values{"csrf": {b.csrf}, "code": {totpCode(t, secret, 0)}}); code != http.StatusSeeOther {
		t.Errorf("next sign-in with a code: HTTP %d", code)
	}
}

// between returns what body has between open and end.
func between(body, open, end string) string {
	_, rest, ok := strings.Cut(body, open)
	if !ok {
		return ""
	}
	s, _, _ := strings.Cut(rest, end)
	return s
}

// TestDerivedProfileDownload: a profile with a derived credential is downloaded from
// /me/ right after a sign-in with the second factor, refused once
// profiles.MaxProofAge has passed, released again after the code is given anew, and
// never to a session that gave no second factor.
func TestDerivedProfileDownload(t *testing.T) {
	c := newConsole(t)
	ctx := context.Background()
	st := profiles.DefaultSettings()
	st.Host, st.AccountName = "mail.example.test", "Example mail"
	st.SMIME, st.SigningEnabled, st.SigningCertType = true, true, profiles.CertDerivedCredential
	if _, err := c.h.cfg.Profiles.Create(ctx, "Derived", st); err != nil {
		t.Fatal(err)
	}
	if _, err := c.in.Directory.AddGroup(ctx, "Staff", "", ""); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"user@example.test", "admin@example.test"} {
		if err := c.in.Directory.AddMember(ctx, "Staff", m); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.h.cfg.Profiles.Assign(ctx, "Derived", "Staff", profiles.Include); err != nil {
		t.Fatal(err)
	}
	download := func(b *browser) (int, string) {
		t.Helper()
		code, body, resp := b.do(http.MethodGet, "/me/profile.mobileconfig", nil)
		if code == http.StatusOK && resp.Header.Get("Content-Type") != "application/x-apple-aspen-config" {
			t.Errorf("download: Content-Type %q", resp.Header.Get("Content-Type"))
		}
		return code, body
	}

	// Without a second factor (the administrator has none): refused, with the reason.
	admin := c.signIn("admin@example.test")
	if code, body := download(admin); code != http.StatusForbidden || !strings.Contains(body, "two-step verification") {
		t.Errorf("without a second factor: HTTP %d\n%s", code, body)
	}
	if code, body := admin.post(pathVerify, url.Values{"code": {"123456"}}); code != http.StatusUnprocessableEntity || !strings.Contains(body, "no second factor") {
		t.Errorf("verify without a factor: HTTP %d\n%s", code, body)
	}

	secret, recovery := c.enrol("user@example.test")
	b := c.halfSignIn("user@example.test", pathCode, "")
	if code, _, _ := b.do(http.MethodPost, pathCode, url.Values{"csrf": {b.csrf}, "code": {totpCode(t, secret, 0)}}); code != http.StatusSeeOther {
		t.Fatalf("second factor: HTTP %d", code)
	}
	b.do(http.MethodGet, "/me/", nil)
	if code, body := download(b); code != http.StatusOK || !strings.Contains(body, "com.apple.security.pkcs12") {
		t.Fatalf("right after the second factor: HTTP %d\n%.300s", code, body)
	}
	c.clock.Add(profiles.MaxProofAge + time.Minute)
	code, body := download(b)
	if code != http.StatusForbidden || !strings.Contains(body, `href="/me/verify?next=/me/"`) {
		t.Fatalf("after %s: HTTP %d\n%s", profiles.MaxProofAge, code, body)
	}
	// Step-up: a wrong code changes nothing, a recovery code renews the proof.
	if code, _, _ := b.do(http.MethodGet, pathVerify+"?next=/me/", nil); code != http.StatusOK {
		t.Fatalf("verify page: HTTP %d", code)
	}
	if code, _ := b.post(pathVerify, url.Values{"code": {"000000"}, "next": {"/me/"}}); code != http.StatusUnauthorized {
		t.Errorf("wrong code at verify: HTTP %d", code)
	}
	if code, _ := download(b); code != http.StatusForbidden {
		t.Errorf("after a wrong code at verify: HTTP %d", code)
	}
	if code, _ := b.post(pathVerify, url.Values{"code": {recovery[0]}, "next": {"/me/"}}); code != http.StatusSeeOther {
		t.Fatalf("recovery code at verify: HTTP %d", code)
	}
	if code, _ := download(b); code != http.StatusOK {
		t.Errorf("after verifying again: HTTP %d", code)
	}
}
