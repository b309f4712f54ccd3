// Package db opens Mailroom's SQL database and applies each component's schema
// migrations. It knows nothing of mail, users or devices: every component (the store,
// the directory, later the queue) brings its own SQL and its own migrations, and uses
// the transaction helpers here so that writes are serialised and durable.
//
// It must never hide a failed commit: a write that returns nil is on disk.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // the embedded default: pure Go, FTS5 built in, $N bound by number
)

// Dialect names the SQL engine behind a DB, for the few statements that differ.
type Dialect string

// Dialects Mailroom supports.
const (
	SQLite Dialect = "sqlite"
)

// DB is an open database: a pool for reads and one serialised path for writes.
type DB struct {
	Dialect Dialect
	read    *sql.DB
	write   *sql.DB
	mu      sync.Mutex // one writer at a time in this process; SQLite allows no more
}

// OpenSQLite opens (creating if needed) the SQLite database at file in WAL mode with
// synchronous=FULL, so a committed transaction survives a crash of the process or the
// machine.
func OpenSQLite(ctx context.Context, file string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"busy_timeout(15000)",
		"foreign_keys(1)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + file + "?" + q.Encode()
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", file, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open database %s: %w", file, err)
	}
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open database %s: %w", file, err)
	}
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)
	return &DB{Dialect: SQLite, read: read, write: write}, nil
}

// Close closes both pools.
func (d *DB) Close() error {
	return errors.Join(d.read.Close(), d.write.Close())
}

// Read returns the pool for queries that change nothing.
func (d *DB) Read() *sql.DB { return d.read }

// Conn returns a dedicated read connection, for watchers that need connection state
// (SQLite's data_version is per connection). The caller closes it.
func (d *DB) Conn(ctx context.Context) (*sql.Conn, error) { return d.read.Conn(ctx) }

// WriteTx runs fn in a write transaction and commits it. If fn returns an error the
// transaction is rolled back and the error returned unchanged.
func (d *DB) WriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.writeTxLocked(ctx, fn)
}

// Locked runs fn while holding the write lock, so that fn can run several write
// transactions and file operations that no other writer of this process interleaves
// with. Inside, use tx (not WriteTx, which would deadlock).
func (d *DB) Locked(ctx context.Context, fn func(tx func(func(*sql.Tx) error) error) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return fn(func(body func(*sql.Tx) error) error { return d.writeTxLocked(ctx, body) })
}

func (d *DB) writeTxLocked(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Migrate applies, in order, the migrations of one component that the database has not
// seen yet. migrations holds files named NNNN_description.sql; each runs in its own
// transaction together with the record that it ran, so a crash leaves either all of a
// migration or none of it.
func (d *DB) Migrate(ctx context.Context, component string, migrations fs.FS) error {
	entries, err := fs.ReadDir(migrations, ".")
	if err != nil {
		return fmt.Errorf("migrations of %s: %w", component, err)
	}
	type step struct {
		version int
		name    string
	}
	var steps []step
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return fmt.Errorf("migrations of %s: file %s is not named NNNN_description.sql", component, e.Name())
		}
		steps = append(steps, step{v, e.Name()})
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].version < steps[j].version })
	return d.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			component TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (component, version))`)
		if err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		for _, s := range steps {
			var n int
			err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE component = $1 AND version = $2`,
				component, s.version).Scan(&n)
			if err != nil {
				return fmt.Errorf("migration %s/%s: %w", component, s.name, err)
			}
			if n > 0 {
				continue
			}
			body, err := fs.ReadFile(migrations, path.Clean(s.name))
			if err != nil {
				return fmt.Errorf("migration %s/%s: %w", component, s.name, err)
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s/%s: %w", component, s.name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (component, version) VALUES ($1, $2)`,
				component, s.version); err != nil {
				return fmt.Errorf("migration %s/%s: %w", component, s.name, err)
			}
		}
		return nil
	})
}

// IntegrityCheck asks the engine to verify its own files; nil means they are sound.
func (d *DB) IntegrityCheck(ctx context.Context) error {
	rows, err := d.read.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check: %s", strings.Join(problems, "; "))
	}
	return nil
}
