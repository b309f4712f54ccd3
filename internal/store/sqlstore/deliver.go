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
	in, err := s.prepare(ctx, m)
	if err != nil {
		return nil, err
	}
	size, blobID := in.size, in.content.id

	unseen := 0
	if in.flags&flagBit[store.FlagSeen] == 0 {
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
			if err := s.addBlobRefs(ctx, tx, in.content, len(to)); err != nil {
				return err
			}
			for _, p := range to {
				mod := modseqs[p.Account]
				folder, uid, err := placeInFolder(ctx, tx, p, mod, unseen, size)
				if err != nil {
					return err
				}
				id, err := in.insert(ctx, tx, p.Account, folder, uid, mod)
				if err != nil {
					return err
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

// incoming is a new message made ready for its write transaction: everything that
// needs no lock (checks, parsing, encoding, and writing a large blob's file) is done.
type incoming struct {
	size      int64
	flags     int64
	keywords  string
	date      int64 // microseconds
	sent      int64 // microseconds; 0 without a usable Date field
	messageID string
	summary   string
	props     string
	content
}

// prepare checks m, parses it and stores its bytes (see blob.Store.Put).
func (s *Store) prepare(ctx context.Context, m store.NewMessage) (*incoming, error) {
	if len(m.Raw) == 0 {
		return nil, fmt.Errorf("%w: the message is empty", store.ErrInvalid)
	}
	size := int64(len(m.Raw))
	if s.opts.MaxMessageSize > 0 && size > s.opts.MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes is over the limit of %d", store.ErrTooLarge, size, s.opts.MaxMessageSize)
	}
	in := &incoming{size: size}
	var err error
	if in.flags, in.keywords, err = splitFlags(m.Flags); err != nil {
		return nil, err
	}
	parsed := mime.Parse(m.Raw)
	sum, err := json.Marshal(summary{Envelope: parsed.Envelope, Root: parsed.Root})
	if err != nil {
		return nil, fmt.Errorf("encode message summary: %w", err)
	}
	in.summary = string(sum)
	if len(m.Props) > 0 {
		b, err := json.Marshal(m.Props)
		if err != nil {
			return nil, fmt.Errorf("encode message properties: %w", err)
		}
		in.props = string(b)
	}
	date := m.InternalDate
	if date.IsZero() {
		date = s.opts.Now()
	}
	in.date = micros(date)
	if t, ok := parsed.Envelope.SentDate(); ok {
		in.sent = micros(t)
	}
	in.messageID = strings.TrimSpace(parsed.Envelope.MessageID)
	blobID, err := s.blobs.Put(ctx, m.Raw)
	if err != nil {
		return nil, err
	}
	if in.content, err = s.newContent(blobID, m.Raw, parsed); err != nil {
		return nil, err
	}
	return in, nil
}

// insert adds the messages row of in as uid in folder of account, at modseq mod.
func (in *incoming) insert(ctx context.Context, tx *sql.Tx, account store.AccountID, folder store.FolderID, uid store.UID, mod store.ModSeq) (store.MessageID, error) {
	var id store.MessageID
	err := tx.QueryRowContext(ctx, `INSERT INTO messages (account, folder, uid, modseq, flags, keywords, size, internal_date, sent_date, blob, message_id, summary, props)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		account, folder, uid, mod, in.flags, in.keywords, in.size, in.date, in.sent, in.content.id,
		in.messageID, in.summary, in.props).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("add message to folder %d: %w", folder, err)
	}
	return id, nil
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

// content is what the first reference to a blob writes beside its bytes: the
// lower-cased search text and header fields. It is made before the write lock is
// taken, so concurrent deliveries do this work in parallel, not in the one writer.
//
// A long text (more than the index takes, see longText) that ends with a copy of the
// message's own bytes (mime.TextTail) is not stored twice where SQL can read the
// blob: text then holds what comes before, and search matches the tail in the blob.
type content struct {
	id      string
	raw     []byte
	text    string // parsed.Text, lower-cased, or the part before the tail
	headers string // JSON array of [name, value] pairs, both lower-cased

	tailStart, tailEnd int64 // the tail's bytes in raw; 0 and 0 for none
}

// newContent prepares the search rows of blob id holding raw, parsed.
func (s *Store) newContent(id string, raw []byte, parsed *mime.Message) (content, error) {
	c := content{id: id, raw: raw}
	if tail := parsed.TextTail; s.keepsTail(raw, tail) {
		c.text, c.tailStart, c.tailEnd = lower(parsed.Text), tail.Start, tail.End
	} else {
		c.text = lower(parsed.FullText(raw))
	}
	if len(parsed.Headers) == 0 {
		return c, nil
	}
	pairs := make([][2]string, len(parsed.Headers))
	for i, f := range parsed.Headers {
		pairs[i] = [2]string{lower(f.Name), lower(f.Value)}
	}
	js, err := json.Marshal(pairs)
	if err != nil {
		return content{}, fmt.Errorf("index message headers: %w", err)
	}
	c.headers = string(js)
	return c, nil
}

// addBlobRefs counts n more references to a blob inside tx. The first reference also
// stores the search text and header values, and makes sure the bytes are there: a
// removal of the last reference may have raced with the Put that found the file
// present, and the write lock held here orders the two.
func (s *Store) addBlobRefs(ctx context.Context, tx *sql.Tx, c content, n int) error {
	var refs int64
	err := tx.QueryRowContext(ctx, `INSERT INTO blobs (id, size, refs) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET refs = blobs.refs + $3 RETURNING refs`, c.id, len(c.raw), n).Scan(&refs)
	if err != nil {
		return fmt.Errorf("reference blob: %w", err)
	}
	if refs > int64(n) {
		return nil
	}
	if err := s.blobs.Ensure(ctx, tx, c.id, c.raw); err != nil {
		return err
	}
	insert := `INSERT INTO message_text (blob, body) VALUES ($1, $2)`
	args := []any{c.id, c.text}
	if c.tailEnd > 0 {
		insert = `INSERT INTO message_text (blob, body, tail_start, tail_end) VALUES ($1, $2, $3, $4)`
		args = append(args, c.tailStart, c.tailEnd)
	}
	if _, err := tx.ExecContext(ctx, insert, args...); err != nil {
		return fmt.Errorf("index message text: %w", err)
	}
	return s.indexHeaders(ctx, tx, c)
}

// indexHeaders stores the header fields of c in one statement: they travel as one JSON
// array, which keeps the statement's text (and so its cached prepared form) the same
// for any count.
func (s *Store) indexHeaders(ctx context.Context, tx *sql.Tx, c content) error {
	if c.headers == "" {
		return nil
	}
	q := `INSERT INTO message_headers (blob, name, value) SELECT $1, e.value ->> 0, e.value ->> 1 FROM json_each($2) AS e`
	if s.db.Dialect == db.Postgres {
		q = `INSERT INTO message_headers (blob, name, value) SELECT $1, e ->> 0, e ->> 1 FROM json_array_elements($2::json) AS e`
	}
	if _, err := tx.ExecContext(ctx, q, c.id, c.headers); err != nil {
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
