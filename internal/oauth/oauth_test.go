package oauth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"
)

// curlJSON fetches a document with curl, as an admin checking a server would.
func curlJSON(t *testing.T, u string, out any) {
	t.Helper()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	body, err := exec.CommandContext(t.Context(), curl, "--silent", "--show-error", "--fail", "--insecure", "--max-time", "30", u).Output()
	if err != nil {
		t.Fatalf("curl %s: %v", u, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("curl %s: %v: %s", u, err, body)
	}
}

func TestDiscoveryAndJWKSWithCurl(t *testing.T) {
	e := newEnv(t)
	type metadata struct {
		Issuer                   string   `json:"issuer"`
		AuthorizationEndpoint    string   `json:"authorization_endpoint"`
		TokenEndpoint            string   `json:"token_endpoint"`
		RevocationEndpoint       string   `json:"revocation_endpoint"`
		DeviceEndpoint           string   `json:"device_authorization_endpoint"`
		JWKSURI                  string   `json:"jwks_uri"`
		ScopesSupported          []string `json:"scopes_supported"`
		GrantTypesSupported      []string `json:"grant_types_supported"`
		CodeChallengeMethods     []string `json:"code_challenge_methods_supported"`
		TokenEndpointAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		var m metadata
		curlJSON(t, e.issuer+path, &m)
		if m.Issuer != e.issuer || m.AuthorizationEndpoint != e.issuer+"/oauth/authorize" || m.TokenEndpoint != e.issuer+"/oauth/token" ||
			m.RevocationEndpoint != e.issuer+"/oauth/revoke" || m.DeviceEndpoint != e.issuer+"/oauth/device_authorization" || m.JWKSURI != e.issuer+"/oauth/jwks" {
			t.Fatalf("%s: endpoints %+v", path, m)
		}
		for _, want := range []struct {
			list []string
			item string
		}{
			{m.ScopesSupported, ScopeIMAP}, {m.ScopesSupported, "offline_access"}, {m.CodeChallengeMethods, "S256"},
			{m.GrantTypesSupported, "authorization_code"}, {m.GrantTypesSupported, "refresh_token"},
			{m.GrantTypesSupported, "urn:ietf:params:oauth:grant-type:device_code"}, {m.TokenEndpointAuthMethods, "none"},
		} {
			if !slices.Contains(want.list, want.item) {
				t.Errorf("%s: %q missing from %q", path, want.item, want.list)
			}
		}
	}
	var jwks struct {
		Keys []struct {
			Kid, Kty, Alg, Use, N, E string
			D                        string `json:"d"`
		} `json:"keys"`
	}
	curlJSON(t, e.issuer+"/oauth/jwks", &jwks)
	if len(jwks.Keys) != 1 {
		t.Fatalf("JWKS has %d keys", len(jwks.Keys))
	}
	k := jwks.Keys[0]
	if k.Kid != e.srv.keys.signing().id || k.Kty != "RSA" || k.Alg != "RS256" || k.Use != "sig" || k.N == "" || k.E == "" || k.D != "" {
		t.Fatalf("JWK %+v", k)
	}
	// A second server on the same database signs with the same key.
	again, err := NewVerifier(e.ctx, e.store, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	if again.keys.signing().id != k.Kid {
		t.Fatal("a restarted server made a new key")
	}
}

// authorize starts an authorization request and returns op's answer.
func (e *env) authorize(t *testing.T, q url.Values) *http.Response {
	t.Helper()
	resp, err := e.http.Get(e.issuer + "/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestAuthorizeChecks(t *testing.T) {
	e := newEnv(t)
	base := func(change func(url.Values)) url.Values {
		q := url.Values{"client_id": {BuiltinClientID}, "response_type": {"code"}, "scope": {"openid imap"}, "state": {"s"},
			"redirect_uri": {"http://127.0.0.1:45678/cb"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
		change(q)
		return q
	}
	tests := []struct {
		name   string
		q      url.Values
		login  bool   // op sends the browser to the sign-in page
		errStr string // else the error in the redirect (or "" for a page of its own)
	}{
		{"loopback with any port", base(func(url.Values) {}), true, ""},
		{"IPv6 loopback, no path", base(func(q url.Values) { q.Set("redirect_uri", "http://[::1]:5000") }), true, ""},
		{"localhost", base(func(q url.Values) { q.Set("redirect_uri", "http://localhost:5000/") }), true, ""},
		{"no PKCE", base(func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }), false, "invalid_request"},
		{"plain PKCE", base(func(q url.Values) { q.Set("code_challenge_method", "plain") }), false, "invalid_request"},
		{"not loopback", base(func(q url.Values) { q.Set("redirect_uri", "http://evil.example:5000/cb") }), false, ""},
		{"loopback look-alike", base(func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1.evil.example/cb") }), false, ""},
		{"unknown client", base(func(q url.Values) { q.Set("client_id", "nobody") }), false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.authorize(t, tc.q)
			loc := resp.Header.Get("Location")
			switch {
			case tc.login:
				if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, pathLogin+"?authRequestID=") {
					t.Fatalf("got %d %q, want the sign-in page", resp.StatusCode, loc)
				}
			case tc.errStr != "":
				if !strings.Contains(loc, "error="+tc.errStr) {
					t.Fatalf("got %d %q, want error %s", resp.StatusCode, loc, tc.errStr)
				}
			default:
				if strings.HasPrefix(loc, pathLogin) || strings.HasPrefix(loc, "http://") {
					t.Fatalf("got %d %q, want a refusal that redirects nowhere", resp.StatusCode, loc)
				}
			}
		})
	}
}

// TestSignInForms checks the sign-in state: a POST without its CSRF token or its
// cookie is refused, wrong passwords end the sign-in after maxFailures.
func TestSignInForms(t *testing.T) {
	e := newEnv(t)
	resp := e.authorize(t, url.Values{"client_id": {BuiltinClientID}, "response_type": {"code"}, "scope": {"openid imap"},
		"redirect_uri": {"http://127.0.0.1:4000/"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}})
	page, err := e.http.Get(e.issuer + resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	var cookie *http.Cookie
	for _, c := range page.Cookies() {
		if c.Name == cookieName {
			cookie = c
		}
	}
	if cookie == nil || !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("sign-in cookie %+v", cookie)
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	_, after, _ := strings.Cut(string(body), `name="csrf" value="`)
	csrf, _, _ := strings.Cut(after, `"`)
	if csrf == "" {
		t.Fatalf("no CSRF token in %s", body)
	}
	post := func(form url.Values, withCookie bool) int {
		req, _ := http.NewRequestWithContext(e.ctx, http.MethodPost, e.issuer+pathLogin, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if withCookie {
			req.AddCookie(cookie)
		}
		resp, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	wrong := url.Values{"login": {aliceAddress}, "password": {"wrong"}, "csrf": {csrf}}
	if got := post(url.Values{"login": {aliceAddress}, "password": {testPassword}, "csrf": {"forged"}}, true); got != http.StatusForbidden {
		t.Fatalf("forged CSRF token: %d", got)
	}
	if got := post(url.Values{"login": {aliceAddress}, "password": {testPassword}, "csrf": {csrf}}, false); got != http.StatusBadRequest {
		t.Fatalf("no cookie: %d", got)
	}
	for i := 1; i < maxFailures; i++ {
		if got := post(wrong, true); got != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i, got)
		}
	}
	if got := post(wrong, true); got != http.StatusForbidden {
		t.Fatalf("wrong password %d: %d, want the sign-in ended", maxFailures, got)
	}
	if got := post(url.Values{"login": {aliceAddress}, "password": {testPassword}, "csrf": {csrf}}, true); got != http.StatusBadRequest {
		t.Fatalf("right password after the sign-in ended: %d", got)
	}
}

func TestMFARequirementByGroup(t *testing.T) {
	e := newEnv(t)
	g, err := e.dir.AddGroup(e.ctx, "staff", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.dir.AddMember(e.ctx, "staff", aliceAddress); err != nil {
		t.Fatal(err)
	}
	if req, err := e.srv.mfaRequired(e.ctx, e.alice.ID); err != nil || req {
		t.Fatalf("required before any requirement: %v, %v", req, err)
	}
	if err := e.store.SetMFARequired(e.ctx, g.ID, RequireGroup, true); err != nil {
		t.Fatal(err)
	}
	if req, err := e.srv.mfaRequired(e.ctx, e.alice.ID); err != nil || !req {
		t.Fatalf("required through the group: %v, %v", req, err)
	}
	st, err := e.store.Status(e.ctx, e.alice.ID, []int64{g.ID})
	if err != nil || st.RequiredForUser || !slices.Equal(st.RequiredByGroups, []int64{g.ID}) || st.Enrolled {
		t.Fatalf("status %+v, %v", st, err)
	}
	if err := e.store.SetMFARequired(e.ctx, g.ID, RequireGroup, false); err != nil {
		t.Fatal(err)
	}
	if req, _ := e.srv.mfaRequired(e.ctx, e.alice.ID); req {
		t.Fatal("still required after the group's requirement was lifted")
	}
	if err := e.store.SetMFARequired(e.ctx, 1, "everyone", true); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad kind: %v", err)
	}
}

func TestSecondFactor(t *testing.T) {
	e := newEnv(t)
	k, err := newTOTPKey("Mailroom test", aliceAddress)
	if err != nil {
		t.Fatal(err)
	}
	code := func() string {
		s, err := totpCode(k.Secret(), e)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := e.store.enrolTOTP(e.ctx, e.alice.ID, k.Secret(), "123"); !errors.Is(err, errBadCode) {
		t.Fatalf("enrol with a bad code: %v", err)
	}
	if on, _ := e.store.MFAEnabled(e.ctx, e.alice.ID); on {
		t.Fatal("a failed enrolment stored the factor")
	}
	codes, err := e.store.enrolTOTP(e.ctx, e.alice.ID, k.Secret(), code())
	if err != nil {
		t.Fatal(err)
	}
	// The enrolment's code is used: it does not sign in again.
	if _, err := e.store.verifySecondFactor(e.ctx, e.alice.ID, code()); !errors.Is(err, errBadCode) {
		t.Fatalf("the enrolment's code again: %v", err)
	}
	e.clock.advance(totpPeriod * time.Second)
	if rec, err := e.store.verifySecondFactor(e.ctx, e.alice.ID, code()); err != nil || rec {
		t.Fatalf("next step's code: %v, %v", rec, err)
	}
	if rec, err := e.store.verifySecondFactor(e.ctx, e.alice.ID, strings.ReplaceAll(codes[3], "-", " ")); err != nil || !rec {
		t.Fatalf("recovery code: %v, %v", rec, err)
	}
	if _, err := e.store.verifySecondFactor(e.ctx, e.alice.ID, codes[3]); !errors.Is(err, errBadCode) {
		t.Fatalf("recovery code twice: %v", err)
	}
	if err := e.store.ResetMFA(e.ctx, e.alice.ID); err != nil {
		t.Fatal(err)
	}
	st, err := e.store.Status(e.ctx, e.alice.ID, nil)
	if err != nil || st.Enrolled || st.RecoveryCodesLeft != 0 {
		t.Fatalf("after reset: %+v, %v", st, err)
	}
}

func TestClients(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		nc   NewClient
		want error
	}{
		{"native loopback", NewClient{ID: "tb", RedirectURIs: []string{"http://127.0.0.1/"}, Native: true}, nil},
		{"native private-use scheme", NewClient{ID: "ios", RedirectURIs: []string{"com.example.mail:/oauth"}, Native: true}, nil},
		{"web app", NewClient{ID: "webmail", RedirectURIs: []string{"https://webmail.example.test/cb"}, Confidential: true}, nil},
		{"duplicate", NewClient{ID: "tb", RedirectURIs: []string{"http://127.0.0.1/"}, Native: true}, ErrExists},
		{"built-in id", NewClient{ID: BuiltinClientID, RedirectURIs: []string{"http://127.0.0.1/"}, Native: true}, ErrExists},
		{"no redirect", NewClient{ID: "x"}, ErrInvalid},
		{"plain http to a host", NewClient{ID: "x", RedirectURIs: []string{"http://example.test/cb"}}, ErrInvalid},
		{"loopback, not native", NewClient{ID: "x", RedirectURIs: []string{"http://127.0.0.1/cb"}}, ErrInvalid},
		{"fragment", NewClient{ID: "x", RedirectURIs: []string{"https://a.example/cb#x"}}, ErrInvalid},
		{"scheme not a domain", NewClient{ID: "x", RedirectURIs: []string{"myapp:/cb"}, Native: true}, ErrInvalid},
		{"native with secret", NewClient{ID: "x", RedirectURIs: []string{"http://127.0.0.1/"}, Native: true, Confidential: true}, ErrInvalid},
		{"bad id", NewClient{ID: "a b", RedirectURIs: []string{"https://a.example/"}}, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, secret, err := e.store.AddClient(e.ctx, tc.nc)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil && (secret != "") != tc.nc.Confidential {
				t.Fatalf("secret %q for confidential=%v", secret, tc.nc.Confidential)
			}
			if err == nil && c.ID != tc.nc.ID {
				t.Fatalf("client %+v", c)
			}
		})
	}
	list, err := e.store.Clients(e.ctx)
	if err != nil || len(list) != 4 || list[0].ID != BuiltinClientID {
		t.Fatalf("clients %+v, %v", list, err)
	}
	// A confidential client authenticates with its secret only.
	_, secret, err := e.store.AddClient(e.ctx, NewClient{ID: "svc", RedirectURIs: []string{"https://svc.example/cb"}, Confidential: true})
	if err != nil {
		t.Fatal(err)
	}
	st := &storage{e.srv}
	if err := st.AuthorizeClientIDSecret(e.ctx, "svc", secret); err != nil {
		t.Fatalf("right secret: %v", err)
	}
	if err := st.AuthorizeClientIDSecret(e.ctx, "svc", secret+"x"); err == nil {
		t.Fatal("wrong secret accepted")
	}
	if err := e.store.RemoveClient(e.ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RemoveClient(e.ctx, "svc"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
	if err := e.store.RemoveClient(e.ctx, BuiltinClientID); !errors.Is(err, ErrInvalid) {
		t.Fatalf("remove the built-in client: %v", err)
	}
}

func TestParseUserCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"BCDF-GHJK", "BCDF-GHJK"},
		{"bcdfghjk", "BCDF-GHJK"},
		{" bcdf ghjk ", "BCDF-GHJK"},
		{"BCDF-GHJ", ""},
		{"BCDF-GHJKL", ""},
		{"ABCD-EFGH", ""}, // vowels are not in the alphabet
		{"", ""},
		{"BCDF-GHJ1", ""},
	}
	for _, tc := range tests {
		got, err := parseUserCode(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("parseUserCode(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseUserCode(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseUserCode: whatever a user types, the result is a well-formed code that
// parses to itself, or an error.
func FuzzParseUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdfghjk", "", "----", "ÄÖÜ", "BCDF GHJK X"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, err := parseUserCode(s)
		if err != nil {
			return
		}
		if len(code) != userCodeConfig.CharAmount+userCodeConfig.CharAmount/userCodeConfig.DashInterval-1 {
			t.Fatalf("parseUserCode(%q) = %q: wrong length", s, code)
		}
		again, err := parseUserCode(code)
		if err != nil || again != code {
			t.Fatalf("parseUserCode(%q) = %q, %v, not stable", code, again, err)
		}
	})
}

// FuzzNormalizeRecoveryCode: normalising is idempotent and keeps no separators.
func FuzzNormalizeRecoveryCode(f *testing.F) {
	f.Add(newRecoveryCode())
	f.Add("abcd-efgh ijkl\tmnop")
	f.Fuzz(func(t *testing.T, s string) {
		n := normalizeRecoveryCode(s)
		if normalizeRecoveryCode(n) != n || strings.ContainsAny(n, "- \t") {
			t.Fatalf("normalizeRecoveryCode(%q) = %q", s, n)
		}
	})
}

func totpCode(secret string, e *env) (string, error) { return totp.GenerateCode(secret, e.clock.Now()) }

// TestPlainHTTPRefused: over plain HTTP a GET is sent to HTTPS and anything else is
// refused, whatever the path.
func TestPlainHTTPRefused(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	e.srv.Register(mux)
	plain := httptest.NewServer(mux)
	defer plain.Close()
	client := plain.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/.well-known/openid-configuration", http.StatusPermanentRedirect},
		{http.MethodGet, "/oauth/device?user_code=BCDF-GHJK", http.StatusPermanentRedirect},
		{http.MethodPost, "/oauth/token", http.StatusBadRequest},
		{http.MethodPost, pathLogin, http.StatusBadRequest},
	}
	for _, tc := range tests {
		req, _ := http.NewRequestWithContext(e.ctx, tc.method, plain.URL+tc.path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		if tc.status == http.StatusPermanentRedirect && resp.Header.Get("Location") != e.issuer+tc.path {
			t.Errorf("%s %s: Location %q", tc.method, tc.path, resp.Header.Get("Location"))
		}
	}
}
