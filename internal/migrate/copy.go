package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/blob"
)

// sqliteOnly names columns only the SQLite schema has, which are not copied:
// message_text.indexed records which texts SQLite's FTS5 index has taken in (it is
// filled after delivery); PostgreSQL's trigram index is kept up to date by the
// transaction that writes the text.
var sqliteOnly = map[string][]string{"message_text": {"indexed", "tail_start", "tail_end"}}

// sourceExpr reads a target column from other than the source column of its name:
// message_text.body gets back the tail that SQLite leaves in the message's blob_data
// row (store migration 0006: ASCII, so SQLite's ASCII lower() lower-cases it as the
// store does, with its CRLFs as the LFs of the text). A text has a tail only if its
// blob is in blob_data, in the store's area.
var sourceExpr = map[string]map[string]string{"message_text": {"body": `CASE WHEN tail_end > 0 THEN body ||
	replace(lower(CAST(substr((SELECT d.data FROM blob_data d WHERE d.id = '` + storeArea + `/' || message_text.blob), tail_start + 1, tail_end - tail_start) AS TEXT)), char(13, 10), char(10))
	ELSE body END`}}

// column is one target column and its PostgreSQL type.
type column struct {
	name, typ string
}

// copyTable copies one table with COPY. The columns must be the same on both sides (the
// schema versions are); values are converted where SQLite's dynamic typing and
// PostgreSQL's differ (TEXT/BLOB against TEXT/BYTEA). COPY writes identity columns as
// given, so ids, and with them UIDVALIDITY, are kept.
func (c *copier) copyTable(ctx context.Context, tx pgx.Tx, table string) error {
	rows, err := tx.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return fmt.Errorf("target columns of %s: %w", table, err)
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (column, error) {
		var col column
		err := r.Scan(&col.name, &col.typ)
		return col, err
	})
	if err != nil {
		return fmt.Errorf("target columns of %s: %w", table, err)
	}
	srcCols, err := strings1(ctx, c.src, `SELECT name FROM pragma_table_info($1) ORDER BY name`, table)
	if err != nil {
		return fmt.Errorf("source columns of %s: %w", table, err)
	}
	names := make([]string, len(cols))
	quoted := make([]string, len(cols))
	for i, col := range cols {
		names[i] = col.name
		quoted[i] = `"` + col.name + `"`
		if e, ok := sourceExpr[table][col.name]; ok {
			quoted[i] = e
		}
	}
	inTarget := map[string]bool{}
	for _, n := range names {
		inTarget[n] = true
	}
	var extra []string
	for _, n := range srcCols {
		if !inTarget[n] && !contains(sqliteOnly[table], n) {
			extra = append(extra, n)
		}
		delete(inTarget, n)
	}
	if len(extra) > 0 || len(inTarget) > 0 {
		return fmt.Errorf("table %s: source columns (%s) differ from target columns (%s)", table,
			strings.Join(srcCols, ", "), strings.Join(names, ", "))
	}
	src, err := c.src.QueryContext(ctx, `SELECT `+strings.Join(quoted, ", ")+` FROM "`+table+`"`)
	if err != nil {
		return fmt.Errorf("read source %s: %w", table, err)
	}
	defer src.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, names, pgx.CopyFromFunc(func() ([]any, error) {
		if !src.Next() {
			return nil, src.Err()
		}
		if err := src.Scan(ptrs...); err != nil {
			return nil, err
		}
		out := make([]any, len(vals))
		for i, v := range vals {
			cv, err := convert(v, cols[i].typ)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", cols[i].name, err)
			}
			out[i] = cv
		}
		return out, nil
	}))
	if err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	c.copied[table] = n
	return nil
}

// convert turns a value SQLite returned into one PostgreSQL's column type accepts.
func convert(v any, typ string) (any, error) {
	switch x := v.(type) {
	case nil, int64:
		return v, nil
	case string:
		if typ == "bytea" {
			return []byte(x), nil
		}
		return x, nil
	case []byte:
		if typ == "bytea" {
			return x, nil
		}
		return string(x), nil
	case float64:
		if typ == "double precision" || typ == "real" || typ == "numeric" {
			return x, nil
		}
		if x == float64(int64(x)) {
			return int64(x), nil
		}
		return nil, fmt.Errorf("%v is not a whole number for a %s column", x, typ)
	default:
		return nil, fmt.Errorf("unexpected source value of type %T", v)
	}
}

