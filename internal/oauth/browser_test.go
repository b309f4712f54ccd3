package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"mailroom/internal/auth"
)

const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium for one test; without it the test is skipped.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser test skipped: Chromium is not installed at %s (Debian package chromium)", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.IgnoreCertErrors, chromedp.WindowSize(900, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(cancelCtx)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// artifacts is where screenshots go: $MAILROOM_ARTIFACTS, or the test's temporary
// directory.
func artifacts(t *testing.T) string {
	dir := os.Getenv("MAILROOM_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// fill waits for the field with the id and types value into it.
func fill(t *testing.T, ctx context.Context, id, value string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), value)); err != nil {
		t.Fatalf("fill %s: %v", id, err)
	}
}

func click(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID(id)), chromedp.Click(chromedp.ID(id))); err != nil {
		t.Fatalf("click %s: %v", id, err)
	}
}

func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID(id))); err != nil {
		t.Fatalf("wait for %s: %v", id, err)
	}
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return strings.TrimSpace(s)
}

// appRedirect is a native app's loopback redirect listener (RFC 8252 section 7.3).
type appRedirect struct {
	url   string
	query chan url.Values
}

func newAppRedirect(t *testing.T) *appRedirect {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &appRedirect{url: "http://" + ln.Addr().String() + "/callback", query: make(chan url.Values, 4)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" { // the browser asks for /favicon.ico too
			http.NotFound(w, r)
			return
		}
		a.query <- r.URL.Query()
		_, _ = w.Write([]byte("<!doctype html><title>Signed in</title><p id=app>You can return to the app.</p>"))
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return a
}

func (a *appRedirect) wait(t *testing.T) url.Values {
	t.Helper()
	select {
	case q := <-a.query:
		return q
	case <-time.After(60 * time.Second):
		t.Fatal("the browser never reached the app's redirect URI")
		return nil
	}
}

func (e *env) oauthConfig(redirect string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:    BuiltinClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: e.issuer + "/oauth/authorize", TokenURL: e.issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirect,
		Scopes:      scopes,
	}
}

func (e *env) verify(token string) (auth.TokenClaims, error) {
	return e.srv.VerifyAccessToken(e.ctx, token)
}

