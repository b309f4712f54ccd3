package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
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

	"mailroom/internal/auth"
	"mailroom/internal/auth/authtest"
	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
	"mailroom/internal/tlsconf"
)

// testPassword passes the directory's password policy.
const testPassword = "correct horse battery"

// testMessages are delivered to alice's Inbox in this order. The second has lines
// that need byte-stuffing and a bare LF; the third has a body long enough for TOP.
var testMessages = []string{
	"From: bob@example.com\r\nTo: alice@example.com\r\nSubject: first\r\nMessage-ID: <1@test>\r\n\r\nHello Alice.\r\n",
	"From: bob@example.com\r\nTo: alice@example.com\r\nSubject: second\r\nMessage-ID: <2@test>\r\n\r\n.leading dot\r\n.\r\nbare LF follows\nlast line\r\n",
	"From: carol@example.com\r\nTo: alice@example.com\r\nSubject: third\r\nMessage-ID: <3@test>\r\n\r\nline 1\r\nline 2\r\nline 3\r\nline 4\r\n",
}

// env is a running server over a real SQLite store and directory, with one user,
// alice@example.com, known also as ally@example.com (alias), alice.upn@corp.example
// (UPN) and EXAMPLE\asmith (NetBIOS domain and sAMAccountName).
type env struct {
	srv      *Server
	store    store.Store
	dir      *directory.Directory
	auth     *auth.Service
	tokens   *authtest.Issuer
	alice    directory.User
	inbox    store.FolderID
	ids      []store.MessageID // of testMessages, in order
	plain    string            // address of the listener with STLS
	implicit string            // address of the implicit-TLS listener
	caFile   string            // the self-signed certificate, PEM
	client   *tls.Config       // trusts caFile
	served   chan error        // Serve's results, one per listener
}

type envOption func(*Config)

func newEnv(t *testing.T, opts ...envOption) *env {
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
	alice, err := dir.AddUser(ctx, directory.NewUser{Address: "alice@example.com", Password: testPassword,
		UPN: "alice.upn@corp.example", SAM: "asmith"})
	if err != nil {
		t.Fatal(err)
	}
	if err := dir.AddAlias(ctx, "alice@example.com", "ally@example.com"); err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.Open(filepath.Join(tmp, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.New(ctx, d, blobs, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.EnsureAccount(ctx, store.AccountID(alice.ID)); err != nil {
		t.Fatal(err)
	}
	e := &env{store: st, dir: dir, alice: alice, served: make(chan error, 2), tokens: authtest.NewIssuer(nil)}
	if e.auth, err = auth.New(ctx, auth.Config{DB: d, Directory: dir, Tokens: e.tokens}); err != nil {
		t.Fatal(err)
	}
	inbox, err := st.FolderByRole(ctx, store.AccountID(alice.ID), store.RoleInbox)
	if err != nil {
		t.Fatal(err)
	}
	e.inbox = inbox.ID
	for _, m := range testMessages {
		ds, err := st.Deliver(ctx, store.NewMessage{Raw: []byte(m)}, []store.Placement{{Account: store.AccountID(alice.ID)}})
		if err != nil {
			t.Fatal(err)
		}
		e.ids = append(e.ids, ds[0].ID)
	}

	// The server's TLS configuration is the one Mailroom builds from files.
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
		Domains:          dir,
		TLS:              serverTLS,
		Logger:           slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Hostname:         "mail.example.com",
		AuthFailureDelay: 10 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.srv = New(cfg)
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
		go func() { e.served <- e.srv.Serve(ln, implicit) }()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return e
}

// testWriter sends the server's log to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// inboxIDs returns the MessageIDs in alice's Inbox now.
func (e *env) inboxIDs(t *testing.T) []store.MessageID {
	t.Helper()
	infos, err := e.store.List(context.Background(), e.inbox)
	if err != nil {
		t.Fatal(err)
	}
	var ids []store.MessageID
	for _, m := range infos {
		ids = append(ids, m.ID)
	}
	return ids
}

// trash returns the messages in alice's Deleted Items now, properties included.
func (e *env) trash(t *testing.T) []store.Message {
	t.Helper()
	ctx := context.Background()
	f, err := e.store.FolderByRole(ctx, store.AccountID(e.alice.ID), store.RoleTrash)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := e.store.List(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	var uids []store.UID
	for _, m := range infos {
		uids = append(uids, m.UID)
	}
	msgs, err := e.store.Messages(ctx, f.ID, uids)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// client is a raw POP3 connection for tests.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// dial connects to addr, over TLS if cfg is not nil, and reads the greeting.
func (e *env) dial(t *testing.T, addr string, cfg *tls.Config) *client {
	t.Helper()
	c := e.dialNoGreeting(t, addr, cfg)
	c.expect("+OK mail.example.com POP3 server ready")
	return c
}

// dialNoGreeting connects to addr, over TLS if cfg is not nil.
func (e *env) dialNoGreeting(t *testing.T, addr string, cfg *tls.Config) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		conn = tls.Client(conn, cfg)
	}
	c := e.wrap(t, conn)
	t.Cleanup(func() { c.conn.Close() })
	return c
}

// wrap makes a client of a connection.
func (e *env) wrap(t *testing.T, conn net.Conn) *client {
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// login dials the plain listener, starts TLS and logs in as name.
func (e *env) login(t *testing.T, name string) *client {
	t.Helper()
	c := e.dial(t, e.plain, nil)
	c.starttls(e.client)
	c.send("USER " + name)
	c.expect("+OK*")
	c.send("PASS " + testPassword)
	c.expect("+OK maildrop has *")
	return c
}

func (c *client) send(line string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
}

// readLine returns the next line without CRLF, or io.EOF once the server closed the
// connection.
func (c *client) readLine() (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil {
		if line != "" {
			return "", fmt.Errorf("partial line %q: %w", line, err)
		}
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", fmt.Errorf("line %q does not end in CRLF", line)
	}
	return strings.TrimSuffix(line, "\r\n"), nil
}

// expect reads a line and fails unless it matches pattern, where * stands for any
// text.
func (c *client) expect(pattern string) string {
	c.t.Helper()
	line, err := c.readLine()
	if err != nil {
		c.t.Fatalf("want %q: %v", pattern, err)
	}
	if !match(pattern, line) {
		c.t.Fatalf("got %q, want %q", line, pattern)
	}
	return line
}

// expectClosed fails unless the server closes the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	line, err := c.readLine()
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.As(err, &ne) && !ne.Timeout():
		// A reset is a close too.
	case err == nil:
		c.t.Fatalf("got %q, want the connection closed", line)
	default:
		c.t.Fatalf("want the connection closed: %v", err)
	}
}

// starttls sends STLS and starts TLS on the connection.
func (c *client) starttls(cfg *tls.Config) {
	c.t.Helper()
	c.send("STLS")
	c.expect("+OK*")
	c.handshake(cfg)
}

// handshake starts TLS on the connection.
func (c *client) handshake(cfg *tls.Config) {
	c.t.Helper()
	tc := tls.Client(c.conn, cfg)
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
}

// match reports whether line matches pattern, where * stands for any text and all
// else is literal.
func match(pattern, line string) bool {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(line)
}
