package db

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// openWAL opens a database with small log limits, and the table blobs.
func openWAL(t *testing.T, file string, wal walLimits) *DB {
	t.Helper()
	d, err := openSQLite(context.Background(), file, wal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.WriteTx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, b BLOB NOT NULL)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return d
}

// writeBlobs commits n rows of 16 KB, one transaction each. It may run in any
// goroutine.
func writeBlobs(t *testing.T, d *DB, n int) {
	t.Helper()
	b := bytes.Repeat([]byte{'x'}, 16<<10)
	for range n {
		if err := d.WriteTx(context.Background(), func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO blobs (b) VALUES ($1)`, b)
			return err
		}); err != nil {
			t.Error(err)
			return
		}
	}
}

func fileSize(t *testing.T, file string) int64 {
	t.Helper()
	fi, err := os.Stat(file)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func rowCount(t *testing.T, q interface {
	QueryRow(string, ...any) *sql.Row
}) int {
	t.Helper()
	var n int
	if err := q.QueryRow(`SELECT count(*) FROM blobs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCheckpointBoundsWAL drives the checkpointer by hand (its goroutine waits an
// hour) through a burst of writes: while a reader keeps an old snapshot the log grows
// past the hard bound, the escalation waits for the reader and gives up without
// disturbing it; once the reader is gone the escalation truncates the log, and from
// then on the log stays under the bound.
func TestCheckpointBoundsWAL(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "test.db")
	const hard = 1 << 20
	d := openWAL(t, file, walLimits{every: time.Hour, soft: 256 << 10, hard: hard, wait: 50 * time.Millisecond})
	wal := file + "-wal"

	reader, err := d.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := rowCount(t, reader)
	for range 10 {
		writeBlobs(t, d, 10)
		if err := d.ckpt.checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := fileSize(t, wal); got <= hard {
		t.Fatalf("log is %d bytes under a reader of the first snapshot; the test means it to pass %d", got, hard)
	}
	if got := rowCount(t, reader); got != before {
		t.Fatalf("reader's snapshot changed under checkpoints: %d rows, then %d", before, got)
	}
	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}

	d.ckpt.nextEscalation = time.Time{} // the reader is gone: no need to wait
	if err := d.ckpt.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fileSize(t, wal); got != 0 {
		t.Fatalf("log is %d bytes after an escalated checkpoint with no reader, want it truncated", got)
	}
	for range 10 {
		writeBlobs(t, d, 10)
		if err := d.ckpt.checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if got := fileSize(t, wal); got > hard {
			t.Fatalf("log is %d bytes with no reader, over the bound %d", got, hard)
		}
	}
	if got := rowCount(t, d.Read()); got != 200 {
		t.Fatalf("%d rows, want 200", got)
	}
	if err := d.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointerInBackground: the writer never checkpoints, and commits alone make
// the checkpointer copy the log into the database file.
func TestCheckpointerInBackground(t *testing.T) {
	file := filepath.Join(t.TempDir(), "test.db")
	d := openWAL(t, file, walLimits{every: 10 * time.Millisecond, soft: 256 << 10, hard: 64 << 20, wait: time.Second})
	var auto int
	if err := d.write.QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("writer's wal_autocheckpoint = %d, %v; want 0", auto, err)
	}
	start := fileSize(t, file)
	writeBlobs(t, d, 20)
	for deadline := time.Now().Add(30 * time.Second); fileSize(t, file) < start+20*(16<<10); {
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes: the log was not checkpointed", fileSize(t, file))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCloseConsistent: Close while the checkpointer has work stops it, checkpoints and
// leaves a database that reopens sound with every acknowledged write.
func TestCloseConsistent(t *testing.T) {
	file := filepath.Join(t.TempDir(), "test.db")
	wal := walLimits{every: time.Millisecond, soft: 256 << 10, hard: 1 << 20, wait: 50 * time.Millisecond}
	d := openWAL(t, file, wal)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { writeBlobs(t, d, 25) })
	}
	wg.Wait()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := fileSize(t, file+"-wal"); got != 0 {
		t.Fatalf("log is %d bytes after Close, want it checkpointed and removed", got)
	}
	d = openWAL(t, file, wal)
	if got := rowCount(t, d.Read()); got != 100 {
		t.Fatalf("%d rows after reopening, want 100", got)
	}
	if err := d.IntegrityCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
}
