package activesync

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"mailroom/internal/auth"
	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/store"
)

//go:embed migrations
var migrationFiles embed.FS

// Store is the part of the mailbox store ActiveSync uses.
type Store interface {
	EnsureAccount(ctx context.Context, id store.AccountID) (store.Account, error)
	Folders(ctx context.Context, id store.AccountID) ([]store.Folder, error)
	Folder(ctx context.Context, id store.FolderID) (store.Folder, error)
	FolderByRole(ctx context.Context, id store.AccountID, role store.Role) (store.Folder, error)
	CreateFolder(ctx context.Context, id store.AccountID, parent store.FolderID, name string, role store.Role) (store.Folder, error)
	RenameFolder(ctx context.Context, folder, newParent store.FolderID, newName string) (store.Folder, error)
	DeleteFolder(ctx context.Context, folder store.FolderID) error
	// Deliver and Replace write the Calendar, Contacts, Tasks and Notes items devices
	// add, change and delete (pimsync.go).
	Deliver(ctx context.Context, m store.NewMessage, to []store.Placement) ([]store.Delivered, error)
	Replace(ctx context.Context, id store.MessageID, m store.NewMessage) (store.Delivered, error)
	List(ctx context.Context, folder store.FolderID) ([]store.MessageInfo, error)
	Infos(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.MessageInfo, error)
	Messages(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.Message, error)
	MessageByUID(ctx context.Context, folder store.FolderID, uid store.UID) (store.Message, error)
	Raw(ctx context.Context, id store.MessageID) ([]byte, error)
	RawMany(ctx context.Context, ids []store.MessageID) (map[store.MessageID][]byte, error)
	Marks(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.Message, error)
	StoreFlags(ctx context.Context, u store.FlagUpdate) (store.FlagResult, error)
	SetProps(ctx context.Context, id store.MessageID, props map[string]string) (store.ModSeq, error)
	Move(ctx context.Context, from store.FolderID, uids []store.UID, to store.FolderID) (store.CopyResult, error)
	Expunge(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.UID, error)
	Search(ctx context.Context, folder store.FolderID, c *store.Criteria) ([]store.UID, error)
	Changes(ctx context.Context, id store.AccountID, since store.ModSeq, limit int) ([]store.Change, store.ModSeq, error)
	Subscribe(id store.AccountID) (<-chan store.ModSeq, func())
}

// Directory looks users up.
type Directory interface {
	User(ctx context.Context, key string) (directory.User, error)
	// Users lists every user and shared mailbox: the global address list.
	Users(ctx context.Context) ([]directory.User, error)
}

// Authenticator signs users in with HTTP Basic credentials or an OAuth bearer token;
// *auth.Service is one. Password accepts every login form EAS clients send: address,
// alias, UPN and NETBIOS\sam. Refusals match directory.ErrBadCredentials or
// directory.ErrDisabled; any other error means it cannot tell.
type Authenticator interface {
	Password(ctx context.Context, login, password string, from auth.Source) (directory.User, error)
	Bearer(ctx context.Context, login, token string, from auth.Source) (directory.User, error)
}

// Submitter sends a message a device composed: relay to remote recipients, local
// delivery, and a copy in the sender's Sent folder when saveInSent is true.
type Submitter interface {
	Submit(ctx context.Context, user directory.User, raw []byte, saveInSent bool) error
}

// Config configures a Server.
type Config struct {
	Store     Store
	Directory Directory
	Auth      Authenticator
	DB        *db.DB
	Submitter Submitter
	// Policy is the security policy sent to devices in Provision.
	Policy Policy
	// Profiles adds the requirements of each user's e-mail profile to Policy and
	// enforces them; nil means no profile constraints.
	Profiles ProfilePolicies
	// Certificates signs users in by TLS client certificate; nil accepts passwords
	// only.
	Certificates ClientCertificates
	// Scheduler answers meeting requests (MeetingResponse) and gives free/busy time
	// (ResolveRecipients Availability); nil answers MeetingResponse with status 2 and
	// leaves availability out.
	Scheduler Scheduler

	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxConcurrent bounds the commands other than Ping running at once; beyond it the
	// server answers 503 with Retry-After. 0 means 64.
	MaxConcurrent int
	// MaxBodySize bounds a request body; 0 means 32 MiB.
	MaxBodySize int64
	// ServerName is sent in the MS-Server-ActiveSync header; "" means "16.1".
	ServerName string
	// MinHeartbeat and MaxHeartbeat bound Ping's HeartbeatInterval in seconds; 0 means
	// 60 and 3540.
	MinHeartbeat, MaxHeartbeat int
	// MaxPingFolders bounds the folders one Ping may watch; 0 means 300.
	MaxPingFolders int
	// Resume takes back the connections of parked Pings (park.go): it must hand them
	// to the http.Server that serves this Server. It needs a Store with Notify
	// (*sqlstore.Store). nil keeps every waiting Ping in its handler, with its
	// goroutines and buffers.
	Resume Resumer
}

