package db

import (
	"context"
	"database/sql"
	"testing"

	"mailroom/internal/pgtest"
)

// TestQueriesCounted checks that each statement, and the BEGIN and COMMIT of a write
// transaction, add one to Queries on both engines.
func TestQueriesCounted(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) *DB
	}{
		{"sqlite", open},
		{"postgres", func(t *testing.T) *DB { return openPostgres(t, pgtest.Start(t)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.open(t)
			ctx := context.Background()
			if err := d.WriteTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `CREATE TABLE counted (v INTEGER)`)
				return err
			}); err != nil {
				t.Fatal(err)
			}

			before := d.Queries()
			var n int
			if err := d.Read().QueryRowContext(ctx, `SELECT count(*) FROM counted`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if got := d.Queries() - before; got != 1 {
				t.Errorf("one SELECT counted %d times", got)
			}

			before = d.Queries()
			if err := d.WriteTx(ctx, func(tx *sql.Tx) error {
				for v := range 3 {
					if _, err := tx.ExecContext(ctx, `INSERT INTO counted (v) VALUES ($1)`, v); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			// BEGIN, three INSERTs, COMMIT.
			if got := d.Queries() - before; got != 5 {
				t.Errorf("a transaction of three INSERTs counted %d statements, want 5", got)
			}
		})
	}
}
