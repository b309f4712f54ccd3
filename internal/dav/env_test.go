package dav

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
)

const testPassword = "correct horse battery staple"

// env is a DAV server over a real store and directory on a loopback TLS listener.
type env struct {
	store  *sqlstore.Store
	dir    *directory.Directory
	alice  directory.User
	bob    directory.User
	srv    *httptest.Server
	client *http.Client
}

// newEnv starts the server; each option may complete its configuration.
func newEnv(t testing.TB, options ...func(*env, *Config)) *env {
	t.Helper()
	ctx := context.Background()
	tmp := t.TempDir()
	d, err := db.OpenSQLite(ctx, filepath.Join(tmp, "mailroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	dir, err := directory.New(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddDomain(ctx, "example.com", "EXAMPLE"); err != nil {
		t.Fatal(err)
	}
	e := &env{dir: dir}
	if e.alice, err = dir.AddUser(ctx, directory.NewUser{Address: "alice@example.com", Password: testPassword, DisplayName: "Alice Liddell", Title: "Engineer"}); err != nil {
		t.Fatal(err)
	}
	if e.bob, err = dir.AddUser(ctx, directory.NewUser{Address: "bob@example.com", Password: testPassword}); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddUser(ctx, directory.NewUser{Address: "sales@example.com", Kind: directory.KindShared, DisplayName: "Sales"}); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddGroup(ctx, "staff", "staff@example.com", "All staff"); err != nil {
		t.Fatal(err)
	}
	if err := dir.AddMember(ctx, "staff", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.Open(filepath.Join(tmp, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	if e.store, err = sqlstore.New(ctx, d, blobs, sqlstore.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	cfg := Config{Store: e.store, Auth: Directory{dir}, GAL: Directory{dir}}
	for _, o := range options {
		o(e, &cfg)
	}
	h := New(cfg)
	mux := http.NewServeMux()
	h.Register(mux)
	e.srv = httptest.NewUnstartedServer(mux)
	e.srv.Listener.Close()
	if e.srv.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	e.client = e.srv.Client()
	e.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return e
}

// do sends one request as user (empty: no credentials) and returns status, headers and body.
func (e *env) do(t testing.TB, user, method, path, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, testPassword)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// folder returns alice's folder with the role.
func (e *env) folder(t testing.TB, role store.Role) store.Folder {
	t.Helper()
	f, err := e.store.FolderByRole(context.Background(), store.AccountID(e.alice.ID), role)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// event is a small VEVENT.
func event(uid, summary, start string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:" + start + "\r\nDURATION:PT1H\r\nSUMMARY:" + summary + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
}

// card is a small vCard 3.0.
func card(uid, name, email string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + name + "\r\nN:" + name + ";;;;\r\nEMAIL:" + email + "\r\nEND:VCARD\r\n"
}
