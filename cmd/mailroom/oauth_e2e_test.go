package main

import (
	"bufio"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"mailroom/internal/config"
	"mailroom/internal/db"
)

// oauthHost is the configured hostname; the browser and the HTTP clients of these
// tests resolve it to the loopback address, so the issuer's URL works unchanged.
const oauthHost = "mail.example.test"

// oauthServer is a running `mailroom serve` with alice, who must use a second factor.
type oauthServer struct {
	t      *testing.T
	data   string
	cfg    config.Config
	issuer string
	conf   *oauth2.Config
}

// dialer returns a dialer from the loopback address local ("" for any) that sends
// oauthHost to 127.0.0.1. Each protocol of the refusal table dials from its own
// address, so that the bad tokens of one do not lock out the address of another
// (docs/authentication.md: 20 failures per address).
func dialer(local string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil && host == oauthHost {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return d.DialContext(ctx, network, addr)
	}
}

// httpClient is an HTTPS client from local that does not follow redirects.
func httpClient(local string) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:     dialer(local),
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

func startOAuthServer(t *testing.T) *oauthServer {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("the OAuth end-to-end test needs Chromium at %s: %v", chromium, err)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed (scripts/test.sh installs it)")
	}
	data := newData(t)
	d := "--data=" + data
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "alice@example.test")
	ok(t, "", "mfa", "require", d, "--user", "alice@example.test")
	cfg := loopbackConfig(t, data)
	s := startServe(t, data)
	s.waitLog(t, "mailroom serving")
	_, port := splitAddr(t, cfg.HTTP.TLSListen[0])
	issuer := "https://" + net.JoinHostPort(oauthHost, port)
	return &oauthServer{t: t, data: data, cfg: cfg, issuer: issuer, conf: &oauth2.Config{
		ClientID: "mailroom-mail",
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/oauth/authorize", TokenURL: issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"openid", "email", "offline_access", "imap", "pop3", "smtp", "activesync", "dav"},
	}}
}

// browser starts headless Chromium that resolves oauthHost to the loopback address.
func (o *oauthServer) browser() (ctx context.Context, shoot func(name string)) {
	t := o.t
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.IgnoreCertErrors, chromedp.DisableGPU, chromedp.WindowSize(1000, 1000), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("host-resolver-rules", "MAP "+oauthHost+" 127.0.0.1"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(cancel)
	shots := artefacts(t)
	return ctx, func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// step runs browser actions and fails the test with where the browser was.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s (at %s): %v", what, loc, err)
	}
}

func textOf(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	step(t, ctx, "wait for #"+id, chromedp.WaitVisible(chromedp.ID(id)))
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return strings.TrimSpace(s)
}

