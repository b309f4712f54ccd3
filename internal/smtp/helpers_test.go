package smtp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

const (
	testHost     = "mail.example.test"
	testPassword = "correct horse battery"
	// fullQuota is the quota of full@, which already holds more than that.
	fullQuota = 1000
	// smallQuota is the quota of small@, which is empty but takes no large message.
	smallQuota  = 4000
	testMaxSize = 64 << 10
)

// env is a server on loopback over a real SQLite directory and store in a temporary
// directory: domain example.test; users alice (alias al@) and bob; full@ over quota;
// small@ with a small quota; group team@ = alice + bob; shared sales@ where alice holds
// SendAs; shared support@ where nobody does.
type env struct {
	t        testing.TB
	cfg      Config
	dir      string
	dirDB    *db.DB
	Dir      *directory.Directory
	Auth     *auth.Service
	Tokens   *authtest.Issuer
	storeDB  *db.DB
	Store    store.Store
	srv      *Server
	out      *recordingOutbound
	logs     *syncBuffer
	certFile string
	roots    *x509.CertPool
	mx       string // addresses of the listeners
	sub      string
	subTLS   string
	ids      map[string]int64 // mailbox id by local part
}

type envOption func(*Config)

func withChecker(c Checker) envOption { return func(cfg *Config) { cfg.Checker = c } }
func withSigner(s Signer) envOption   { return func(cfg *Config) { cfg.Signer = s } }
func withReadTimeout(d time.Duration) envOption {
	return func(cfg *Config) { cfg.ReadTimeout = d }
}
func withConfig(f func(*Config)) envOption { return f }

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, dir: t.TempDir(), out: &recordingOutbound{}, logs: &syncBuffer{}, ids: map[string]int64{}}
	var err error
	if e.dirDB, err = db.OpenSQLite(ctx, filepath.Join(e.dir, "directory.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.dirDB.Close() })
	if e.Dir, err = directory.New(ctx, e.dirDB); err != nil {
		t.Fatal(err)
	}
	// The service's own lockout is tested in internal/auth; here it stays out of the
	// way of the server's in-memory back-off.
	e.Tokens = authtest.NewIssuer(nil)
	loose := auth.Lockout{Threshold: 1000}
	e.Auth, err = auth.New(ctx, auth.Config{DB: e.dirDB, Directory: e.Dir, Tokens: e.Tokens, AccountLockout: loose, IPLockout: loose})
	must(t, err)
	must(t, errOnly(e.Dir.AddDomain(ctx, "example.test", "")))
	for _, local := range []string{"alice", "bob", "full", "small"} {
		u, err := e.Dir.AddUser(ctx, directory.NewUser{Address: local + "@example.test", Password: testPassword})
		must(t, err)
		e.ids[local] = u.ID
	}
	for _, local := range []string{"sales", "support"} {
		u, err := e.Dir.AddUser(ctx, directory.NewUser{Address: local + "@example.test", Kind: directory.KindShared})
		must(t, err)
		e.ids[local] = u.ID
	}
	must(t, e.Dir.AddAlias(ctx, "alice@example.test", "al@example.test"))
	must(t, errOnly(e.Dir.AddGroup(ctx, "team", "team@example.test", "")))
	must(t, e.Dir.AddMember(ctx, "team", "alice@example.test"))
	must(t, e.Dir.AddMember(ctx, "team", "bob@example.test"))
	must(t, e.Dir.Grant(ctx, "sales@example.test", "alice@example.test", directory.SendAs))
	e.openStore()
	for _, id := range e.ids {
		must(t, errOnly(e.Store.EnsureAccount(ctx, store.AccountID(id))))
	}
	big := bytes.Repeat([]byte("x"), 2*fullQuota)
	must(t, errOnly(e.Store.Deliver(ctx, store.NewMessage{Raw: append([]byte("Subject: filler\r\n\r\n"), big...)},
		[]store.Placement{{Account: store.AccountID(e.ids["full"])}})))
	must(t, e.Store.SetQuota(ctx, store.AccountID(e.ids["full"]), fullQuota))
	must(t, e.Store.SetQuota(ctx, store.AccountID(e.ids["small"]), smallQuota))

	e.certFile = filepath.Join(e.dir, "cert.pem")
	keyFile := filepath.Join(e.dir, "key.pem")
	must(t, tlsconf.WriteSelfSigned(e.certFile, keyFile, []string{testHost, "127.0.0.1"}))
	tlsConfig, err := tlsconf.Server([]tlsconf.Pair{{Cert: e.certFile, Key: keyFile}})
	must(t, err)
	pem, err := os.ReadFile(e.certFile)
	must(t, err)
	e.roots = x509.NewCertPool()
	e.roots.AppendCertsFromPEM(pem)

	cfg := Config{
		Hostname:       testHost,
		Directory:      e.Dir,
		Auth:           e.Auth,
		Mailboxes:      e.Store,
		Outbound:       e.out,
		TLS:            tlsConfig,
		MaxMessageSize: testMaxSize,
		Logger:         slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.cfg = cfg
	e.start(cfg)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
		if strings.Contains(e.logs.String(), testPassword) {
			t.Error("a password was logged")
		}
	})
	return e
}

