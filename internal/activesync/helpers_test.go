package activesync

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/auth/authtest"
	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/pgtest"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
	"mailroom/internal/wbxml"
)

// TestMain runs the suite on SQLite, then again on PostgreSQL when its server
// binaries are installed.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testPassword = "correct horse battery"

// env is a running ActiveSync server over HTTPS on loopback, with a real SQLite store
// and directory in a temporary directory.
type env struct {
	t      testing.TB
	ctx    context.Context
	db     *db.DB
	store  *sqlstore.Store
	dir    *directory.Directory
	auth   *auth.Service
	tokens *authtest.Issuer
	srv    *Server
	ts     *httptest.Server
	alice  directory.User
	bob    directory.User
}

type envOption func(*Config)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	tmp := t.TempDir()
	var d *db.DB
	var b blob.Area
	var err error
	if pgtest.Enabled() {
		d, err = db.OpenPostgres(ctx, pgtest.Start(t))
		must(t, err)
		b, err = blob.NewTable(ctx, d, "store")
	} else {
		d, err = db.OpenSQLite(ctx, filepath.Join(tmp, "mailroom.db"))
		must(t, err)
		b, err = blob.Open(filepath.Join(tmp, "blobs"))
	}
	must(t, err)
	st, err := sqlstore.New(ctx, d, b, sqlstore.Options{WatchInterval: 50 * time.Millisecond})
	must(t, err)
	dir, err := directory.New(ctx, d)
	must(t, err)
	_, err = dir.AddDomain(ctx, "example.com", "EXAMPLE")
	must(t, err)
	e := &env{t: t, ctx: ctx, db: d, store: st, dir: dir, tokens: authtest.NewIssuer(nil)}
	e.auth, err = auth.New(ctx, auth.Config{DB: d, Directory: dir, Tokens: e.tokens})
	must(t, err)
	e.alice = e.addUser("alice@example.com", "alice.smith@corp.example.com", "asmith")
	e.bob = e.addUser("bob@example.com", "", "")
	must(t, dir.AddAlias(ctx, "alice@example.com", "a@example.com"))
	cfg := Config{
		Store:     st,
		Directory: dir,
		Auth:      e.auth,
		DB:        d,
		Submitter: &localSubmitter{dir: dir, store: st},
		Policy:    DefaultPolicy(),
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.srv, err = New(ctx, cfg)
	must(t, err)
	mux := http.NewServeMux()
	mux.Handle("/Microsoft-Server-ActiveSync", e.srv)
	e.ts = httptest.NewTLSServer(mux)
	t.Cleanup(func() {
		e.ts.Close()
		_ = e.srv.Shutdown(ctx)
		st.Close()
		d.Close()
	})
	return e
}

func (e *env) addUser(addr, upn, sam string) directory.User {
	u, err := e.dir.AddUser(e.ctx, directory.NewUser{Address: addr, Password: testPassword, UPN: upn, SAM: sam})
	must(e.t, err)
	_, err = e.store.EnsureAccount(e.ctx, store.AccountID(u.ID))
	must(e.t, err)
	return u
}

// testWriter sends the server's warnings and errors to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) folder(u directory.User, role store.Role) store.Folder {
	f, err := e.store.FolderByRole(e.ctx, store.AccountID(u.ID), role)
	must(e.t, err)
	return f
}

// deliver puts a message into u's folder of the given role, as SMTP would.
func (e *env) deliver(u directory.User, role store.Role, raw string, date time.Time) store.Delivered {
	f := e.folder(u, role)
	ds, err := e.store.Deliver(e.ctx, store.NewMessage{Raw: []byte(raw), InternalDate: date},
		[]store.Placement{{Account: store.AccountID(u.ID), Folder: f.ID}})
	must(e.t, err)
	return ds[0]
}

func message(from, to, subject, body string) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.com>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
}

// localSubmitter delivers to local recipients with the real store, as the shared
// submission path does for local users.
type localSubmitter struct {
	dir   *directory.Directory
	store *sqlstore.Store
}

func (l *localSubmitter) Submit(ctx context.Context, user directory.User, raw []byte, saveInSent bool) error {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	var to []store.Placement
	for _, h := range []string{"To", "Cc", "Bcc"} {
		list, err := m.Header.AddressList(h)
		if err != nil && err != mail.ErrHeaderNotPresent {
			return fmt.Errorf("submit: %s: %w", h, err)
		}
		for _, a := range list {
			rcpt, err := l.dir.ResolveRecipient(ctx, a.Address)
			if err != nil {
				return fmt.Errorf("submit: %w", err)
			}
			for _, u := range rcpt.Users {
				to = append(to, store.Placement{Account: store.AccountID(u.ID)})
			}
		}
	}
	if len(to) == 0 {
		return fmt.Errorf("submit: no recipients")
	}
	if _, err := l.store.Deliver(ctx, store.NewMessage{Raw: raw}, to); err != nil {
		return err
	}
	if saveInSent {
		sent, err := l.store.FolderByRole(ctx, store.AccountID(user.ID), store.RoleSent)
		if err != nil {
			return err
		}
		_, err = l.store.Deliver(ctx, store.NewMessage{Raw: raw, Flags: []string{store.FlagSeen}},
			[]store.Placement{{Account: store.AccountID(user.ID), Folder: sent.ID}})
		return err
	}
	return nil
}

