package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"
)

// TestTokenScopeAndConsoleMFA runs against a real server, in headless Chromium: alice,
// an administrator who must use a second factor, lets a mail app sign her in for
// IMAP alone, enrolling TOTP on the way. The token reads her mail over IMAP and is
// refused by SMTP, ActiveSync and the admin API, which says insufficient_scope (RFC
// 6750 section 3.1). Then she signs in to the console, which asks for her TOTP code
// after the password.
func TestTokenScopeAndConsoleMFA(t *testing.T) {
	o := startOAuthServer(t)
	ok(t, "", "user", "set", "--data="+o.data, "--admin=true", "alice@example.test")
	ctx, shoot := o.browser()

	redirect, codes := loopbackRedirect(t)
	conf := *o.conf
	conf.RedirectURL, conf.Scopes = redirect, []string{"imap"}
	verifier := oauth2.GenerateVerifier()
	step(t, ctx, "sign in for IMAP",
		chromedp.Navigate(conf.AuthCodeURL("state-scope", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), "alice@example.test"),
		chromedp.SendKeys(chromedp.ID("password"), goodPassword),
		chromedp.Click(chromedp.ID("submit")))
	secret := textOf(t, ctx, "secret")
	step(t, ctx, "enrol", chromedp.SendKeys(chromedp.ID("code"), totpAt(t, secret, 0)), chromedp.Click(chromedp.ID("submit")))
	textOf(t, ctx, "codes")
	step(t, ctx, "continue to the app", chromedp.Click(chromedp.ID("submit")))
	var q url.Values
	select {
	case q = <-codes:
	case <-time.After(time.Minute):
		t.Fatal("the browser never reached the app's redirect URI")
	}
	tok, err := conf.Exchange(context.WithValue(context.Background(), oauth2.HTTPClient, httpClient("")), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange the code: %v", err)
	}
	if got := payload(t, tok.AccessToken)["scope"]; got != "imap" {
		t.Errorf("token scope %v, want imap", got)
	}

	// IMAP takes it; SMTP does not (535), nor ActiveSync, nor the admin API.
	o.imaplib(tok.AccessToken)
	if accepted, answer := o.smtpTry("127.0.0.21", tok.AccessToken); accepted {
		t.Errorf("SMTP took an IMAP token: %s", answer)
	}
	for _, c := range []struct {
		name, method, path string
		want               int
		challenge          string
	}{
		{"ActiveSync", "POST", "/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=alice@example.test&DeviceId=SCOPE1&DeviceType=iPhone",
			http.StatusForbidden, `Bearer realm="Mailroom", error="insufficient_scope", scope="activesync"`},
		{"admin API", "GET", "/api/v1/users", http.StatusForbidden, `Bearer realm="Mailroom admin", error="insufficient_scope", scope="admin"`},
	} {
		req, err := http.NewRequest(c.method, o.issuer+c.path, strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("MS-ASProtocolVersion", "16.1")
		resp, err := httpClient("127.0.0.22").Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		challenges := strings.Join(resp.Header.Values("WWW-Authenticate"), "; ")
		if resp.StatusCode != c.want || !strings.Contains(challenges, c.challenge) {
			t.Errorf("%s with an IMAP token: %s %s, want %d with %s", c.name, resp.Status, challenges, c.want, c.challenge)
		}
	}

	// The console asks for the second factor after the password.
	step(t, ctx, "console sign-in",
		chromedp.Navigate(o.issuer+"/admin/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), "alice@example.test"),
		chromedp.SendKeys(chromedp.ID("password"), goodPassword),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("code")))
	shoot("console-mfa-01-code")
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/me/signin/code") {
		t.Errorf("after the password the browser is at %q (%v)", loc, err)
	}
	// The code of the next time step: the enrolment used the current one.
	step(t, ctx, "enter the TOTP code",
		chromedp.SendKeys(chromedp.ID("code"), totpAt(t, secret, 30*time.Second)),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.ID("signout")))
	shoot("console-mfa-02-signed-in")
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/admin/") {
		t.Errorf("after the code the browser is at %q (%v)", loc, err)
	}
}

// totpAt is the TOTP secret's code at now+offset.
func totpAt(t *testing.T, secret string, offset time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, time.Now().Add(offset))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