// start serves cfg on three new loopback listeners until the test ends.
func (e *env) start(cfg Config) {
	t := e.t
	e.srv = New(cfg)
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		return ln
	}
	mx, sub, subTLS := listen(), listen(), listen()
	e.mx, e.sub, e.subTLS = mx.Addr().String(), sub.Addr().String(), subTLS.Addr().String()
	srv := e.srv
	var wg sync.WaitGroup
	serve := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				t.Errorf("serve: %v", err)
			}
		}()
	}
	serve(func() error { return srv.ServeMX(mx) })
	serve(func() error { return srv.ServeSubmission(sub, false) })
	serve(func() error { return srv.ServeSubmission(subTLS, true) })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		wg.Wait()
	})
}

// openStore opens the store kept in e.dir.
func (e *env) openStore() {
	ctx := context.Background()
	var err error
	if e.storeDB, err = db.OpenSQLite(ctx, filepath.Join(e.dir, "store.db")); err != nil {
		e.t.Fatal(err)
	}
	b, err := blob.OpenLocal(ctx, e.storeDB, filepath.Join(e.dir, "blobs"), "store", blob.DefaultInlineLimit)
	must(e.t, err)
	s, err := sqlstore.New(ctx, e.storeDB, b, sqlstore.Options{})
	must(e.t, err)
	e.Store = s
	sdb := e.storeDB
	e.t.Cleanup(func() {
		s.Close()
		sdb.Close()
	})
}

// inbox returns the raw messages in the Inbox of the mailbox with the local part.
func (e *env) inbox(local string) [][]byte {
	e.t.Helper()
	return e.folder(local, store.RoleInbox)
}

// folder returns the raw messages in the folder with the role of the mailbox with the
// local part.
func (e *env) folder(local string, role store.Role) [][]byte {
	e.t.Helper()
	ctx := context.Background()
	f, err := e.Store.FolderByRole(ctx, store.AccountID(e.ids[local]), role)
	must(e.t, err)
	return e.messagesIn(f.ID)
}

// messagesIn returns the raw messages in a folder.
func (e *env) messagesIn(folder store.FolderID) [][]byte {
	e.t.Helper()
	ctx := context.Background()
	infos, err := e.Store.List(ctx, folder)
	must(e.t, err)
	var out [][]byte
	for _, mi := range infos {
		m, err := e.Store.MessageByUID(ctx, folder, mi.UID)
		must(e.t, err)
		raw, err := e.Store.Raw(ctx, m.ID)
		must(e.t, err)
		out = append(out, raw)
	}
	return out
}

// wantInbox fails unless the mailbox holds n messages and returns them.
func (e *env) wantInbox(local string, n int) [][]byte {
	e.t.Helper()
	msgs := e.inbox(local)
	if len(msgs) != n {
		e.t.Fatalf("%s has %d messages, want %d", local, len(msgs), n)
	}
	return msgs
}

// recordingOutbound stands in for the queue package: it keeps what it is handed.
type recordingOutbound struct {
	mu   sync.Mutex
	sent []sentMessage
	err  error
}

type sentMessage struct {
	env Envelope
	raw []byte
}

