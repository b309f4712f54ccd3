// Package smtp is Mailroom's SMTP server: it receives mail for our own domains as their
// MX (RFC 5321) and accepts mail from our authenticated users on the submission ports
// (RFC 6409, RFC 8314), delivering local recipients into the mailbox store and handing
// remote ones to the outbound queue. It must never relay for strangers, never offer or
// accept a password before TLS, and never acknowledge a message before every copy of it
// is durable.
//
// The protocol engine is github.com/emersion/go-smtp; this package supplies its sessions.
// Two properties of go-smtp matter to callers:
//
//   - DATA ends only at CRLF.CRLF (RFC 5321 4.1.1.4). A lone LF before or after the dot
//     does not end the message (go-smtp#247, the SMTP-smuggling defence), so a client
//     that ends lines with bare LF waits until the read timeout and gets 421.
//   - CHUNKING (RFC 3030) stays on: go-smtp v0.25.1 reads and discards the chunk of a
//     BDAT whose MAIL or RCPT was refused, so pipelined BDAT cannot desynchronise the
//     command stream (go-smtp#315); TestBDATAfterRejection holds it to that.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/store"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxMessageSize = 25 << 20
	DefaultMaxRecipients  = 100
	// DefaultReadTimeout is RFC 5321 4.5.3.2.7's server timeout: five minutes waiting
	// for the next command, and per read while a message comes in.
	DefaultReadTimeout  = 5 * time.Minute
	DefaultWriteTimeout = time.Minute

	// Abuse limits; limits.go says how they are counted.
	DefaultMaxConnsPerIP           = 20 // concurrent MX connections per client address
	DefaultMaxSubmissionConnsPerIP = 10 // concurrent submission connections per client address
	DefaultAuthFailuresPerIP       = 5  // failed AUTH attempts in the window before back-off
	DefaultAuthFailuresPerAccount  = 10
	DefaultAuthFailureWindow       = 15 * time.Minute
	DefaultAuthBackoff             = time.Minute // the first lockout; each next one doubles
	DefaultMaxAuthBackoffIP        = time.Hour
	DefaultMaxAuthBackoffAccount   = 10 * time.Minute
	DefaultMessagesPerMinute       = 60 // per authenticated user on submission
)

// maxLineLength bounds a command or text line. RFC 5321 4.5.3.1.4 and 4.5.3.1.6 set
// 512 and 1000 octets as the least a server must accept and 4.5.3.1 asks servers to be
// liberal, so twice the text-line limit is allowed before the connection is closed.
const maxLineLength = 2000

// maxRejections is how many refused commands (MAIL, RCPT, AUTH) one connection may
// collect before it is closed; go-smtp closes on its own after a few unknown or
// malformed commands.
const (
	maxRejections   = 10
	maxAuthFailures = 3
)

// opTimeout bounds each call into the directory, the store, the queue and the hooks.
const opTimeout = 2 * time.Minute

// Directory is what the server needs from internal/directory.
type Directory interface {
	ResolveRecipient(ctx context.Context, address string) (directory.Recipient, error)
	User(ctx context.Context, key string) (directory.User, error)
	GrantsTo(ctx context.Context, userID int64) ([]directory.Grant, error)
}

// Authenticator signs submission users in with a password or an OAuth bearer token;
// *auth.Service is one. It returns an error matching directory.ErrBadCredentials or
// directory.ErrDisabled when the login is refused, and any other error when it cannot
// tell. TokensEnabled says whether the token mechanisms are worth offering.
type Authenticator interface {
	Password(ctx context.Context, login, password string, from auth.Source) (directory.User, error)
	Bearer(ctx context.Context, login, token string, from auth.Source) (directory.User, error)
	TokensEnabled() bool
}

// Mailboxes is what the server needs from the mailbox store. FolderByRole finds the
// Junk folder that mail quarantined under a DMARC policy goes to.
type Mailboxes interface {
	Deliver(ctx context.Context, m store.NewMessage, to []store.Placement) ([]store.Delivered, error)
	Account(ctx context.Context, id store.AccountID) (store.Account, error)
	FolderByRole(ctx context.Context, id store.AccountID, role store.Role) (store.Folder, error)
}

// Outbound takes mail for remote recipients. Send returns only once the message is
// durable in the queue.
type Outbound interface {
	Send(ctx context.Context, e Envelope, raw []byte) error
}

// Envelope is the SMTP envelope of a message handed to Outbound, with the RFC 3461 DSN
// parameters as the client gave them.
type Envelope struct {
	From  string // reverse-path; "" for the null sender
	To    []Recipient
	Ret   string // RET: "FULL", "HDRS" or ""
	EnvID string // ENVID, xtext-decoded
}

