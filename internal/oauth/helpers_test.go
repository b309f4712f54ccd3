package oauth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/pgtest"
)

// TestMain runs the suite on SQLite, then again on PostgreSQL when it is installed.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const (
	testPassword = "Stapled-Horse-Battery-42"
	aliceAddress = "alice@example.test"
)

// clock is the test's clock: real time plus an offset the test moves forward.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// dirPasswords checks passwords with the directory alone, standing in for
// auth.Service (which adds lockout and the audit log).
type dirPasswords struct{ d *directory.Directory }

func (p dirPasswords) CheckPassword(ctx context.Context, login, password string, _ auth.Source) (directory.User, error) {
	return p.d.Authenticate(ctx, login, password)
}

type auditLog struct {
	mu     sync.Mutex
	events []auth.Event
}

func (a *auditLog) Audit(_ context.Context, ev auth.Event) error {
	a.mu.Lock()
	a.events = append(a.events, ev)
	a.mu.Unlock()
	return nil
}

// count counts the events of a kind with the success flag and a detail containing
// detail.
func (a *auditLog) count(kind string, success bool, detail string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, e := range a.events {
		if e.Kind == kind && e.Success == success && strings.Contains(e.Detail, detail) && e.Protocol == "oauth" {
			n++
		}
	}
	return n
}

// env is a server on a loopback HTTPS listener with one user, alice.
type env struct {
	t      *testing.T
	ctx    context.Context
	db     *db.DB
	dir    *directory.Directory
	store  *Store
	srv    *Server
	ts     *httptest.Server
	http   *http.Client // trusts ts's certificate
	clock  *clock
	audit  *auditLog
	alice  directory.User
	issuer string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	e := &env{t: t, ctx: ctx, clock: &clock{}, audit: &auditLog{}}
	var err error
	if pgtest.Enabled() {
		e.db, err = db.OpenPostgres(ctx, pgtest.Start(t))
	} else {
		e.db, err = db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "mailroom.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Close() })
	if e.dir, err = directory.New(ctx, e.db); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.AddDomain(ctx, "example.test", ""); err != nil {
		t.Fatal(err)
	}
	if e.alice, err = e.dir.AddUser(ctx, directory.NewUser{Address: aliceAddress, Password: testPassword, DisplayName: "Alice Example"}); err != nil {
		t.Fatal(err)
	}
	if e.store, err = Open(ctx, e.db, e.clock.Now); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.ts = httptest.NewUnstartedServer(mux)
	e.ts.Listener.Close()
	e.ts.Listener = ln
	e.ts.StartTLS()
	t.Cleanup(e.ts.Close)
	e.issuer = e.ts.URL
	e.http = e.ts.Client()
	e.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	e.http.Transport.(*http.Transport).TLSClientConfig.MinVersion = tls.VersionTLS12
	v, err := NewVerifier(ctx, e.store, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	e.srv, err = NewServer(Config{
		Verifier: v, Directory: e.dir, Passwords: dirPasswords{e.dir}, Audit: e.audit,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Register(mux)
	return e
}

// postForm posts to the server and decodes a JSON answer into out (if not nil).
func (e *env) postForm(path string, form url.Values, out any) int {
	e.t.Helper()
	resp, err := e.http.Post(e.issuer+path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			e.t.Fatalf("POST %s: %d %s: %v", path, resp.StatusCode, body, err)
		}
	}
	return resp.StatusCode
}

// tokenResponse is RFC 6749 section 5.1's answer, or section 5.2's error.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

func (e *env) refresh(token string) (int, tokenResponse) {
	e.t.Helper()
	var tr tokenResponse
	code := e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {BuiltinClientID}}, &tr)
	return code, tr
}