// copyBlobs writes the message bytes of the store and the queue from the source (its
// blob_data rows, where blob.Local keeps small blobs, and its blob files) into
// blob_data, under the ids blob.Table uses. Each blob must hash to its id.
func (c *copier) copyBlobs(ctx context.Context, tx pgx.Tx) error {
	inline, err := strings1(ctx, c.src, `SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'blob_data'`)
	if err != nil {
		return fmt.Errorf("source blob_data: %w", err)
	}
	dirs := map[string]*blob.Dir{}
	read := func(name, id string) ([]byte, error) {
		if len(inline) > 0 {
			var data []byte
			err := c.src.QueryRowContext(ctx, `SELECT data FROM blob_data WHERE id = $1`, name+"/"+id).Scan(&data)
			if err == nil {
				return data, nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return nil, err
			}
		}
		return dirs[name].Read(ctx, id)
	}
	type area struct {
		name, dir, query string
	}
	var areas []area
	if c.tables["blobs"] {
		areas = append(areas, area{storeArea, c.o.StoreBlobs, `SELECT id FROM blobs ORDER BY id`})
	}
	if c.tables["queue_messages"] {
		areas = append(areas, area{queueArea, c.o.QueueBlobs, `SELECT DISTINCT blob FROM queue_messages ORDER BY blob`})
	}
	var ids []string
	for _, a := range areas {
		list, err := strings1(ctx, c.src, a.query)
		if err != nil {
			return fmt.Errorf("source %s blobs: %w", a.name, err)
		}
		if len(list) == 0 {
			continue
		}
		// blob.Open creates the directory if it is missing; it must be there already,
		// for nothing is created in the source.
		if _, err := os.Stat(a.dir); err != nil {
			return fmt.Errorf("source %s blob directory: %w", a.name, err)
		}
		if _, err := os.Stat(filepath.Join(a.dir, "tmp")); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("source %s blob directory %s is not a blob area (no tmp/)", a.name, a.dir)
		}
		dir, err := blob.Open(a.dir)
		if err != nil {
			return err
		}
		for _, id := range list {
			ids = append(ids, a.name+"/"+id)
		}
		dirs[a.name] = dir
	}
	i := 0
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"blob_data"}, []string{"id", "data"}, pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(ids) {
			return nil, nil
		}
		key := ids[i]
		i++
		name, id, _ := strings.Cut(key, "/")
		data, err := read(name, id)
		if err != nil {
			return nil, fmt.Errorf("source %s blob %s: %w", name, id, err)
		}
		if blob.ID(data) != id {
			return nil, fmt.Errorf("%w: source %s blob %s has bytes whose SHA-256 is %s", ErrMismatch, name, id, blob.ID(data))
		}
		c.blobs[key] = int64(len(data))
		return []any{key, data}, nil
	}))
	if err != nil {
		return fmt.Errorf("copy message bytes into blob_data: %w", err)
	}
	c.copied["blob_data"] = n
	return nil
}

// advanceSequences moves every identity sequence of a copied table past both the
// highest copied id and the highest id SQLite ever gave out (sqlite_sequence), so ids
// of removed folders and messages, and with them UIDVALIDITY values and POP3 UIDLs,
// are never given out again.
func (c *copier) advanceSequences(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY table_name`)
	if err != nil {
		return fmt.Errorf("target identity columns: %w", err)
	}
	type identity struct{ table, column string }
	idents, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (identity, error) {
		var id identity
		err := r.Scan(&id.table, &id.column)
		return id, err
	})
	if err != nil {
		return fmt.Errorf("target identity columns: %w", err)
	}
	hasSeq, err := strings1(ctx, c.src, `SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'`)
	if err != nil {
		return fmt.Errorf("source sequences: %w", err)
	}
	for _, id := range idents {
		table := id.table
		if !c.tables[table] {
			continue
		}
		var top int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(`+pgx.Identifier{id.column}.Sanitize()+`), 0) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&top); err != nil {
			return fmt.Errorf("highest id of %s: %w", table, err)
		}
		if len(hasSeq) > 0 {
			var seq int64
			err := c.src.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = $1`, table).Scan(&seq)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("source sequence of %s: %w", table, err)
			}
			top = max(top, seq)
		}
		if top == 0 {
			continue
		}
		if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), $3)`,
			pgx.Identifier{table}.Sanitize(), id.column, top); err != nil {
			return fmt.Errorf("advance the id sequence of %s: %w", table, err)
		}
		c.sequences[table] = top
	}
	return nil
}
