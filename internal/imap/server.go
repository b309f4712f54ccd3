package imap

import (
	"bufio"
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
	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// Store is what the IMAP server needs of the mailbox store; a store.Store is one.
type Store interface {
	EnsureAccount(ctx context.Context, id store.AccountID) (store.Account, error)
	Account(ctx context.Context, id store.AccountID) (store.Account, error)
	Folders(ctx context.Context, id store.AccountID) ([]store.Folder, error)
	Folder(ctx context.Context, id store.FolderID) (store.Folder, error)
	FolderByPath(ctx context.Context, id store.AccountID, path []string) (store.Folder, error)
	FolderByRole(ctx context.Context, id store.AccountID, role store.Role) (store.Folder, error)
	CreateFolder(ctx context.Context, id store.AccountID, parent store.FolderID, name string, role store.Role) (store.Folder, error)
	RenameFolder(ctx context.Context, folder, newParent store.FolderID, newName string) (store.Folder, error)
	DeleteFolder(ctx context.Context, folder store.FolderID) error
	SetSubscribed(ctx context.Context, folder store.FolderID, subscribed bool) error
	Deliver(ctx context.Context, m store.NewMessage, to []store.Placement) ([]store.Delivered, error)
	FolderIndex(ctx context.Context, folder store.FolderID) (store.FolderIndex, error)
	Infos(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.MessageInfo, error)
	Messages(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.Message, error)
	RawMany(ctx context.Context, ids []store.MessageID) (map[store.MessageID][]byte, error)
	StoreFlags(ctx context.Context, u store.FlagUpdate) (store.FlagResult, error)
	Copy(ctx context.Context, from store.FolderID, uids []store.UID, to store.FolderID) (store.CopyResult, error)
	Move(ctx context.Context, from store.FolderID, uids []store.UID, to store.FolderID) (store.CopyResult, error)
	Expunge(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.UID, error)
	Search(ctx context.Context, folder store.FolderID, c *store.Criteria) ([]store.UID, error)
	Changes(ctx context.Context, id store.AccountID, since store.ModSeq, limit int) ([]store.Change, store.ModSeq, error)
	Subscribe(id store.AccountID) (<-chan store.ModSeq, func())
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

// Granter lists the mailboxes a user holds rights on; *directory.Directory is one.
// Mailboxes held with FullAccess appear in the other-users namespace.
type Granter interface {
	GrantsTo(ctx context.Context, userID int64) ([]directory.Grant, error)
}

// Config is what a Server is built from.
type Config struct {
	Store Store
	Auth  Authenticator
	// Grants, when set, opens shared mailboxes under the "Shared/" namespace.
	Grants Granter
	// ACL and Users, when both set, keep per-folder access control lists (RFC 4314,
	// acl.go): the ACL and RIGHTS= capabilities, and folders shared with a user in
	// the "Shared/" namespace.
	ACL   ACLStore
	Users UserFinder
	// TLS serves STARTTLS and implicit-TLS listeners. Without it a plain listener
	// offers no STARTTLS and so refuses every login (LOGINDISABLED).
	TLS    *tls.Config
	Logger *slog.Logger // nil: slog.Default()
	// Hostname names the server in the greeting; "" means localhost.
	Hostname string
	// AppendLimit is the largest message APPEND accepts, in bytes (RFC 7889); 0 means
	// imapwire.DefaultMaxAppendLiteral.
	AppendLimit int64
	// IdleTimeout ends a session that sends nothing for this long, IDLE included; 0
	// means 30 minutes, the least RFC 9051 section 5.4 allows for an autologout timer.
	IdleTimeout time.Duration
	// AuthFailureDelay is the pause before a failed login is answered, which slows
	// down password guessing; 0 means one second.
	AuthFailureDelay time.Duration
}

// Defaults and limits.
const (
	defaultIdleTimeout      = 30 * time.Minute
	defaultAuthFailureDelay = time.Second
	// handshakeTimeout bounds a TLS handshake.
	handshakeTimeout = 30 * time.Second
	// maxAuthFailures is how many failed logins a connection gets before BYE.
	maxAuthFailures = 3
	// maxBadCommands is how many malformed or unknown commands a connection gets
	// before BYE.
	maxBadCommands = 20
	// bufSize is the size of a session's read and write buffers.
	bufSize = 4096
)

// ErrServerClosed is what Serve returns after Shutdown. It matches net.ErrClosed too,
// as the listener is closed by then.
var ErrServerClosed = fmt.Errorf("imap: server closed: %w", net.ErrClosed)

// Server is an IMAP server. It is safe for concurrent use; one Server may serve
// several listeners at once, plain (port 143) and implicit-TLS (port 993).
type Server struct {
	cfg    Config
	log    *slog.Logger
	nextID atomic.Uint64
	conns  *connserver.Server
	// readBufs and writeBufs hold the buffers of sessions' readers and writers
	// (*bufio.Reader, *bufio.Writer) while the sessions wait for their clients.
	readBufs, writeBufs sync.Pool
	idlers              idleHub
	parking             *parking // sessions idling without a goroutine (park.go)
}

// New returns a server built from c, with defaults for its zero fields.
func New(c Config) *Server {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = defaultIdleTimeout
	}
	if c.AuthFailureDelay <= 0 {
		c.AuthFailureDelay = defaultAuthFailureDelay
	}
	if c.AppendLimit <= 0 {
		c.AppendLimit = imapwire.DefaultMaxAppendLiteral
	}
	if c.Hostname == "" {
		c.Hostname = "localhost"
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("protocol", "imap")
	s := &Server{cfg: c, log: log, conns: connserver.New(log), idlers: idleHub{store: c.Store},
		parking: newParking()}
	s.readBufs.New = func() any { return bufio.NewReaderSize(nil, bufSize) }
	s.writeBufs.New = func() any { return bufio.NewWriterSize(nil, bufSize) }
	return s
}

// Serve accepts connections on ln until Shutdown, which makes it return
// ErrServerClosed. With implicitTLS every connection starts with a TLS handshake
// (port 993, RFC 8314); without, sessions start in plain text and offer STARTTLS.
func (s *Server) Serve(ln net.Listener, implicitTLS bool) error {
	if implicitTLS && s.cfg.TLS == nil {
		return errors.New("imap: implicit TLS needs a TLS configuration")
	}
	err := s.conns.Serve(ln, func(nc net.Conn) connserver.Session {
		return conn{newSession(s, nc, implicitTLS)}
	})
	if errors.Is(err, connserver.ErrClosed) {
		return ErrServerClosed
	}
	if err != nil {
		return fmt.Errorf("imap: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and ends every session: one waiting for a
// command or idling gets "* BYE" at once, one running a command finishes it first
// (RFC 9051 section 7.1.5). It returns once every session has ended; if ctx ends
// first, it closes the remaining connections, cancels their store calls and returns
// ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	// Sessions that parked in IDLE have left the connection server's bookkeeping.
	s.parking.shutdown()
	err := s.conns.Shutdown(ctx)
	if perr := s.parking.wait(ctx); err == nil {
		err = perr
	}
	if err != nil {
		return fmt.Errorf("imap: %w", err)
	}
	return nil
}

// conn adapts a session to the shared connection server.
type conn struct{ *session }

func (c conn) Serve(ctx context.Context) { c.serve(ctx) }
func (c conn) Interrupt()                { c.interrupt() }
func (c conn) Close()                    { c.raw.Close() }
