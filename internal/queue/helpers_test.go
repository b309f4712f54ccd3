package queue

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/pgtest"
	"mailroom/internal/tlsconf"
)

// testZone is what the test DNS server answers. Nothing listens on 127.0.0.2 unless a
// test starts a server there, so mx1.mx.test is down.
const testZone = `
mx.test.      MX 10 mx1.mx.test.
mx.test.      MX 20 mx2.mx.test.
mx1.mx.test.  A  127.0.0.2
mx2.mx.test.  A  127.0.0.1
a.test.       A  127.0.0.1
null.test.    MX 0 .
down.test.    A  127.0.0.2
`

// startDNS serves testZone on a loopback UDP port and returns a resolver using it.
func startDNS(t *testing.T) *net.Resolver {
	t.Helper()
	var rrs []dns.RR
	for _, line := range strings.Split(testZone, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("zone line %q: %v", line, err)
		}
		rrs = append(rrs, rr)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		resp := new(dns.Msg)
		resp.SetReply(req)
		resp.Authoritative = true
		q := req.Question[0]
		known := false
		for _, rr := range rrs {
			h := rr.Header()
			if !strings.EqualFold(h.Name, q.Name) {
				continue
			}
			known = true
			if h.Rrtype == q.Qtype {
				resp.Answer = append(resp.Answer, rr)
			}
		}
		if !known {
			resp.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(resp)
	})
	srv := &dns.Server{PacketConn: pc, Handler: handler}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// received is one message a test SMTP server accepted.
type received struct {
	from   string
	to     []string
	notify map[string][]smtp.DSNNotify
	data   []byte
	tls    bool
	helo   string
}

// smtpServer is a real go-smtp server on loopback that records what it receives and
// answers RCPT as told.
type smtpServer struct {
	mu        sync.Mutex
	msgs      []received
	rcptCalls map[string]int
	replies   map[string]*smtp.SMTPError // by recipient; nil means accept
	active    int
	maxActive int
	delay     time.Duration
	srv       *smtp.Server
}

type serverOpts struct {
	tls   bool
	dsn   bool
	delay time.Duration // before answering DATA
}

// startSMTP listens on ip:port (port 0 picks one) and returns the server and its port.
func startSMTP(t *testing.T, ip string, port int, o serverOpts) (*smtpServer, int) {
	t.Helper()
	s := &smtpServer{rcptCalls: map[string]int{}, replies: map[string]*smtp.SMTPError{}, delay: o.delay}
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.active++
		s.maxActive = max(s.maxActive, s.active)
		s.mu.Unlock()
		_, isTLS := c.TLSConnectionState()
		return &session{s: s, tls: isTLS, helo: c.Hostname()}, nil
	}))
	srv.Domain = "mx.test"
	srv.EnableDSN = o.dsn
	srv.EnableSMTPUTF8 = true
	srv.ReadTimeout = 10 * time.Second
	if o.tls {
		certPEM, keyPEM, err := tlsconf.SelfSigned([]string{"mx2.mx.test"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	s.srv = srv
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return s, l.Addr().(*net.TCPAddr).Port
}

func (s *smtpServer) reply(addr string, e *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies[addr] = e
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *smtpServer) rcpts(addr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcptCalls[addr]
}

type session struct {
	s      *smtpServer
	tls    bool
	helo   string
	from   string
	to     []string
	notify map[string][]smtp.DSNNotify
}

func (se *session) Reset() { se.from, se.to, se.notify = "", nil, nil }

func (se *session) Logout() error {
	se.s.mu.Lock()
	se.s.active--
	se.s.mu.Unlock()
	return nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	se.s.mu.Lock()
	se.s.rcptCalls[to]++
	e := se.s.replies[to]
	se.s.mu.Unlock()
	if e != nil {
		return e
	}
	se.to = append(se.to, to)
	if se.notify == nil {
		se.notify = map[string][]smtp.DSNNotify{}
	}
	if opts != nil {
		se.notify[to] = opts.Notify
	}
	return nil
}

func (se *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	time.Sleep(se.s.delay)
	se.s.mu.Lock()
	se.s.msgs = append(se.s.msgs, received{from: se.from, to: se.to, notify: se.notify, data: b, tls: se.tls, helo: se.helo})
	se.s.mu.Unlock()
	return nil
}

// clock is a settable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// sent is one notification the queue handed to its Deliverer.
type sent struct {
	from string
	to   []string
	raw  []byte
}

// notifications records the delivery status notifications; fail makes Deliver fail.
type notifications struct {
	mu   sync.Mutex
	got  []sent
	fail bool
}

func (n *notifications) Deliver(_ context.Context, from string, to []string, raw []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail {
		return errors.New("local delivery unavailable")
	}
	n.got = append(n.got, sent{from, to, bytes.Clone(raw)})
	return nil
}

func (n *notifications) all() []sent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]sent(nil), n.got...)
}

// env is a queue over a fresh database in a temporary directory.
type env struct {
	t     *testing.T
	dir   string
	pg    string // in the PostgreSQL pass: the DSN of this test's database
	db    *db.DB
	blobs blob.Area
	q     *Queue
	clock *clock
	dsn   *notifications
	cfg   Config
}

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, res *net.Resolver, port int, tune func(*Config)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: &clock{t: start}, dsn: &notifications{}}
	if pgtest.Enabled() {
		e.pg = pgtest.Start(t)
	}
	e.cfg = Config{
		Hostname: "out.example.org",
		Port:     port,
		Resolver: res,
		Dialer:   &net.Dialer{Timeout: 5 * time.Second},
		Now:      e.clock.Now,
		Timeout:  20 * time.Second,
	}
	if tune != nil {
		tune(&e.cfg)
	}
	e.open()
	return e
}

// open (re)opens the database, the blob area and the queue, as a restart would.
func (e *env) open() {
	e.t.Helper()
	ctx := context.Background()
	var d *db.DB
	var b blob.Area
	var err error
	if e.pg != "" {
		d, err = db.OpenPostgres(ctx, e.pg)
		if err == nil {
			b, err = blob.NewTable(ctx, d, "queue")
		}
	} else {
		d, err = db.OpenSQLite(ctx, filepath.Join(e.dir, "mailroom.db"))
		if err == nil {
			b, err = blob.Open(filepath.Join(e.dir, "queue"))
		}
	}
	if d != nil {
		e.t.Cleanup(func() { d.Close() })
	}
	if err != nil {
		e.t.Fatal(err)
	}
	q, err := New(ctx, d, b, e.dsn, e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.db, e.blobs, e.q = d, b, q
}

func (e *env) close() {
	if err := e.db.Close(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) enqueue(m Message) int64 {
	e.t.Helper()
	id, err := e.q.Enqueue(context.Background(), m)
	if err != nil {
		e.t.Fatalf("enqueue: %v", err)
	}
	return id
}

func (e *env) flush() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.q.Flush(ctx); err != nil {
		e.t.Fatalf("flush: %v", err)
	}
}

func (e *env) list() []Entry {
	e.t.Helper()
	l, err := e.q.List(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

func testMessage(subject string) []byte {
	return []byte("From: Alice <alice@example.org>\r\n" +
		"To: Bob <bob@mx.test>\r\n" +
		"Subject: " + subject + "\r\n" +
		"Message-ID: <" + subject + "@example.org>\r\n" +
		"\r\n" +
		"Hello Bob,\r\n.leading dot line\r\n\r\nbye\r\n")
}

// TestMain runs the suite on SQLite, then again on PostgreSQL when it is installed.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
