// Package blob keeps message bytes, content-addressed by their SHA-256, each written
// once however many mailboxes hold it: on a single machine small ones in the SQLite
// database and large ones in files beside it (Local, over Dir), or in rows of the
// PostgreSQL database itself (Table), so that PostgreSQL alone is a complete shared
// deployment.
//
// Blobs are immutable; the package never rewrites one in place. Which blobs are still
// referenced is the caller's business (the store counts references, the queue counts
// messages): this package only writes, reads and removes them, at the points of the
// caller's transactions that Area names.
package blob

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotFound is returned when no blob has the asked-for id.
var ErrNotFound = errors.New("blob not found")

// Area is a place for blobs whose lifetime follows the caller's database transactions:
//
//   - Put, before the transaction that adds a reference, returns the id;
//   - Ensure, inside that transaction, makes sure the blob exists once it commits;
//   - Hold, inside a transaction about to count what may be the last reference, waits
//     for transactions that are adding one (Ensure) to end;
//   - Drop, inside the transaction that removed the last reference, and Remove, after
//     it committed, delete the blob.
//
// Dir writes a file in Put and deletes it in Remove; the SQLite write lock orders the
// rest. Table writes a row in Ensure and deletes it in Drop, so the bytes commit and
// roll back with the references, and its row locks order concurrent nodes.
type Area interface {
	Put(ctx context.Context, data []byte) (string, error)
	Ensure(ctx context.Context, tx *sql.Tx, id string, data []byte) error
	Hold(ctx context.Context, tx *sql.Tx, id string) error
	Drop(ctx context.Context, tx *sql.Tx, id string) error
	Remove(id string) error
	Read(ctx context.Context, id string) ([]byte, error)
	Open(ctx context.Context, id string) (io.ReadSeekCloser, error)
}

var (
	_ Area = (*Dir)(nil)
	_ Area = (*Table)(nil)
	_ Area = (*Local)(nil)
)

// Dir is a blob area on the local file system. A blob is durable when Put returns: the
// file and its directory entry are fsynced.
type Dir struct {
	root string
}

// Open returns the blob area rooted at dir, creating it if needed.
func Open(dir string) (*Dir, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("blob area %s: %w", dir, err)
	}
	return &Dir{root: dir}, nil
}

// ID returns the id a blob with these bytes has: the hex SHA-256.
func ID(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// checkID refuses anything but a hex SHA-256, so an id never names another path or row.
func checkID(id string) error {
	if len(id) != 64 {
		return fmt.Errorf("blob id %q: %w", id, ErrNotFound)
	}
	if _, err := hex.DecodeString(id); err != nil {
		return fmt.Errorf("blob id %q: %w", id, ErrNotFound)
	}
	return nil
}

func (d *Dir) path(id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	return filepath.Join(d.root, id[:2], id[2:4], id), nil
}

// Put stores data durably and returns its id. If a blob with the same bytes exists it is
// kept as it is.
func (d *Dir) Put(ctx context.Context, data []byte) (string, error) {
	id := ID(data)
	p, _ := d.path(id)
	if _, err := os.Stat(p); err == nil {
		return id, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := d.write(p, data); err != nil {
		return "", fmt.Errorf("store blob %s: %w", id, err)
	}
	return id, nil
}

// Ensure makes sure the blob with this id exists, writing data again if it went missing.
// The store calls it under its write lock when a blob row is first created, to close the
// window in which a concurrent removal could take away a file that Put had found present.
// The file is written at once, whatever becomes of tx.
func (d *Dir) Ensure(_ context.Context, _ *sql.Tx, id string, data []byte) error {
	p, err := d.path(id)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := d.write(p, data); err != nil {
		return fmt.Errorf("store blob %s: %w", id, err)
	}
	return nil
}

func (d *Dir) write(p string, data []byte) error {
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "put-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	// The rename is durable only once the directory holding the new name is synced; the
	// parents were synced when first created below.
	return syncDirs(dir, filepath.Dir(dir), d.root)
}

func syncDirs(dirs ...string) error {
	for _, dir := range dirs {
		f, err := os.Open(dir)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Hold does nothing: a Dir serves SQLite, whose single writer already orders the
// transactions that add and remove references.
func (d *Dir) Hold(context.Context, *sql.Tx, string) error { return nil }

// Drop does nothing: a file is deleted only after the transaction that dropped its last
// reference committed (Remove), so a rollback never loses bytes.
func (d *Dir) Drop(context.Context, *sql.Tx, string) error { return nil }

// Read returns the whole blob.
func (d *Dir) Read(_ context.Context, id string) ([]byte, error) {
	p, err := d.path(id)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", id, err)
	}
	return b, nil
}

// Open returns a reader over the blob, for streaming large messages.
func (d *Dir) Open(_ context.Context, id string) (io.ReadSeekCloser, error) {
	p, err := d.path(id)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", id, err)
	}
	return f, nil
}

// Remove deletes a blob; removing one that does not exist is not an error.
func (d *Dir) Remove(id string) error {
	p, err := d.path(id)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove blob %s: %w", id, err)
	}
	return nil
}
