package db

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func open(t *testing.T) *DB {
	t.Helper()
	d, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestMigrateInOrderOnce(t *testing.T) {
	d := open(t)
	ctx := context.Background()
	fs := fstest.MapFS{
		"sqlite/0002_add.sql":     {Data: []byte(`INSERT INTO t (v) VALUES ('second');`)},
		"sqlite/0001_create.sql":  {Data: []byte(`CREATE TABLE t (v TEXT);`)},
		"sqlite/README.txt":       {Data: []byte(`not a migration`)},
		"postgres/0001_other.sql": {Data: []byte(`NOT FOR SQLITE;`)},
	}
	for range 2 {
		if err := d.Migrate(ctx, "test", fs); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := d.Read().QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows = %d, %v (each migration must run once, in order)", n, err)
	}
	// A new migration later runs alone.
	fs["sqlite/0003_more.sql"] = &fstest.MapFile{Data: []byte(`INSERT INTO t (v) VALUES ('third');`)}
	if err := d.Migrate(ctx, "test", fs); err != nil {
		t.Fatal(err)
	}
	if err := d.Read().QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows = %d, %v", n, err)
	}
}

func TestMigrateErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"badly named", fstest.MapFS{"sqlite/create.sql": {Data: []byte(`SELECT 1;`)}}, "NNNN_description.sql"},
		{"zero version", fstest.MapFS{"sqlite/0000_x.sql": {Data: []byte(`SELECT 1;`)}}, "NNNN_description.sql"},
		{"bad SQL", fstest.MapFS{"sqlite/0001_x.sql": {Data: []byte(`CREATE TABLE ok (v TEXT); NOT SQL;`)}}, "0001_x.sql"},
		{"no directory for the dialect", fstest.MapFS{"postgres/0001_x.sql": {Data: []byte(`SELECT 1;`)}}, "sqlite"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := open(t)
			err := d.Migrate(ctx, "test", tc.fs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tc.want)
			}
			// A failed migration leaves nothing of itself.
			var n int
			d.Read().QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'ok'`).Scan(&n)
			if n != 0 {
				t.Fatal("half a migration was applied")
			}
		})
	}
}

func TestWriteTxRollsBack(t *testing.T) {
	d := open(t)
	ctx := context.Background()
	if err := d.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE t (v INTEGER)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := d.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (1)`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want the callback's", err)
	}
	var n int
	d.Read().QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n)
	if n != 0 {
		t.Fatal("a failed transaction was committed")
	}
	if err := d.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	var mode string
	d.Read().QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode)
	var sync, temp int
	d.write.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync)
	d.write.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&temp)
	if mode != "wal" || sync != 2 || temp != 2 {
		t.Fatalf("journal_mode %s synchronous %d temp_store %d, want wal, 2 (FULL) and 2 (MEMORY)", mode, sync, temp)
	}
}

func TestUniqueViolationSQLite(t *testing.T) {
	checkUniqueViolation(t, open(t))
}

func checkUniqueViolation(t *testing.T, d *DB) {
	t.Helper()
	ctx := context.Background()
	insert := func() error {
		return d.WriteTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO u (k) VALUES ('a')`)
			return err
		})
	}
	if err := d.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE u (k TEXT PRIMARY KEY)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := insert(); err != nil || d.IsUniqueViolation(err) {
		t.Fatalf("first insert: %v", err)
	}
	if err := insert(); !d.IsUniqueViolation(err) {
		t.Fatalf("second insert: %v, want a unique violation", err)
	}
	if d.IsUniqueViolation(errors.New("something else")) {
		t.Fatal("any error taken for a unique violation")
	}
}