// Recipient is one forward-path with its DSN parameters.
type Recipient struct {
	Addr   string
	Notify []string // NOTIFY values: NEVER, or some of SUCCESS, FAILURE, DELAY
	ORcpt  string   // ORCPT as "ADDR-TYPE;address", type upper-cased, address decoded; "" if absent
}

// Checker authenticates an incoming message (SPF, DKIM, DMARC) and returns its verdict.
// An error means the message could not be checked, and the client is told to retry.
type Checker interface {
	Check(ctx context.Context, ip net.IP, helo, mailFrom string, raw []byte) (Verdict, error)
}

// Verdict is a Checker's answer.
type Verdict struct {
	// Header is the Authentication-Results header field (RFC 8601) to add.
	Header string
	// Policy is the sender domain's DMARC policy to apply (RFC 7489 6.3, after the pct
	// sampling of 6.6.4) when DMARC failed: "none", "quarantine" or "reject". It is ""
	// when DMARC passed or the domain publishes no policy.
	Policy string
}

// DMARC policies a Verdict may ask for.
const (
	PolicyNone       = "none"
	PolicyQuarantine = "quarantine"
	PolicyReject     = "reject"
)

// Signer DKIM-signs a message submitted by a user and returns the signed message.
type Signer interface {
	Sign(ctx context.Context, fromDomain string, raw []byte) ([]byte, error)
}

// DeliveryHook hears of every message stored in local mailboxes, after the store has
// it and before the client gets its reply; it must not block or fail the delivery
// (internal/scheduling queues the copies for its own worker, which reads them later).
type DeliveryHook interface {
	Delivered(ctx context.Context, d []store.Delivered)
}

// Config is everything the server needs; Directory, Auth and Mailboxes are required.
type Config struct {
	Hostname  string // our host name: in the greeting and in Received fields
	Directory Directory
	Auth      Authenticator // signs submission users in
	Mailboxes Mailboxes
	Outbound  Outbound     // nil: submission refuses remote recipients
	Checker   Checker      // nil: no Authentication-Results on incoming mail
	Signer    Signer       // nil: outgoing mail is not DKIM-signed
	Delivered DeliveryHook // nil: no one hears of local deliveries
	TLS       *tls.Config

	MaxMessageSize int64 // bytes; 0: DefaultMaxMessageSize
	// MaxRecipients bounds RCPT per transaction (RFC 5321 4.5.3.1.8 asks for at least
	// 100); over it go-smtp answers 452 4.5.3 (4.5.3.1.10). 0: DefaultMaxRecipients;
	// negative: no limit.
	MaxRecipients int
	ReadTimeout   time.Duration
	WriteTimeout  time.Duration
	Logger        *slog.Logger // nil: slog.Default()

	// Abuse limits, counted in this Server's memory (see limits.go: several nodes each
	// count their own). For each count 0 takes the Default and a negative value turns
	// the limit off; a duration of 0 or less takes the Default.
	MaxConnsPerIP           int // concurrent MX connections per client address (IPv6: per /64)
	MaxSubmissionConnsPerIP int // the same on the submission ports
	AuthFailuresPerIP       int // failed AUTH attempts per address within AuthFailureWindow
	AuthFailuresPerAccount  int // failed AUTH attempts per login name, from any address
	AuthFailureWindow       time.Duration
	AuthBackoff             time.Duration // the first lockout; each next one doubles
	MaxAuthBackoffIP        time.Duration // the longest lockout of an address
	MaxAuthBackoffAccount   time.Duration // the longest lockout of an account
	MessagesPerMinute       int           // messages (MAIL commands) per user on submission
	// Now is the clock of the limits and of Received fields; nil: time.Now.
	Now func() time.Time
}

// Server serves the MX and submission roles over go-smtp.
type Server struct {
	cfg Config
	log *slog.Logger
	mx  *smtp.Server
	sub *smtp.Server

	// Abuse limits (limits.go); a nil one is off.
	authIP      *backoff
	authAccount *backoff
	rate        *rateLimiter
	refusing    chan struct{} // a token per connection being refused

	mu       sync.Mutex
	conns    map[*trackedConn]struct{}
	perIP    map[connKey]int // open connections by role and address
	draining bool
}

// connKey is what the concurrent connections of one client are counted under.
type connKey struct {
	role    role
	address string // addressKey
}

