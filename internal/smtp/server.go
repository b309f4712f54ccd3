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
	Authenticate(ctx context.Context, login, password string) (directory.User, error)
	User(ctx context.Context, key string) (directory.User, error)
	GrantsTo(ctx context.Context, userID int64) ([]directory.Grant, error)
}

// Mailboxes is what the server needs from the mailbox store.
type Mailboxes interface {
	Deliver(ctx context.Context, m store.NewMessage, to []store.Placement) ([]store.Delivered, error)
	Account(ctx context.Context, id store.AccountID) (store.Account, error)
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

// Checker authenticates an incoming message (SPF, DKIM, DMARC) and returns the
// Authentication-Results header field (RFC 8601) to add.
type Checker interface {
	Check(ctx context.Context, ip net.IP, helo, mailFrom string, raw []byte) (headerField string, err error)
}

// Signer DKIM-signs a message submitted by a user and returns the signed message.
type Signer interface {
	Sign(ctx context.Context, fromDomain string, raw []byte) ([]byte, error)
}

// Config is everything the server needs; Directory and Mailboxes are required.
type Config struct {
	Hostname  string // our host name: in the greeting and in Received fields
	Directory Directory
	Mailboxes Mailboxes
	Outbound  Outbound // nil: submission refuses remote recipients
	Checker   Checker  // nil: no Authentication-Results on incoming mail
	Signer    Signer   // nil: outgoing mail is not DKIM-signed
	TLS       *tls.Config

	MaxMessageSize int64 // bytes; 0: DefaultMaxMessageSize
	MaxRecipients  int   // per transaction; 0: DefaultMaxRecipients
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	Logger         *slog.Logger // nil: slog.Default()
}

// Server serves the MX and submission roles over go-smtp.
type Server struct {
	cfg Config
	log *slog.Logger
	mx  *smtp.Server
	sub *smtp.Server

	mu       sync.Mutex
	conns    map[*trackedConn]struct{}
	draining bool
}

// New makes a server from c, filling in defaults.
func New(c Config) *Server {
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxRecipients <= 0 {
		c.MaxRecipients = DefaultMaxRecipients
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	s := &Server{cfg: c, log: c.Logger, conns: map[*trackedConn]struct{}{}}
	s.mx = s.engine(roleMX)
	s.sub = s.engine(roleSubmission)
	return s
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
	return s.mx.Serve(trackedListener{ln, s})
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
	var l net.Listener = trackedListener{ln, s}
	if implicitTLS {
		l = tls.NewListener(l, s.cfg.TLS)
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

// track registers a new connection; it refuses once the server is draining.
func (s *Server) track(c *trackedConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) forget(c *trackedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// trackedListener registers every accepted connection with the server, so Shutdown can
// find idle ones and a session can close its connection after a final reply.
type trackedListener struct {
	net.Listener
	srv *Server
}

func (l trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, srv: l.srv}
	if !l.srv.track(tc) {
		// Accepted while shutting down: go-smtp sees a closed connection and moves on.
		c.Close()
	}
	return tc, nil
}

// trackedConn is a server connection with the state Shutdown and the sessions share.
type trackedConn struct {
	net.Conn
	srv *Server
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
