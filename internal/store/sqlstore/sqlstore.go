// Package sqlstore is the SQL backend of the mailbox store: metadata and the change log in
// the database, message bytes in a blob area. One set of queries ($N placeholders,
// RETURNING, ON CONFLICT, integer times) runs on SQLite and on PostgreSQL; what differs
// is the DDL, how text search is indexed, how other processes' changes are noticed
// (SQLite's data_version, PostgreSQL's LISTEN/NOTIFY) and how writers are ordered (one
// SQLite writer; per-account row locks on PostgreSQL).
//
// Every write commits before it returns, and the blob it refers to is fsynced before the
// commit, so nothing acknowledged is lost; it never rewrites a stored blob.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"time"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/store"
)

//go:embed migrations/*/*.sql
var migrations embed.FS

// Options configure a Store.
type Options struct {
	// MaxMessageSize refuses larger messages with store.ErrTooLarge; 0 means no limit.
	MaxMessageSize int64
	// WatchInterval is how often the store looks for changes made by other processes
	// (the admin CLI, another node) to wake subscribers; 0 means 250ms.
	WatchInterval time.Duration
	Logger        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store is the SQL mailbox store.
type Store struct {
	db    *db.DB
	blobs blob.Area
	opts  Options
	hub   *hub

	// indexWake nudges the SQLite text indexer after a delivery.
	indexWake chan struct{}

	// tails is where search reads text tails from, when the blob area keeps blobs in
	// the database (see content).
	tails inlineArea

	stop context.CancelFunc
	done sync.WaitGroup
}

var _ store.Store = (*Store)(nil)

// New migrates the database and returns a store over it and the blob area (a blob.Dir
// beside SQLite, a blob.Table in PostgreSQL). Close stops its watcher; it does not close
// the database.
func New(ctx context.Context, d *db.DB, blobs blob.Area, opts Options) (*Store, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("store migrations: %w", err)
	}
	if err := d.Migrate(ctx, "store", sub); err != nil {
		return nil, err
	}
	if opts.WatchInterval == 0 {
		opts.WatchInterval = 250 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{db: d, blobs: blobs, opts: opts, hub: newHub(), indexWake: make(chan struct{}, 1)}
	if in, ok := blobs.(inlineArea); ok && d.Dialect == db.SQLite {
		s.tails = in
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		s.watch(wctx)
	}()
	if d.Dialect == db.SQLite {
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			s.index(wctx)
		}()
	}
	return s, nil
}

// Close stops the watcher and ends every subscription.
func (s *Store) Close() error {
	s.stop()
	s.done.Wait()
	s.hub.closeAll()
	return nil
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// lockAccounts makes tx the only writer of these accounts until it ends, before it reads
// what it will change. SQLite has one writer anyway; on PostgreSQL, where transactions
// of several nodes run at once, the account row lock serialises each account's writes
// (as nextModSeq's UPDATE would, but taken before the reads). Ids are locked in
// ascending order so that two transactions never wait for each other in a cycle.
func (s *Store) lockAccounts(ctx context.Context, tx *sql.Tx, ids ...store.AccountID) error {
	if s.db.Dialect != db.Postgres {
		return nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	for i, id := range ids {
		if i > 0 && id == ids[i-1] {
			continue
		}
		rows, err := tx.QueryContext(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, id)
		if err != nil {
			return fmt.Errorf("lock account %d: %w", id, err)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("lock account %d: %w", id, err)
		}
	}
	return nil
}

// nextModSeq allocates the account's next change-log position inside tx. On PostgreSQL
// the accounts trigger turns the new value into a NOTIFY for the other nodes.
func nextModSeq(ctx context.Context, tx *sql.Tx, account store.AccountID) (store.ModSeq, error) {
	var m store.ModSeq
	err := tx.QueryRowContext(ctx, `UPDATE accounts SET modseq = modseq + 1 WHERE id = $1 RETURNING modseq`, account).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("account %d: %w", account, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("allocate modseq for account %d: %w", account, err)
	}
	return m, nil
}

func logChange(ctx context.Context, tx *sql.Tx, account store.AccountID, c store.Change) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO changes (account, modseq, kind, folder, message, uid) VALUES ($1, $2, $3, $4, $5, $6)`,
		account, c.ModSeq, string(c.Kind), c.Folder, c.Message, c.UID)
	if err != nil {
		return fmt.Errorf("log change: %w", err)
	}
	return nil
}

// touchFolder records that a folder changed at modseq and adjusts its counters.
func touchFolder(ctx context.Context, tx *sql.Tx, folder store.FolderID, m store.ModSeq, dMessages, dUnseen int, dSize int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE folders SET highest_modseq = $2, messages = messages + $3, unseen = unseen + $4, size = size + $5 WHERE id = $1`,
		folder, m, dMessages, dUnseen, dSize)
	if err != nil {
		return fmt.Errorf("update folder %d: %w", folder, err)
	}
	return nil
}

func adjustAccount(ctx context.Context, tx *sql.Tx, account store.AccountID, dMessages int, dBytes int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE accounts SET messages = messages + $2, used_bytes = used_bytes + $3 WHERE id = $1`,
		account, dMessages, dBytes)
	if err != nil {
		return fmt.Errorf("update account %d: %w", account, err)
	}
	return nil
}
