package db

// Checkpoints on SQLite. In WAL mode a commit appends pages to the write-ahead log, and
// a checkpoint copies them into the database file so that the log can start over. By
// default SQLite checkpoints in the committing connection once the log passes 1000
// pages, which puts the copy and an fsync of the database file inside a commit, under
// the write lock, in every queued writer's latency. Here no connection checkpoints by
// itself (wal_autocheckpoint=0); a checkpointer goroutine on a connection of its own
// runs passive checkpoints shortly after commits, beside the writers.
//
// The log starts over (the next commit writes at its beginning) only in a write
// transaction that began after a checkpoint copied all of it. Beside a steady writer
// that never happens: a transaction is always under way, and by the time the checkpoint
// has copied, more was committed. So after each checkpoint beside the writers the
// checkpointer takes the process's write lock, between transactions, and copies the
// rest, which is what was committed meanwhile: writers wait for that small tail (often
// nothing), not for the bulk, and the next one starts the log over.
//
// Durability does not depend on it: a commit is durable once its frames are synced to
// the log (synchronous=FULL). A checkpoint syncs the log before copying from it and the
// database file before the log may be reused, so it can be interrupted at any point.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// walLimits tunes the checkpointer.
type walLimits struct {
	// every is how long after a commit the checkpointer waits before a passive
	// checkpoint, so that one checkpoint copies what many commits wrote.
	every time.Duration
	// soft is SQLite's journal_size_limit: once the log starts over, the next commit
	// truncates the file to this size, so that one burst does not keep its disk space.
	soft int64
	// hard is the log size past which the checkpointer stops being passive; see
	// checkpointer.escalate.
	hard int64
	// wait is how long an escalated checkpoint waits for readers, holding the write
	// lock meanwhile.
	wait time.Duration
}

// The checkpointer's settings outside tests. A passive checkpoint 100 ms after a commit
// copies what was committed meanwhile, a few MB at full speed (about what SQLite's own
// 1000-page threshold copies), so the log starts over long before walSoft.
const (
	walEvery = 100 * time.Millisecond
	walSoft  = 16 << 20
	walHard  = 64 << 20
	walWait  = time.Second
)

// checkpointer runs the checkpoints of one SQLite database.
type checkpointer struct {
	limits walLimits
	wal    string // the log's file
	log    *slog.Logger
	writer sync.Locker // the process's write lock (DB.mu)
	pool   *sql.DB
	conn   *sql.Conn
	kick   chan struct{} // a commit happened; capacity one
	cancel context.CancelFunc
	done   chan struct{}
	stop   sync.Once

	// nextEscalation is when an escalated checkpoint may run again after one that
	// readers made fail. Only the checkpointer's goroutine uses it.
	nextEscalation time.Time
}

// startCheckpointer opens the checkpointer's connection to file through conn and starts
// its goroutine. writer is the lock that the process's writers hold.
func startCheckpointer(ctx context.Context, conn driver.Connector, file string, writer sync.Locker, limits walLimits, log *slog.Logger) (*checkpointer, error) {
	// Its own pool, around the plain connector: its statements are housekeeping, not
	// queries of a component, so they are not counted (count.go).
	pool := sql.OpenDB(conn)
	c, err := pool.Conn(ctx)
	if err == nil {
		// A passive checkpoint never waits; this bounds how long an escalated one does.
		_, err = c.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, limits.wait.Milliseconds()))
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("checkpoint connection: %w", err)
	}
	run, cancel := context.WithCancel(context.Background())
	cp := &checkpointer{
		limits: limits, wal: file + "-wal", log: log, writer: writer, pool: pool, conn: c,
		kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{}),
	}
	go cp.run(run)
	return cp, nil
}

// committed tells the checkpointer that the log has grown. It never blocks.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		t := time.NewTimer(c.limits.every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := c.checkpoint(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("SQLite checkpoint", "err", err)
		}
	}
}

// checkpoint copies into the database file what the log holds beyond the oldest
// reader's snapshot, first beside the writers and then the rest under the write lock;
// it escalates when the log has grown past the hard bound.
func (c *checkpointer) checkpoint(ctx context.Context) error {
	if _, err := c.exec(ctx, "PASSIVE"); err != nil {
		return err
	}
	c.writer.Lock()
	defer c.writer.Unlock()
	if _, err := c.exec(ctx, "PASSIVE"); err != nil {
		return err
	}
	size, err := c.walSize()
	if err != nil || size <= c.limits.hard || time.Now().Before(c.nextEscalation) {
		return err
	}
	return c.escalate(ctx, size)
}

// escalate runs a TRUNCATE checkpoint, under the write lock: it waits for the readers
// of older snapshots to finish, copies the whole log and truncates it to nothing.
//
// The log outgrows the passive checkpoints only while a reader keeps an old snapshot
// (the log cannot start over under it) or while readers overlap without a gap. Waiting
// for them is the only remedy; letting the writer checkpoint instead would not help,
// since it too checkpoints passively. The bound is safe for writers: they wait, queued
// on the write lock as behind any transaction, for at most limits.wait plus the copy of
// hard bytes, and a writer in another process (the command line) waits the same time,
// far below its busy_timeout of 15 s: a write is delayed, never failed. When readers
// outlast the wait it gives up and lets 10×wait pass before trying again, so writers
// keep at least nine tenths of the time while a long reader (a large FETCH, a backup)
// runs; the log then grows by what is written during that reader's life, and no more.
func (c *checkpointer) escalate(ctx context.Context, size int64) error {
	busy, err := c.exec(ctx, "TRUNCATE")
	if err != nil {
		return err
	}
	if busy {
		c.nextEscalation = time.Now().Add(10 * c.limits.wait)
		c.log.Warn("SQLite log over its bound: readers hold old snapshots", "wal", c.wal, "bytes", size, "bound", c.limits.hard)
		return nil
	}
	c.log.Info("SQLite log truncated", "wal", c.wal, "bytes", size)
	return nil
}

// exec runs one checkpoint in mode and reports whether readers or a writer kept it
// from copying the whole log.
func (c *checkpointer) exec(ctx context.Context, mode string) (busy bool, err error) {
	var b, logged, copied int
	if err := c.conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(`+mode+`)`).Scan(&b, &logged, &copied); err != nil {
		return false, fmt.Errorf("%s checkpoint: %w", mode, err)
	}
	return b != 0 || copied < logged, nil
}

func (c *checkpointer) walSize() (int64, error) {
	fi, err := os.Stat(c.wal)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("log size: %w", err)
	}
	return fi.Size(), nil
}

// close stops the goroutine, checkpoints what the last commits wrote and closes the
// connection. It may be called more than once.
func (c *checkpointer) close() error {
	var err error
	c.stop.Do(func() {
		c.cancel()
		<-c.done
		_, err = c.exec(context.Background(), "PASSIVE")
		err = errors.Join(err, c.conn.Close(), c.pool.Close())
	})
	return err
}
