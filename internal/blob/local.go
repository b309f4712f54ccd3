package blob

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"mailroom/internal/db"
)

// DefaultInlineLimit is the largest blob Local keeps in the database. Nearly all mail
// is smaller, and a row costs no fsync of its own: it is durable with the group commit
// that concurrent deliveries share, where a file costs a file and a directory fsync
// per message (at 64 KiB, 100 KB messages came in at a third of the rate of 10 KB
// ones, 2026-11-25). Reads of an inline blob load it whole, which this bound keeps
// cheap.
const DefaultInlineLimit = 1 << 20

// Local is the blob area of a single machine: blobs up to a limit in the blob_data
// table of the SQLite database, larger ones in files (Dir).
//
// A small blob is written by Ensure inside the transaction that adds its first
// reference, so it costs no fsync of its own: it is durable with that commit, which
// concurrent writers share (db.Write). A large one is written and fsynced by Put before
// the transaction, as Dir does. The SQLite write lock orders everything else, as for
// Dir.
type Local struct {
	dir   *Dir
	db    *db.DB
	area  string
	limit int
}

// OpenLocal returns the blob area named area (e.g. "store", "queue") keeping blobs up
// to limit bytes in d, which must be SQLite, and larger ones in files under dir.
func OpenLocal(ctx context.Context, d *db.DB, dir, area string, limit int) (*Local, error) {
	if d.Dialect != db.SQLite {
		return nil, fmt.Errorf("local blob area: %s keeps blobs in blob.Table", d.Dialect)
	}
	files, err := Open(dir)
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("blob migrations: %w", err)
	}
	if err := d.Migrate(ctx, "blob", sub); err != nil {
		return nil, err
	}
	return &Local{dir: files, db: d, area: area, limit: limit}, nil
}

func (l *Local) inline(data []byte) bool { return len(data) <= l.limit }

// Inline says where SQL finds the blobs Local keeps in the database: the blob_data
// row of the blob with id ID has the id KeyPrefix+ID, for every blob of at most Limit
// bytes.
func (l *Local) Inline() (keyPrefix string, limit int) { return l.area + "/", l.limit }

func (l *Local) key(id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	return l.area + "/" + id, nil
}

// Put returns the id of data, writing a large blob to its file first.
func (l *Local) Put(ctx context.Context, data []byte) (string, error) {
	if l.inline(data) {
		return ID(data), nil
	}
	return l.dir.Put(ctx, data)
}

// Ensure writes a small blob's row in tx (unless it is there), or makes sure a large
// blob's file exists.
func (l *Local) Ensure(ctx context.Context, tx *sql.Tx, id string, data []byte) error {
	if !l.inline(data) {
		return l.dir.Ensure(ctx, tx, id, data)
	}
	k, err := l.key(id)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO blob_data (id, data) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, k, data); err != nil {
		return fmt.Errorf("store blob %s: %w", id, err)
	}
	return nil
}

// Hold does nothing: SQLite's single writer orders the transactions that add and
// remove references.
func (l *Local) Hold(context.Context, *sql.Tx, string) error { return nil }

// Drop deletes a small blob's row inside tx; a large blob's file goes in Remove, once
// tx has committed.
func (l *Local) Drop(ctx context.Context, tx *sql.Tx, id string) error {
	k, err := l.key(id)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM blob_data WHERE id = $1`, k); err != nil {
		return fmt.Errorf("remove blob %s: %w", id, err)
	}
	return nil
}

// Remove deletes a large blob's file; for a small one there is none, and nothing to do.
func (l *Local) Remove(id string) error { return l.dir.Remove(id) }

// Read returns the whole blob, from its row or its file.
func (l *Local) Read(ctx context.Context, id string) ([]byte, error) {
	k, err := l.key(id)
	if err != nil {
		return nil, err
	}
	var data []byte
	err = l.db.Read().QueryRowContext(ctx, `SELECT data FROM blob_data WHERE id = $1`, k).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return l.dir.Read(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", id, err)
	}
	return data, nil
}

// Open returns a reader over the blob: a small one read whole, a large one streamed
// from its file.
func (l *Local) Open(ctx context.Context, id string) (io.ReadSeekCloser, error) {
	k, err := l.key(id)
	if err != nil {
		return nil, err
	}
	var data []byte
	err = l.db.Read().QueryRowContext(ctx, `SELECT data FROM blob_data WHERE id = $1`, k).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return l.dir.Open(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", id, err)
	}
	return readSeekNopCloser{bytes.NewReader(data)}, nil
}
