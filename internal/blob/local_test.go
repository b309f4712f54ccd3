package blob

import (
	"bytes"
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"

	"mailroom/internal/db"
)

// TestLocalKeepsBlobsAcrossMigrations opens a database whose blob_data table was made
// by the first migration alone (as every database before 0002 was), stores blobs in it,
// and opens it again with every migration: each blob reads back byte for byte.
func TestLocalKeepsBlobsAcrossMigrations(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := db.OpenSQLite(ctx, filepath.Join(dir, "mailroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	first, err := fs.ReadFile(migrations, "migrations/sqlite/0001_blob.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Migrate(ctx, "blob", fstest.MapFS{"sqlite/0001_blob.sql": {Data: first}}); err != nil {
		t.Fatal(err)
	}
	blobs := [][]byte{[]byte("small"), bytes.Repeat([]byte("a longer row over many pages\r\n"), 20000)}
	old := &Local{db: d, area: "store", limit: DefaultInlineLimit}
	ids := make([]string, len(blobs))
	for i, b := range blobs {
		if ids[i], err = old.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
		err := d.WriteTx(ctx, func(tx *sql.Tx) error { return old.Ensure(ctx, tx, ids[i], b) })
		if err != nil {
			t.Fatal(err)
		}
	}

	l, err := OpenLocal(ctx, d, filepath.Join(dir, "blobs"), "store", DefaultInlineLimit)
	if err != nil {
		t.Fatal(err)
	}
	var withoutRowid int
	if err := d.Read().QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'blob_data' AND sql LIKE '%WITHOUT ROWID%'`).Scan(&withoutRowid); err != nil {
		t.Fatal(err)
	}
	if withoutRowid != 0 {
		t.Error("blob_data is still a WITHOUT ROWID table after the migrations")
	}
	for i, want := range blobs {
		got, err := l.Read(ctx, ids[i])
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("blob %d: read %d bytes (%v), want the %d stored", i, len(got), err, len(want))
		}
	}
}
