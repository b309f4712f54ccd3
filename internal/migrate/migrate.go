// Package migrate copies a whole Mailroom installation from SQLite (one node) into a
// PostgreSQL database (the shared store of several nodes): directory, mailboxes with
// their ids, UIDs and modseqs, search text, change log, outbound queue, the message
// bytes (from the blob files into blob_data) and whatever other component tables the
// source holds (ActiveSync, certificate authority, profiles).
//
// It copies table by table, in one transaction on the target, then verifies row counts
// per table and the SHA-256 of every blob it wrote.
//
// It must never write to the source (the SQLite database is opened read-only and no
// migration is applied to it) and never proceed into a target that already holds data.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"mailroom/internal/db"
)

// ErrTargetNotEmpty is returned when the target database already holds data.
var ErrTargetNotEmpty = errors.New("target database is not empty")

// ErrMismatch is returned when verification finds the target differs from the source.
var ErrMismatch = errors.New("verification failed")

// seeded names the tables that setting up the schema fills by itself: the directory's
// id counter (a migration inserts it), the certificate authority and its SCEP
// registration authority, and the OAuth signing key (made when their components are
// first opened). Their rows are replaced by the source's, so certificates and tokens
// issued before the move stay valid.
var seeded = []string{"directory_ids", "pki_ca", "pki_ra", "oauth_keys"}

// Blob areas in blob_data, as blob.Table names them.
const (
	storeArea = "store"
	queueArea = "queue"
)

// Options say what to copy where.
type Options struct {
	// SQLiteFile is the source database; it is opened read-only.
	SQLiteFile string
	// StoreBlobs and QueueBlobs are the source's blob directories (blob.Dir) of the
	// store and the queue.
	StoreBlobs, QueueBlobs string
	// Target is the PostgreSQL database to fill.
	Target *db.DB
	// Setup creates the target's schema, every component's migrations, once the
	// target has been found empty.
	Setup func(ctx context.Context) error
}

// TableCount is one table's rows in source and target.
type TableCount struct {
	Table          string
	Source, Target int64
}

// Report is what Run copied and verified.
type Report struct {
	Tables    []TableCount
	Blobs     int64 // blobs written to blob_data, store and queue together
	BlobBytes int64
}

// Run copies the source into the target and verifies the copy. A Report is returned
// with ErrMismatch too, so the caller can show what differs.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Target == nil || o.Target.Dialect != db.Postgres {
		return Report{}, errors.New("migrate: the target must be a PostgreSQL database")
	}
	if _, err := os.Stat(o.SQLiteFile); err != nil {
		return Report{}, fmt.Errorf("source database: %w", err)
	}
	if err := CheckEmpty(ctx, o.Target.Read()); err != nil {
		return Report{}, err
	}
	src, err := openSource(o.SQLiteFile)
	if err != nil {
		return Report{}, err
	}
	defer src.Close()
	// One read transaction for everything, so the copy and the counts it is checked
	// against are the same snapshot even if something still wrote to the source.
	stx, err := src.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Report{}, fmt.Errorf("source: begin read transaction: %w", err)
	}
	defer stx.Rollback()

	if o.Setup != nil {
		if err := o.Setup(ctx); err != nil {
			return Report{}, fmt.Errorf("create target schema: %w", err)
		}
	}
	if err := compareSchemas(ctx, stx, o.Target.Read()); err != nil {
		return Report{}, err
	}
	tables, err := sourceTables(ctx, stx)
	if err != nil {
		return Report{}, err
	}
	order, err := targetOrder(ctx, o.Target.Read())
	if err != nil {
		return Report{}, err
	}
	inTarget := map[string]bool{}
	for _, t := range order {
		inTarget[t] = true
	}
	for _, t := range tables {
		if !inTarget[t] {
			return Report{}, fmt.Errorf("source table %s has no counterpart in the target schema", t)
		}
	}
	c := copier{src: stx, o: o, tables: map[string]bool{}, copied: map[string]int64{},
		blobs: map[string]int64{}, sequences: map[string]int64{}}
	for _, t := range tables {
		c.tables[t] = true
	}
	conn, err := o.Target.Read().Conn(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("target connection: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("target connection is %T, not pgx", dc)
		}
		return c.copyAll(ctx, sc.Conn(), order)
	})
	if err != nil {
		return Report{}, err
	}
	return c.verify(ctx, o.Target.Read(), order)
}