// loopbackRedirect is the mail app's redirect listener (RFC 8252 section 7.3).
func loopbackRedirect(t *testing.T) (string, <-chan url.Values) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan url.Values, 4)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		got <- r.URL.Query()
		w.Write([]byte("<!doctype html><title>Signed in</title><p id=app>Return to the app.</p>"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/callback", got
}

// TestOAuthEndToEnd is the whole modern sign-in against a running server: a mail app
// runs the authorization-code flow with PKCE in headless Chromium, where alice, who
// must use a second factor, signs in and enrols TOTP; the app's token then signs in
// over IMAP (Python imaplib, XOAUTH2), SMTP (smtplib, XOAUTH2) and ActiveSync
// (Bearer). Expired, revoked, wrong-audience and tampered tokens are refused on every
// protocol with its own error. Last, a command-line client runs the device grant,
// approved in the browser with a recovery code, and reads mail with its token.
func TestOAuthEndToEnd(t *testing.T) {
	o := startOAuthServer(t)
	ctx, shoot := o.browser()
	client := httpClient("")
	octx := context.WithValue(context.Background(), oauth2.HTTPClient, client)

	// The authorization-code flow with PKCE (RFC 7636), TOTP enrolment included.
	redirect, codes := loopbackRedirect(t)
	conf := *o.conf
	conf.RedirectURL = redirect
	verifier := oauth2.GenerateVerifier()
	step(t, ctx, "open the sign-in page",
		chromedp.Navigate(conf.AuthCodeURL("state-e2e", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), "alice@example.test"),
		chromedp.SendKeys(chromedp.ID("password"), goodPassword))
	shoot("oauth-01-signin")
	step(t, ctx, "sign in", chromedp.Click(chromedp.ID("submit")))
	secret := textOf(t, ctx, "secret")
	shoot("oauth-02-enrol")
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "enter the TOTP code", chromedp.SendKeys(chromedp.ID("code"), code), chromedp.Click(chromedp.ID("submit")))
	recovery := strings.Fields(textOf(t, ctx, "codes"))
	if len(recovery) == 0 {
		t.Fatal("no recovery codes shown")
	}
	shoot("oauth-03-recovery-codes")
	step(t, ctx, "continue to the app", chromedp.Click(chromedp.ID("submit")))
	var q url.Values
	select {
	case q = <-codes:
	case <-time.After(time.Minute):
		t.Fatal("the browser never reached the app's redirect URI")
	}
	if q.Get("state") != "state-e2e" || q.Get("code") == "" {
		t.Fatalf("redirect to the app: %v", q)
	}
	tok, err := conf.Exchange(octx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange the code: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}
	if out := ok(t, "", "mfa", "status", "--data="+o.data, "alice@example.test"); !strings.Contains(out, "TOTP") {
		t.Errorf("mfa status after enrolment: %s", out)
	}

	// The token signs in over IMAP, SMTP and ActiveSync with real clients.
	o.imaplib(tok.AccessToken)
	o.smtplib(tok.AccessToken)
	o.activeSync(tok.AccessToken)

	// Three more access tokens through the rotating refresh token: one revoked
	// (RFC 7009), one expired, one valid to start from for the forgeries.
	refresh := func(rt string) *oauth2.Token {
		t.Helper()
		nt, err := conf.TokenSource(octx, &oauth2.Token{RefreshToken: rt}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		return nt
	}
	t2 := refresh(tok.RefreshToken)
	t3 := refresh(t2.RefreshToken)
	revoked, expired := t2.AccessToken, t3.AccessToken
	resp, err := client.PostForm(o.issuer+"/oauth/revoke", url.Values{"token": {revoked}, "token_type_hint": {"access_token"}, "client_id": {"mailroom-mail"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: HTTP %d", resp.StatusCode)
	}
	o.expire(expired)
	tokens := []struct{ name, token string }{
		{"valid", tok.AccessToken},
		{"expired", expired},
		{"revoked", revoked},
		{"wrong audience", o.forge(tok.AccessToken, func(c map[string]any) { c["aud"] = "https://elsewhere.example.test" })},
		{"tampered", tamper(tok.AccessToken)},
	}
	protocols := []struct {
		name  string
		local string // the loopback address this protocol's attempts come from
		try   func(local, token string) (bool, string)
	}{
		{"imap", "127.0.0.11", o.imapTry},
		{"pop3", "127.0.0.12", o.pop3Try},
		{"smtp", "127.0.0.13", o.smtpTry},
		{"activesync", "127.0.0.14", o.httpTry("POST", "/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=alice@example.test&DeviceId=E2ETABLE&DeviceType=iPhone")},
		{"autodiscover", "127.0.0.15", o.httpTry("GET", "/autodiscover/mail.mobileconfig")},
		{"dav", "127.0.0.16", o.httpTry("PROPFIND", "/dav/")},
	}
	for _, p := range protocols {
		for _, tk := range tokens {
			t.Run(p.name+"/"+tk.name, func(t *testing.T) {
				accepted, answer := p.try(p.local, tk.token)
				if accepted != (tk.name == "valid") {
					t.Errorf("accepted %v; answer %q", accepted, answer)
				}
			})
		}
	}

	// The device grant (RFC 8628) from a command-line client, approved in the browser
	// with a recovery code; its token reads mail over IMAP.
	o.deviceGrant(ctx, shoot, client, recovery[0])
}

// imaplib signs in over IMAPS with Python's imaplib and XOAUTH2 and lists the INBOX.
func (o *oauthServer) imaplib(token string) {
	t := o.t
	t.Helper()
	_, port := splitAddr(t, o.cfg.IMAP.TLSListen[0])
	out, err := exec.Command("python3", "-c", `
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
m.authenticate("XOAUTH2", lambda _: ("user=alice@example.test\x01auth=Bearer " + sys.argv[2] + "\x01\x01").encode())
typ, data = m.select("INBOX")
print("selected", typ, data[0].decode())
m.logout()
`, port, token).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "selected OK") {
		t.Fatalf("imaplib with a token: %v\n%s", err, out)
	}
}

// smtplib submits a message over SMTPS with Python's smtplib and XOAUTH2.
func (o *oauthServer) smtplib(token string) {
	t := o.t
	t.Helper()
	_, port := splitAddr(t, o.cfg.SMTP.Submissions[0])
	out, err := exec.Command("python3", "-c", `
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), context=ctx)
s.ehlo("client.example.test")
s.auth("XOAUTH2", lambda challenge=None: "user=alice@example.test\x01auth=Bearer " + sys.argv[2] + "\x01\x01")
s.sendmail("alice@example.test", ["alice@example.test"], "From: alice@example.test\r\nTo: alice@example.test\r\nSubject: sent with a token\r\n\r\nHello.\r\n")
s.quit()
print("sent")
`, port, token).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "sent") {
		t.Fatalf("smtplib with a token: %v\n%s", err, out)
	}
}

// bearer sends every request with the token instead of Basic credentials.
type bearer struct {
	base  http.RoundTripper
	token string
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// activeSync provisions a phone and lists its folders with the token.
func (o *oauthServer) activeSync(token string) {
	t := o.t
	t.Helper()
	c := httpClient("")
	c.Transport = bearer{c.Transport, token}
	phone := &easClient{t: t, base: "https://" + o.cfg.HTTP.TLSListen[0], user: "alice@example.test", device: "OAUTHPHONE", http: c}
	phone.provision()
	folders := phone.do("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`)
	if !strings.Contains(string(folders.XML()), "<Type>2</Type>") { // the Inbox
		t.Fatalf("FolderSync with a token: %s", folders.XML())
	}
}

// expire makes the server see the access token as expired: its row's expiry, which
// the verifier checks besides the JWT's exp, is set in the past.
func (o *oauthServer) expire(token string) {
	t := o.t
	t.Helper()
	claims := payload(t, token)
	d := o.openDB()
	err := d.WriteTx(context.Background(), func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE oauth_access_tokens SET expires = 1 WHERE id = $1`, claims["jti"])
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errors.New("no such access token row")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("expire the token: %v", err)
	}
}

func (o *oauthServer) openDB() *db.DB {
	t := o.t
	t.Helper()
	d, err := db.OpenSQLite(context.Background(), o.cfg.Path(o.cfg.Store.Path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// forge re-signs the token's claims, changed by edit, with the server's own key: a
// token the signature check passes, so that what refuses it is the claim.
func (o *oauthServer) forge(token string, edit func(map[string]any)) string {
	t := o.t
	t.Helper()
	var kid, keyPEM string
	if err := o.openDB().Read().QueryRow(`SELECT id, key_pem FROM oauth_keys ORDER BY created LIMIT 1`).Scan(&kid, &keyPEM); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(keyPEM))
	if block == nil {
		t.Fatal("signing key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.(*rsa.PrivateKey), KeyID: kid}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	claims := payload(t, token)
	edit(claims)
	raw, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// payload decodes a JWT's claims without checking anything.
func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// tamper changes the token's subject without re-signing it.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	json.Unmarshal(raw, &c)
	c["sub"] = "999999"
	raw, _ = json.Marshal(c)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}

// xoauth2 is the XOAUTH2 initial response for alice, base64.
func xoauth2(token string) string {
	return base64.StdEncoding.EncodeToString([]byte("user=alice@example.test\x01auth=Bearer " + token + "\x01\x01"))
}

// saslConn is an implicit-TLS connection to addr from local, for the protocols' own
// SASL exchanges.
type saslConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialSASL(t *testing.T, addr, local string) *saslConn {
	t.Helper()
	raw, err := dialer(local)(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, ServerName: oauthHost})
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &saslConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (s *saslConn) line() string {
	s.t.Helper()
	l, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

func (s *saslConn) send(l string) {
	s.t.Helper()
	if _, err := s.c.Write([]byte(l + "\r\n")); err != nil {
		s.t.Fatalf("write: %v", err)
	}
}

// imapTry: AUTHENTICATE XOAUTH2 with SASL-IR (RFC 4959). A refusal is an error
// challenge answered with an empty response, then NO [AUTHENTICATIONFAILED].
func (o *oauthServer) imapTry(local, token string) (bool, string) {
	s := dialSASL(o.t, o.cfg.IMAP.TLSListen[0], local)
	s.line()
	s.send("a AUTHENTICATE XOAUTH2 " + xoauth2(token))
	for {
		l := s.line()
		switch {
		case strings.HasPrefix(l, "+"):
			s.send("")
		case strings.HasPrefix(l, "a OK"):
			return true, l
		case strings.HasPrefix(l, "a "):
			if !strings.HasPrefix(l, "a NO [AUTHENTICATIONFAILED]") {
				o.t.Errorf("IMAP refusal %q", l)
			}
			return false, l
		}
	}
}

// pop3Try: AUTH XOAUTH2 with an initial response (RFC 5034); a refusal is -ERR [AUTH].
func (o *oauthServer) pop3Try(local, token string) (bool, string) {
	s := dialSASL(o.t, o.cfg.POP3.TLSListen[0], local)
	s.line()
	s.send("AUTH XOAUTH2 " + xoauth2(token))
	for {
		l := s.line()
		switch {
		case strings.HasPrefix(l, "+OK"):
			return true, l
		case strings.HasPrefix(l, "+"):
			s.send("")
		default:
			if !strings.HasPrefix(l, "-ERR [AUTH]") {
				o.t.Errorf("POP3 refusal %q", l)
			}
			return false, l
		}
	}
}

// smtpTry: AUTH XOAUTH2 on submissions (RFC 4954); a refusal is 535 5.7.8.
func (o *oauthServer) smtpTry(local, token string) (bool, string) {
	s := dialSASL(o.t, o.cfg.SMTP.Submissions[0], local)
	for l := s.line(); !strings.HasPrefix(l, "220 "); l = s.line() {
	}
	s.send("EHLO client.example.test")
	for l := s.line(); !strings.HasPrefix(l, "250 "); l = s.line() {
	}
	s.send("AUTH XOAUTH2 " + xoauth2(token))
	for {
		l := s.line()
		switch {
		case strings.HasPrefix(l, "334"):
			s.send("")
		case strings.HasPrefix(l, "235"):
			return true, l
		default:
			if !strings.HasPrefix(l, "535 5.7.8") {
				o.t.Errorf("SMTP refusal %q", l)
			}
			return false, l
		}
	}
}

// httpTry returns a try of an HTTPS request with the token (RFC 6750 section 2.1): a
// refusal is 401 with a Bearer challenge saying invalid_token (section 3.1).
func (o *oauthServer) httpTry(method, path string) func(local, token string) (bool, string) {
	return func(local, token string) (bool, string) {
		t := o.t
		var body *strings.Reader
		switch method {
		case "PROPFIND":
			body = strings.NewReader(`<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>`)
		default:
			body = strings.NewReader("")
		}
		req, err := http.NewRequest(method, o.issuer+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Depth", "0")
		req.Header.Set("MS-ASProtocolVersion", "16.1")
		resp, err := httpClient(local).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		challenges := strings.Join(resp.Header.Values("WWW-Authenticate"), "; ")
		answer := resp.Status + " " + challenges
		if resp.StatusCode != http.StatusUnauthorized {
			return resp.StatusCode < 400 || resp.StatusCode == 449, answer
		}
		if !strings.Contains(challenges, `error="invalid_token"`) {
			t.Errorf("%s %s: refusal without invalid_token: %s", method, path, answer)
		}
		return false, answer
	}
}

// deviceGrant runs RFC 8628 as a command-line client would: ask for a code, poll the
// token endpoint while the user approves in the browser, then use the token.
func (o *oauthServer) deviceGrant(ctx context.Context, shoot func(string), client *http.Client, recoveryCode string) {
	t := o.t
	resp, err := client.PostForm(o.issuer+"/oauth/device_authorization", url.Values{"client_id": {"mailroom-mail"}, "scope": {"imap offline_access"}})
	if err != nil {
		t.Fatal(err)
	}
	var da struct {
		DeviceCode              string `json:"device_code"`
		UserCode                string `json:"user_code"`
		VerificationURI         string `json:"verification_uri"`
		VerificationURIComplete string `json:"verification_uri_complete"`
		ExpiresIn               int    `json:"expires_in"`
		Interval                int    `json:"interval"`
	}
	err = json.NewDecoder(resp.Body).Decode(&da)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || da.DeviceCode == "" || da.UserCode == "" {
		t.Fatalf("device authorization: HTTP %d, %+v, %v", resp.StatusCode, da, err)
	}
	type result struct {
		token string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		interval := time.Duration(max(da.Interval, 1)) * time.Second
		deadline := time.Now().Add(time.Duration(da.ExpiresIn) * time.Second)
		for attempt := 0; attempt < 60 && time.Now().Before(deadline); attempt++ {
			time.Sleep(interval)
			resp, err := client.PostForm(o.issuer+"/oauth/token", url.Values{
				"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da.DeviceCode}, "client_id": {"mailroom-mail"}})
			if err != nil {
				done <- result{err: err}
				return
			}
			var tr struct {
				AccessToken string `json:"access_token"`
				Error       string `json:"error"`
			}
			err = json.NewDecoder(resp.Body).Decode(&tr)
			resp.Body.Close()
			switch {
			case err != nil:
				done <- result{err: err}
				return
			case tr.Error == "":
				done <- result{token: tr.AccessToken}
				return
			case tr.Error == "slow_down": // RFC 8628 section 3.5
				interval += 5 * time.Second
			case tr.Error != "authorization_pending":
				done <- result{err: errors.New(tr.Error)}
				return
			}
		}
		done <- result{err: errors.New("the device code expired while polling")}
	}()
	// The user types the code shown by the device at the verification URI.
	step(t, ctx, "enter the device code",
		chromedp.Navigate(da.VerificationURI),
		chromedp.WaitVisible(chromedp.ID("user_code")),
		chromedp.SendKeys(chromedp.ID("user_code"), strings.ToLower(da.UserCode)),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), "alice@example.test"),
		chromedp.SendKeys(chromedp.ID("password"), goodPassword),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("code")),
		chromedp.SendKeys(chromedp.ID("code"), recoveryCode),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("allow")))
	shoot("oauth-04-device-consent")
	step(t, ctx, "allow the device", chromedp.Click(chromedp.ID("allow")))
	if msg := textOf(t, ctx, "message"); !strings.Contains(msg, "connected") {
		t.Fatalf("after allowing the device: %q", msg)
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("the device never got its token")
	}
	if res.err != nil {
		t.Fatalf("device polling: %v", res.err)
	}
	o.imaplib(res.token)
}
