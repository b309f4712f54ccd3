package pop3

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

	"mailroom/internal/auth"
	"mailroom/internal/connserver"
	"mailroom/internal/directory"
	"mailroom/internal/store"
)

// Store is what the POP3 server needs of the mailbox store.
type Store interface {
	FolderByRole(ctx context.Context, id store.AccountID, role store.Role) (store.Folder, error)
	List(ctx context.Context, folder store.FolderID) ([]store.MessageInfo, error)
	Raw(ctx context.Context, id store.MessageID) ([]byte, error)
	Expunge(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.UID, error)
	Move(ctx context.Context, from store.FolderID, uids []store.UID, to store.FolderID) (store.CopyResult, error)
	Infos(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.MessageInfo, error)
	SetProps(ctx context.Context, id store.MessageID, props map[string]string) (store.ModSeq, error)
}

// Domains reads a domain's settings; *directory.Directory is one. QUIT asks it
// whether the user's domain keeps POP3 deletions in Deleted Items.
type Domains interface {
	Domain(ctx context.Context, name string) (directory.Domain, error)
}

// Authenticator signs users in with a password or an OAuth bearer token;
// *auth.Service is one. It returns an error matching directory.ErrBadCredentials or
// directory.ErrDisabled when the login is refused, and any other error when it cannot
// tell. TokensEnabled says whether the token mechanisms are worth offering.
type Authenticator interface {
	Password(ctx context.Context, login, password string, from auth.Source) (directory.User, error)
	Bearer(ctx context.Context, login, token string, from auth.Source) (directory.User, error)
	TokensEnabled() bool
}

// Config is what a Server is built from.
type Config struct {
	Store Store
	Auth  Authenticator
	// Domains tells QUIT whether the user's domain keeps POP3 deletions in Deleted
	// Items; a session that deletes anything needs it.
	Domains Domains
	// TLS serves STLS and implicit-TLS listeners. Without it a plain listener offers no
	// STLS and so refuses every login.
	TLS    *tls.Config
	Logger *slog.Logger // nil: slog.Default()
	// Hostname names the server in the greeting; "" means localhost.
	Hostname string
	// IdleTimeout ends a session that sends no command for this long; 0 means ten
	// minutes, the least RFC 1939 section 3 allows for an autologout timer.
	IdleTimeout time.Duration
	// AuthFailureDelay is the pause before a failed login is answered, which slows
	// down password guessing; 0 means one second.
	AuthFailureDelay time.Duration
}

// Defaults and limits.
const (
	defaultIdleTimeout      = 10 * time.Minute
	defaultAuthFailureDelay = time.Second
	// handshakeTimeout bounds a TLS handshake, so a client that stalls in it cannot
	// hold a session for a whole idle period.
	handshakeTimeout = 30 * time.Second
	// maxAuthFailures is how many failed logins a connection gets before it is closed.
	maxAuthFailures = 3
	// maxBadCommands is how many unknown, malformed or over-long commands a connection
	// gets before it is closed as abusive.
	maxBadCommands = 10
)

// ErrServerClosed is what Serve returns after Shutdown. It matches net.ErrClosed too,
// as the listener is closed by then.
var ErrServerClosed = fmt.Errorf("pop3: server closed: %w", net.ErrClosed)

// Server is a POP3 server. It is safe for concurrent use; one Server may serve several
// listeners at once, plain and implicit-TLS, which share its maildrop locks.
type Server struct {
	cfg    Config
	log    *slog.Logger
	locks  lockTable
	nextID atomic.Uint64
	conns  *connserver.Server
}

// New returns a server built from c, with defaults for its zero fields.
func New(c Config) *Server {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = defaultIdleTimeout
	}
	if c.AuthFailureDelay <= 0 {
		c.AuthFailureDelay = defaultAuthFailureDelay
	}
	if c.Hostname == "" {
		c.Hostname = "localhost"
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("protocol", "pop3")
	return &Server{
		cfg:   c,
		log:   log,
		locks: lockTable{held: map[store.AccountID]bool{}},
		conns: connserver.New(log),
	}
}

// Serve accepts connections on ln until Shutdown, which makes it return
// ErrServerClosed. With implicitTLS every connection starts with a TLS handshake
// (port 995); without, sessions start in plain text and offer STLS (port 110).
func (s *Server) Serve(ln net.Listener, implicitTLS bool) error {
	if implicitTLS && s.cfg.TLS == nil {
		return errors.New("pop3: implicit TLS needs a TLS configuration")
	}
	err := s.conns.Serve(ln, func(nc net.Conn) connserver.Session {
		return conn{&session{
			srv:         s,
			raw:         nc,
			conn:        nc,
			implicitTLS: implicitTLS,
			log: s.log.With("session", s.nextID.Add(1), "remote", nc.RemoteAddr().String(),
				"implicit_tls", implicitTLS),
		}}
	})
	if errors.Is(err, connserver.ErrClosed) {
		return ErrServerClosed
	}
	if err != nil {
		return fmt.Errorf("pop3: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections, tells every session waiting for a command
// "-ERR server shutting down" and closes it, lets a command in progress finish first
// (a QUIT completes its deletions), and returns once every session has ended. If ctx
// ends first, it closes the remaining connections, cancels their store calls and
// returns ctx's error; no session enters the UPDATE state then, so nothing is deleted
// that the client did not see confirmed.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.conns.Shutdown(ctx); err != nil {
		return fmt.Errorf("pop3: %w", err)
	}
	return nil
}

// conn adapts a session to the shared connection server.
type conn struct{ *session }

func (c conn) Serve(ctx context.Context) { c.serve(ctx) }
func (c conn) Interrupt()                { c.interrupt() }
func (c conn) Close()                    { c.raw.Close() }

// lockTable gives one session at a time exclusive access to a maildrop (RFC 1939
// section 8). It only knows the sessions of this process: locking across several
// Mailroom nodes comes with the PostgreSQL store, which several nodes can share.
type lockTable struct {
	mu   sync.Mutex
	held map[store.AccountID]bool
}

// acquire locks the maildrop of id and reports whether it was free.
func (t *lockTable) acquire(id store.AccountID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held[id] {
		return false
	}
	t.held[id] = true
	return true
}

func (t *lockTable) release(id store.AccountID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.held, id)
}
