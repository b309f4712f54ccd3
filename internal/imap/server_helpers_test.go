package imap

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailroom/internal/acl"
	"mailroom/internal/auth"
	"mailroom/internal/auth/authtest"
	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
	"mailroom/internal/tlsconf"
)

// srvPassword passes the directory's password policy.
const srvPassword = "correct horse battery"

// srvEnv is a running IMAP server over a real SQLite store and directory, with users
// alice@example.com and bob@example.com, and the shared mailbox sales@example.com on
// which alice holds FullAccess.
type srvEnv struct {
	srv      *Server
	store    *sqlstore.Store
	acl      *acl.Store
	dir      *directory.Directory
	auth     *auth.Service
	tokens   *authtest.Issuer
	alice    directory.User
	bob      directory.User
	sales    directory.User
	plain    string // address of the listener with STARTTLS
	implicit string // address of the implicit-TLS listener
	caFile   string
	client   *tls.Config
}

func newSrvEnv(t testing.TB, opts ...func(*Config)) *srvEnv {
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
	e := &srvEnv{dir: dir, tokens: authtest.NewIssuer(nil)}
	if e.auth, err = auth.New(ctx, auth.Config{DB: d, Directory: dir, Tokens: e.tokens}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		to   *directory.User
		addr string
		kind directory.Kind
	}{{&e.alice, "alice@example.com", ""}, {&e.bob, "bob@example.com", ""}, {&e.sales, "sales@example.com", directory.KindShared}} {
		nu := directory.NewUser{Address: u.addr, Kind: u.kind}
		if u.kind == "" {
			nu.Password = srvPassword
		}
		if *u.to, err = dir.AddUser(ctx, nu); err != nil {
			t.Fatal(err)
		}
	}
	if err := dir.Grant(ctx, "sales@example.com", "alice@example.com", directory.FullAccess); err != nil {
		t.Fatal(err)
	}
	// As a served instance keeps them: up to the inline limit in the database.
	blobs, err := blob.OpenLocal(ctx, d, filepath.Join(tmp, "blobs"), "store", blob.DefaultInlineLimit)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.New(ctx, d, blobs, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st
	if e.acl, err = acl.Open(ctx, d); err != nil {
		t.Fatal(err)
	}
	for _, u := range []directory.User{e.alice, e.bob, e.sales} {
		if _, err := st.EnsureAccount(ctx, store.AccountID(u.ID)); err != nil {
			t.Fatal(err)
		}
	}

	certPEM, keyPEM, err := tlsconf.SelfSigned([]string{"localhost", "127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.caFile = filepath.Join(tmp, "cert.pem")
	keyFile := filepath.Join(tmp, "key.pem")
	if err := os.WriteFile(e.caFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	serverTLS, err := tlsconf.Server([]tlsconf.Pair{{Cert: e.caFile, Key: keyFile}})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	e.client = &tls.Config{RootCAs: pool, ServerName: "localhost"}

	cfg := Config{
		Store:            st,
		Auth:             e.auth,
		Grants:           dir,
		ACL:              e.acl,
		Users:            dir,
		TLS:              serverTLS,
		Logger:           slog.New(slog.NewTextHandler(srvLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Hostname:         "mail.example.com",
		AuthFailureDelay: 10 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.srv = New(cfg)
	served := make(chan error, 2)
	for _, implicit := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if implicit {
			e.implicit = ln.Addr().String()
		} else {
			e.plain = ln.Addr().String()
		}
		go func() { served <- e.srv.Serve(ln, implicit) }()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for range 2 {
			if err := <-served; err != ErrServerClosed {
				t.Errorf("Serve: %v", err)
			}
		}
	})
	return e
}

// srvLogWriter sends the server's log to the test's log.
type srvLogWriter struct{ t testing.TB }

func (w srvLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// deliver adds a message to a folder of an account (0: the Inbox), as SMTP would.
func (e *srvEnv) deliver(t testing.TB, acct int64, folder store.FolderID, raw string, flags ...string) store.Delivered {
	t.Helper()
	ds, err := e.store.Deliver(context.Background(), store.NewMessage{Raw: []byte(raw), Flags: flags},
		[]store.Placement{{Account: store.AccountID(acct), Folder: folder}})
	if err != nil {
		t.Fatal(err)
	}
	return ds[0]
}

// folder returns a folder of an account by path.
func (e *srvEnv) folder(t testing.TB, acct int64, path ...string) store.Folder {
	t.Helper()
	f, err := e.store.FolderByPath(context.Background(), store.AccountID(acct), path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// srvMsg is a small test message.
func srvMsg(n int, subject string) string {
	return fmt.Sprintf("From: bob@example.com\r\nTo: alice@example.com\r\nSubject: %s\r\nDate: Mon, 02 Mar 2026 10:%02d:00 +0000\r\nMessage-ID: <%d.%s@test>\r\n\r\nBody of message %d.\r\n",
		subject, n%60, n, strings.ReplaceAll(subject, " ", "."), n)
}

// rawClient is a line-based IMAP connection for tests.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// dialRaw connects to addr, over TLS if cfg is not nil, and reads the greeting.
func (e *srvEnv) dialRaw(t *testing.T, addr string, cfg *tls.Config) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		conn = tls.Client(conn, cfg)
	}
	c := &rawClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	t.Cleanup(func() { c.conn.Close() })
	return c
}

// loginRaw connects over implicit TLS and logs in as alice.
func (e *srvEnv) loginRaw(t *testing.T) *rawClient {
	t.Helper()
	c := e.dialRaw(t, e.implicit, e.client)
	c.expect(`\* OK \[CAPABILITY .*`)
	c.send("l1 LOGIN alice@example.com " + quoteArg(srvPassword))
	c.expect(`l1 OK .*`)
	return c
}

func quoteArg(s string) string { return `"` + s + `"` }

func (c *rawClient) send(line string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
}

// readLine returns the next line without CRLF, waiting at most d.
func (c *rawClient) readLine(d time.Duration) (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(d))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", fmt.Errorf("line %q does not end in CRLF", line)
	}
	return strings.TrimSuffix(line, "\r\n"), nil
}

// expect reads a line and fails unless it matches the regular expression re, which
// must match the whole line.
func (c *rawClient) expect(re string) string {
	c.t.Helper()
	line, err := c.readLine(5 * time.Second)
	if err != nil {
		c.t.Fatalf("want %q: %v", re, err)
	}
	if !regexp.MustCompile("^(?:" + re + ")$").MatchString(line) {
		c.t.Fatalf("got %q, want %q", line, re)
	}
	return line
}

// until reads lines up to and including the one starting with tag and returns them.
func (c *rawClient) until(tag string) []string {
	c.t.Helper()
	var lines []string
	for {
		line, err := c.readLine(5 * time.Second)
		if err != nil {
			c.t.Fatalf("waiting for %s: %v (after %q)", tag, err, lines)
		}
		lines = append(lines, line)
		if strings.HasPrefix(line, tag+" ") {
			return lines
		}
	}
}