// TestAuthorizationCodeFlowInBrowser signs alice in as a mail app would: the app opens
// the browser with PKCE, alice enters her password, must enrol TOTP (MFA is required
// of her), sees her recovery codes, and the app gets the code at its loopback redirect
// and exchanges it. Then the refresh token rotates, a reused one revokes its family,
// and a second sign-in (with a TOTP code now) gets tokens that revocation ends.
func TestAuthorizationCodeFlowInBrowser(t *testing.T) {
	e := newEnv(t)
	bctx := newBrowser(t)
	shots := artifacts(t)
	if err := e.store.SetMFARequired(e.ctx, e.alice.ID, RequireUser, true); err != nil {
		t.Fatal(err)
	}
	app := newAppRedirect(t)
	conf := e.oauthConfig(app.url, "openid", "email", "offline_access", ScopeIMAP, ScopeSMTP)
	octx := context.WithValue(e.ctx, oauth2.HTTPClient, e.http)

	// The first sign-in: password, then TOTP enrolment.
	verifier := oauth2.GenerateVerifier()
	if err := chromedp.Do(bctx, chromedp.Navigate(conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier)))); err != nil {
		t.Fatal(err)
	}
	fill(t, bctx, "login", aliceAddress)
	screenshot(t, bctx, shots, "oauth-signin")
	fill(t, bctx, "password", testPassword)
	click(t, bctx, "submit")
	secret := text(t, bctx, "secret")
	if uri := text(t, bctx, "uri"); !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
		t.Fatalf("enrolment shows URI %q for secret %q", uri, secret)
	}
	screenshot(t, bctx, shots, "oauth-enrol")
	code, err := totp.GenerateCode(secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	fill(t, bctx, "code", code)
	click(t, bctx, "submit")
	codes := strings.Fields(text(t, bctx, "codes"))
	if len(codes) != recoveryCodes {
		t.Fatalf("got %d recovery codes, want %d: %q", len(codes), recoveryCodes, codes)
	}
	screenshot(t, bctx, shots, "oauth-recovery-codes")
	click(t, bctx, "submit")
	q := app.wait(t)
	if q.Get("state") != "state-1" || q.Get("code") == "" {
		t.Fatalf("redirect to the app: %v", q)
	}
	if on, err := e.store.MFAEnabled(e.ctx, e.alice.ID); err != nil || !on {
		t.Fatalf("MFAEnabled after enrolment = %v, %v", on, err)
	}

	// A code exchanged without its verifier fails (RFC 7636 section 4.6)...
	if _, err := conf.Exchange(octx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("exchange with the wrong code_verifier succeeded")
	}
	// ...and a failed exchange does not use the code up, but a good one does.
	tok, err := conf.Exchange(octx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if _, err := conf.Exchange(octx, q.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a code was exchanged twice")
	}
	claims, err := e.verify(tok.AccessToken)
	if err != nil {
		t.Fatalf("VerifyAccessToken: %v", err)
	}
	if claims.UserID != e.alice.ID || claims.ClientID != BuiltinClientID || !slices.Contains(claims.Scopes, ScopeIMAP) || !slices.Contains(claims.Scopes, ScopeSMTP) {
		t.Fatalf("claims = %+v", claims)
	}
	if d := time.Until(claims.Expiry); d < 50*time.Minute || d > 61*time.Minute {
		t.Fatalf("access token lifetime %v, want an hour", d)
	}
	if id, _ := tok.Extra("id_token").(string); id == "" {
		t.Fatal("no ID token for the openid scope")
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}

	// Rotation: each refresh token is good once and brings the next.
	status, r2 := e.refresh(tok.RefreshToken)
	if status != http.StatusOK || r2.RefreshToken == "" || r2.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %d %+v", status, r2)
	}
	if _, err := e.verify(r2.AccessToken); err != nil {
		t.Fatalf("refreshed access token refused: %v", err)
	}
	// Reuse of the first token revokes the family: the second token and its access
	// token stop working too.
	if status, r := e.refresh(tok.RefreshToken); status != http.StatusBadRequest || r.Error != "invalid_grant" {
		t.Fatalf("reused refresh token: %d %+v", status, r)
	}
	if status, r := e.refresh(r2.RefreshToken); status != http.StatusBadRequest || r.Error != "invalid_grant" {
		t.Fatalf("refresh token of a revoked family: %d %+v", status, r)
	}
	for _, at := range []string{tok.AccessToken, r2.AccessToken} {
		if _, err := e.verify(at); !errors.Is(err, auth.ErrBadToken) {
			t.Fatalf("access token of a revoked family: %v", err)
		}
	}
	if e.audit.count(auth.EventTokenRevoke, false, "used refresh token") == 0 {
		t.Fatal("the reuse was not audited")
	}

	// The second sign-in asks for the TOTP code (a later step: a code is good once).
	e.clock.advance(totpPeriod * time.Second)
	verifier = oauth2.GenerateVerifier()
	if err := chromedp.Do(bctx, chromedp.Navigate(conf.AuthCodeURL("state-2", oauth2.S256ChallengeOption(verifier)))); err != nil {
		t.Fatal(err)
	}
	fill(t, bctx, "login", aliceAddress)
	fill(t, bctx, "password", testPassword)
	click(t, bctx, "submit")
	fill(t, bctx, "code", "000000")
	click(t, bctx, "submit")
	if msg := text(t, bctx, "error"); !strings.Contains(msg, "Wrong") {
		t.Fatalf("wrong code: %q", msg)
	}
	screenshot(t, bctx, shots, "oauth-mfa")
	code, err = totp.GenerateCode(secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	fill(t, bctx, "code", code)
	click(t, bctx, "submit")
	q = app.wait(t)
	tok, err = conf.Exchange(octx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}

	// Revocation (RFC 7009) of the refresh token ends its access token as well.
	if status := e.postForm("/oauth/revoke", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {BuiltinClientID}}, nil); status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}
	if _, err := e.verify(tok.AccessToken); !errors.Is(err, auth.ErrBadToken) {
		t.Fatalf("access token after its refresh token was revoked: %v", err)
	}
	if status, r := e.refresh(tok.RefreshToken); status != http.StatusBadRequest {
		t.Fatalf("revoked refresh token: %d %+v", status, r)
	}
	if e.audit.count(auth.EventTokenRevoke, true, "") == 0 || e.audit.count(EventMFAEnrol, true, "") != 1 || e.audit.count(auth.EventTokenGrant, true, "") < 3 || e.audit.count(auth.EventSignIn, false, "wrong") != 1 {
		t.Fatalf("audit events: %+v", e.audit.events)
	}
}