// Server is the ActiveSync endpoint. It is safe for concurrent use.
type Server struct {
	store     Store
	dir       Directory
	auth      Authenticator
	db        *db.DB
	submitter Submitter
	policy    Policy
	profiles  ProfilePolicies
	certs     ClientCertificates
	log       *slog.Logger
	now       func() time.Time
	cfg       Config

	slots   chan struct{} // one per running non-Ping command
	closing chan struct{} // closed by Shutdown: held Pings answer at once

	// stateLocks serialise the requests of one device on one collection, so that two
	// racing Syncs with the same key cannot both advance it; striped by stateRef.
	stateLocks [64]sync.Mutex

	// changeReads lets the held Pings and Syncs of one account, woken by the same
	// change, share one read of the change log instead of each making its own.
	changeReads singleflight.Group

	renders *renderCache // recent renderings of mail for Sync (rendercache.go)

	holdMu   sync.Mutex
	stopping bool          // Shutdown has begun
	holding  int           // requests waiting for changes (Ping, hanging Sync)
	idle     chan struct{} // closed when holding drops to 0 after Shutdown

	parking *parking // nil without Config.Resume
}

// New applies the package's migrations and returns a server.
func New(ctx context.Context, c Config) (*Server, error) {
	if c.Store == nil || c.Directory == nil || c.Auth == nil || c.DB == nil || c.Submitter == nil {
		return nil, errors.New("activesync: Store, Directory, Auth, DB and Submitter are required")
	}
	if err := c.Policy.validate(); err != nil {
		return nil, fmt.Errorf("activesync policy: %w", err)
	}
	if err := migrate(ctx, c.DB); err != nil {
		return nil, err
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 64
	}
	if c.MaxBodySize <= 0 {
		c.MaxBodySize = 32 << 20
	}
	if c.ServerName == "" {
		c.ServerName = "16.1"
	}
	if c.MinHeartbeat <= 0 {
		c.MinHeartbeat = 60
	}
	if c.MaxHeartbeat <= 0 {
		c.MaxHeartbeat = 3540
	}
	if c.MaxHeartbeat < c.MinHeartbeat {
		return nil, fmt.Errorf("activesync: MaxHeartbeat %d is below MinHeartbeat %d", c.MaxHeartbeat, c.MinHeartbeat)
	}
	if c.MaxPingFolders <= 0 {
		c.MaxPingFolders = 300
	}
	s := &Server{
		store:     c.Store,
		dir:       c.Directory,
		auth:      c.Auth,
		db:        c.DB,
		submitter: c.Submitter,
		policy:    c.Policy,
		profiles:  c.Profiles,
		certs:     c.Certificates,
		log:       c.Logger,
		now:       c.Now,
		cfg:       c,
		slots:     make(chan struct{}, c.MaxConcurrent),
		closing:   make(chan struct{}),
		renders:   newRenderCache(renderCacheBytes),
	}
	if c.Resume != nil {
		n, ok := c.Store.(notifier)
		if !ok {
			return nil, errNoNotify
		}
		s.parking = newParking(s, c.Resume, n)
	}
	return s, nil
}

// migrate applies the package's migrations to d.
func migrate(ctx context.Context, d *db.DB) error {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("activesync migrations: %w", err)
	}
	return d.Migrate(ctx, "activesync", sub)
}

// Shutdown answers every held Ping and hanging Sync at once and waits for them to
// finish writing, or for ctx to end. Later ones are answered at once as well. The
// connections of parked Pings are closed after their answer.
func (s *Server) Shutdown(ctx context.Context) error {
	s.holdMu.Lock()
	if !s.stopping {
		s.stopping = true
		close(s.closing)
	}
	s.holdMu.Unlock()
	if s.parking != nil {
		if err := s.parking.close(ctx); err != nil {
			return fmt.Errorf("activesync shutdown: %w", err)
		}
	}
	s.holdMu.Lock()
	if s.holding == 0 {
		s.holdMu.Unlock()
		return nil
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.holdMu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("activesync shutdown: %w", ctx.Err())
	}
}

// hold registers a request that is about to wait for changes; release must follow.
// After Shutdown the request still runs, but its wait ends at once (closing is closed).
func (s *Server) hold() (release func()) {
	s.holdMu.Lock()
	s.holding++
	s.holdMu.Unlock()
	return func() {
		s.holdMu.Lock()
		defer s.holdMu.Unlock()
		s.holding--
		if s.holding == 0 && s.idle != nil {
			close(s.idle)
			s.idle = nil
		}
	}
}
