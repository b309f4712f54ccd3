package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// indexBatch bounds the texts one indexing transaction adds, so that it holds the write
// lock briefly.
const indexBatch = 256

// index adds texts delivered since the last round to SQLite's trigram index, in batches:
// FTS5 writes a new index segment per transaction, so one transaction per delivery made
// indexing the dominant cost of a delivery (migration 0002). It runs until ctx ends;
// search covers texts not indexed yet with LIKE, so the lag only costs speed.
func (s *Store) index(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.indexWake:
		}
		for {
			n, err := s.indexOnce(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.opts.Logger.Warn("text indexing", "err", err)
				}
				break
			}
			if n < indexBatch {
				break
			}
		}
	}
}

// indexOnce indexes up to indexBatch texts and reports how many.
func (s *Store) indexOnce(ctx context.Context) (int, error) {
	var n int
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT rowid FROM message_text WHERE NOT indexed ORDER BY rowid LIMIT $1`, indexBatch)
		if err != nil {
			return err
		}
		var ids []any
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(ids) == 0 {
			return err
		}
		marks := make([]string, len(ids))
		for i := range ids {
			marks[i] = fmt.Sprintf("$%d", i+1)
		}
		in := strings.Join(marks, ",")
		if _, err := tx.ExecContext(ctx, `INSERT INTO message_fts (rowid, head) SELECT rowid, substr(body, 1, 16384) FROM message_text WHERE rowid IN (`+in+`)`, ids...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE message_text SET indexed = 1 WHERE rowid IN (`+in+`)`, ids...); err != nil {
			return err
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("index message text: %w", err)
	}
	return n, nil
}
