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
// processes added, and the entries of removed texts (see indexOnce). It runs until ctx
// ends; search covers texts not indexed yet with LIKE, so the lag only costs speed.
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

// indexGoneBatch bounds the removed texts one indexing transaction takes out of the
// index. A removal by rowid is cheap on a contentless_delete table (migration 0003).
const indexGoneBatch = 1024

// indexOnce takes the entries of removed texts out of the index, then indexes up to
// indexBatch texts or indexBatchBytes of them (at least one), and reports whether more
// may be waiting. It adds nothing while removals are still waiting: SQLite may have
// given a new text the rowid of a removed one, whose old entries must go first.
func (s *Store) indexOnce(ctx context.Context) (bool, error) {
	var more bool
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		if more, err = dropGoneEntries(ctx, tx); err != nil || more {
			return err
		}
		more, err = indexTexts(ctx, tx)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("index message text: %w", err)
	}
	return more, nil
}

// dropGoneEntries deletes the index rows of up to indexGoneBatch removed texts and
// reports whether more are waiting.
func dropGoneEntries(ctx context.Context, tx *sql.Tx) (bool, error) {
	ids, err := rowids(ctx, tx, `SELECT id FROM message_fts_gone ORDER BY id LIMIT $1`, indexGoneBatch)
	if err != nil || len(ids) == 0 {
		return false, err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `DELETE FROM message_fts WHERE rowid = $1`, id); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM message_fts_gone WHERE id <= $1`, ids[len(ids)-1]); err != nil {
		return false, err
	}
	return len(ids) == indexGoneBatch, nil
}

// indexTexts adds up to indexBatch texts or indexBatchBytes of them (at least one) to
// the index and reports whether more may be waiting. A text longer than the 16 KiB the
// index would hold of it (message_text.long) is only marked indexed: search reads every
// long text with LIKE anyway (search.go), so its trigrams would cost tokenizing and
// space and answer nothing.
func indexTexts(ctx context.Context, tx *sql.Tx) (bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT rowid, long, length(body) FROM message_text WHERE NOT indexed ORDER BY rowid LIMIT $1`, indexBatch)
	if err != nil {
		return false, err
	}
	var all, short []any
	var bytes int64
	more := false
	for rows.Next() {
		var id, n int64
		var long bool
		if err := rows.Scan(&id, &long, &n); err != nil {
			rows.Close()
			return false, err
		}
		if long {
			all = append(all, id)
			continue
		}
		if len(short) > 0 && bytes+n > indexBatchBytes {
			more = true
			break
		}
		all = append(all, id)
		short = append(short, id)
		bytes += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	if len(short) > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO message_fts (rowid, head) SELECT rowid, body FROM message_text WHERE rowid IN (`+marks(len(short))+`)`, short...); err != nil {
			return false, err
		}
	}
	if len(all) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE message_text SET indexed = 1 WHERE rowid IN (`+marks(len(all))+`)`, all...); err != nil {
			return false, err
		}
	}
	return more || len(all) == indexBatch, nil
}

// marks returns the placeholders $1, ..., $n, comma-separated.
func marks(n int) string {
	m := make([]string, n)
	for i := range m {
		m[i] = fmt.Sprintf("$%d", i+1)
	}
	return strings.Join(m, ",")
}

// rowids runs q with arg and returns the integers of its one column.
func rowids(ctx context.Context, tx *sql.Tx, q string, arg any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, q, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
