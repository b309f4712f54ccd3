package adminapi_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/adminapi"
	"mailroom/internal/directory"
)

// everyRoute is one request per route, with a body where the route takes one.
var everyRoute = []struct{ method, path, body string }{
	{"GET", "domains", ""},
	{"POST", "domains", `{"name":"new.test"}`},
	{"GET", "domains/example.test", ""},
	{"DELETE", "domains/example.test", ""},
	{"GET", "users", ""},
	{"POST", "users", `{"address":"carol@example.test","password":"correct horse battery"}`},
	{"GET", "users/alice@example.test", ""},
	{"PATCH", "users/alice@example.test", `{"admin":true}`},
	{"PUT", "users/alice@example.test/password", `{"password":"another horse battery"}`},
	{"DELETE", "users/alice@example.test", ""},
	{"POST", "users/alice@example.test/aliases", `{"alias":"al@example.test"}`},
	{"DELETE", "users/alice@example.test/aliases/al@example.test", ""},
	{"GET", "groups", ""},
	{"POST", "groups", `{"name":"staff"}`},
	{"GET", "groups/staff", ""},
	{"DELETE", "groups/staff", ""},
	{"POST", "groups/staff/members", `{"member":"alice@example.test"}`},
	{"DELETE", "groups/staff/members/alice@example.test", ""},
	{"POST", "shared", `{"address":"info@example.test"}`},
	{"GET", "shared/info@example.test/grants", ""},
	{"POST", "shared/info@example.test/grants", `{"user":"alice@example.test","right":"FullAccess"}`},
	{"DELETE", "shared/info@example.test/grants/alice@example.test/FullAccess", ""},
	{"GET", "queue", ""},
	{"GET", "queue/1", ""},
	{"POST", "queue/1/retry", ""},
	{"DELETE", "queue/1", ""},
	{"GET", "devices", ""},
	{"GET", "users/alice@example.test/devices", ""},
	{"GET", "users/alice@example.test/devices/DEV1", ""},
	{"POST", "users/alice@example.test/devices/DEV1/allow", ""},
	{"POST", "users/alice@example.test/devices/DEV1/block", ""},
	{"POST", "users/alice@example.test/devices/DEV1/quarantine", ""},
	{"POST", "users/alice@example.test/devices/DEV1/reset", ""},
	{"POST", "users/alice@example.test/devices/DEV1/wipe", `{"accountOnly":false}`},
	{"DELETE", "users/alice@example.test/devices/DEV1", ""},
	{"GET", "device-rules", ""},
	{"POST", "device-rules", `{"field":"device-type","pattern":"iPhone","access":"block"}`},
	{"DELETE", "device-rules/1", ""},
	{"PUT", "device-rules/default", `{"access":"block"}`},
	{"GET", "profiles", ""},
	{"POST", "profiles", `{"name":"p","settings":{"host":"mail.example.test","accountName":"Work"}}`},
	{"GET", "profiles/p", ""},
	{"PUT", "profiles/p", `{"settings":{"host":"mail.example.test","accountName":"Work"}}`},
	{"DELETE", "profiles/p", ""},
	{"GET", "profiles/p/versions", ""},
	{"POST", "profiles/p/assignments", `{"group":"staff"}`},
	{"DELETE", "profiles/p/assignments/staff", ""},
	{"GET", "profiles/p/status", ""},
	{"GET", "certificates", ""},
	{"GET", "users/alice@example.test/certificates", ""},
	{"POST", "certificates/01/revoke", ""},
	{"GET", "no/such/route", ""},
}

// TestSignIn: without credentials every route answers 401 with the Basic challenge,
// with a wrong password 401, as a user who is no administrator 403, and none of them
// changes anything.
func TestSignIn(t *testing.T) {
	e := newEnv(t)
	e.addUser(directory.NewUser{Address: "old@example.test", Password: password, Admin: true})
	must(t, e.in.Directory.SetEnabled(e.ctx, "old@example.test", false))
	cases := []struct {
		name        string
		login, pass string
		want        int
		challenge   bool
		routes      int // how many of everyRoute to try; a wrong password costs a hash each
	}{
		{"no credentials", "", "", http.StatusUnauthorized, true, len(everyRoute)},
		{"wrong password", adminLogin, wrongPassword, http.StatusUnauthorized, true, 5},
		{"unknown login", "nobody@example.test", password, http.StatusUnauthorized, true, 5},
		{"not an administrator", aliceLogin, password, http.StatusForbidden, false, len(everyRoute)},
		{"disabled administrator", "old@example.test", password, http.StatusForbidden, false, len(everyRoute)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, rt := range everyRoute[:c.routes] {
				var body any
				if rt.body != "" {
					body = rt.body
				}
				a := e.call(c.login, c.pass, rt.method, rt.path, body)
				if a.code != c.want {
					t.Errorf("%s %s: status %d, want %d: %s", rt.method, rt.path, a.code, c.want, a.body)
					continue
				}
				if got := a.header.Values("WWW-Authenticate"); c.challenge != slices.Equal(got, []string{`Basic realm="Mailroom admin"`, `Bearer realm="Mailroom admin"`}) {
					t.Errorf("%s %s: WWW-Authenticate %q", rt.method, rt.path, got)
				}
				if a.errBody(t).Error == "" {
					t.Errorf("%s %s: no error message in %s", rt.method, rt.path, a.body)
				}
			}
		})
	}
	// Nothing the refused requests asked for happened.
	if _, err := e.in.Directory.Domain(e.ctx, "new.test"); err == nil {
		t.Error("a refused request added a domain")
	}
	if u, err := e.in.Directory.User(e.ctx, aliceLogin); err != nil || u.Admin {
		t.Errorf("alice after refused requests: %+v, %v", u, err)
	}
	// Refusals are logged without the password tried.
	if logs := e.logs.String(); !strings.Contains(logs, "admin sign-in refused") || strings.Contains(logs, wrongPassword) {
		t.Errorf("log:\n%s", logs)
	}
}

// TestPlainHTTP: a request that did not come over TLS is refused whoever sends it.
func TestPlainHTTP(t *testing.T) {
	e := newEnv(t)
	api := adminapi.New(adminapi.Config{Directory: e.in.Directory,
		Authenticators: []adminapi.Authenticator{adminapi.Basic{Passwords: e.signIn}}})
	mux := http.NewServeMux()
	api.Register(mux)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	for _, login := range []string{"", adminLogin} {
		req, err := http.NewRequestWithContext(e.ctx, "GET", ts.URL+"/api/v1/users", nil)
		must(t, err)
		if login != "" {
			req.SetBasicAuth(login, password)
		}
		resp, err := ts.Client().Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("plain HTTP as %q: status %d, want 403", login, resp.StatusCode)
		}
	}
}

// TestCrossOrigin: a browser request from another site is refused even with valid
// credentials, so a signed-in console session cannot be ridden by another page.
func TestCrossOrigin(t *testing.T) {
	e := newEnv(t)
	req, err := http.NewRequestWithContext(e.ctx, "DELETE", e.ts.URL+"/api/v1/users/alice@example.test", nil)
	must(t, err)
	req.SetBasicAuth(adminLogin, password)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if a := e.do(req); a.code != http.StatusForbidden {
		t.Fatalf("cross-site DELETE: status %d: %s", a.code, a.body)
	}
	if _, err := e.in.Directory.User(e.ctx, aliceLogin); err != nil {
		t.Fatalf("alice after a refused cross-site DELETE: %v", err)
	}
}
