// Package directory keeps Mailroom's directory of domains, users, shared mailboxes,
// aliases, groups and mailbox grants, resolves recipient addresses and checks logins.
// It is modelled on Azure AD and Exchange because profiles and clients expect their
// names (UPN, sAMAccountName, NetBIOS domain, FullAccess, SendAs).
//
// Its writes are rare (administration) and check names before inserting them, so they
// run one at a time across every node sharing the database (db.SerialTx).
//
// It must never store or log a password in a recoverable form, and never tell a caller
// whether a login name exists: an unknown login and a wrong password fail alike.
package directory

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"time"

	"mailroom/internal/db"
)

//go:embed migrations/*/*.sql
var migrationFiles embed.FS

// Errors callers can match with errors.Is. Returned errors wrap them with the details
// (the bad value, who already uses a name), and read well printed as they are.
var (
	ErrNotFound       = errors.New("not found")
	ErrExists         = errors.New("already exists")
	ErrInvalid        = errors.New("invalid")
	ErrWeakPassword   = errors.New("weak password")
	ErrUnknownDomain  = errors.New("unknown domain")
	ErrInUse          = errors.New("in use")
	ErrBadCredentials = errors.New("invalid login name or password")
	ErrDisabled       = errors.New("account disabled")
)

// Directory is the directory of one Mailroom installation. It is safe for concurrent
// use.
type Directory struct {
	db  *db.DB
	now func() time.Time

	cache *authCache
	// rcpts remembers recent recipient resolutions for a few seconds (rcptcache.go).
	rcpts *rcptCache
	// hashSlots bounds how many argon2id computations run at once: each takes 19 MiB
	// and a CPU for tens of milliseconds, and a burst of logins must not exhaust memory.
	hashSlots chan struct{}
	// decoySalt salts the hash computed for logins that match no user, so that they
	// cost as much as a real verification.
	decoySalt []byte
}

// New opens the directory stored in d, applying its schema migrations first.
func New(ctx context.Context, d *db.DB) (*Directory, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("directory migrations: %w", err)
	}
	if err := d.Migrate(ctx, "directory", sub); err != nil {
		return nil, err
	}
	dir := &Directory{
		db:        d,
		now:       time.Now,
		hashSlots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
		decoySalt: make([]byte, saltLen),
	}
	rand.Read(dir.decoySalt)
	// Through a closure, so that a test that replaces dir.now moves the cache's clock too.
	dir.cache = newAuthCache(authCacheSize, authCacheTTL, func() time.Time { return dir.now() })
	dir.rcpts = newRcptCache(rcptCacheSize, rcptCacheTTL, func() time.Time { return dir.now() })
	return dir, nil
}

// querier is what both a read pool and a write transaction offer, so lookups can run
// inside or outside a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (d *Directory) micros() int64 { return d.now().UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nextID hands out the next principal id; see directory_ids in the schema for why
// ids are not left to the engine.
func nextID(ctx context.Context, tx *sql.Tx) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx,
		`UPDATE directory_ids SET last_id = last_id + 1 WHERE name = 'principal' RETURNING last_id`).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("allocate principal id: %w", err)
	}
	return id, nil
}