func (o *recordingOutbound) Send(_ context.Context, e Envelope, raw []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	o.sent = append(o.sent, sentMessage{e, bytes.Clone(raw)})
	return nil
}

func (o *recordingOutbound) messages() []sentMessage {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]sentMessage(nil), o.sent...)
}

// fixedChecker stands in for the SPF/DKIM/DMARC package: it records what it was given
// and returns a fixed field, with DMARC failing under policy when that is set.
type fixedChecker struct {
	mu             sync.Mutex
	ip             net.IP
	helo, mailFrom string
	policy         string
	err            error
}

func (c *fixedChecker) Check(_ context.Context, ip net.IP, helo, mailFrom string, _ []byte) (Verdict, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ip, c.helo, c.mailFrom = ip, helo, mailFrom
	if c.err != nil {
		return Verdict{}, c.err
	}
	field := "Authentication-Results: " + testHost + ";\r\n\tspf=pass smtp.mailfrom=" + mailFrom
	if c.policy != "" {
		field += ";\r\n\tdmarc=fail (p=" + c.policy + ") header.from=remote.test"
	}
	return Verdict{Header: field, Policy: c.policy}, nil
}

func (c *fixedChecker) setPolicy(p string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.policy = p
}

// fakeClock is a Config.Now the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// stampSigner stands in for the DKIM package: it adds a recognisable field.
type stampSigner struct{}

func (stampSigner) Sign(_ context.Context, domain string, raw []byte) ([]byte, error) {
	return append([]byte("DKIM-Signature: v=1; d="+domain+"; b=test\r\n"), raw...), nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func errOnly[T any](_ T, err error) error { return err }

// need skips the test unless the program is installed.
func need(t *testing.T, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		t.Skipf("%s is not installed: %v", program, err)
	}
	return p
}

// run runs a client program and returns its combined output and exit code.
func run(t *testing.T, stdin []byte, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("%s: %v\n%s", name, err, out)
	return "", -1
}

// rawClient is an SMTP client over a plain socket that speaks exactly the lines given.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dial(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	must(t, err)
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, conn: c, r: bufio.NewReader(c)}
}

func dialTLS(t testing.TB, addr string, roots *x509.CertPool) *rawClient {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: roots, ServerName: testHost})
	must(t, err)
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, conn: c, r: bufio.NewReader(c)}
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// line reads one reply line without its CRLF; io.EOF and friends come back as err.
func (c *rawClient) line(timeout time.Duration) (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	l, err := c.r.ReadString('\n')
	if err != nil {
		return l, err
	}
	return strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r"), nil
}

// reply reads a whole (possibly multi-line) reply and returns its lines.
func (c *rawClient) reply() []string {
	c.t.Helper()
	var lines []string
	for {
		l, err := c.line(10 * time.Second)
		if err != nil {
			c.t.Fatalf("read reply after %q: %v", lines, err)
		}
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return lines
		}
	}
}

// expect reads a reply and fails unless its last line starts with prefix.
func (c *rawClient) expect(prefix string) string {
	c.t.Helper()
	lines := c.reply()
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, prefix) {
		c.t.Fatalf("reply %q, want %q...", lines, prefix)
	}
	return last
}

// cmd sends one command line and expects a reply starting with prefix.
func (c *rawClient) cmd(line, prefix string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(prefix)
}

// startTLS upgrades the connection after a 220 to STARTTLS.
func (c *rawClient) startTLS(roots *x509.CertPool) {
	c.t.Helper()
	tc := tls.Client(c.conn, &tls.Config{RootCAs: roots, ServerName: testHost})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	must(c.t, tc.Handshake())
	tc.SetDeadline(time.Time{})
	c.conn = tc
	c.r = bufio.NewReader(tc)
}

// closed fails unless the server closes the connection without saying more.
func (c *rawClient) closed() {
	c.t.Helper()
	l, err := c.line(5 * time.Second)
	if err == nil {
		c.t.Fatalf("got %q, want the connection closed", l)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("connection still open")
	}
}

// message builds a small message.
func message(from, to, subject, body string) []byte {
	return []byte("From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + subject + "@test>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\n" + body + "\r\n")
}
