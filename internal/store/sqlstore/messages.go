package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/store"
)

// List implements store.Store: the folder's messages in UID order.
func (s *Store) List(ctx context.Context, folder store.FolderID) ([]store.MessageInfo, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT `+infoColumns+` FROM messages WHERE folder = $1 ORDER BY uid`, folder)
	if err != nil {
		return nil, fmt.Errorf("list folder %d: %w", folder, err)
	}
	defer rows.Close()
	var out []store.MessageInfo
	for rows.Next() {
		r, err := scanInfoRow(rows)
		if err != nil {
			return nil, fmt.Errorf("list folder %d: %w", folder, err)
		}
		out = append(out, r.info())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list folder %d: %w", folder, err)
	}
	return out, nil
}

// FolderIndex implements store.Store with three statements that the indexes of
// migration 0004 (SQLite; 0002 on PostgreSQL) answer without reading message rows:
// the runs of consecutive UIDs, the lowest unseen UID, and the folder's distinct
// keyword lists.
func (s *Store) FolderIndex(ctx context.Context, folder store.FolderID) (store.FolderIndex, error) {
	var fi store.FolderIndex
	q := s.db.Read()
	var err error
	if fi.UIDs, err = s.uidRuns(ctx, folder); err != nil {
		return fi, fmt.Errorf("UIDs of folder %d: %w", folder, err)
	}
	// 1 is \Seen's bit, written out: the partial index matches the statement's text.
	var unseen sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT min(uid) FROM messages WHERE folder = $1 AND flags & 1 = 0`, folder).Scan(&unseen); err != nil {
		return fi, fmt.Errorf("first unseen of folder %d: %w", folder, err)
	}
	fi.FirstUnseen = store.UID(unseen.Int64)
	kws, err := q.QueryContext(ctx, `SELECT DISTINCT keywords FROM messages WHERE folder = $1 AND keywords <> ''`, folder)
	if err != nil {
		return fi, fmt.Errorf("keywords of folder %d: %w", folder, err)
	}
	defer kws.Close()
	for kws.Next() {
		var list string
		if err := kws.Scan(&list); err != nil {
			return fi, fmt.Errorf("keywords of folder %d: %w", folder, err)
		}
		for _, k := range strings.Fields(list) {
			fi.Keywords = addKeyword(fi.Keywords, k)
		}
	}
	if err := kws.Err(); err != nil {
		return fi, fmt.Errorf("keywords of folder %d: %w", folder, err)
	}
	slices.Sort(fi.Keywords)
	return fi, nil
}

// uidRuns returns the runs of consecutive UIDs of folder, in order. PostgreSQL computes
// them (a UID minus its rank is the same along a run), so that only the runs cross the
// wire. SQLite runs in this process, where its window function costs six times what
// reading the UIDs from the (folder, uid) index and cutting them here does.
func (s *Store) uidRuns(ctx context.Context, folder store.FolderID) ([]store.UIDRange, error) {
	query := `SELECT uid FROM messages WHERE folder = $1 ORDER BY uid`
	if s.db.Dialect == db.Postgres {
		query = `SELECT min(uid), max(uid) FROM (SELECT uid, uid - row_number() OVER (ORDER BY uid) AS run FROM messages WHERE folder = $1) AS r GROUP BY run ORDER BY 1`
	}
	rows, err := s.db.Read().QueryContext(ctx, query, folder)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var runs []store.UIDRange
	for rows.Next() {
		var r store.UIDRange
		if s.db.Dialect == db.Postgres {
			err = rows.Scan(&r.First, &r.Last)
		} else {
			err = rows.Scan(&r.First)
			r.Last = r.First
		}
		if err != nil {
			return nil, err
		}
		if n := len(runs); n > 0 && runs[n-1].Last+1 == r.First {
			runs[n-1].Last = r.Last
			continue
		}
		runs = append(runs, r)
	}
	return runs, rows.Err()
}

// Infos implements store.Store. It reads only the listing columns, never the summary;
// like Messages, each chunk of UIDs is one statement of its own.
func (s *Store) Infos(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.MessageInfo, error) {
	rows, err := selectInfoRows(ctx, s.db.Read(), folder, sortUIDs(uids))
	if err != nil {
		return nil, err
	}
	out := make([]store.MessageInfo, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.info())
	}
	return out, nil
}

