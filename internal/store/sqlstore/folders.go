package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"mailroom/internal/db"
	"mailroom/internal/store"
)

// EnsureAccount implements store.Store.
func (s *Store) EnsureAccount(ctx context.Context, id store.AccountID) (store.Account, error) {
	if id <= 0 {
		return store.Account{}, fmt.Errorf("account id %d: %w", id, store.ErrInvalid)
	}
	var created []store.FolderID
	var modseq store.ModSeq
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		created = created[:0]
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`, id); err != nil {
			return fmt.Errorf("create account %d: %w", id, err)
		}
		if err := s.lockAccounts(ctx, tx, id); err != nil {
			return err
		}
		for _, df := range store.DefaultFolders {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM folders WHERE account = $1 AND role = $2`, id, string(df.Role)).Scan(&n); err != nil {
				return fmt.Errorf("create account %d: %w", id, err)
			}
			if n > 0 {
				continue
			}
			m, err := nextModSeq(ctx, tx, id)
			if err != nil {
				return err
			}
			f, err := s.insertFolder(ctx, tx, id, 0, df.Name, df.Role, m)
			if err != nil {
				return err
			}
			created = append(created, f)
			modseq = m
		}
		return nil
	})
	if err != nil {
		return store.Account{}, err
	}
	if len(created) > 0 {
		s.hub.publish(id, modseq)
	}
	return s.Account(ctx, id)
}

// Account implements store.Store.
func (s *Store) Account(ctx context.Context, id store.AccountID) (store.Account, error) {
	a := store.Account{ID: id}
	err := s.db.Read().QueryRowContext(ctx, `SELECT modseq, quota_bytes, used_bytes, messages FROM accounts WHERE id = $1`, id).
		Scan(&a.ModSeq, &a.QuotaBytes, &a.UsedBytes, &a.Messages)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("account %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("account %d: %w", id, err)
	}
	return a, nil
}

// SetQuota implements store.Store.
func (s *Store) SetQuota(ctx context.Context, id store.AccountID, bytes int64) error {
	if bytes < 0 {
		return fmt.Errorf("quota %d: %w: must not be negative", bytes, store.ErrInvalid)
	}
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET quota_bytes = $2 WHERE id = $1`, id, bytes)
		if err != nil {
			return fmt.Errorf("set quota of account %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("account %d: %w", id, store.ErrNotFound)
		}
		return nil
	})
}

// RemoveAccount implements store.Store.
func (s *Store) RemoveAccount(ctx context.Context, id store.AccountID) error {
	var orphans []string
	return s.db.Write(ctx, db.Work{
		Tx: func(tx *sql.Tx) error {
			orphans = nil
			if err := s.lockAccounts(ctx, tx, id); err != nil {
				return err
			}
			var err error
			orphans, err = s.dropMessages(ctx, tx, `account = $1`, id)
			if err != nil {
				return err
			}
			for _, q := range []string{
				`DELETE FROM changes WHERE account = $1`,
				`DELETE FROM folders WHERE account = $1`,
				`DELETE FROM accounts WHERE id = $1`,
			} {
				if _, err := tx.ExecContext(ctx, q, id); err != nil {
					return fmt.Errorf("remove account %d: %w", id, err)
				}
			}
			return nil
		},
		After: func(err error) {
			if err == nil {
				s.removeBlobs(orphans)
			}
		},
	})
}

// validFolderName checks one level of a folder name. The hierarchy separator is the
// store's business (folders have parents), so "/" is refused inside a name to keep IMAP's
// view unambiguous.
func validFolderName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: folder name is empty", store.ErrInvalid)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: folder name %q is not UTF-8", store.ErrInvalid, name)
	case len(name) > 255:
		return fmt.Errorf("%w: folder name is longer than 255 bytes", store.ErrInvalid)
	case strings.ContainsAny(name, "/\x00\r\n"):
		return fmt.Errorf("%w: folder name %q contains '/' or a control character", store.ErrInvalid, name)
	case strings.EqualFold(name, "INBOX") && name != "INBOX":
		return fmt.Errorf("%w: folder name %q differs from INBOX only in case", store.ErrInvalid, name)
	}
	return nil
}

func (s *Store) insertFolder(ctx context.Context, tx *sql.Tx, account store.AccountID, parent store.FolderID, name string, role store.Role, m store.ModSeq) (store.FolderID, error) {
	var id store.FolderID
	err := tx.QueryRowContext(ctx, `INSERT INTO folders (account, parent, name, role, highest_modseq) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		account, parent, name, string(role), m).Scan(&id)
	if err != nil {
		if s.db.IsUniqueViolation(err) {
			return 0, fmt.Errorf("folder %q: %w", name, store.ErrExists)
		}
		return 0, fmt.Errorf("create folder %q: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE folders SET uidvalidity = id WHERE id = $1`, id); err != nil {
		return 0, fmt.Errorf("create folder %q: %w", name, err)
	}
	return id, logChange(ctx, tx, account, store.Change{ModSeq: m, Kind: store.ChangeFolderCreated, Folder: id})
}

