package web

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/activesync"
	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/instance"
	"mailroom/internal/mailflow"
	"mailroom/internal/oauth"
	"mailroom/internal/pgtest"
	"mailroom/internal/pki"
	"mailroom/internal/profiles"
)

const password = "correct horse battery"

// console is a running console over a fresh data directory with real services, an
// administrator (admin@example.test) and a user (user@example.test).
type console struct {
	t     *testing.T
	h     *Handler
	in    *instance.Instance
	mfa   *oauth.Store
	url   string
	clock *clock
}

// clock is a settable time, so session expiry can be tested without waiting.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// TestMain runs the suite on SQLite, then again on PostgreSQL when it is installed.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// newConsole initialises a data directory (on PostgreSQL in the suite's second pass)
// with the two users and starts a console node on it.
func newConsole(t *testing.T) *console {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	o := instance.InitOptions{Dir: dir, Hostname: "mail.example.test", Domain: "example.test"}
	if pgtest.Enabled() {
		o.DSN = pgtest.Start(t)
	}
	if err := instance.Init(ctx, o, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	c := openNode(t, dir)
	for _, nu := range []directory.NewUser{
		{Address: "admin@example.test", Password: password, Admin: true},
		{Address: "user@example.test", Password: password},
	} {
		if err := c.h.addMailbox(ctx, nu); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// openNode opens the data directory dir as one more node would and serves its
// console over HTTPS on loopback.
func openNode(t *testing.T, dir string) *console {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	in, err := instance.Open(ctx, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	ca, err := pki.Open(ctx, in.DB, pki.Options{Name: "Test CA"})
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profiles.New(ctx, in.DB, profiles.Options{Config: profiles.Config{DerivedCredentials: true}, Hostname: "mail.example.test", Directory: in.Directory, CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	signIn, err := auth.New(ctx, auth.Config{DB: in.DB, Directory: in.Directory, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	eas, err := activesync.New(ctx, activesync.Config{Store: in.Store, Directory: in.Directory, Auth: signIn, DB: in.DB,
		Submitter: &mailflow.Submitter{Flow: in.Flow, Senders: in.Directory, Store: in.Store}, Policy: activesync.DefaultPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	mfa, err := oauth.Open(ctx, in.DB, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(ctx, Config{DB: in.DB, Passwords: signIn, AppPasswords: signIn, MFA: mfa, Messages: in.Store, MaxImport: testMaxImport, Directory: in.Directory, Domains: in, Mailboxes: in.Store,
		Devices: eas, Queue: in.Queue, Profiles: prof, CA: ca, Hostname: "mail.example.test", Now: clk.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return &console{t: t, h: h, in: in, mfa: mfa, url: srv.URL, clock: clk}
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

func (c *console) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: c.t, base: c.url, c: &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// do sends a request and returns the status and body; it remembers the CSRF token of
// the last page that had one.
func (b *browser) do(method, path string, form url.Values) (int, string, *http.Response) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(raw); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(raw), resp
}

// post sends a form with the session's CSRF token.
func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf)
	code, body, _ := b.do(http.MethodPost, path, form)
	return code, body
}

func (c *console) signIn(login string) *browser {
	c.t.Helper()
	b := c.browser()
	code, _, resp := b.do(http.MethodPost, "/me/signin", url.Values{"login": {login}, "password": {password}})
	if code != http.StatusSeeOther {
		c.t.Fatalf("sign-in of %s: HTTP %d", login, code)
	}
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{cookieName + "=", "Secure", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, want) {
			c.t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	if code, _, _ := b.do(http.MethodGet, "/me/", nil); code != http.StatusOK || b.csrf == "" {
		c.t.Fatalf("self-service page after sign-in: HTTP %d", code)
	}
	return b
}

// concrete fills a route pattern's wildcards with plausible values.
func concrete(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{$}", "")
	return method, regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllStringFunc(path, func(w string) string {
		return map[string]string{"{domain}": "example.test", "{user}": "user@example.test", "{group}": "Staff",
			"{mailbox}": "user@example.test", "{id}": "1", "{job}": "J1", "{device}": "PHONE1", "{profile}": "Corp", "{serial}": "01"}[w]
	})
}

// TestAdminRoutesForbidden tries every administrator route, route by route, as a
// signed-in user who is not an administrator (403, with a valid CSRF token so that
// the refusal is the authorisation's) and as nobody (sent to sign in, or 403).
func TestAdminRoutesForbidden(t *testing.T) {
	c := newConsole(t)
	user := c.signIn("user@example.test")
	anonymous := c.browser()
	n := 0
	for _, rt := range c.h.routes() {
		if !rt.admin {
			continue
		}
		n++
		method, path := concrete(rt.pattern)
		t.Run(method+" "+path, func(t *testing.T) {
			form := url.Values{"csrf": {user.csrf}, "name": {"evil.test"}, "address": {"x@example.test"}, "password": {password}}
			if method == http.MethodGet {
				form = nil
			}
			if code, body, _ := user.do(method, path, form); code != http.StatusForbidden || !strings.Contains(body, "administrators only") {
				t.Errorf("as a user: HTTP %d, want 403", code)
			}
			code, _, resp := anonymous.do(method, path, form)
			if method == http.MethodGet {
				if code != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/me/signin") {
					t.Errorf("anonymous: HTTP %d to %q, want 303 to the sign-in page", code, resp.Header.Get("Location"))
				}
			} else if code != http.StatusForbidden {
				t.Errorf("anonymous: HTTP %d, want 403", code)
			}
		})
	}
	if n < 40 {
		t.Fatalf("only %d administrator routes", n)
	}
	// Nothing the user tried took effect.
	if _, err := c.in.Directory.Domain(context.Background(), "evil.test"); err == nil {
		t.Error("a user added a domain")
	}
	if u, err := c.in.Directory.User(context.Background(), "user@example.test"); err != nil || u.Admin || !u.Enabled {
		t.Errorf("user after the attempts: %+v, %v", u, err)
	}
}

// TestCSRF: a POST without the session's token, or with another session's, is refused
// and changes nothing; with it, the same POST works.
func TestCSRF(t *testing.T) {
	c := newConsole(t)
	admin := c.signIn("admin@example.test")
	other := c.signIn("user@example.test")
	for _, token := range []string{"", other.csrf, "forged"} {
		form := url.Values{"name": {"Staff"}}
		if token != "" {
			form.Set("csrf", token)
		}
		if code, body, _ := admin.do(http.MethodPost, "/admin/groups", form); code != http.StatusForbidden || !strings.Contains(body, "CSRF") {
			t.Errorf("POST with token %q: HTTP %d, want 403", token, code)
		}
	}
	if gs, _ := c.in.Directory.Groups(context.Background()); len(gs) != 0 {
		t.Fatalf("refused POSTs created %v", gs)
	}
	if code, _ := admin.post("/admin/groups", url.Values{"name": {"Staff"}}); code != http.StatusSeeOther {
		t.Fatalf("POST with the token: HTTP %d", code)
	}
	// A cross-site form post is refused by the browser's own headers as well.
	req, _ := http.NewRequest(http.MethodPost, c.url+"/me/signout", strings.NewReader("csrf="+admin.csrf))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := admin.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: HTTP %d, want 403", resp.StatusCode)
	}
}

// TestFormErrors: bad input comes back with the message next to its field, status
// 422, and nothing stored.
func TestFormErrors(t *testing.T) {
	c := newConsole(t)
	admin := c.signIn("admin@example.test")
	before, _ := c.in.Directory.Users(context.Background())
	cases := []struct {
		name  string
		path  string
		form  url.Values
		field string // the id of the message's element
		want  string
	}{
		{"malformed address", "/admin/users", url.Values{"address": {"not an address"}, "password": {password}}, "address-error", "not an address"},
		{"unknown domain", "/admin/users", url.Values{"address": {"x@elsewhere.test"}, "password": {password}}, "address-error", "elsewhere.test"},
		{"duplicate address", "/admin/users", url.Values{"address": {"User@example.test"}, "password": {password}}, "address-error", "already"},
		{"weak password", "/admin/users", url.Values{"address": {"new@example.test"}, "password": {"abc"}}, "password-error", "password"},
		{"no password", "/admin/users", url.Values{"address": {"new@example.test"}}, "password-error", "required"},
		{"bad domain", "/admin/domains", url.Values{"name": {"bad_domain!"}}, "name-error", "bad_domain!"},
		{"group without name", "/admin/groups", url.Values{"name": {""}}, "name-error", "required"},
		{"unknown member", "/admin/groups/Staff/members", url.Values{"member": {"ghost@example.test"}}, "member-error", "ghost"},
		{"profile without host", "/admin/profiles", createForm("P1", map[string]string{"host": ""}), "host-error", "empty"},
		{"certificate sign-in without a certificate", "/admin/profiles", createForm("P2", map[string]string{"authenticationMethod": "certificate"}), "clientCertificate-error", ""},
		{"choice not offered", "/admin/profiles", createForm("P3", map[string]string{"mailDays": "9"}), "mailDays-error", "not one of the choices"},
		{"profile without name", "/admin/profiles", createForm("", nil), "name-error", "name"},
	}
	if code, _ := admin.post("/admin/groups", url.Values{"name": {"Staff"}}); code != http.StatusSeeOther {
		t.Fatalf("add group: HTTP %d", code)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := admin.post(tc.path, tc.form)
			if code != http.StatusUnprocessableEntity {
				t.Fatalf("HTTP %d, want 422\n%s", code, body)
			}
			re := regexp.MustCompile(`id="` + regexp.QuoteMeta(tc.field) + `">([^<]*)<`)
			m := re.FindStringSubmatch(body)
			if m == nil || !strings.Contains(m[1], tc.want) {
				t.Fatalf("no message %q next to the field (%s):\n%s", tc.want, tc.field, body)
			}
			if strings.Contains(body, `value="`+password+`"`) || strings.Contains(body, `value="abc"`) {
				t.Error("the page sends the password back")
			}
		})
	}
	after, _ := c.in.Directory.Users(context.Background())
	ps, _ := c.h.cfg.Profiles.Profiles(context.Background())
	if len(after) != len(before) || len(ps) != 0 {
		t.Fatalf("refused forms stored something: %d users (had %d), profiles %v", len(after), len(before), ps)
	}
}

// createForm is the create form with the default settings, changed by set.
func createForm(name string, set map[string]string) url.Values {
	st := profiles.DefaultSettings()
	st.Host, st.AccountName = "mail.example.test", "Mail"
	form := settingValues(st)
	form.Set("name", name)
	for k, v := range set {
		form.Set(k, v)
	}
	return form
}

// TestSessions: sign-out and expiry end a session; plain HTTP is refused; a disabled
// user's session stops working at once.
func TestSessions(t *testing.T) {
	c := newConsole(t)
	b := c.signIn("user@example.test")
	c.clock.Add(9 * time.Hour)
	if code, _, resp := b.do(http.MethodGet, "/me/", nil); code != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/me/signin") {
		t.Errorf("after expiry: HTTP %d", code)
	}
	b = c.signIn("user@example.test")
	if code, _ := b.post("/me/signout", nil); code != http.StatusSeeOther {
		t.Errorf("sign out: HTTP %d", code)
	}
	if code, _, _ := b.do(http.MethodGet, "/me/", nil); code != http.StatusSeeOther {
		t.Errorf("after sign-out: HTTP %d", code)
	}
	b = c.signIn("user@example.test")
	if err := c.in.Directory.SetEnabled(context.Background(), "user@example.test", false); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := b.do(http.MethodGet, "/me/", nil); code != http.StatusSeeOther {
		t.Errorf("disabled user: HTTP %d", code)
	}
	bad := c.browser()
	if code, body, _ := bad.do(http.MethodPost, "/me/signin", url.Values{"login": {"admin@example.test"}, "password": {"wrong password"}}); code != http.StatusUnauthorized || !strings.Contains(body, "Wrong e-mail address or password") {
		t.Errorf("wrong password: HTTP %d", code)
	}
	// Plain HTTP gets nothing, not even the sign-in page.
	mux := http.NewServeMux()
	c.h.Register(mux)
	plain := httptest.NewServer(mux)
	defer plain.Close()
	resp, err := http.Get(plain.URL + "/me/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("plain HTTP: %d", resp.StatusCode)
	}
}

// TestPages renders every page an administrator and a user can open, after creating
// one of each thing, so that no template fails at run time.
func TestPages(t *testing.T) {
	c := newConsole(t)
	ctx := context.Background()
	admin := c.signIn("admin@example.test")
	steps := []struct {
		path string
		form url.Values
	}{
		{"/admin/groups", url.Values{"name": {"Staff"}, "address": {"staff@example.test"}}},
		{"/admin/groups/Staff/members", url.Values{"member": {"user@example.test"}}},
		{"/admin/shared", url.Values{"address": {"sales@example.test"}, "displayName": {"Sales"}}},
		{"/admin/shared/sales@example.test/grants", url.Values{"user": {"user@example.test"}, "right": {"SendAs"}}},
		{"/admin/users/user@example.test/aliases", url.Values{"alias": {"u@example.test"}}},
		{"/admin/profiles", createForm("Corp", map[string]string{"smime": "on", "smimeSigning": "on", "smimeSigningCertificateType": "certificate", "smimeSigningCertificate": "mailroom-ca"})},
		{"/admin/profiles/Corp/assign", url.Values{"group": {"Staff"}, "mode": {"include"}}},
	}
	for _, s := range steps {
		if code, body := admin.post(s.path, s.form); code != http.StatusSeeOther {
			t.Fatalf("POST %s: HTTP %d\n%s", s.path, code, body)
		}
	}
	for _, p := range []string{"/admin/", "/admin/domains", "/admin/domains/example.test", "/admin/users", "/admin/users/user@example.test",
		"/admin/groups", "/admin/groups/Staff", "/admin/shared", "/admin/queue", "/admin/devices", "/admin/profiles",
		"/admin/profiles/new", "/admin/profiles/Corp", "/admin/profiles/Corp/status", "/admin/profiles/Corp/status?state=pending",
		"/admin/certificates", "/me/", "/me/static/style.css"} {
		if code, body, _ := admin.do(http.MethodGet, p, nil); code != http.StatusOK {
			t.Errorf("GET %s: HTTP %d\n%s", p, code, body)
		}
	}
	_, body, _ := admin.do(http.MethodGet, "/admin/profiles/Corp/status?state=pending", nil)
	if !strings.Contains(body, "user@example.test") {
		t.Errorf("status table lacks the assigned user:\n%s", body)
	}
	_, body, _ = admin.do(http.MethodGet, "/admin/domains/example.test", nil)
	if !strings.Contains(body, "mailroom._domainkey.example.test.") || !strings.Contains(body, "not checked") {
		t.Errorf("domain page lacks the DKIM record or the check state:\n%s", body)
	}
	user := c.signIn("user@example.test")
	code, body, resp := user.do(http.MethodGet, "/me/profile.mobileconfig", nil)
	if code != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-apple-aspen-config" || len(body) == 0 {
		t.Fatalf("profile download: HTTP %d %s", code, resp.Header.Get("Content-Type"))
	}
	st, err := c.h.cfg.Profiles.Status(ctx, "Corp")
	if err != nil || len(st) != 3 || st[2].User != "user@example.test" || st[2].Downloaded != 1 {
		t.Errorf("status after the download: %+v %v", st, err)
	}
	// A user reaches only their own devices.
	if code, _, _ := user.do(http.MethodGet, "/me/devices/PHONE1", nil); code != http.StatusNotFound {
		t.Errorf("unknown device: HTTP %d", code)
	}
}

// TestSessionOnAnotherNode: a session started on one node is accepted by another node
// sharing the database, and signing out on the second ends it on the first.
func TestSessionOnAnotherNode(t *testing.T) {
	a := newConsole(t)
	b := openNode(t, a.in.Config.Dir)
	user := a.signIn("user@example.test")
	cookies := user.c.Jar.Cookies(mustURL(t, a.url))
	other := b.browser()
	other.c.Jar.SetCookies(mustURL(t, b.url), cookies)
	if code, body, _ := other.do(http.MethodGet, "/me/", nil); code != http.StatusOK || !strings.Contains(body, "user@example.test") {
		t.Fatalf("the other node: HTTP %d", code)
	}
	if code, _ := other.post("/me/signout", nil); code != http.StatusSeeOther {
		t.Fatalf("sign out on the other node: HTTP %d", code)
	}
	if code, _, _ := user.do(http.MethodGet, "/me/", nil); code != http.StatusSeeOther {
		t.Errorf("the first node after sign-out on the other: HTTP %d", code)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
