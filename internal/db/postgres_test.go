package db

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"testing/fstest"

	"mailroom/internal/pgtest"
)

func openPostgres(t *testing.T, dsn string) *DB {
	t.Helper()
	d, err := OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestPostgresMigrateConcurrently starts several nodes at once on an empty database:
// the advisory lock lets each migration run exactly once.
func TestPostgresMigrateConcurrently(t *testing.T) {
	dsn := pgtest.Start(t)
	ctx := context.Background()
	fs := fstest.MapFS{
		"sqlite/0001_create.sql":   {Data: []byte(`NOT FOR POSTGRES;`)},
		"postgres/0001_create.sql": {Data: []byte(`CREATE TABLE t (id BIGINT GENERATED ALWAYS AS IDENTITY, v TEXT);`)},
		"postgres/0002_add.sql":    {Data: []byte(`INSERT INTO t (v) VALUES ('once');`)},
	}
	const nodes = 6
	var wg sync.WaitGroup
	errs := make(chan error, nodes)
	for range nodes {
		d := openPostgres(t, dsn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- d.Migrate(ctx, "test", fs)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	d := openPostgres(t, dsn)
	var rows, versions int
	if err := d.Read().QueryRowContext(ctx, `SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM schema_migrations WHERE component = 'test')`).
		Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || versions != 2 {
		t.Fatalf("%d rows, %d versions recorded; want each migration once", rows, versions)
	}
}

func TestPostgresUniqueViolationAndIntegrity(t *testing.T) {
	d := openPostgres(t, pgtest.Start(t))
	checkUniqueViolation(t, d)
	ctx := context.Background()
	if err := d.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	// With amcheck installed every B-tree index is verified.
	if _, err := d.Read().ExecContext(ctx, `CREATE EXTENSION amcheck`); err != nil {
		t.Fatal(err)
	}
	if err := d.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPostgresDeadlockIsRetried makes two transactions lock two rows in opposite order:
// the server aborts one as a deadlock victim and WriteTx runs it again.
func TestPostgresDeadlockIsRetried(t *testing.T) {
	d := openPostgres(t, pgtest.Start(t))
	ctx := context.Background()
	if _, err := d.Read().ExecContext(ctx, `CREATE TABLE r (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);
		INSERT INTO r VALUES (1, 0), (2, 0)`); err != nil {
		t.Fatal(err)
	}
	var both sync.WaitGroup
	both.Add(2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, order := range [][2]int{{1, 2}, {2, 1}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			errs[i] = d.WriteTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `UPDATE r SET n = n + 1 WHERE id = $1`, order[0]); err != nil {
					return err
				}
				if first {
					first = false
					both.Done()
					both.Wait() // both hold their first row: the second UPDATEs deadlock
				}
				_, err := tx.ExecContext(ctx, `UPDATE r SET n = n + 1 WHERE id = $1`, order[1])
				return err
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var total int
	if err := d.Read().QueryRowContext(ctx, `SELECT sum(n)::bigint FROM r`).Scan(&total); err != nil || total != 4 {
		t.Fatalf("sum = %d, %v; want both transactions committed once", total, err)
	}
}
