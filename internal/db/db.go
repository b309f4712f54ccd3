// Package db opens Mailroom's SQL database and applies each component's schema
// migrations. It knows nothing of mail, users or devices: every component (the store,
// the directory, the queue) brings its own SQL and its own migrations, and uses the
// transaction helpers here so that writes are serialised where the engine needs it and
// durable.
//
// Two engines sit behind one API: SQLite (embedded, one machine) and PostgreSQL (the
// shared store of several nodes). Components keep their SQL portable and put the
// differences (DDL, search, notifications, claiming) behind Dialect.
//
// It must never hide a failed commit: a write that returns nil is on disk.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite" // the embedded default: pure Go, FTS5 built in, $N bound by number
)

// Dialect names the SQL engine behind a DB, for the few statements that differ.
type Dialect string

// Dialects Mailroom supports. They double as the names of the per-dialect migration
// directories.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database. On SQLite it is a pool for reads and one serialised
// connection for writes; on PostgreSQL one pool for both, writers serialised by the
// row locks they take.
type DB struct {
	Dialect Dialect
	read    *sql.DB
	write   *sql.DB
	mu      sync.Mutex // SQLite: one writer at a time in this process; unused on PostgreSQL
	connCfg *pgx.ConnConfig
	queries atomic.Uint64 // statements sent (count.go)
	ckpt    *checkpointer // SQLite: copies the log into the database file (checkpoint.go)

	// SQLite group commit: writers queue their work here; whoever holds mu next runs
	// everything queued in one transaction (see Write).
	qmu   sync.Mutex
	queue []*job
}

// OpenSQLite opens (creating if needed) the SQLite database at file in WAL mode with
// synchronous=FULL, so a committed transaction survives a crash of the process or the
// machine. Checkpoints run in a goroutine of the DB, not in committing writers
// (checkpoint.go); it logs through slog's default logger.
func OpenSQLite(ctx context.Context, file string) (*DB, error) {
	return openSQLite(ctx, file, walLimits{every: walEvery, soft: walSoft, hard: walHard, wait: walWait})
}

func openSQLite(ctx context.Context, file string, wal walLimits) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"busy_timeout(15000)",
		"foreign_keys(1)",
		"wal_autocheckpoint(0)",
		// Statement journals in memory: each writer's savepoint in a shared transaction
		// (see Write) otherwise spills its journal past 64 KiB into a temporary file,
		// created and written for every large message (a tenth of the CPU of a 100 KB
		// delivery, 2026-11-25). Temporary tables and sort indexes live there too.
		"temp_store(MEMORY)",
		fmt.Sprintf("journal_size_limit(%d)", wal.soft),
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + file + "?" + q.Encode()
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", file, err)
	}
	d := &DB{Dialect: SQLite}
	conns := countingConnector{Connector: base, n: &d.queries}
	write := sql.OpenDB(conns)
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open database %s: %w", file, err)
	}
	read := sql.OpenDB(conns)
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)
	if d.ckpt, err = startCheckpointer(ctx, base, file, &d.mu, wal, slog.Default()); err != nil {
		return nil, errors.Join(fmt.Errorf("open database %s: %w", file, err), read.Close(), write.Close())
	}
	d.read, d.write = read, write
	return d, nil
}

// OpenPostgres connects to the PostgreSQL database named by dsn (a postgres:// URL or
// key=value string). The database must exist; Mailroom creates its tables, and the
// pg_trgm extension, through migrations.
func OpenPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL connection string: %w", err)
	}
	d := &DB{Dialect: Postgres, connCfg: cfg}
	cfg.Tracer = pgCounter{n: &d.queries}
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(32)
	pool.SetMaxIdleConns(8)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL %s: %w", describe(cfg), err)
	}
	d.read, d.write = pool, pool
	return d, nil
}

