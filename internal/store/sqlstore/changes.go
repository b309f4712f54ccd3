package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"mailroom/internal/store"
)

// Changes implements store.Store. A limit never splits one ModSeq: the changes sharing the
// last ModSeq returned all come back, so a caller can resume from that ModSeq.
//
// Every IMAP command asks it, so the newest ModSeq and the changes come from one
// statement (one snapshot on either database, no transaction to begin and end): the
// account's row joined with its changes after since, a row of NULLs when there are none.
func (s *Store) Changes(ctx context.Context, id store.AccountID, since store.ModSeq, limit int) ([]store.Change, store.ModSeq, error) {
	if limit <= 0 {
		limit = 1 << 30
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT a.modseq, c.modseq, c.kind, c.folder, c.message, c.uid
		FROM accounts a LEFT JOIN changes c ON c.account = a.id AND c.modseq > $2
		WHERE a.id = $1 ORDER BY c.modseq, c.id LIMIT $3`, id, since, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("changes of account %d: %w", id, err)
	}
	defer rows.Close()
	var out []store.Change
	var newest store.ModSeq
	found := false
	for rows.Next() {
		var modseq, folder, message, uid sql.NullInt64
		var kind sql.NullString
		if err := rows.Scan(&newest, &modseq, &kind, &folder, &message, &uid); err != nil {
			return nil, 0, fmt.Errorf("changes of account %d: %w", id, err)
		}
		found = true
		if modseq.Valid {
			out = append(out, store.Change{ModSeq: store.ModSeq(modseq.Int64), Kind: store.ChangeKind(kind.String),
				Folder: store.FolderID(folder.Int64), Message: store.MessageID(message.Int64), UID: store.UID(uid.Int64)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("changes of account %d: %w", id, err)
	}
	if !found {
		return nil, 0, fmt.Errorf("account %d: %w", id, store.ErrNotFound)
	}
	if len(out) == limit {
		// The rest of the last ModSeq: its changes were committed together, so reading
		// them in a statement of their own sees all of them.
		last := out[len(out)-1].ModSeq
		n := 0
		for i := len(out) - 1; i >= 0 && out[i].ModSeq == last; i-- {
			n++
		}
		same, err := queryChanges(ctx, s.db.Read(), `SELECT modseq, kind, folder, message, uid FROM changes
			WHERE account = $1 AND modseq = $2 ORDER BY id`, id, last)
		if err != nil {
			return nil, 0, fmt.Errorf("changes of account %d: %w", id, err)
		}
		out = append(out, same[n:]...)
	}
	return out, newest, nil
}

func queryChanges(ctx context.Context, q querier, query string, args ...any) ([]store.Change, error) {
	rows, err := q.QueryContext(ctx, query, args...)
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