const folderColumns = `id, account, parent, name, role, uidvalidity, uidnext, highest_modseq, subscribed, messages, unseen, size`

func scanFolder(row interface{ Scan(...any) error }) (store.Folder, error) {
	var f store.Folder
	var role string
	var sub int
	err := row.Scan(&f.ID, &f.Account, &f.Parent, &f.Name, &role, &f.UIDValidity, &f.UIDNext, &f.HighestModSeq, &sub, &f.Messages, &f.Unseen, &f.Size)
	f.Role = store.Role(role)
	f.Subscribed = sub != 0
	return f, err
}

// Folders implements store.Store. Folders come parents first, in path order.
func (s *Store) Folders(ctx context.Context, id store.AccountID) ([]store.Folder, error) {
	all, err := s.accountFolders(ctx, `$1`, id)
	if err != nil {
		return nil, fmt.Errorf("folders of account %d: %w", id, err)
	}
	return all, nil
}

// accountFolders reads the folders of the account that the SQL expression account
// (with its argument arg as $1) names, with their paths, parents first.
func (s *Store) accountFolders(ctx context.Context, account string, arg any) ([]store.Folder, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT `+folderColumns+` FROM folders WHERE account = `+account, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []store.Folder
	for rows.Next() {
		f, err := scanFolder(rows)
		if err != nil {
			return nil, err
		}
		all = append(all, f)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return withPaths(all), nil
}

// withPaths fills in each folder's Path and orders the folders by it.
func withPaths(all []store.Folder) []store.Folder {
	byID := make(map[store.FolderID]*store.Folder, len(all))
	for i := range all {
		byID[all[i].ID] = &all[i]
	}
	var pathOf func(f *store.Folder, depth int) []string
	pathOf = func(f *store.Folder, depth int) []string {
		if f.Path != nil {
			return f.Path
		}
		p, ok := byID[f.Parent]
		if f.Parent == 0 || !ok || depth > len(all) {
			f.Path = []string{f.Name}
			return f.Path
		}
		parent := pathOf(p, depth+1)
		f.Path = append(append(make([]string, 0, len(parent)+1), parent...), f.Name)
		return f.Path
	}
	for i := range all {
		pathOf(&all[i], 0)
	}
	sortFolders(all)
	return all
}

func sortFolders(all []store.Folder) {
	less := func(a, b store.Folder) bool {
		// INBOX first, then by path.
		if (a.Role == store.RoleInbox) != (b.Role == store.RoleInbox) {
			return a.Role == store.RoleInbox
		}
		for i := 0; i < len(a.Path) && i < len(b.Path); i++ {
			if a.Path[i] != b.Path[i] {
				return a.Path[i] < b.Path[i]
			}
		}
		return len(a.Path) < len(b.Path)
	}
	for i := 1; i < len(all); i++ {
		for j := i; j > 0 && less(all[j], all[j-1]); j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
}

// Folder implements store.Store.
func (s *Store) Folder(ctx context.Context, id store.FolderID) (store.Folder, error) {
	// One statement: the folder comes with its account's others, for its path.
	all, err := s.accountFolders(ctx, `(SELECT account FROM folders WHERE id = $1)`, id)
	if err != nil {
		return store.Folder{}, fmt.Errorf("folder %d: %w", id, err)
	}
	for _, g := range all {
		if g.ID == id {
			return g, nil
		}
	}
	return store.Folder{}, fmt.Errorf("folder %d: %w", id, store.ErrNotFound)
}

// FolderByPath implements store.Store. The first level "INBOX" matches case-insensitively.
func (s *Store) FolderByPath(ctx context.Context, id store.AccountID, path []string) (store.Folder, error) {
	all, err := s.Folders(ctx, id)
	if err != nil {
		return store.Folder{}, err
	}
	for _, f := range all {
		if samePath(f.Path, path) {
			return f, nil
		}
	}
	return store.Folder{}, fmt.Errorf("folder %q: %w", strings.Join(path, "/"), store.ErrNotFound)
}

func samePath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] == b[i] || (i == 0 && strings.EqualFold(a[i], "INBOX") && strings.EqualFold(b[i], "INBOX")) {
			continue
		}
		return false
	}
	return true
}

// FolderByRole implements store.Store.
func (s *Store) FolderByRole(ctx context.Context, id store.AccountID, role store.Role) (store.Folder, error) {
	var fid store.FolderID
	err := s.db.Read().QueryRowContext(ctx, `SELECT id FROM folders WHERE account = $1 AND role = $2`, id, string(role)).Scan(&fid)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Folder{}, fmt.Errorf("account %d has no %s folder: %w", id, role, store.ErrNotFound)
	}
	if err != nil {
		return store.Folder{}, fmt.Errorf("folder with role %s: %w", role, err)
	}
	return s.Folder(ctx, fid)
}

// CreateFolder implements store.Store.
func (s *Store) CreateFolder(ctx context.Context, id store.AccountID, parent store.FolderID, name string, role store.Role) (store.Folder, error) {
	if err := validFolderName(name); err != nil {
		return store.Folder{}, err
	}
	var fid store.FolderID
	var m store.ModSeq
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockAccounts(ctx, tx, id); err != nil {
			return err
		}
		if parent != 0 {
			var acct store.AccountID
			err := tx.QueryRowContext(ctx, `SELECT account FROM folders WHERE id = $1`, parent).Scan(&acct)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("parent folder %d: %w", parent, store.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("parent folder %d: %w", parent, err)
			}
			if acct != id {
				return fmt.Errorf("parent folder %d: %w", parent, store.ErrCrossAccount)
			}
		}
		if role != store.RoleNone {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM folders WHERE account = $1 AND role = $2`, id, string(role)).Scan(&n); err != nil {
				return fmt.Errorf("create folder %q: %w", name, err)
			}
			if n > 0 {
				return fmt.Errorf("a folder with role %s: %w", role, store.ErrExists)
			}
		}
		var err error
		if m, err = nextModSeq(ctx, tx, id); err != nil {
			return err
		}
		fid, err = s.insertFolder(ctx, tx, id, parent, name, role, m)
		return err
	})
	if err != nil {
		return store.Folder{}, err
	}
	s.hub.publish(id, m)
	return s.Folder(ctx, fid)
}