// deviceAuthorization is RFC 8628 section 3.2's response.
type deviceAuthorization struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// pollDevice is the command-line client's half of RFC 8628 section 3.4: poll the
// token endpoint every interval until the user decides or the code expires.
func (e *env) pollDevice(da deviceAuthorization) (tokenResponse, error) {
	interval := time.Duration(da.Interval) * time.Second
	deadline := time.Now().Add(time.Duration(da.ExpiresIn) * time.Second)
	for attempt := 0; attempt < 100 && time.Now().Before(deadline); attempt++ {
		time.Sleep(interval)
		var tr tokenResponse
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da.DeviceCode}, "client_id": {BuiltinClientID}}
		resp, err := e.http.PostForm(e.issuer+"/oauth/token", form)
		if err != nil {
			return tokenResponse{}, err
		}
		err = json.NewDecoder(resp.Body).Decode(&tr)
		resp.Body.Close()
		if err != nil {
			return tokenResponse{}, err
		}
		switch tr.Error {
		case "":
			return tr, nil
		case "authorization_pending":
		case "slow_down": // section 3.5: add five seconds
			interval += 5 * time.Second
		default:
			return tr, errors.New(tr.Error + ": " + tr.Description)
		}
	}
	return tokenResponse{}, errors.New("device code expired while polling")
}

// TestDeviceFlowApprovedInBrowser runs the device authorization grant: a command-line
// client asks for a code and polls while alice, who has TOTP, opens the verification
// URI, signs in with a recovery code and allows the device.
func TestDeviceFlowApprovedInBrowser(t *testing.T) {
	e := newEnv(t)
	bctx := newBrowser(t)
	shots := artifacts(t)
	k, err := newTOTPKey("Mailroom test", aliceAddress)
	if err != nil {
		t.Fatal(err)
	}
	now, _ := totp.GenerateCode(k.Secret(), e.clock.Now())
	codes, err := e.store.enrolTOTP(e.ctx, e.alice.ID, k.Secret(), now)
	if err != nil {
		t.Fatal(err)
	}

	var da deviceAuthorization
	status := e.postForm("/oauth/device_authorization", url.Values{"client_id": {BuiltinClientID}, "scope": {"openid offline_access imap smtp bogus"}}, &da)
	if status != http.StatusOK || da.DeviceCode == "" || da.UserCode == "" || !strings.HasPrefix(da.VerificationURIComplete, e.issuer+pathDevice+"?") {
		t.Fatalf("device authorization: %d %+v", status, da)
	}
	type result struct {
		tr  tokenResponse
		err error
	}
	done := make(chan result, 1)
	go func() {
		tr, err := e.pollDevice(da)
		done <- result{tr, err}
	}()

	if err := chromedp.Do(bctx, chromedp.Navigate(da.VerificationURIComplete)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, bctx, shots, "oauth-device-code")
	click(t, bctx, "submit") // the code is filled in from verification_uri_complete
	fill(t, bctx, "login", aliceAddress)
	fill(t, bctx, "password", testPassword)
	click(t, bctx, "submit")
	fill(t, bctx, "code", strings.ToLower(codes[0])) // a recovery code, typed carelessly
	click(t, bctx, "submit")
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.ID("allow"))); err != nil {
		t.Fatal(err)
	}
	screenshot(t, bctx, shots, "oauth-device-consent")
	click(t, bctx, "allow")
	if msg := text(t, bctx, "message"); !strings.Contains(msg, "connected") {
		t.Fatalf("after allowing: %q", msg)
	}

	var res result
	select {
	case res = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the device never got its tokens")
	}
	if res.err != nil {
		t.Fatalf("device polling: %v", res.err)
	}
	claims, err := e.verify(res.tr.AccessToken)
	if err != nil {
		t.Fatalf("device access token refused: %v", err)
	}
	if claims.UserID != e.alice.ID || slices.Contains(claims.Scopes, "bogus") || !slices.Contains(claims.Scopes, ScopeIMAP) {
		t.Fatalf("claims = %+v", claims)
	}
	// The device code is good once.
	if _, err := e.pollDevice(deviceAuthorization{DeviceCode: da.DeviceCode, ExpiresIn: 2, Interval: 0}); err == nil {
		t.Fatal("a device code was exchanged twice")
	}
	// The recovery code is used up.
	if st, err := e.store.Status(e.ctx, e.alice.ID, nil); err != nil || st.RecoveryCodesLeft != recoveryCodes-1 {
		t.Fatalf("status after a recovery code: %+v, %v", st, err)
	}

	// Revoking the access token alone leaves the refresh token working.
	if status := e.postForm("/oauth/revoke", url.Values{"token": {res.tr.AccessToken}, "token_type_hint": {"access_token"}, "client_id": {BuiltinClientID}}, nil); status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}
	if _, err := e.verify(res.tr.AccessToken); !errors.Is(err, auth.ErrBadToken) {
		t.Fatalf("revoked access token: %v", err)
	}
	if status, r := e.refresh(res.tr.RefreshToken); status != http.StatusOK {
		t.Fatalf("refresh after revoking only the access token: %d %+v", status, r)
	}
}