// New makes a server from c, filling in defaults.
func New(c Config) *Server {
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	c.MaxRecipients = orDefault(c.MaxRecipients, DefaultMaxRecipients)
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.MaxConnsPerIP = orDefault(c.MaxConnsPerIP, DefaultMaxConnsPerIP)
	c.MaxSubmissionConnsPerIP = orDefault(c.MaxSubmissionConnsPerIP, DefaultMaxSubmissionConnsPerIP)
	c.AuthFailuresPerIP = orDefault(c.AuthFailuresPerIP, DefaultAuthFailuresPerIP)
	c.AuthFailuresPerAccount = orDefault(c.AuthFailuresPerAccount, DefaultAuthFailuresPerAccount)
	c.MessagesPerMinute = orDefault(c.MessagesPerMinute, DefaultMessagesPerMinute)
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&c.AuthFailureWindow, DefaultAuthFailureWindow},
		{&c.AuthBackoff, DefaultAuthBackoff},
		{&c.MaxAuthBackoffIP, DefaultMaxAuthBackoffIP},
		{&c.MaxAuthBackoffAccount, DefaultMaxAuthBackoffAccount},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	s := &Server{
		cfg:      c,
		log:      c.Logger,
		conns:    map[*trackedConn]struct{}{},
		perIP:    map[connKey]int{},
		refusing: make(chan struct{}, maxRefusing),
		// The account's failures are allowed more, and its lockout is shorter, than an
		// address's: locking an account locks its real user out too, from every
		// address, so it only has to slow a guesser spread over many addresses down
		// (at the longest lockout, AuthFailuresPerAccount guesses per
		// MaxAuthBackoffAccount), while each address is held back harder on its own.
		authIP:      newBackoff(c.Now, c.AuthFailuresPerIP, c.AuthFailureWindow, c.AuthBackoff, c.MaxAuthBackoffIP),
		authAccount: newBackoff(c.Now, c.AuthFailuresPerAccount, c.AuthFailureWindow, c.AuthBackoff, c.MaxAuthBackoffAccount),
		rate:        newRateLimiter(c.Now, c.MessagesPerMinute),
	}
	s.mx = s.engine(roleMX)
	s.sub = s.engine(roleSubmission)
	return s
}

// orDefault returns def for 0, 0 (no limit) for a negative n, and n otherwise.
func orDefault(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// limitFor is the connection limit of a role; 0 is none.
func (s *Server) limitFor(r role) int {
	if r == roleSubmission {
		return s.cfg.MaxSubmissionConnsPerIP
	}
	return s.cfg.MaxConnsPerIP
}

// engine configures a go-smtp server for one role.
func (s *Server) engine(r role) *smtp.Server {
	e := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return s.newSession(c, r)
	}))
	e.Domain = s.cfg.Hostname
	e.TLSConfig = s.cfg.TLS
	e.MaxMessageBytes = s.cfg.MaxMessageSize
	e.MaxRecipients = s.cfg.MaxRecipients
	e.MaxLineLength = maxLineLength
	e.ReadTimeout = s.cfg.ReadTimeout
	e.WriteTimeout = s.cfg.WriteTimeout
	e.EnableSMTPUTF8 = true // RFC 6531: addresses and headers pass through as bytes
	e.EnableDSN = true      // RFC 3461: parameters are kept and handed to the queue
	// go-smtp would answer AUTH in clear with 523; the session answers it with RFC 4954
	// 6's 538 instead, and offers no mechanism before TLS.
	e.AllowInsecureAuth = true
	e.ErrorLog = errorLog{s.log.With("role", r.String())}
	return e
}

// ServeMX serves the MX role (port 25) on ln until Shutdown.
func (s *Server) ServeMX(ln net.Listener) error {
	if s.isDraining() {
		return smtp.ErrServerClosed
	}
	return s.mx.Serve(trackedListener{Listener: ln, srv: s, role: roleMX})
}

// ServeSubmission serves the submission role on ln until Shutdown: STARTTLS (port 587)
// or, with implicitTLS, TLS from the first byte (port 465, RFC 8314 3.3).
func (s *Server) ServeSubmission(ln net.Listener, implicitTLS bool) error {
	if s.cfg.TLS == nil {
		return errors.New("smtp: submission needs a TLS configuration (RFC 8314)")
	}
	if s.isDraining() {
		return smtp.ErrServerClosed
	}
	tl := trackedListener{Listener: ln, srv: s, role: roleSubmission}
	var l net.Listener = tl
	if implicitTLS {
		tl.tls = s.cfg.TLS
		l = tls.NewListener(tl, s.cfg.TLS)
	}
	return s.sub.Serve(l)
}