// describe names a PostgreSQL server and database for messages, without the password.
func describe(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Close closes the pools, on SQLite after a last checkpoint.
func (d *DB) Close() error {
	if d.read == d.write {
		return d.read.Close()
	}
	return errors.Join(d.ckpt.close(), d.read.Close(), d.write.Close())
}

// Listen opens a dedicated PostgreSQL connection for LISTEN and WaitForNotification;
// the caller closes it. It fails on SQLite, which has no notifications.
func (d *DB) Listen(ctx context.Context, channel string) (*pgx.Conn, error) {
	if d.Dialect != Postgres {
		return nil, fmt.Errorf("listen: %s has no notifications", d.Dialect)
	}
	conn, err := pgx.ConnectConfig(ctx, d.connCfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("listen connection: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("listen %s: %w", channel, err)
	}
	return conn, nil
}

// Read returns the pool for queries that change nothing.
func (d *DB) Read() *sql.DB { return d.read }

// Conn returns a dedicated read connection, for watchers that need connection state
// (SQLite's data_version is per connection). The caller closes it.
func (d *DB) Conn(ctx context.Context) (*sql.Conn, error) { return d.read.Conn(ctx) }

// Snapshot begins a read-only transaction in which every statement sees the same
// committed state: SQLite's read transactions do; PostgreSQL needs REPEATABLE READ
// for it. The caller rolls it back.
func (d *DB) Snapshot(ctx context.Context) (*sql.Tx, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if d.Dialect == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := d.read.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("begin read transaction: %w", err)
	}
	return tx, nil
}

// WriteTx runs fn in a write transaction and commits it. If fn returns an error its
// writes are undone and the error returned unchanged. It is Write without an After.
func (d *DB) WriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return d.Write(ctx, Work{Tx: fn})
}

// Work is one writer's part of a write transaction.
type Work struct {
	// Tx makes the writes. It may be run more than once (on PostgreSQL after the server
	// aborted it as a deadlock victim or a serialisation failure; on SQLite after another
	// writer's failure ended the transaction they shared), so it resets what it collects
	// at its top.
	Tx func(tx *sql.Tx) error
	// After, when set, runs once the outcome is final, with nil when Tx's writes are
	// committed and the reason when they are not. On SQLite it runs under the write
	// lock, so what it does (removing a file no row refers to) no other writer
	// interleaves with.
	After func(err error)
}

// Write runs w.Tx in a write transaction, commits it and returns once the outcome is
// durable.
//
// On PostgreSQL transactions run concurrently in READ COMMITTED, each with its own
// commit; one the server aborts as a deadlock victim or a serialisation failure is
// run again from the start.
//
// On SQLite, where there is one writer and each commit costs an fsync, concurrent
// writers share commits (group commit): a writer queues its work and whoever holds the
// write lock next runs every queued Tx in one transaction, each inside a savepoint of
// its own so that one Tx's error undoes only its own writes, then commits once. No
// writer hears of success before that commit.
func (d *DB) Write(ctx context.Context, w Work) error {
	if d.Dialect == Postgres {
		err := d.writeTxLocked(ctx, w.Tx)
		if w.After != nil {
			w.After(err)
		}
		return err
	}
	j := &job{ctx: ctx, work: w}
	d.qmu.Lock()
	d.queue = append(d.queue, j)
	d.qmu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if !j.done {
		d.qmu.Lock()
		batch := d.queue
		d.queue = nil
		d.qmu.Unlock()
		d.runBatch(batch)
		d.ckpt.committed()
	}
	return j.err
}

// job is one queued Write on SQLite. Its fields are written under DB.mu.
type job struct {
	ctx  context.Context
	work Work
	err  error
	done bool
}

func (j *job) finish(err error) {
	j.err = err
	if j.work.After != nil {
		j.work.After(err)
	}
	j.done = true
}

// maxBatch bounds the writers one shared transaction serves, so that none waits for
// an unbounded queue ahead of it.
const maxBatch = 128

// runBatch runs queued jobs under mu, maxBatch at a time.
func (d *DB) runBatch(jobs []*job) {
	for len(jobs) > 0 {
		n := min(len(jobs), maxBatch)
		d.runShared(jobs[:n])
		jobs = jobs[n:]
	}
}

