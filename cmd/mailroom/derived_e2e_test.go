package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
	"golang.org/x/oauth2"
	"howett.net/plist"

	"mailroom/internal/scep/sceptest"
	"mailroom/internal/wbxml"
)

// profileTestClient talks to the server's HTTPS listener at local whatever host a URL
// names (the issuer is https://mail.example.test:PORT), keeps cookies like a browser,
// presents identity when given, and stops at redirects to the app's loopback address.
func profileTestClient(t *testing.T, local string, identity *tls.Certificate) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig := &tls.Config{InsecureSkipVerify: true}
	if identity != nil {
		tlsConfig.Certificates = []tls.Certificate{*identity}
	}
	var d net.Dialer
	return &http.Client{
		Timeout: 30 * time.Second,
		Jar:     jar,
		Transport: &http.Transport{TLSClientConfig: tlsConfig, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, local)
		}},
		CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			if r.URL.Hostname() == "127.0.0.1" {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signInWithApp runs the authorization code flow with PKCE as a mail app with the
// built-in client does: the sign-in page takes the password and, when the page asks
// for one, enrols a TOTP factor. It returns the access token.
func signInWithApp(t *testing.T, hc *http.Client, discovery map[string]any, login string) string {
	t.Helper()
	conf := &oauth2.Config{ClientID: "mailroom-mail", RedirectURL: "http://127.0.0.1:9/callback", Scopes: []string{"activesync"},
		Endpoint: oauth2.Endpoint{AuthURL: discovery["authorization_endpoint"].(string), TokenURL: discovery["token_endpoint"].(string)}}
	verifier := oauth2.GenerateVerifier()
	page := func(resp *http.Response, err error) (string, *http.Response) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp
	}
	body, resp := page(hc.Get(conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier))))
	post := func(form url.Values) {
		m := csrfField.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no sign-in form (HTTP %d):\n%s", resp.StatusCode, body)
		}
		form.Set("csrf", m[1])
		body, resp = page(hc.PostForm(resp.Request.URL.ResolveReference(&url.URL{Path: "/oauth/login"}).String(), form))
	}
	post(url.Values{"login": {login}, "password": {goodPassword}})
	if m := regexp.MustCompile(`<code id="secret">([A-Z2-7]+)</code>`).FindStringSubmatch(body); m != nil {
		code, err := totp.GenerateCode(m[1], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		post(url.Values{"code": {code}})
		post(url.Values{}) // the recovery codes: continue
	}
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in ended with HTTP %d, no code: %v\n%s", resp.StatusCode, err, body)
	}
	tok, err := conf.Exchange(context.WithValue(context.Background(), oauth2.HTTPClient, hc), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// downloadProfile asks for the user's profile with an Authorization header; it
// returns the status, the body (the plist when signed) and the WWW-Authenticate
// headers.
func downloadProfile(t *testing.T, hc *http.Client, base, authorization string) (int, []byte, []string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/profiles/email.mobileconfig", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		p7, err := pkcs7.Parse(body)
		if err != nil {
			t.Fatalf("profile is not CMS: %v", err)
		}
		body = p7.Content
	}
	return resp.StatusCode, body, resp.Header.Values("WWW-Authenticate")
}

// basicAuth is the Authorization header of HTTP Basic.
func basicAuth(login, password string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(login, password)
	return req.Header.Get("Authorization")
}

// payloadsOf returns a profile's payloads by type (the last of each).
func payloadsOf(t *testing.T, raw []byte) map[string]map[string]any {
	t.Helper()
	var top struct{ PayloadContent []map[string]any }
	if _, err := plist.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, p := range top.PayloadContent {
		out[p["PayloadType"].(string)] = p
	}
	return out
}

