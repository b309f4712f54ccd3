package blob

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"mailroom/internal/db"
)

//go:embed migrations/*/*.sql
var migrations embed.FS

// Table is a blob area in the blob_data table of a PostgreSQL database. A blob is
// durable when the transaction that called Ensure commits: the bytes travel with it,
// so Put writes nothing.
//
// Ensure takes a share lock on the row (creating it if needed) and Hold an exclusive
// one, so a transaction counting the last reference waits for any transaction adding
// a reference to the same bytes, on whichever node it runs.
type Table struct {
	db   *db.DB
	area string
}

// NewTable returns the blob area named area (e.g. "store", "queue") in d, which must
// be a PostgreSQL database; it creates blob_data if needed.
func NewTable(ctx context.Context, d *db.DB, area string) (*Table, error) {
	if d.Dialect != db.Postgres {
		return nil, fmt.Errorf("blob table: %s keeps blobs in files (blob.Dir), not in the database", d.Dialect)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("blob migrations: %w", err)
	}
	if err := d.Migrate(ctx, "blob", sub); err != nil {
		return nil, err
	}
	return &Table{db: d, area: area}, nil
}

func (t *Table) key(id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	return t.area + "/" + id, nil
}

// Put returns the id of data; the bytes are written by Ensure, inside the caller's
// transaction.
func (t *Table) Put(_ context.Context, data []byte) (string, error) { return ID(data), nil }

// Ensure makes the blob part of tx: it locks the row if it is there and inserts it if
// not.
func (t *Table) Ensure(ctx context.Context, tx *sql.Tx, id string, data []byte) error {
	k, err := t.key(id)
	if err != nil {
		return err
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM blob_data WHERE id = $1 FOR KEY SHARE`, k).Scan(&one)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store blob %s: %w", id, err)
	}
	// DO UPDATE, not DO NOTHING: a row another transaction inserted meanwhile must be
	// locked by this one too.
	if _, err := tx.ExecContext(ctx, `INSERT INTO blob_data (id, data) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET id = excluded.id`, k, data); err != nil {
		return fmt.Errorf("store blob %s: %w", id, err)
	}
	return nil
}

// Hold locks the row exclusively until tx ends, waiting for transactions in Ensure.
func (t *Table) Hold(ctx context.Context, tx *sql.Tx, id string) error {
	k, err := t.key(id)
	if err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT 1 FROM blob_data WHERE id = $1 FOR UPDATE`, k)
	if err != nil {
		return fmt.Errorf("lock blob %s: %w", id, err)
	}
	rows.Close()
	return rows.Err()
}

// Drop deletes the row inside tx.
func (t *Table) Drop(ctx context.Context, tx *sql.Tx, id string) error {
	k, err := t.key(id)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM blob_data WHERE id = $1`, k); err != nil {
		return fmt.Errorf("remove blob %s: %w", id, err)
	}
	return nil
}

// Remove does nothing: the row went with the transaction that called Drop.
func (t *Table) Remove(id string) error {
	_, err := t.key(id)
	return err
}

// Read returns the whole blob.
func (t *Table) Read(ctx context.Context, id string) ([]byte, error) {
	k, err := t.key(id)
	if err != nil {
		return nil, err
	}
	var data []byte
	err = t.db.Read().QueryRowContext(ctx, `SELECT data FROM blob_data WHERE id = $1`, k).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("blob %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", id, err)
	}
	return data, nil
}

// Open returns a reader over the blob, read whole into memory: a row has no cheaper
// way to be streamed through database/sql.
func (t *Table) Open(ctx context.Context, id string) (io.ReadSeekCloser, error) {
	data, err := t.Read(ctx, id)
	if err != nil {
		return nil, err
	}
	return readSeekNopCloser{bytes.NewReader(data)}, nil
}

type readSeekNopCloser struct{ *bytes.Reader }

func (readSeekNopCloser) Close() error { return nil }