// runShared runs jobs in one transaction and finishes each. A job whose caller has
// given up is not started. If the engine ends the whole transaction while a job runs
// (SQLite rolls back on an interrupted statement, as when a caller's context ends,
// and on some I/O errors), that job fails and the others run again in a new one.
func (d *DB) runShared(jobs []*job) {
	for len(jobs) > 0 {
		live := jobs[:0:0]
		for _, j := range jobs {
			if err := j.ctx.Err(); err != nil {
				j.finish(fmt.Errorf("write transaction: %w", err))
				continue
			}
			live = append(live, j)
		}
		if len(live) == 1 {
			live[0].finish(d.writeTxOnce(live[0].ctx, live[0].work.Tx))
			return
		}
		if len(live) == 0 {
			return
		}
		jobs = d.shareTx(live)
	}
}

// shareTx runs jobs in one transaction, each in a savepoint, and finishes them; it
// returns the jobs to run again when the transaction ended under one of them.
func (d *DB) shareTx(jobs []*job) (again []*job) {
	// The transaction outlives any one caller's context: a caller that gives up
	// mid-way fails alone (above), the others still commit.
	ctx := context.Background()
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		err = fmt.Errorf("begin write transaction: %w", err)
		for _, j := range jobs {
			j.finish(err)
		}
		return nil
	}
	failed := map[*job]error{}
	for i, j := range jobs {
		if _, err := tx.ExecContext(ctx, `SAVEPOINT mailroom_writer`); err != nil {
			_ = tx.Rollback()
			j.finish(fmt.Errorf("begin write: %w", err))
			return rerun(jobs[:i], jobs[i+1:], failed)
		}
		ferr := j.work.Tx(tx)
		if err := endSavepoint(ctx, tx, ferr != nil); err != nil {
			// The engine ended the transaction under this job: what the jobs before it
			// wrote is gone too, so they run again; this one fails.
			_ = tx.Rollback()
			if ferr == nil {
				ferr = fmt.Errorf("write transaction: %w", err)
			}
			j.finish(ferr)
			return rerun(jobs[:i], jobs[i+1:], failed)
		}
		if ferr != nil {
			failed[j] = ferr
		}
	}
	if err := tx.Commit(); err != nil {
		err = fmt.Errorf("commit: %w", err)
		for _, j := range jobs {
			if ferr, ok := failed[j]; ok {
				j.finish(ferr)
			} else {
				j.finish(err)
			}
		}
		return nil
	}
	for _, j := range jobs {
		j.finish(failed[j])
	}
	return nil
}

