package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"mailroom/internal/store"
)

// Replace implements store.Store. Like Deliver, the new bytes are written and fsynced
// before the transaction; inside it the new blob is referenced before the old one is
// released, so replacing an item with identical bytes never drops the shared file.
func (s *Store) Replace(ctx context.Context, id store.MessageID, m store.NewMessage) (store.Delivered, error) {
	in, err := s.prepare(ctx, m)
	if err != nil {
		return store.Delivered{}, err
	}
	size, flags := in.size, in.flags

	var out store.Delivered
	err = s.db.Locked(ctx, func(runTx func(func(*sql.Tx) error) error) error {
		var orphans []string
		err := runTx(func(tx *sql.Tx) error {
			out, orphans = store.Delivered{}, nil
			var old row
			var account store.AccountID
			var folder store.FolderID
			lookup := func() error {
				err := tx.QueryRowContext(ctx, `SELECT account, folder, uid, flags, size, blob FROM messages WHERE id = $1`, id).
					Scan(&account, &folder, &old.uid, &old.bits, &old.size, &old.blob)
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("message %d: %w", id, store.ErrNotFound)
				}
				if err != nil {
					return fmt.Errorf("message %d: %w", id, err)
				}
				return nil
			}
			if err := lookup(); err != nil {
				return err
			}
			if err := s.lockAccounts(ctx, tx, account); err != nil {
				return err
			}
			// Read again under the account lock: another node may have moved or removed it.
			if err := lookup(); err != nil {
				return err
			}
			var quota, used int64
			if err := tx.QueryRowContext(ctx, `SELECT quota_bytes, used_bytes FROM accounts WHERE id = $1`, account).Scan(&quota, &used); err != nil {
				return fmt.Errorf("account %d: %w", account, err)
			}
			if quota > 0 && size > old.size && used-old.size+size > quota {
				return fmt.Errorf("%w: account %d uses %d of %d bytes and the replacement adds %d", store.ErrOverQuota, account, used, quota, size-old.size)
			}
			mod, err := nextModSeq(ctx, tx, account)
			if err != nil {
				return err
			}
			if err := s.addBlobRefs(ctx, tx, in.content, 1); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id = $1`, id); err != nil {
				return fmt.Errorf("replace message %d: %w", id, err)
			}
			if err := logChange(ctx, tx, account, store.Change{ModSeq: mod, Kind: store.ChangeExpunged, Folder: folder, Message: id, UID: old.uid}); err != nil {
				return err
			}
			if orphans, err = s.releaseBlobs(ctx, tx, map[string]int64{old.blob: 1}); err != nil {
				return err
			}
			var uid store.UID
			if err := tx.QueryRowContext(ctx, `UPDATE folders SET uidnext = uidnext + 1 WHERE id = $1 RETURNING uidnext - 1`, folder).Scan(&uid); err != nil {
				return fmt.Errorf("allocate uid in folder %d: %w", folder, err)
			}
			nid, err := in.insert(ctx, tx, account, folder, uid, mod)
			if err != nil {
				return fmt.Errorf("replacement of message %d: %w", id, err)
			}
			if err := logChange(ctx, tx, account, store.Change{ModSeq: mod, Kind: store.ChangeAdded, Folder: folder, Message: nid, UID: uid}); err != nil {
				return err
			}
			dUnseen := unseenCount(flags) - unseenCount(old.bits)
			if err := touchFolder(ctx, tx, folder, mod, 0, dUnseen, size-old.size); err != nil {
				return err
			}
			if err := adjustAccount(ctx, tx, account, 0, size-old.size); err != nil {
				return err
			}
			out = store.Delivered{Account: account, Folder: folder, ID: nid, UID: uid, ModSeq: mod}
			return nil
		})
		if err != nil {
			// As in Deliver: the bytes written for nothing go, unless another message has them.
			var n int
			if qerr := s.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM blobs WHERE id = $1`, in.content.id).Scan(&n); qerr == nil && n == 0 {
				s.removeBlobs([]string{in.content.id})
			}
			return err
		}
		s.removeBlobs(orphans)
		return nil
	})
	if err != nil {
		return store.Delivered{}, err
	}
	s.hub.publish(out.Account, out.ModSeq)
	select {
	case s.indexWake <- struct{}{}:
	default:
	}
	return out, nil
}

// unseenCount is 1 for flag bits without \Seen, the folder's unseen counter's unit.
func unseenCount(bits int64) int {
	if bits&flagBit[store.FlagSeen] == 0 {
		return 1
	}
	return 0
}