// openSource opens the SQLite file without writing anything next to it. A database in
// WAL mode is read through its -shm file, which even a read-only connection would
// create; immutable=1 reads the main file alone, which is whole only when no -wal
// file holds commits not yet copied back. A cleanly stopped node leaves none (the last
// connection checkpoints and removes both files), so their presence means the node is
// running or did not stop cleanly, and the copy is refused.
func openSource(file string) (*sql.DB, error) {
	for _, side := range []string{file + "-wal", file + "-shm"} {
		if _, err := os.Stat(side); err == nil {
			return nil, fmt.Errorf("source %s has a write-ahead log (%s): stop the node first; "+
				"if it is stopped, run any mailroom command on its data directory once, which folds the log in", file, side)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("source %s: %w", side, err)
		}
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("immutable", "1")
	q.Add("_pragma", "query_only(1)")
	d, err := sql.Open("sqlite", "file:"+file+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open source %s: %w", file, err)
	}
	d.SetMaxOpenConns(1)
	return d, nil
}

// queryer is what reading needs of *sql.DB and *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// CheckEmpty returns ErrTargetNotEmpty if any table of the target's current schema,
// other than the migration records and the tables setting up the schema seeds, holds a
// row. A database with no tables at all is empty.
func CheckEmpty(ctx context.Context, target *sql.DB) error {
	return checkEmpty(ctx, sqlRunner{target})
}

// runner is what checkEmpty asks of a connection or transaction.
type runner interface {
	list(ctx context.Context, query string) ([]string, error)
	exists(ctx context.Context, query string) (bool, error)
}

func checkEmpty(ctx context.Context, r runner) error {
	tables, err := r.list(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		return fmt.Errorf("target tables: %w", err)
	}
	var full []string
	for _, t := range tables {
		if t == "schema_migrations" || contains(seeded, t) {
			continue
		}
		has, err := r.exists(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{t}.Sanitize()+`)`)
		if err != nil {
			return fmt.Errorf("target table %s: %w", t, err)
		}
		if has {
			full = append(full, t)
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("%w: %s hold rows; migrate only into a new, empty database", ErrTargetNotEmpty, strings.Join(full, ", "))
	}
	return nil
}

// compareSchemas refuses a source whose components are behind this binary's schema
// in the target: it must be migrated first (with this binary, by its own choice, since
// this package writes nothing to it). A source ahead of the target is allowed, because
// a migration may exist for one engine alone (SQLite's full-text tables); copyTable
// then requires every table's columns to match.
func compareSchemas(ctx context.Context, src, target queryer) error {
	read := func(q queryer) (map[string]int, error) {
		rows, err := q.QueryContext(ctx, `SELECT component, max(version) FROM schema_migrations GROUP BY component`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var c string
			var v int
			if err := rows.Scan(&c, &v); err != nil {
				return nil, err
			}
			out[c] = v
		}
		return out, rows.Err()
	}
	s, err := read(src)
	if err != nil {
		return fmt.Errorf("source schema versions: %w", err)
	}
	t, err := read(target)
	if err != nil {
		return fmt.Errorf("target schema versions: %w", err)
	}
	for c, v := range s {
		if tv := t[c]; tv > v {
			return fmt.Errorf("source component %s is at schema version %d, this binary at %d: run 'mailroom db migrate' on the source with this binary first", c, v, tv)
		}
	}
	return nil
}

// sqliteOnlyTables are SQLite tables that only its own search reads, kept by triggers
// from tables that are copied: message_multi_subject lists the contents with more
// than one Subject field (store migration 0005), which PostgreSQL's search, matching
// message_headers alone, does not need.
var sqliteOnlyTables = []string{"message_multi_subject"}

// sourceTables lists the source's tables to copy: all but SQLite's own, the migration
// records, sqliteOnlyTables, and full-text virtual tables with their shadow tables
// (PostgreSQL indexes the same text with pg_trgm instead).
func sourceTables(ctx context.Context, src queryer) ([]string, error) {
	virtual, err := strings1(ctx, src, `SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'`)
	if err != nil {
		return nil, fmt.Errorf("source tables: %w", err)
	}
	all, err := strings1(ctx, src, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT IN ('schema_migrations', 'blob_data') ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("source tables: %w", err)
	}
	var out []string
next:
	for _, t := range all {
		if slices.Contains(sqliteOnlyTables, t) {
			continue
		}
		for _, v := range virtual {
			if t == v || strings.HasPrefix(t, v+"_") {
				continue next
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// targetOrder lists the target's tables so that every table comes after the tables its
// foreign keys refer to.
func targetOrder(ctx context.Context, target queryer) ([]string, error) {
	tables, err := strings1(ctx, target, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		return nil, fmt.Errorf("target tables: %w", err)
	}
	rows, err := target.QueryContext(ctx, `SELECT c.conrelid::regclass::text, c.confrelid::regclass::text
		FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace`)
	if err != nil {
		return nil, fmt.Errorf("target foreign keys: %w", err)
	}
	deps := map[string][]string{}
	for rows.Next() {
		var from, to string
		if err := rows.Scan(&from, &to); err != nil {
			rows.Close()
			return nil, fmt.Errorf("target foreign keys: %w", err)
		}
		if from != to {
			deps[from] = append(deps[from], to)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("target foreign keys: %w", err)
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(t string) error
	visit = func(t string) error {
		switch state[t] {
		case 1:
			return fmt.Errorf("target foreign keys form a cycle through %s", t)
		case 2:
			return nil
		}
		state[t] = 1
		for _, d := range deps[t] {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[t] = 2
		order = append(order, t)
		return nil
	}
	for _, t := range tables {
		if err := visit(t); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func strings1(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// copier carries one run's state.
type copier struct {
	src    *sql.Tx
	o      Options
	tables map[string]bool // the source's tables to copy
	// copied counts the rows written to each target table.
	copied map[string]int64
	// blobs maps "area/id" to its size, for every blob written to blob_data.
	blobs map[string]int64
	// sequences is where each advanced identity sequence now stands.
	sequences map[string]int64
}

// copyAll copies every table and the blob files in one target transaction and moves
// the identity sequences past the copied ids.
func (c *copier) copyAll(ctx context.Context, conn *pgx.Conn, order []string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("target: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	// Nothing else may write while the copy runs: another process that found the
	// database empty too would otherwise interleave.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('mailroom/migrate'))`); err != nil {
		return fmt.Errorf("target: lock: %w", err)
	}
	if err := checkEmpty(ctx, pgxRunner{tx}); err != nil {
		return err
	}
	for _, t := range seeded {
		if c.tables[t] {
			if _, err := tx.Exec(ctx, `DELETE FROM `+pgx.Identifier{t}.Sanitize()); err != nil {
				return fmt.Errorf("target: clear %s: %w", t, err)
			}
		}
	}
	for _, t := range order {
		if !c.tables[t] {
			continue
		}
		if err := c.copyTable(ctx, tx, t); err != nil {
			return err
		}
	}
	if err := c.copyBlobs(ctx, tx); err != nil {
		return err
	}
	if err := c.advanceSequences(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("target: commit: %w", err)
	}
	return nil
}

// pgxRunner runs emptyTables' queries inside the copy transaction.
type pgxRunner struct{ tx pgx.Tx }

func (p pgxRunner) list(ctx context.Context, query string) ([]string, error) {
	rows, err := p.tx.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (p pgxRunner) exists(ctx context.Context, query string) (bool, error) {
	var b bool
	err := p.tx.QueryRow(ctx, query).Scan(&b)
	return b, err
}

// sqlRunner runs them on a pool.
type sqlRunner struct{ q queryer }

func (s sqlRunner) list(ctx context.Context, query string) ([]string, error) {
	return strings1(ctx, s.q, query)
}

func (s sqlRunner) exists(ctx context.Context, query string) (bool, error) {
	var b bool
	err := s.q.QueryRowContext(ctx, query).Scan(&b)
	return b, err
}
