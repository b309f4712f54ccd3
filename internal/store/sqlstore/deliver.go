package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// summary is what the messages table keeps of the parse done at delivery.
type summary struct {
	Envelope mime.Envelope `json:"envelope"`
	Root     mime.Part     `json:"root"`
}

// Deliver implements store.Store. The blob is written and fsynced first, outside the
// write lock; then one transaction adds every copy. A crash in between leaves at worst an
// unreferenced blob file, never a message row without its bytes.
//
// The statements are few because each is a round trip on PostgreSQL (issue #6): one per
// account (modseq, quota check and counters together), one for the blob reference and,
// for new bytes, one each for their row, text and header fields, then per placement
// one for the folder (UID and counters), one for the message and one for the change log.
func (s *Store) Deliver(ctx context.Context, m store.NewMessage, to []store.Placement) ([]store.Delivered, error) {
	if len(to) == 0 {
		return nil, fmt.Errorf("%w: a delivery needs at least one placement", store.ErrInvalid)
	}
	if len(m.Raw) == 0 {
		return nil, fmt.Errorf("%w: the message is empty", store.ErrInvalid)
	}
	size := int64(len(m.Raw))
	if s.opts.MaxMessageSize > 0 && size > s.opts.MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes is over the limit of %d", store.ErrTooLarge, size, s.opts.MaxMessageSize)
	}
	flags, keywords, err := splitFlags(m.Flags)
	if err != nil {
		return nil, err
	}
	parsed := mime.Parse(m.Raw)
	sum, err := json.Marshal(summary{Envelope: parsed.Envelope, Root: parsed.Root})
	if err != nil {
		return nil, fmt.Errorf("encode message summary: %w", err)
	}
	var props string
	if len(m.Props) > 0 {
		b, err := json.Marshal(m.Props)
		if err != nil {
			return nil, fmt.Errorf("encode message properties: %w", err)
		}
		props = string(b)
	}
	date := m.InternalDate
	if date.IsZero() {
		date = s.opts.Now()
	}
	var sent int64
	if t, ok := parsed.Envelope.SentDate(); ok {
		sent = micros(t)
	}
	blobID, err := s.blobs.Put(ctx, m.Raw)
	if err != nil {
		return nil, err
	}

	unseen := 0
	if flags&flagBit[store.FlagSeen] == 0 {
		unseen = 1
	}
	charges := accountCharges(to)

	var out []store.Delivered
	modseqs := map[store.AccountID]store.ModSeq{}
	err = s.db.Write(ctx, db.Work{
		Tx: func(tx *sql.Tx) error {
			out = out[:0]
			clear(modseqs)
			// Accounts first, in ascending order: on PostgreSQL their row locks come
			// before the blob's, as in every other writer (see lockAccounts).
			for _, c := range charges {
				mod, err := chargeAccount(ctx, tx, c.account, c.copies, size)
				if err != nil {
					return err
				}
				modseqs[c.account] = mod
			}
			if err := s.addBlobRefs(ctx, tx, blobID, m.Raw, parsed, len(to)); err != nil {
				return err
			}
			for _, p := range to {
				mod := modseqs[p.Account]
				folder, uid, err := placeInFolder(ctx, tx, p, mod, unseen, size)
				if err != nil {
					return err
				}
				var id store.MessageID
				err = tx.QueryRowContext(ctx, `INSERT INTO messages (account, folder, uid, modseq, flags, keywords, size, internal_date, sent_date, blob, message_id, summary, props)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
					p.Account, folder, uid, mod, flags, keywords, size, micros(date), sent, blobID,
					strings.TrimSpace(parsed.Envelope.MessageID), string(sum), props).Scan(&id)
				if err != nil {
					return fmt.Errorf("add message to folder %d: %w", folder, err)
				}
				if err := logChange(ctx, tx, p.Account, store.Change{ModSeq: mod, Kind: store.ChangeAdded, Folder: folder, Message: id, UID: uid}); err != nil {
					return err
				}
				out = append(out, store.Delivered{Account: p.Account, Folder: folder, ID: id, UID: uid, ModSeq: mod})
			}
			return nil
		},
		After: func(err error) {
			if err == nil {
				return
			}
			// Nothing refers to a blob this delivery wrote: take the file away again, unless
			// another message holds the same bytes.
			var n int
			if qerr := s.db.Read().QueryRowContext(context.WithoutCancel(ctx), `SELECT count(*) FROM blobs WHERE id = $1`, blobID).Scan(&n); qerr == nil && n == 0 {
				s.removeBlobs([]string{blobID})
			}
		},
	})
	if err != nil {
		return nil, err
	}
	for acct, mod := range modseqs {
		s.hub.publish(acct, mod)
	}
	select {
	case s.indexWake <- struct{}{}:
	default:
	}
	return out, nil
}

// charge is how many copies of a delivery go to one account.
type charge struct {
	account store.AccountID
	copies  int
}

// accountCharges counts the placements per account, in ascending account order.
func accountCharges(to []store.Placement) []charge {
	var out []charge
	for _, p := range to {
		i, found := slices.BinarySearchFunc(out, p.Account, func(c charge, a store.AccountID) int { return cmp.Compare(c.account, a) })
		if found {
			out[i].copies++
			continue
		}
		out = slices.Insert(out, i, charge{account: p.Account, copies: 1})
	}
	return out
}

// chargeAccount allocates the account's next modseq for a delivery of copies messages
// of size bytes each and counts them, in one statement that also checks the quota (the
// sum of the copies must fit, as if they came one by one) and, on PostgreSQL, locks the
// account row. Only when it changes nothing does a second statement tell a missing
// account from a full one.
func chargeAccount(ctx context.Context, tx *sql.Tx, account store.AccountID, copies int, size int64) (store.ModSeq, error) {
	total := int64(copies) * size
	var m store.ModSeq
	err := tx.QueryRowContext(ctx, `UPDATE accounts SET modseq = modseq + 1, messages = messages + $2, used_bytes = used_bytes + $3
		WHERE id = $1 AND (quota_bytes <= 0 OR used_bytes + $3 <= quota_bytes) RETURNING modseq`,
		account, copies, total).Scan(&m)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("allocate modseq for account %d: %w", account, err)
	}
	var quota, used int64
	err = tx.QueryRowContext(ctx, `SELECT quota_bytes, used_bytes FROM accounts WHERE id = $1`, account).Scan(&quota, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("account %d: %w", account, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("account %d: %w", account, err)
	}
	return 0, fmt.Errorf("%w: account %d uses %d of %d bytes and the message has %d", store.ErrOverQuota, account, used, quota, total)
}

// placeInFolder takes the next UID of the placement's folder (its account's Inbox when
// none is named) and counts one more message of size bytes there at modseq mod, in
// one statement; only when that finds no folder does a second one say why.
func placeInFolder(ctx context.Context, tx *sql.Tx, p store.Placement, mod store.ModSeq, unseen int, size int64) (store.FolderID, store.UID, error) {
	const set = `UPDATE folders SET uidnext = uidnext + 1, highest_modseq = $3, messages = messages + 1, unseen = unseen + $4, size = size + $5 `
	var (
		folder store.FolderID
		uid    store.UID
		err    error
	)
	if p.Folder == 0 {
		err = tx.QueryRowContext(ctx, set+`WHERE account = $1 AND role = $2 RETURNING id, uidnext - 1`,
			p.Account, string(store.RoleInbox), mod, unseen, size).Scan(&folder, &uid)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, 0, fmt.Errorf("account %d has no Inbox: %w", p.Account, store.ErrNotFound)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("allocate uid in the Inbox of account %d: %w", p.Account, err)
		}
		return folder, uid, nil
	}
	err = tx.QueryRowContext(ctx, set+`WHERE id = $2 AND account = $1 RETURNING id, uidnext - 1`,
		p.Account, p.Folder, mod, unseen, size).Scan(&folder, &uid)
	if err == nil {
		return folder, uid, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, 0, fmt.Errorf("allocate uid in folder %d: %w", p.Folder, err)
	}
	var acct store.AccountID
	err = tx.QueryRowContext(ctx, `SELECT account FROM folders WHERE id = $1`, p.Folder).Scan(&acct)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, fmt.Errorf("folder %d: %w", p.Folder, store.ErrNotFound)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("folder %d: %w", p.Folder, err)
	}
	return 0, 0, fmt.Errorf("folder %d is not in account %d: %w", p.Folder, p.Account, store.ErrCrossAccount)
}

// addBlobRef counts one more reference to a blob inside tx (see addBlobRefs).
func (s *Store) addBlobRef(ctx context.Context, tx *sql.Tx, id string, raw []byte, parsed *mime.Message) error {
	return s.addBlobRefs(ctx, tx, id, raw, parsed, 1)
}

// addBlobRefs counts n more references to a blob inside tx. The first reference also
// stores the search text and header values, and makes sure the file is there: a removal
// of the last reference may have raced with the Put that found the file present, and the
// write lock held here orders the two.
func (s *Store) addBlobRefs(ctx context.Context, tx *sql.Tx, id string, raw []byte, parsed *mime.Message, n int) error {
	var refs int64
	err := tx.QueryRowContext(ctx, `INSERT INTO blobs (id, size, refs) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET refs = blobs.refs + $3 RETURNING refs`, id, len(raw), n).Scan(&refs)
	if err != nil {
		return fmt.Errorf("reference blob: %w", err)
	}
	if refs > int64(n) {
		return nil
	}
	if err := s.blobs.Ensure(ctx, tx, id, raw); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO message_text (blob, body) VALUES ($1, $2)`, id, strings.ToLower(parsed.Text)); err != nil {
		return fmt.Errorf("index message text: %w", err)
	}
	return s.indexHeaders(ctx, tx, id, parsed.Headers)
}

// indexHeaders stores the lower-cased name and value of every header field of a blob
// in one statement: the fields travel as one JSON array of [name, value] pairs, which
// keeps the statement's text (and so its cached prepared form) the same for any count.
func (s *Store) indexHeaders(ctx context.Context, tx *sql.Tx, id string, fields []mime.Field) error {
	if len(fields) == 0 {
		return nil
	}
	pairs := make([][2]string, len(fields))
	for i, f := range fields {
		pairs[i] = [2]string{strings.ToLower(f.Name), strings.ToLower(f.Value)}
	}
	js, err := json.Marshal(pairs)
	if err != nil {
		return fmt.Errorf("index message headers: %w", err)
	}
	q := `INSERT INTO message_headers (blob, name, value) SELECT $1, e.value ->> 0, e.value ->> 1 FROM json_each($2) AS e`
	if s.db.Dialect == db.Postgres {
		q = `INSERT INTO message_headers (blob, name, value) SELECT $1, e ->> 0, e ->> 1 FROM json_array_elements($2::json) AS e`
	}
	if _, err := tx.ExecContext(ctx, q, id, string(js)); err != nil {
		return fmt.Errorf("index message headers: %w", err)
	}
	return nil
}

// dropMessages deletes the messages matching where (with arg) and their references to
// blobs, and returns the blobs no message uses any more. Folder and account counters are
// the caller's business.
func (s *Store) dropMessages(ctx context.Context, tx *sql.Tx, where string, arg any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT blob, count(*) FROM messages WHERE `+where+` GROUP BY blob`, arg)
	if err != nil {
		return nil, fmt.Errorf("find messages to remove: %w", err)
	}
	counts := map[string]int64{}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find messages to remove: %w", err)
		}
		counts[id] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find messages to remove: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE `+where, arg); err != nil {
		return nil, fmt.Errorf("remove messages: %w", err)
	}
	return s.releaseBlobs(ctx, tx, counts)
}

// releaseBlobs drops counts[id] references from each blob and deletes the rows of blobs
// left with none, returning their ids (sorted) so the caller removes the files after
// commit. The UPDATE locks each blobs row, which orders this against a delivery adding
// a reference to the same bytes (addBlobRef's upsert) on any node.
func (s *Store) releaseBlobs(ctx context.Context, tx *sql.Tx, counts map[string]int64) ([]string, error) {
	var orphans []string
	for id, n := range counts {
		var refs int64
		if err := tx.QueryRowContext(ctx, `UPDATE blobs SET refs = refs - $2 WHERE id = $1 RETURNING refs`, id, n).Scan(&refs); err != nil {
			return nil, fmt.Errorf("release blob %s: %w", id, err)
		}
		if refs > 0 {
			continue
		}
		for _, q := range []string{
			`DELETE FROM message_text WHERE blob = $1`,
			`DELETE FROM message_headers WHERE blob = $1`,
			`DELETE FROM blobs WHERE id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return nil, fmt.Errorf("release blob %s: %w", id, err)
			}
		}
		if err := s.blobs.Drop(ctx, tx, id); err != nil {
			return nil, err
		}
		orphans = append(orphans, id)
	}
	sort.Strings(orphans)
	return orphans, nil
}

// removeBlobs deletes the files of blobs whose rows are gone. It runs under the write lock
// (see addBlobRef). A failure leaves a stray file, which costs space but loses nothing.
// (A blob.Table dropped its rows in the transaction already.)
func (s *Store) removeBlobs(ids []string) {
	var errs []error
	for _, id := range ids {
		if err := s.blobs.Remove(id); err != nil && !errors.Is(err, blob.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		s.opts.Logger.Warn("unreferenced blob files left behind", "err", errors.Join(errs...))
	}
}
