package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/blob"
	"mailroom/internal/store"
)

// RawMany implements store.Store: the blob of every message in one statement per
// maxInList ids, instead of one per message as Raw does; then the bytes of each.
func (s *Store) RawMany(ctx context.Context, ids []store.MessageID) (map[store.MessageID][]byte, error) {
	blobs := make(map[store.MessageID]string, len(ids))
	for part := range slices.Chunk(ids, maxInList) {
		args := make([]any, len(part))
		var marks strings.Builder
		for i, id := range part {
			args[i] = id
			if i > 0 {
				marks.WriteByte(',')
			}
			marks.WriteString("$" + strconv.Itoa(i+1))
		}
		rows, err := s.db.Read().QueryContext(ctx, `SELECT id, blob FROM messages WHERE id IN (`+marks.String()+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("messages' blobs: %w", err)
		}
		for rows.Next() {
			var id store.MessageID
			var b string
			if err := rows.Scan(&id, &b); err != nil {
				rows.Close()
				return nil, fmt.Errorf("messages' blobs: %w", err)
			}
			blobs[id] = b
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("messages' blobs: %w", err)
		}
	}
	out := make(map[store.MessageID][]byte, len(blobs))
	for id, b := range blobs {
		raw, err := s.blobs.Read(ctx, b)
		if errors.Is(err, blob.ErrNotFound) {
			continue // expunged, its last reference gone, since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", id, err)
		}
		out[id] = raw
	}
	return out, nil
}

// Marks implements store.Store: the columns of Messages but the summary, which is
// most of a row and the costly part to decode.
func (s *Store) Marks(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.Message, error) {
	uids = sortUIDs(uids)
	out := make([]store.Message, 0, len(uids))
	err := queryUIDs(ctx, s.db.Read(), `id, account, folder, uid, modseq, flags, keywords, size, internal_date, blob, props`, folder, uids, func(rows *sql.Rows) error {
		var m store.Message
		var bits, date int64
		var kws string
		var props []byte
		if err := rows.Scan(&m.ID, &m.Account, &m.Folder, &m.UID, &m.ModSeq, &bits, &kws, &m.Size, &date, &m.Blob, &props); err != nil {
			return err
		}
		m.Flags = joinFlags(bits, kws)
		m.InternalDate = fromMicros(date)
		if len(props) > 0 {
			var err error
			if m.Props, err = decodeProps(props); err != nil {
				return fmt.Errorf("message %d properties: %w", m.ID, err)
			}
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
