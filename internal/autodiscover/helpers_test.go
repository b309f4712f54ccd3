package autodiscover

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailroom/internal/auth"
	"mailroom/internal/auth/authtest"
	"mailroom/internal/config"
	"mailroom/internal/db"
	"mailroom/internal/directory"
)

// testPassword passes the directory's password policy.
const testPassword = "correct horse battery"

// Addresses of the test directory: alice has the alias al@example.test, bob exists
// too, nobody is no one.
const (
	alice   = "alice@example.test"
	aliceAl = "al@example.test"
	bob     = "bob@example.test"
	nobody  = "nobody@example.test"
)

// newTestDirectory opens a directory on a fresh SQLite database with the domains
// example.test and example.org and the users alice (with an alias) and bob.
func newTestDirectory(t testing.TB) *directory.Directory {
	t.Helper()
	dir, _, _ := newTestAuth(t)
	return dir
}

// newTestAuth is newTestDirectory with the sign-in service over it, taking the
// tokens of the issuer it returns.
func newTestAuth(t testing.TB) (*directory.Directory, *auth.Service, *authtest.Issuer) {
	t.Helper()
	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "mailroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	dir, err := directory.New(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, dom := range [][2]string{{"example.test", "EXAMPLE"}, {"example.org", "EXAMPLEORG"}} {
		if _, err := dir.AddDomain(ctx, dom[0], dom[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, nu := range []directory.NewUser{
		{Address: alice, Password: testPassword, DisplayName: "Alice Example"},
		{Address: bob, Password: testPassword, DisplayName: "Bob Example"},
	} {
		if _, err := dir.AddUser(ctx, nu); err != nil {
			t.Fatal(err)
		}
	}
	if err := dir.AddAlias(ctx, alice, aliceAl); err != nil {
		t.Fatal(err)
	}
	issuer := authtest.NewIssuer(nil)
	signIn, err := auth.New(ctx, auth.Config{DB: d, Directory: dir, Tokens: issuer, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return dir, signIn, issuer
}

// testServices is what the default configuration offers: IMAP 2993 (TLS) and 2143,
// POP3 2995 and 2110, submission 2587 and 2465, HTTPS on 8443.
func testServices() Services {
	return ServicesFromConfig(config.Default(os.TempDir(), "mail.example.test"))
}

// testEnv is a Handler behind a real TLS listener and a plain-HTTP one.
type testEnv struct {
	h      *Handler
	dir    *directory.Directory
	signIn *auth.Service
	issuer *authtest.Issuer
	tls    *httptest.Server
	plain  *httptest.Server
}

func newTestEnv(t testing.TB, mutate func(*Config)) *testEnv {
	t.Helper()
	dir, signIn, issuer := newTestAuth(t)
	c := Config{Hostname: "mail.example.test", Services: testServices(), Directory: dir, Auth: signIn}
	if mutate != nil {
		mutate(&c)
	}
	h := New(c)
	mux := http.NewServeMux()
	h.Register(mux)
	e := &testEnv{h: h, dir: dir, signIn: signIn, issuer: issuer, tls: httptest.NewTLSServer(mux), plain: httptest.NewServer(mux)}
	t.Cleanup(e.tls.Close)
	t.Cleanup(e.plain.Close)
	return e
}

// response is what a test looks at of an HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to the TLS server (or the plain one if plain), with Basic
// credentials if login is not empty, and never follows redirects.
func (e *testEnv) do(t testing.TB, plain bool, method, path, login, password string, body []byte, hdr ...string) response {
	t.Helper()
	srv := e.tls
	if plain {
		srv = e.plain
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if login != "" {
		req.SetBasicAuth(login, password)
	}
	client := *srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// readTestdata returns testdata/name with alice's address replaced by address, if not
// empty.
func readTestdata(t testing.TB, name, address string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if address != "" {
		b = bytes.ReplaceAll(b, []byte(alice), []byte(address))
	}
	return b
}

// The response types below are written from the schemas, independently of the
// handler's own types, with fully qualified names so a wrong namespace fails to parse.

type gotOutlook struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response struct {
		XMLName xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Response"`
		User    *struct {
			DisplayName             string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a DisplayName"`
			AutoDiscoverSMTPAddress string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a AutoDiscoverSMTPAddress"`
		} `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a User"`
		Account *struct {
			AccountType  string        `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a AccountType"`
			Action       string        `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Action"`
			RedirectAddr string        `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a RedirectAddr"`
			Protocols    []gotProtocol `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Protocol"`
		} `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Account"`
		Error *gotError `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Error"`
	}
}

type gotProtocol struct {
	Type           string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Type"`
	Server         string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Server"`
	Port           string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Port"`
	LoginName      string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a LoginName"`
	DomainRequired string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a DomainRequired"`
	SPA            string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a SPA"`
	SSL            string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a SSL"`
	Encryption     string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Encryption"`
	AuthRequired   string `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a AuthRequired"`
}

// gotError leaves its children's namespace open: the same element appears in both
// response schemas, and the enclosing element's namespace is checked.
type gotError struct {
	Time      string    `xml:"Time,attr"`
	ID        string    `xml:"Id,attr"`
	ErrorCode string    `xml:"ErrorCode"`
	Message   string    `xml:"Message"`
	DebugData *struct{} `xml:"DebugData"`
}

type gotMobile struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response struct {
		XMLName xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 Response"`
		Culture string   `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 Culture"`
		User    *struct {
			DisplayName  string `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 DisplayName"`
			EMailAddress string `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 EMailAddress"`
		} `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 User"`
		Action *struct {
			Redirect string `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 Redirect"`
			Settings *struct {
				Servers []struct {
					Type string `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 Type"`
					URL  string `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 Url"`
					Name string `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 Name"`
				} `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 Server"`
			} `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 Settings"`
		} `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 Action"`
		Error *gotError `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 Error"`
	}
}

func parseXML[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := xml.Unmarshal(b, &v); err != nil {
		t.Fatalf("parse response: %v\n%s", err, b)
	}
	return v
}

// checkPOXError checks an error response in the outlook (or mobilesync) schema.
func checkPOXError(t testing.TB, r response, mobile bool, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d\n%s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Errorf("Content-Type %q", ct)
	}
	var e *gotError
	if mobile {
		e = parseXML[gotMobile](t, r.body).Response.Error
	} else {
		e = parseXML[gotOutlook](t, r.body).Response.Error
	}
	if e == nil {
		t.Fatalf("no Error element in\n%s", r.body)
	}
	if e.ErrorCode != code || e.Message == "" || e.Time == "" || e.ID == "" || e.DebugData == nil {
		t.Errorf("Error = %+v, want ErrorCode %s with Message, Time, Id and DebugData", e, code)
	}
}