// endSavepoint keeps (or, with undo, rolls back) what was written since the savepoint.
// An error means the transaction itself has ended.
func endSavepoint(ctx context.Context, tx *sql.Tx, undo bool) error {
	if undo {
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO mailroom_writer`); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `RELEASE mailroom_writer`)
	return err
}

// rerun lists the jobs of a transaction that ended early which must run again: those
// that ran before without an error of their own (jobs that failed are finished with
// their error, their writes having been undone anyway) and those not yet started.
func rerun(before, after []*job, failed map[*job]error) []*job {
	var again []*job
	for _, j := range before {
		if ferr, ok := failed[j]; ok {
			j.finish(ferr)
			continue
		}
		again = append(again, j)
	}
	return append(again, after...)
}

// SerialTx runs fn in a write transaction that no other SerialTx with the same name
// runs beside, on any node, for components whose writes are rare and check before they
// insert (the directory). SQLite's single writer gives that already; on PostgreSQL the
// transaction first takes an advisory lock on the name, held until it ends.
func (d *DB) SerialTx(ctx context.Context, name string, fn func(tx *sql.Tx) error) error {
	if d.Dialect != Postgres {
		return d.WriteTx(ctx, fn)
	}
	return d.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "mailroom/"+name); err != nil {
			return fmt.Errorf("lock %s: %w", name, err)
		}
		return fn(tx)
	})
}

// Locked runs fn so that fn can run several write transactions and file operations
// that no other writer interleaves with where that matters. Inside, use tx (not
// WriteTx, which would deadlock on SQLite).
//
// On SQLite it holds the process's write lock throughout. On PostgreSQL it holds
// nothing: several nodes write at once, so what must not interleave is ordered by the
// row locks the transactions take (blob.DB keeps message bytes in rows for that
// reason); fn's transactions are simply run one after another.
func (d *DB) Locked(ctx context.Context, fn func(tx func(func(*sql.Tx) error) error) error) error {
	if d.Dialect != Postgres {
		d.mu.Lock()
		defer d.mu.Unlock()
		defer d.ckpt.committed()
	}
	return fn(func(body func(*sql.Tx) error) error { return d.writeTxLocked(ctx, body) })
}

// retries bounds how often a PostgreSQL transaction aborted by the server is retried.
const retries = 10

func (d *DB) writeTxLocked(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := d.writeTxOnce(ctx, fn)
		if d.Dialect != Postgres || attempt == retries || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 3 * time.Millisecond):
		}
	}
}

func (d *DB) writeTxOnce(ctx context.Context, fn func(tx *sql.Tx) error) error {
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

// retryable reports a PostgreSQL abort that running the transaction again resolves:
// serialization_failure (40001) or deadlock_detected (40P01).
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// IsUniqueViolation reports whether err is the engine refusing a duplicate key.
func (d *DB) IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	if d.Dialect == Postgres {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505" // unique_violation
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// migrationLock is the advisory lock key PostgreSQL migrations hold, so that nodes
// starting at once apply each migration exactly once ("mailroom" in ASCII).
const migrationLock = 0x6d61696c726f6f6d

// Migrate applies, in order, the migrations of one component that the database has not
// seen yet. migrations holds one directory per dialect (sqlite/, postgres/) of files
// named NNNN_description.sql; the same number means the same change in both. They run
// in one transaction together with the records that they ran, so a crash leaves either
// all of a migration or none of it. On PostgreSQL that transaction first takes an
// advisory lock, so that several nodes starting at once wait for each other.
func (d *DB) Migrate(ctx context.Context, component string, migrations fs.FS) error {
	dir := string(d.Dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrations of %s for %s: %w", component, d.Dialect, err)
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
		if d.Dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
				return fmt.Errorf("migrations of %s: lock: %w", component, err)
			}
		}
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
			body, err := fs.ReadFile(migrations, path.Join(dir, s.name))
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
//
// SQLite checks every page (PRAGMA integrity_check). PostgreSQL offers no such check
// to an ordinary user: it runs a query, and when the amcheck extension is installed in
// the database (CREATE EXTENSION amcheck, by an administrator) it verifies every B-tree
// index of the current schema with bt_index_check; without amcheck it checks no more
// than that the server answers.
func (d *DB) IntegrityCheck(ctx context.Context) error {
	if d.Dialect == Postgres {
		return d.pgIntegrityCheck(ctx)
	}
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

func (d *DB) pgIntegrityCheck(ctx context.Context) error {
	var one, amcheck int
	err := d.read.QueryRowContext(ctx, `SELECT 1, (SELECT count(*) FROM pg_extension WHERE extname = 'amcheck')`).Scan(&one, &amcheck)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if amcheck == 0 {
		return nil
	}
	rows, err := d.read.QueryContext(ctx, `SELECT c.oid::regclass::text FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_am a ON a.oid = c.relam
		WHERE a.amname = 'btree' AND c.relnamespace = current_schema()::regnamespace AND c.relpersistence <> 't'`)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	var indexes []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("integrity check: %w", err)
		}
		indexes = append(indexes, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	var problems []string
	for _, ix := range indexes {
		if _, err := d.read.ExecContext(ctx, `SELECT bt_index_check($1::regclass, true)`, ix); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", ix, err))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check: %s", strings.Join(problems, "; "))
	}
	return nil
}