// client is a Go ActiveSync client speaking to env's server.
type client struct {
	e          *env
	http       *http.Client
	login      string
	password   string
	deviceID   string
	deviceType string
	version    string
	userAgent  string
	policyKey  string
}

func (e *env) client(deviceID string) *client {
	return &client{
		e: e, http: e.ts.Client(), login: "alice@example.com", password: testPassword,
		deviceID: deviceID, deviceType: "iPhone", version: "16.1", userAgent: "Apple-iPhone15C2/2104.236",
	}
}

func (c *client) url(cmd string) string {
	return c.e.ts.URL + "/Microsoft-Server-ActiveSync?Cmd=" + cmd + "&User=" + c.login +
		"&DeviceId=" + c.deviceID + "&DeviceType=" + c.deviceType
}

// raw sends a request and returns the response with its body read.
func (c *client) raw(method, url string, body []byte, header map[string]string) (*http.Response, []byte) {
	c.e.t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	must(c.e.t, err)
	req.SetBasicAuth(c.login, c.password)
	req.Header.Set("User-Agent", c.userAgent)
	if c.version != "" {
		req.Header.Set("MS-ASProtocolVersion", c.version)
	}
	if c.policyKey != "" {
		req.Header.Set("X-MS-PolicyKey", c.policyKey)
	}
	req.Header.Set("Content-Type", contentTypeWBXML)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	must(c.e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(c.e.t, err)
	return resp, b
}

// send posts cmd with the XML form of its body and decodes the answer; a nil result
// means an empty body.
func (c *client) send(cmd, xml string) (*http.Response, *wbxml.Element) {
	c.e.t.Helper()
	var body []byte
	if xml != "" {
		el, err := wbxml.ParseXML([]byte(xml))
		must(c.e.t, err)
		body, err = wbxml.Encode(el)
		must(c.e.t, err)
	}
	resp, b := c.raw(http.MethodPost, c.url(cmd), body, nil)
	if len(b) == 0 || resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != contentTypeWBXML {
		c.e.t.Fatalf("%s: Content-Type %q", cmd, ct)
	}
	el, err := wbxml.Decode(b)
	must(c.e.t, err)
	return resp, el
}

// do is send that insists on HTTP 200 with a body.
func (c *client) do(cmd, xml string) *wbxml.Element {
	c.e.t.Helper()
	resp, el := c.send(cmd, xml)
	if resp.StatusCode != http.StatusOK || el == nil {
		c.e.t.Fatalf("%s: HTTP %d, body %v", cmd, resp.StatusCode, el)
	}
	return el
}

// provision runs both phases and keeps the final key.
func (c *client) provision() {
	c.e.t.Helper()
	c.policyKey = ""
	r := c.do("Provision", fixture(c.e.t, "provision-request.xml"))
	temp := r.Child(wbxml.NSProvision, "Policies").Child(wbxml.NSProvision, "Policy").ChildText(wbxml.NSProvision, "PolicyKey")
	r = c.do("Provision", strings.ReplaceAll(fixture(c.e.t, "provision-ack.xml"), "$KEY", temp))
	c.policyKey = r.Child(wbxml.NSProvision, "Policies").Child(wbxml.NSProvision, "Policy").ChildText(wbxml.NSProvision, "PolicyKey")
	if c.policyKey == "" {
		c.e.t.Fatalf("no final policy key in %s", r.XML())
	}
}

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	must(t, err)
	return string(b)
}

// golden compares an answer with testdata/name, or rewrites the file with -update.
func golden(t testing.TB, name string, el *wbxml.Element) {
	t.Helper()
	got := el.XML()
	path := filepath.Join("testdata", name)
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func status(el *wbxml.Element, space string) string { return el.ChildText(space, "Status") }

// syncXML builds a Sync request for one collection.
func syncXML(collection, key string, extra string) string {
	return `<?xml version="1.0"?><Sync xmlns="AirSync:" xmlns:airsyncbase="AirSyncBase:" xmlns:email="Email:"><Collections><Collection>` +
		`<SyncKey>` + key + `</SyncKey><CollectionId>` + collection + `</CollectionId>` + extra +
		`</Collection></Collections></Sync>`
}

// collection returns the first Collection of a Sync answer.
func collection(el *wbxml.Element) *wbxml.Element {
	return el.Child(wbxml.NSAirSync, "Collections").Child(wbxml.NSAirSync, "Collection")
}

// base64Query builds the base64 query form of [MS-ASHTTP] 2.2.1.1.1.1.
func base64Query(version, cmd byte, deviceID, deviceType string, policyKey uint32, params ...[2]string) string {
	b := []byte{version, cmd, 0x09, 0x04, byte(len(deviceID))}
	b = append(b, deviceID...)
	if policyKey != 0 {
		b = append(b, 4, byte(policyKey), byte(policyKey>>8), byte(policyKey>>16), byte(policyKey>>24))
	} else {
		b = append(b, 0)
	}
	b = append(b, byte(len(deviceType)))
	b = append(b, deviceType...)
	for _, p := range params {
		tag := map[string]byte{"CollectionId": 1, "ItemId": 3, "User": 8}[p[0]]
		b = append(b, tag, byte(len(p[1])))
		b = append(b, p[1]...)
	}
	return base64.StdEncoding.EncodeToString(b)
}
