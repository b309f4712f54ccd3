package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"mailroom/internal/db"
	"mailroom/internal/store"
)

// Copy implements store.Store. The folders may belong to different accounts (a user
// copying out of a shared mailbox); the destination's quota applies.
func (s *Store) Copy(ctx context.Context, from store.FolderID, uids []store.UID, to store.FolderID) (store.CopyResult, error) {
	return s.transfer(ctx, from, uids, to, false)
}

// Move implements store.Store (RFC 6851): the copies appear and the originals vanish in
// one transaction.
func (s *Store) Move(ctx context.Context, from store.FolderID, uids []store.UID, to store.FolderID) (store.CopyResult, error) {
	return s.transfer(ctx, from, uids, to, true)
}

func (s *Store) transfer(ctx context.Context, from store.FolderID, uids []store.UID, to store.FolderID, move bool) (store.CopyResult, error) {
	uids = sortUIDs(uids)
	var res store.CopyResult
	var srcAcct, dstAcct store.AccountID
	var srcMod store.ModSeq
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res = store.CopyResult{}
		srcMod = 0
		var err error
		if srcAcct, err = folderAccount(ctx, tx, from); err != nil {
			return err
		}
		if dstAcct, err = folderAccount(ctx, tx, to); err != nil {
			return err
		}
		if err := s.lockAccounts(ctx, tx, srcAcct, dstAcct); err != nil {
			return err
		}
		if move && from == to {
			return fmt.Errorf("%w: cannot move messages into the folder they are in", store.ErrInvalid)
		}
		if err := tx.QueryRowContext(ctx, `SELECT uidvalidity FROM folders WHERE id = $1`, to).Scan(&res.UIDValidity); err != nil {
			return fmt.Errorf("folder %d: %w", to, err)
		}
		rows, err := selectRows(ctx, tx, from, uids)
		if err != nil || len(rows) == 0 {
			return err
		}
		var total int64
		var unseen int
		seen := flagBit[store.FlagSeen]
		for _, r := range rows {
			total += r.size
			if r.bits&seen == 0 {
				unseen++
			}
		}
		// Within one account a move changes no usage; anything else adds to the destination.
		if !move || srcAcct != dstAcct {
			var quota, used int64
			if err := tx.QueryRowContext(ctx, `SELECT quota_bytes, used_bytes FROM accounts WHERE id = $1`, dstAcct).Scan(&quota, &used); err != nil {
				return fmt.Errorf("account %d: %w", dstAcct, err)
			}
			if quota > 0 && used+total > quota {
				return fmt.Errorf("%w: account %d uses %d of %d bytes and the messages have %d", store.ErrOverQuota, dstAcct, used, quota, total)
			}
		}
		if res.ModSeq, err = nextModSeq(ctx, tx, dstAcct); err != nil {
			return err
		}
		for _, r := range rows {
			var uid store.UID
			if err := tx.QueryRowContext(ctx, `UPDATE folders SET uidnext = uidnext + 1 WHERE id = $1 RETURNING uidnext - 1`, to).Scan(&uid); err != nil {
				return fmt.Errorf("allocate uid in folder %d: %w", to, err)
			}
			var id store.MessageID
			err := tx.QueryRowContext(ctx, `INSERT INTO messages (account, folder, uid, modseq, flags, keywords, size, internal_date, sent_date, blob, message_id, summary, props)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
				dstAcct, to, uid, res.ModSeq, r.bits, r.kws, r.size, r.date, r.sent, r.blob, r.msgID, r.sum, r.props).Scan(&id)
			if err != nil {
				return fmt.Errorf("copy message %d: %w", r.id, err)
			}
			if !move {
				if _, err := tx.ExecContext(ctx, `UPDATE blobs SET refs = refs + 1 WHERE id = $1`, r.blob); err != nil {
					return fmt.Errorf("reference blob: %w", err)
				}
			}
			if err := logChange(ctx, tx, dstAcct, store.Change{ModSeq: res.ModSeq, Kind: store.ChangeAdded, Folder: to, Message: id, UID: uid}); err != nil {
				return err
			}
			res.Source = append(res.Source, r.uid)
			res.Dest = append(res.Dest, uid)
		}
		if err := touchFolder(ctx, tx, to, res.ModSeq, len(rows), unseen, total); err != nil {
			return err
		}
		if !move || srcAcct != dstAcct {
			if err := adjustAccount(ctx, tx, dstAcct, len(rows), total); err != nil {
				return err
			}
		}
		if !move {
			return nil
		}
		// The originals go; their blobs stay referenced by the copies.
		srcMod = res.ModSeq
		if srcAcct != dstAcct {
			if srcMod, err = nextModSeq(ctx, tx, srcAcct); err != nil {
				return err
			}
			if err := adjustAccount(ctx, tx, srcAcct, -len(rows), -total); err != nil {
				return err
			}
		}
		for _, r := range rows {
			if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id = $1`, r.id); err != nil {
				return fmt.Errorf("move message %d: %w", r.id, err)
			}
			if err := logChange(ctx, tx, srcAcct, store.Change{ModSeq: srcMod, Kind: store.ChangeExpunged, Folder: from, Message: r.id, UID: r.uid}); err != nil {
				return err
			}
		}
		return touchFolder(ctx, tx, from, srcMod, -len(rows), -unseen, -total)
	})
	if err != nil {
		return store.CopyResult{}, err
	}
	if res.ModSeq != 0 {
		s.hub.publish(dstAcct, res.ModSeq)
	}
	if srcMod != 0 {
		s.hub.publish(srcAcct, srcMod)
	}
	return res, nil
}

// Expunge implements store.Store.
func (s *Store) Expunge(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.UID, error) {
	uids = sortUIDs(uids)
	var gone []store.UID
	var account store.AccountID
	var m store.ModSeq
	var orphans []string
	err := s.db.Write(ctx, db.Work{
		Tx: func(tx *sql.Tx) error {
			gone, m, orphans = nil, 0, nil
			var err error
			if account, err = folderAccount(ctx, tx, folder); err != nil {
				return err
			}
			if err := s.lockAccounts(ctx, tx, account); err != nil {
				return err
			}
			rows, err := selectRows(ctx, tx, folder, uids)
			if err != nil || len(rows) == 0 {
				return err
			}
			if m, err = nextModSeq(ctx, tx, account); err != nil {
				return err
			}
			counts := map[string]int64{}
			var total int64
			var unseen int
			for _, r := range rows {
				if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id = $1`, r.id); err != nil {
					return fmt.Errorf("expunge message %d: %w", r.id, err)
				}
				if err := logChange(ctx, tx, account, store.Change{ModSeq: m, Kind: store.ChangeExpunged, Folder: folder, Message: r.id, UID: r.uid}); err != nil {
					return err
				}
				counts[r.blob]++
				total += r.size
				if r.bits&flagBit[store.FlagSeen] == 0 {
					unseen++
				}
				gone = append(gone, r.uid)
			}
			if orphans, err = s.releaseBlobs(ctx, tx, counts); err != nil {
				return err
			}
			if err := adjustAccount(ctx, tx, account, -len(rows), -total); err != nil {
				return err
			}
			return touchFolder(ctx, tx, folder, m, -len(rows), -unseen, -total)
		},
		After: func(err error) {
			if err == nil {
				s.removeBlobs(orphans)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	if m != 0 {
		s.hub.publish(account, m)
	}
	return gone, nil
}
