package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"mailroom/internal/store"
)

// Changes implements store.Store. A limit never splits one ModSeq: the changes sharing the
// last ModSeq returned all come back, so a caller can resume from that ModSeq.
func (s *Store) Changes(ctx context.Context, id store.AccountID, since store.ModSeq, limit int) ([]store.Change, store.ModSeq, error) {
	tx, err := s.db.Snapshot(ctx) // one snapshot for the changes and the newest ModSeq
	if err != nil {
		return nil, 0, fmt.Errorf("changes of account %d: %w", id, err)
	}
	defer tx.Rollback()
	var newest store.ModSeq
	err = tx.QueryRowContext(ctx, `SELECT modseq FROM accounts WHERE id = $1`, id).Scan(&newest)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, fmt.Errorf("account %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("changes of account %d: %w", id, err)
	}
	if limit <= 0 {
		limit = 1 << 30
	}
	out, err := queryChanges(ctx, tx, `SELECT modseq, kind, folder, message, uid FROM changes
		WHERE account = $1 AND modseq > $2 ORDER BY modseq, id LIMIT $3`, id, since, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("changes of account %d: %w", id, err)
	}
	if len(out) == limit {
		last := out[len(out)-1].ModSeq
		n := 0
		for i := len(out) - 1; i >= 0 && out[i].ModSeq == last; i-- {
			n++
		}
		same, err := queryChanges(ctx, tx, `SELECT modseq, kind, folder, message, uid FROM changes
			WHERE account = $1 AND modseq = $2 ORDER BY id`, id, last)
		if err != nil {
			return nil, 0, fmt.Errorf("changes of account %d: %w", id, err)
		}
		out = append(out, same[n:]...)
	}
	return out, newest, nil
}

func queryChanges(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]store.Change, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		var c store.Change
		var kind string
		if err := rows.Scan(&c.ModSeq, &kind, &c.Folder, &c.Message, &c.UID); err != nil {
			return nil, err
		}
		c.Kind = store.ChangeKind(kind)
		out = append(out, c)
	}
	return out, rows.Err()
}