// Shutdown stops accepting connections, closes idle ones at once and lets those in the
// middle of a transaction finish it. When ctx ends first, the rest are closed too and
// ctx's error is returned; their clients were not answered, so they retry.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	var idle []*trackedConn
	for c := range s.conns {
		if !c.busy.Load() {
			idle = append(idle, c)
		}
	}
	s.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
	errs := make(chan error, 2)
	for _, e := range []*smtp.Server{s.mx, s.sub} {
		go func() {
			if err := e.Shutdown(ctx); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
				errs <- err
				return
			}
			errs <- nil
		}()
	}
	err := errors.Join(<-errs, <-errs)
	if ctx.Err() != nil {
		s.mu.Lock()
		rest := make([]*trackedConn, 0, len(s.conns))
		for c := range s.conns {
			rest = append(rest, c)
		}
		s.mu.Unlock()
		for _, c := range rest {
			c.Close()
		}
	}
	return err
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// What track decided about a new connection.
type admission int

const (
	admitted admission = iota
	admitDraining
	admitOverLimit
)

// track registers a new connection. It refuses once the server is draining, and when
// the client already holds as many connections as its role allows.
func (s *Server) track(c *trackedConn) admission {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return admitDraining
	}
	if limit := s.limitFor(c.key.role); limit > 0 && s.perIP[c.key] >= limit {
		return admitOverLimit
	}
	s.conns[c] = struct{}{}
	s.perIP[c.key]++
	return admitted
}

// forget unregisters a connection; closing one more than once is harmless.
func (s *Server) forget(c *trackedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if n := s.perIP[c.key] - 1; n > 0 {
		s.perIP[c.key] = n
	} else {
		delete(s.perIP, c.key)
	}
}

// trackedListener registers every accepted connection with the server, so Shutdown can
// find idle ones, a session can close its connection after a final reply, and a client
// cannot hold more connections than its limit.
type trackedListener struct {
	net.Listener
	srv  *Server
	role role
	tls  *tls.Config // set on the implicit-TLS port, where even a refusal needs TLS
}

func (l trackedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: c, srv: l.srv, key: connKey{l.role, addressKey(remoteIP(c.RemoteAddr()))}}
		switch l.srv.track(tc) {
		case admitted:
			return tc, nil
		case admitDraining:
			// Accepted while shutting down: go-smtp sees a closed connection and moves on.
			c.Close()
			return tc, nil
		case admitOverLimit:
			l.srv.log.Warn("too many connections", "role", l.role.String(), "remote", c.RemoteAddr().String(),
				"limit", l.srv.limitFor(l.role))
			l.refuse(c)
		}
	}
}

// refuse answers a connection over its client's limit with 421 and closes it (RFC 5321
// 3.1: a server may refuse service in its greeting, and 3.8 has it send 421 before
// closing). go-smtp never sees the connection. The reply is written on a goroutine of
// its own, bounded by refuseTimeout and by maxRefusing at once, so a client that reads
// nothing cannot hold the accept loop.
func (l trackedListener) refuse(c net.Conn) {
	select {
	case l.srv.refusing <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.srv.refusing }()
		w := c
		if l.tls != nil {
			w = tls.Server(c, l.tls)
		}
		defer w.Close()
		if err := c.SetDeadline(time.Now().Add(refuseTimeout)); err != nil {
			return
		}
		e := errTooManyConnections()
		fmt.Fprintf(w, "%d %d.%d.%d %s\r\n", e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2], e.Message)
	}()
}

// trackedConn is a server connection with the state Shutdown and the sessions share.
type trackedConn struct {
	net.Conn
	srv *Server
	key connKey
	// busy is set while a transaction is open (MAIL to the end of DATA or RSET).
	busy atomic.Bool
	// closeAfterWrite makes the next write the last one: a session sets it before
	// returning a 421 reply, which RFC 5321 3.8 has the server send before closing.
	closeAfterWrite atomic.Bool
}

func (c *trackedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if c.closeAfterWrite.Load() {
		c.Close()
	}
	return n, err
}

func (c *trackedConn) Close() error {
	c.srv.forget(c)
	return c.Conn.Close()
}

// tracked finds the trackedConn under a connection go-smtp holds, which is a
// *tls.Conn after STARTTLS or on the implicit-TLS port.
func tracked(c net.Conn) (*trackedConn, error) {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	tc, ok := c.(*trackedConn)
	if !ok {
		return nil, fmt.Errorf("smtp: connection %T was not accepted by this server", c)
	}
	return tc, nil
}

// errorLog passes go-smtp's own error reports (failed handshakes, panics) to slog.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Printf(format string, v ...any) { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l errorLog) Println(v ...any)               { l.log.Warn(fmt.Sprintln(v...)) }
