package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func createTable(t *testing.T, d *DB) {
	t.Helper()
	ctx := context.Background()
	if err := d.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE t (v INTEGER PRIMARY KEY)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func committed(t *testing.T, d *DB) map[int]bool {
	t.Helper()
	rows, err := d.Read().Query(`SELECT v FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got[v] = true
	}
	return got
}

// holdWriters keeps the write lock until n writers are queued behind it, so that they
// all share the next transaction, then lets them go.
func holdWriters(t *testing.T, d *DB, n int, start func()) {
	t.Helper()
	err := d.Locked(context.Background(), func(func(func(*sql.Tx) error) error) error {
		start()
		deadline := time.Now().Add(30 * time.Second)
		for {
			d.qmu.Lock()
			queued := len(d.queue)
			d.qmu.Unlock()
			if queued == n {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%d of %d writers queued", queued, n)
			}
			time.Sleep(time.Millisecond)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommitOutcomes: writers sharing transactions each get their own outcome, and
// what is on disk is exactly what was acknowledged.
func TestGroupCommitOutcomes(t *testing.T) {
	d := open(t)
	createTable(t, d)
	const writers = 60
	boom := errors.New("boom")
	type outcome struct {
		err, after error
		afters     int
	}
	out := make([]outcome, writers)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	var wg sync.WaitGroup
	holdWriters(t, d, writers, func() {
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				if i%11 == 5 {
					ctx = gone // a caller that gave up before its turn
				}
				out[i].err = d.Write(ctx, Work{
					Tx: func(tx *sql.Tx) error {
						if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES ($1)`, i); err != nil {
							return err
						}
						switch {
						case i%7 == 3:
							return boom // after writing: its row must be undone
						case i%13 == 4:
							_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES ($1)`, i) // duplicate key
							return err
						}
						return nil
					},
					After: func(err error) { out[i].after = err; out[i].afters++ },
				})
			}()
		}
	})
	wg.Wait()
	got := committed(t, d)
	for i, o := range out {
		if o.afters != 1 || o.after != o.err {
			t.Errorf("writer %d: After ran %d times with %v, Write returned %v", i, o.afters, o.after, o.err)
		}
		wantErr := i%11 == 5 || i%7 == 3 || i%13 == 4
		if (o.err != nil) != wantErr {
			t.Errorf("writer %d: error %v, want an error: %v", i, o.err, wantErr)
		}
		if got[i] != (o.err == nil) {
			t.Errorf("writer %d: committed %v but Write returned %v", i, got[i], o.err)
		}
	}
	if err := d.IntegrityCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommitInterrupted: a writer whose context ends mid-statement makes SQLite
// roll the whole shared transaction back; the other writers are run again and commit.
func TestGroupCommitInterrupted(t *testing.T) {
	d := open(t)
	createTable(t, d)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	holdWriters(t, d, 3, func() {
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				if i == 1 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					defer cancel()
				}
				errs[i] = d.Write(ctx, Work{Tx: func(tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES ($1)`, i); err != nil {
						return err
					}
					if i != 1 {
						return nil
					}
					// An insert that runs until its context ends.
					ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
					defer cancel()
					_, err := tx.ExecContext(ctx, `INSERT INTO t SELECT 1000 + x FROM (
						WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)`)
					return err
				}})
			}()
			// Queue them in order, so writer 1 runs between the other two.
			for {
				d.qmu.Lock()
				n := len(d.queue)
				d.qmu.Unlock()
				if n == i+1 {
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
	})
	wg.Wait()
	if errs[0] != nil || errs[2] != nil || errs[1] == nil {
		t.Fatalf("errors %v, want only writer 1's", errs)
	}
	got := committed(t, d)
	if !got[0] || !got[2] || len(got) != 2 {
		t.Fatalf("committed %v, want exactly writers 0 and 2", got)
	}
}

// BenchmarkWriteConcurrent measures small concurrent write transactions, which group
// commit turns into fewer fsyncs.
func BenchmarkWriteConcurrent(b *testing.B) {
	d, err := OpenSQLite(context.Background(), b.TempDir()+"/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE t (v INTEGER)`)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := d.WriteTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (1)`)
				return err
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