// RenameFolder implements store.Store.
func (s *Store) RenameFolder(ctx context.Context, folder, newParent store.FolderID, newName string) (store.Folder, error) {
	if err := validFolderName(newName); err != nil {
		return store.Folder{}, err
	}
	var account store.AccountID
	var m store.ModSeq
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockFolderAccount(ctx, tx, folder); err != nil {
			return err
		}
		var role string
		err := tx.QueryRowContext(ctx, `SELECT account, role FROM folders WHERE id = $1`, folder).Scan(&account, &role)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("folder %d: %w", folder, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("rename folder %d: %w", folder, err)
		}
		if store.Role(role) == store.RoleInbox {
			return fmt.Errorf("%w: the Inbox cannot be renamed", store.ErrRoleFolder)
		}
		// The new parent must be in the same account and must not be the folder itself
		// or one of its descendants.
		for p := newParent; p != 0; {
			if p == folder {
				return fmt.Errorf("%w: a folder cannot move under itself", store.ErrInvalid)
			}
			var acct store.AccountID
			var up store.FolderID
			err := tx.QueryRowContext(ctx, `SELECT account, parent FROM folders WHERE id = $1`, p).Scan(&acct, &up)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("parent folder %d: %w", p, store.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("rename folder %d: %w", folder, err)
			}
			if acct != account {
				return fmt.Errorf("parent folder %d: %w", p, store.ErrCrossAccount)
			}
			p = up
		}
		if m, err = nextModSeq(ctx, tx, account); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE folders SET parent = $2, name = $3, highest_modseq = $4 WHERE id = $1`, folder, newParent, newName, m)
		if s.db.IsUniqueViolation(err) {
			return fmt.Errorf("folder %q: %w", newName, store.ErrExists)
		}
		if err != nil {
			return fmt.Errorf("rename folder %d: %w", folder, err)
		}
		return logChange(ctx, tx, account, store.Change{ModSeq: m, Kind: store.ChangeFolderUpdated, Folder: folder})
	})
	if err != nil {
		return store.Folder{}, err
	}
	s.hub.publish(account, m)
	return s.Folder(ctx, folder)
}

// DeleteFolder implements store.Store.
func (s *Store) DeleteFolder(ctx context.Context, folder store.FolderID) error {
	var account store.AccountID
	var m store.ModSeq
	var orphans []string
	err := s.db.Write(ctx, db.Work{
		Tx: func(tx *sql.Tx) error {
			orphans = nil
			if err := s.lockFolderAccount(ctx, tx, folder); err != nil {
				return err
			}
			var role string
			err := tx.QueryRowContext(ctx, `SELECT account, role FROM folders WHERE id = $1`, folder).Scan(&account, &role)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("folder %d: %w", folder, store.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("delete folder %d: %w", folder, err)
			}
			if store.Role(role) == store.RoleInbox {
				return fmt.Errorf("%w: the Inbox cannot be deleted", store.ErrRoleFolder)
			}
			var children int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM folders WHERE parent = $1`, folder).Scan(&children); err != nil {
				return fmt.Errorf("delete folder %d: %w", folder, err)
			}
			if children > 0 {
				return fmt.Errorf("folder %d: %w", folder, store.ErrHasChildren)
			}
			if m, err = nextModSeq(ctx, tx, account); err != nil {
				return err
			}
			var count int
			var size int64
			if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM messages WHERE folder = $1`, folder).Scan(&count, &size); err != nil {
				return fmt.Errorf("delete folder %d: %w", folder, err)
			}
			if orphans, err = s.dropMessages(ctx, tx, `folder = $1`, folder); err != nil {
				return err
			}
			if err := adjustAccount(ctx, tx, account, -count, -size); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM folders WHERE id = $1`, folder); err != nil {
				return fmt.Errorf("delete folder %d: %w", folder, err)
			}
			return logChange(ctx, tx, account, store.Change{ModSeq: m, Kind: store.ChangeFolderDeleted, Folder: folder})
		},
		After: func(err error) {
			if err == nil {
				s.removeBlobs(orphans)
			}
		},
	})
	if err != nil {
		return err
	}
	s.hub.publish(account, m)
	return nil
}

// SetSubscribed implements store.Store. Subscription is per-user client state (IMAP LSUB)
// and is not a change to the mailbox, so it takes no ModSeq.
func (s *Store) SetSubscribed(ctx context.Context, folder store.FolderID, subscribed bool) error {
	v := 0
	if subscribed {
		v = 1
	}
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE folders SET subscribed = $2 WHERE id = $1`, folder, v)
		if err != nil {
			return fmt.Errorf("subscribe folder %d: %w", folder, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("folder %d: %w", folder, store.ErrNotFound)
		}
		return nil
	})
}
