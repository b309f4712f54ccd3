package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// indexBatch and indexBatchBytes bound the texts one indexing transaction adds, so
// that it holds the write lock briefly (tokenizing takes about 2 ms per 10 KB of text
// on a 2-core VM): deliveries wait for it.
const (
	indexBatch      = 256
	indexBatchBytes = 256 << 10
)

// When the indexer runs. Each indexing transaction makes FTS5 flush a segment and,
// every few segments, merge them, and it holds the write lock while it tokenizes: under
// a stream of deliveries, indexing each group commit's few texts as they came took
// more CPU than the deliveries themselves (2026-11-25: 70% of the server's CPU while
// it took 10 KB messages over SMTP). So the indexer waits for deliveries to pause for
// indexQuiet, or at most indexMaxLag after the first one it has not indexed, and then
// indexes everything pending in batches, pausing indexQuiet between two batches while
// deliveries go on.
const (
	indexQuiet  = 250 * time.Millisecond
	indexMaxLag = 10 * time.Second
)

// index adds texts delivered since the last round to SQLite's trigram index, in batches:
// FTS5 writes a new index segment per transaction, so one transaction per delivery made
// indexing the dominant cost of a delivery (migration 0002). A delivery wakes it (and
// it then waits as the constants above say); a slow tick picks up texts that other
// processes added. It runs until ctx ends; search covers texts not indexed yet with
// LIKE, so the lag only costs speed.
func (s *Store) index(ctx context.Context) {
	t := time.NewTicker(indexMaxLag)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.indexWake:
			if !s.waitQuiet(ctx) {
				return
			}
		}
		for {
			more, err := s.indexOnce(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.opts.Logger.Warn("text indexing", "err", err)
				}
				break
			}
			if !more {
				break
			}
			// Deliveries still coming: give them the write lock for a while between
			// batches, so that indexing takes a bounded share of it.
			select {
			case <-s.indexWake:
				select {
				case <-ctx.Done():
					return
				case <-time.After(indexQuiet):
				}
			default:
			}
		}
	}
}

// waitQuiet returns true once no delivery has woken the indexer for indexQuiet, or
// indexMaxLag after it was called, and false if ctx ends first.
func (s *Store) waitQuiet(ctx context.Context) bool {
	lag := time.NewTimer(indexMaxLag)
	defer lag.Stop()
	quiet := time.NewTimer(indexQuiet)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-lag.C:
			return true
		case <-quiet.C:
			return true
		case <-s.indexWake:
			quiet.Reset(indexQuiet)
		}
	}
}

// indexOnce indexes up to indexBatch texts or indexBatchBytes of them (at least one)
// and reports whether more may be waiting.
func (s *Store) indexOnce(ctx context.Context) (bool, error) {
	var more bool
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		more = false
		rows, err := tx.QueryContext(ctx, `SELECT rowid, min(length(body), 16384) FROM message_text WHERE NOT indexed ORDER BY rowid LIMIT $1`, indexBatch)
		if err != nil {
			return err
		}
		var ids []any
		var bytes int64
		for rows.Next() {
			var id, n int64
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return err
			}
			if len(ids) > 0 && bytes+n > indexBatchBytes {
				more = true
				break
			}
			ids = append(ids, id)
			bytes += n
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
		more = more || len(ids) == indexBatch
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("index message text: %w", err)
	}
	return more, nil
}