const messageColumns = `id, account, folder, uid, modseq, flags, keywords, size, internal_date, blob, summary, props`

func scanMessage(row interface{ Scan(...any) error }) (store.Message, error) {
	var m store.Message
	var bits, date int64
	var kws string
	var sum, props []byte // scanned as bytes: the decoders read them without another copy
	if err := row.Scan(&m.ID, &m.Account, &m.Folder, &m.UID, &m.ModSeq, &bits, &kws, &m.Size, &date, &m.Blob, &sum, &props); err != nil {
		return m, err
	}
	m.Flags = joinFlags(bits, kws)
	m.InternalDate = fromMicros(date)
	var sm summary
	if err := decodeSummary(sum, &sm); err != nil {
		return m, fmt.Errorf("message %d summary: %w", m.ID, err)
	}
	m.Envelope, m.Root = sm.Envelope, sm.Root
	if len(props) > 0 {
		var err error
		if m.Props, err = decodeProps(props); err != nil {
			return m, fmt.Errorf("message %d properties: %w", m.ID, err)
		}
	}
	return m, nil
}

// Message implements store.Store.
func (s *Store) Message(ctx context.Context, id store.MessageID) (store.Message, error) {
	m, err := scanMessage(s.db.Read().QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("message %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("message %d: %w", id, err)
	}
	return m, nil
}

// Messages implements store.Store.
func (s *Store) Messages(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.Message, error) {
	uids = sortUIDs(uids)
	out := make([]store.Message, 0, len(uids))
	err := queryUIDs(ctx, s.db.Read(), messageColumns, folder, uids, func(rows *sql.Rows) error {
		m, err := scanMessage(rows)
		out = append(out, m)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MessageByUID implements store.Store.
func (s *Store) MessageByUID(ctx context.Context, folder store.FolderID, uid store.UID) (store.Message, error) {
	m, err := scanMessage(s.db.Read().QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE folder = $1 AND uid = $2`, folder, uid))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("message UID %d in folder %d: %w", uid, folder, store.ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("message UID %d in folder %d: %w", uid, folder, err)
	}
	return m, nil
}

// Raw implements store.Store.
func (s *Store) Raw(ctx context.Context, id store.MessageID) ([]byte, error) {
	var b string
	err := s.db.Read().QueryRowContext(ctx, `SELECT blob FROM messages WHERE id = $1`, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("message %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("message %d: %w", id, err)
	}
	raw, err := s.blobs.Read(ctx, b)
	if errors.Is(err, blob.ErrNotFound) {
		// An expunge between the two reads removes the row and then the bytes: the
		// message is gone, not broken. A row still there means the bytes are missing.
		var n int
		if qerr := s.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE id = $1`, id).Scan(&n); qerr == nil && n == 0 {
			return nil, fmt.Errorf("message %d: %w", id, store.ErrNotFound)
		}
	}
	return raw, err
}

// lockFolderAccount locks the account of folder (see lockAccounts). A folder that does
// not exist locks nothing; the caller's own read reports it.
func (s *Store) lockFolderAccount(ctx context.Context, tx *sql.Tx, folder store.FolderID) error {
	if s.db.Dialect != db.Postgres {
		return nil
	}
	acct, err := folderAccount(ctx, tx, folder)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.lockAccounts(ctx, tx, acct)
}

// folderAccount returns the account a folder belongs to, inside tx.
func folderAccount(ctx context.Context, tx *sql.Tx, folder store.FolderID) (store.AccountID, error) {
	var acct store.AccountID
	err := tx.QueryRowContext(ctx, `SELECT account FROM folders WHERE id = $1`, folder).Scan(&acct)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("folder %d: %w", folder, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("folder %d: %w", folder, err)
	}
	return acct, nil
}

// maxInList bounds the UIDs in one IN (...) list, well under SQLite's limit on
// variables in a statement.
const maxInList = 500

// uidIn returns the placeholders $2.. for uids and the arguments with folder as $1.
func uidIn(folder store.FolderID, uids []store.UID) (string, []any) {
	args := make([]any, 0, len(uids)+1)
	args = append(args, folder)
	var marks strings.Builder
	for i, u := range uids {
		args = append(args, u)
		if i > 0 {
			marks.WriteByte(',')
		}
		marks.WriteByte('$')
		marks.WriteString(strconv.Itoa(i + 2))
	}
	return marks.String(), args
}

// querier is what the chunked reads run on: the read pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryUIDs runs `SELECT columns FROM messages WHERE folder = $1 AND uid IN (...)
// ORDER BY uid` for uids (sorted, unique) in chunks of maxInList, calling scan on every
// row. A chunk of consecutive UIDs, what FETCH 1:* asks, is read as a range instead.
func queryUIDs(ctx context.Context, q querier, columns string, folder store.FolderID, uids []store.UID, scan func(*sql.Rows) error) error {
	for part := range slices.Chunk(uids, maxInList) {
		where, args := `uid >= $2 AND uid <= $3`, []any{folder, part[0], part[len(part)-1]}
		if !consecutive(part) {
			var in string
			in, args = uidIn(folder, part)
			where = `uid IN (` + in + `)`
		}
		rows, err := q.QueryContext(ctx, `SELECT `+columns+` FROM messages WHERE folder = $1 AND `+where+` ORDER BY uid`, args...)
		if err != nil {
			return fmt.Errorf("read messages of folder %d: %w", folder, err)
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return fmt.Errorf("read messages of folder %d: %w", folder, err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read messages of folder %d: %w", folder, err)
		}
	}
	return nil
}

// consecutive reports whether uids are n, n+1, n+2...
func consecutive(uids []store.UID) bool {
	for i, u := range uids {
		if u != uids[0]+store.UID(i) {
			return false
		}
	}
	return true
}

// infoColumns are what a listing reads: the columns of infoRow.
const infoColumns = `id, uid, modseq, flags, keywords, size, internal_date`

// infoRow is one message's listing columns as stored.
type infoRow struct {
	id     store.MessageID
	uid    store.UID
	modseq store.ModSeq
	bits   int64
	kws    string
	size   int64
	date   int64
}

func scanInfoRow(rows *sql.Rows) (infoRow, error) {
	var r infoRow
	err := rows.Scan(&r.id, &r.uid, &r.modseq, &r.bits, &r.kws, &r.size, &r.date)
	return r, err
}

func (r infoRow) info() store.MessageInfo {
	return store.MessageInfo{ID: r.id, UID: r.uid, ModSeq: r.modseq, Flags: joinFlags(r.bits, r.kws), Size: r.size, InternalDate: fromMicros(r.date)}
}

// selectInfoRows reads the listing columns of the messages of folder with the given
// UIDs (sorted, unique).
func selectInfoRows(ctx context.Context, q querier, folder store.FolderID, uids []store.UID) ([]infoRow, error) {
	out := make([]infoRow, 0, len(uids))
	err := queryUIDs(ctx, q, infoColumns, folder, uids, func(rows *sql.Rows) error {
		r, err := scanInfoRow(rows)
		out = append(out, r)
		return err
	})
	return out, err
}

// row is one message with every column a copy needs.
type row struct {
	infoRow
	blob  string
	props string
	sum   string
	msgID string
	sent  int64
}

// selectRows reads the messages of folder with the given UIDs (sorted, unique) inside tx.
func selectRows(ctx context.Context, tx *sql.Tx, folder store.FolderID, uids []store.UID) ([]row, error) {
	var out []row
	err := queryUIDs(ctx, tx, infoColumns+`, blob, props, summary, message_id, sent_date`, folder, uids, func(rows *sql.Rows) error {
		var r row
		err := rows.Scan(&r.id, &r.uid, &r.modseq, &r.bits, &r.kws, &r.size, &r.date, &r.blob, &r.props, &r.sum, &r.msgID, &r.sent)
		out = append(out, r)
		return err
	})
	return out, err
}

// StoreFlags implements store.Store. All messages changed by one call share one ModSeq.
func (s *Store) StoreFlags(ctx context.Context, u store.FlagUpdate) (store.FlagResult, error) {
	addBits, kws, err := splitFlags(u.Flags)
	if err != nil {
		return store.FlagResult{}, err
	}
	uids := sortUIDs(u.UIDs)
	var res store.FlagResult
	var account store.AccountID
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res = store.FlagResult{}
		var err error
		if account, err = folderAccount(ctx, tx, u.Folder); err != nil {
			return err
		}
		if err := s.lockAccounts(ctx, tx, account); err != nil {
			return err
		}
		rows, err := selectInfoRows(ctx, tx, u.Folder, uids)
		if err != nil {
			return err
		}
		var dUnseen int
		for _, r := range rows {
			if u.UnchangedSince != 0 && r.modseq > u.UnchangedSince {
				res.Modified = append(res.Modified, r.uid)
				continue
			}
			bits, kw := applyFlags(r.bits, r.kws, u.Op, addBits, kws)
			if bits == r.bits && kw == r.kws {
				res.Updated = append(res.Updated, r.info())
				continue
			}
			if res.ModSeq == 0 {
				if res.ModSeq, err = nextModSeq(ctx, tx, account); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET flags = $2, keywords = $3, modseq = $4 WHERE id = $1`, r.id, bits, kw, res.ModSeq); err != nil {
				return fmt.Errorf("store flags: %w", err)
			}
			seen := flagBit[store.FlagSeen]
			switch {
			case r.bits&seen == 0 && bits&seen != 0:
				dUnseen--
			case r.bits&seen != 0 && bits&seen == 0:
				dUnseen++
			}
			if err := logChange(ctx, tx, account, store.Change{ModSeq: res.ModSeq, Kind: store.ChangeFlags, Folder: u.Folder, Message: r.id, UID: r.uid}); err != nil {
				return err
			}
			r.bits, r.kws, r.modseq = bits, kw, res.ModSeq
			res.Updated = append(res.Updated, r.info())
		}
		if res.ModSeq != 0 {
			return touchFolder(ctx, tx, u.Folder, res.ModSeq, 0, dUnseen, 0)
		}
		return nil
	})
	if err != nil {
		return store.FlagResult{}, err
	}
	if res.ModSeq != 0 {
		s.hub.publish(account, res.ModSeq)
	}
	return res, nil
}

// SetProps implements store.Store: the given properties are merged into the message's
// bag; an empty value removes a property.
func (s *Store) SetProps(ctx context.Context, id store.MessageID, props map[string]string) (store.ModSeq, error) {
	var account store.AccountID
	var m store.ModSeq
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var folder store.FolderID
		var uid store.UID
		var cur string
		if s.db.Dialect == db.Postgres {
			err := tx.QueryRowContext(ctx, `SELECT account FROM messages WHERE id = $1`, id).Scan(&account)
			if err == nil {
				err = s.lockAccounts(ctx, tx, account)
			}
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("message %d: %w", id, err)
			}
		}
		err := tx.QueryRowContext(ctx, `SELECT account, folder, uid, props FROM messages WHERE id = $1`, id).Scan(&account, &folder, &uid, &cur)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("message %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("message %d: %w", id, err)
		}
		bag := map[string]string{}
		if cur != "" {
			if err := json.Unmarshal([]byte(cur), &bag); err != nil {
				return fmt.Errorf("message %d properties: %w", id, err)
			}
		}
		for k, v := range props {
			if k == "" {
				return fmt.Errorf("%w: a property needs a name", store.ErrInvalid)
			}
			if v == "" {
				delete(bag, k)
			} else {
				bag[k] = v
			}
		}
		enc := ""
		if len(bag) > 0 {
			b, err := json.Marshal(bag)
			if err != nil {
				return fmt.Errorf("message %d properties: %w", id, err)
			}
			enc = string(b)
		}
		if m, err = nextModSeq(ctx, tx, account); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET props = $2, modseq = $3 WHERE id = $1`, id, enc, m); err != nil {
			return fmt.Errorf("message %d properties: %w", id, err)
		}
		if err := touchFolder(ctx, tx, folder, m, 0, 0, 0); err != nil {
			return err
		}
		return logChange(ctx, tx, account, store.Change{ModSeq: m, Kind: store.ChangeProps, Folder: folder, Message: id, UID: uid})
	})
	if err != nil {
		return 0, err
	}
	s.hub.publish(account, m)
	return m, nil
}