// TestOAuthAndDerivedCredentialProfiles runs "mailroom serve" and checks issues #8
// and #10 as a device and its user meet them:
//   - a profile with OAuth names the sign-in and token URLs of the running server's
//     discovery document (fetched with curl), keeps Host, and carries no password;
//   - a profile with a derived credential is refused to a password, and to a token
//     from a sign-in without a second factor, with RFC 9470's step-up challenge;
//     a token from a sign-in with TOTP gets it; its SCEP payload enrols; the
//     certificate signs in to ActiveSync alone; and that certificate in turn proves a
//     strong credential at the next download.
func TestOAuthAndDerivedCredentialProfiles(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	data := newData(t)
	d := "--data=" + data
	for _, u := range []string{"alice", "bob", "carol"} {
		ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", u+"@example.test")
	}
	ok(t, "", "group", "add", d, "Field")
	ok(t, "", "group", "add", d, "Office")
	ok(t, "", "group", "member", "add", d, "Field", "alice@example.test")
	ok(t, "", "group", "member", "add", d, "Field", "bob@example.test")
	ok(t, "", "group", "member", "add", d, "Office", "carol@example.test")
	cfg := loopbackConfig(t, data)
	ok(t, `{"smime": true, "smimeSigning": true, "smimeSigningCertificateType": "derived-credential",
		"smimeEncryptionCertificateType": "derived-credential"}`,
		"profile", "create", d, "--from-json", "-", "--host", "mail.example.test", "--account-name", "Field mail",
		"--username", "primary-smtp", "--email-address", "primary-smtp", "--auth", "derived-credential", "PIV-D")
	ok(t, "", "profile", "assign", d, "PIV-D", "Field")
	ok(t, "", "profile", "create", d, "--host", "mail.example.test", "--account-name", "Office mail", "--oauth", "Modern")
	ok(t, "", "profile", "assign", d, "Modern", "Office")
	ok(t, "", "mfa", "require", d, "--user", "alice@example.test")
	if r := mailroom(t, "", "profile", "render", d, "--user", "alice@example.test", "--unsigned", "--out", "-"); r.code == 0 ||
		!strings.Contains(r.stderr, "two-step verification") {
		t.Errorf("render of a derived credential: %+v", r)
	}

	s := startServe(t, data)
	s.waitLog(t, "mailroom serving")
	local := cfg.HTTP.TLSListen[0]
	_, port, _ := net.SplitHostPort(local)
	issuer := "https://mail.example.test:" + port
	out, err := exec.Command("curl", "-sSk", "--max-time", "30", "--resolve", "mail.example.test:"+port+":127.0.0.1",
		issuer+"/.well-known/openid-configuration").Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	var discovery map[string]any
	if err := json.Unmarshal(out, &discovery); err != nil || discovery["issuer"] != issuer {
		t.Fatalf("discovery %s: %v", out, err)
	}

	// OAuth: carol's profile names the discovery document's endpoints.
	hc := profileTestClient(t, local, nil)
	code, body, _ := downloadProfile(t, hc, issuer, basicAuth("carol@example.test", goodPassword))
	if code != http.StatusOK {
		t.Fatalf("OAuth profile: HTTP %d %s", code, body)
	}
	eas := payloadsOf(t, body)["com.apple.eas.account"]
	if eas["OAuth"] != true || eas["OAuthSignInURL"] != discovery["authorization_endpoint"] ||
		eas["OAuthTokenRequestURL"] != discovery["token_endpoint"] || eas["Host"] != "mail.example.test" || eas["Password"] != nil {
		t.Errorf("OAuth keys %v, discovery %v", eas, discovery)
	}

	// Derived credential: a password, or a token without a second factor, is not enough.
	stepUp := `error="insufficient_user_authentication"`
	bobsToken := signInWithApp(t, profileTestClient(t, local, nil), discovery, "bob@example.test")
	for name, authorization := range map[string]string{"password": basicAuth("alice@example.test", goodPassword), "token without MFA": "Bearer " + bobsToken} {
		code, body, challenges := downloadProfile(t, hc, issuer, authorization)
		if code != http.StatusUnauthorized || !strings.Contains(string(body), "two-step verification") ||
			len(challenges) != 1 || !strings.Contains(challenges[0], stepUp) {
			t.Errorf("%s: HTTP %d %q, challenges %q", name, code, body, challenges)
		}
	}
	alicesToken := signInWithApp(t, profileTestClient(t, local, nil), discovery, "alice@example.test")
	code, body, _ = downloadProfile(t, hc, issuer, "Bearer "+alicesToken)
	if code != http.StatusOK {
		t.Fatalf("derived credential with MFA: HTTP %d %s", code, body)
	}
	payloads := payloadsOf(t, body)
	eas, scepPayload, smime := payloads["com.apple.eas.account"], payloads["com.apple.security.scep"], payloads["com.apple.security.pkcs12"]
	if scepPayload == nil || smime == nil || eas["PayloadCertificateUUID"] != scepPayload["PayloadUUID"] ||
		eas["SMIMESigningCertificateUUID"] != smime["PayloadUUID"] || eas["SMIMEEncryptionCertificateUUID"] != smime["PayloadUUID"] {
		t.Fatalf("derived-credential payloads: %v", payloads)
	}
	content := scepPayload["PayloadContent"].(map[string]any)
	scepURL, err := url.Parse(content["URL"].(string))
	if err != nil || content["KeyIsExtractable"] != false {
		t.Fatalf("SCEP payload %v", content)
	}

	// The device enrols with the challenge and signs in with the certificate alone.
	res, err := sceptest.Enrol(context.Background(), hc, issuer+scepURL.Path, sceptest.Request{Challenge: content["Challenge"].(string)})
	if err != nil || res.Status != scep.SUCCESS {
		t.Fatalf("enrol: %q %q, %v", string(res.Status), string(res.FailInfo), err)
	}
	identity := tls.Certificate{Certificate: [][]byte{res.Cert.Raw}, PrivateKey: res.Key, Leaf: res.Cert}
	phoneHTTP := profileTestClient(t, local, &identity)
	phoneHTTP.Transport = withoutPassword{phoneHTTP.Transport}
	phone := &easClient{t: t, base: issuer, user: "alice@example.test", device: "PIVDPHONE", http: phoneHTTP}
	phone.provision()
	folders := phone.do("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`)
	if folders.ChildText(wbxml.NSFolderHierarchy, "Status") != "1" {
		t.Fatalf("FolderSync with the derived credential: %s", folders.XML())
	}

	// That certificate is itself a strong credential: with it, a (new) app password
	// download is let through; another user's certificate proves nothing for bob.
	for _, tt := range []struct {
		login string
		want  int
	}{{"alice@example.test", http.StatusOK}, {"bob@example.test", http.StatusUnauthorized}} {
		var app struct{ Password string }
		okJSON(t, &app, "user", "app-password", "add", d, tt.login, "phone")
		if code, body, _ := downloadProfile(t, profileTestClient(t, local, &identity), issuer, basicAuth(tt.login, app.Password)); code != tt.want {
			t.Errorf("%s with alice's certificate: HTTP %d %s", tt.login, code, body)
		}
	}
}
