package acl

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"mailroom/internal/db"
)

//go:embed migrations/*/*.sql
var migrationFiles embed.FS

// ErrNotFound is returned when there is no entry to delete.
var ErrNotFound = errors.New("no such access control entry")

// ErrInvalid is returned for an entry that cannot be stored, such as rights for the
// folder's owner.
var ErrInvalid = errors.New("invalid access control entry")

// Entry is one user's rights on one folder.
type Entry struct {
	Folder  int64 // store folder id
	Owner   int64 // the account that holds the folder
	Grantee int64 // the directory principal given the rights
	Rights  Rights
}

// Store keeps access control entries in the database. It is safe for concurrent use.
type Store struct {
	db  *db.DB
	now func() time.Time
}

// Open applies the package's migrations to d and returns the store over it.
func Open(ctx context.Context, d *db.DB) (*Store, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("acl migrations: %w", err)
	}
	if err := d.Migrate(ctx, "acl", sub); err != nil {
		return nil, err
	}
	return &Store{db: d, now: time.Now}, nil
}

// Set gives grantee exactly rights r on folder of owner's account, replacing what it
// held; no rights deletes the entry.
func (s *Store) Set(ctx context.Context, e Entry) error {
	if e.Grantee == e.Owner {
		return fmt.Errorf("%w: the owner of a folder always holds every right", ErrInvalid)
	}
	if e.Rights&^All != 0 {
		return fmt.Errorf("%w: unknown rights %#x", ErrInvalid, uint16(e.Rights&^All))
	}
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if e.Rights == 0 {
			_, err := tx.ExecContext(ctx, `DELETE FROM folder_acl WHERE folder_id = $1 AND grantee_id = $2`, e.Folder, e.Grantee)
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO folder_acl (folder_id, owner_id, grantee_id, rights, created)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (folder_id, grantee_id) DO UPDATE SET rights = excluded.rights, owner_id = excluded.owner_id`,
			e.Folder, e.Owner, e.Grantee, e.Rights.String(), s.now().UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("set rights on folder %d for %d: %w", e.Folder, e.Grantee, err)
	}
	return nil
}

// Delete removes grantee's entry on folder; ErrNotFound when there is none.
func (s *Store) Delete(ctx context.Context, folder, grantee int64) error {
	var n int64
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM folder_acl WHERE folder_id = $1 AND grantee_id = $2`, folder, grantee)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("delete rights on folder %d for %d: %w", folder, grantee, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: folder %d has no entry for %d", ErrNotFound, folder, grantee)
	}
	return nil
}

// DeleteFolder removes every entry of folder, once the folder is gone.
func (s *Store) DeleteFolder(ctx context.Context, folder int64) error {
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM folder_acl WHERE folder_id = $1`, folder)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete rights on folder %d: %w", folder, err)
	}
	return nil
}

// Rights returns what grantee holds on folder: no rights when there is no entry.
func (s *Store) Rights(ctx context.Context, folder, grantee int64) (Rights, error) {
	var text string
	err := s.db.Read().QueryRowContext(ctx, `SELECT rights FROM folder_acl WHERE folder_id = $1 AND grantee_id = $2`,
		folder, grantee).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("rights on folder %d for %d: %w", folder, grantee, err)
	}
	return parseStored(text)
}

// Folder lists the entries of folder, by grantee.
func (s *Store) Folder(ctx context.Context, folder int64) ([]Entry, error) {
	return s.query(ctx, `folder_id = $1 ORDER BY grantee_id`, folder)
}

// SharedWith lists the entries that give grantee rights, by owner and folder.
func (s *Store) SharedWith(ctx context.Context, grantee int64) ([]Entry, error) {
	return s.query(ctx, `grantee_id = $1 ORDER BY owner_id, folder_id`, grantee)
}

func (s *Store) query(ctx context.Context, where string, arg int64) ([]Entry, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT folder_id, owner_id, grantee_id, rights FROM folder_acl WHERE `+where, arg)
	if err != nil {
		return nil, fmt.Errorf("access control entries: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var text string
		if err := rows.Scan(&e.Folder, &e.Owner, &e.Grantee, &text); err != nil {
			return nil, fmt.Errorf("access control entries: %w", err)
		}
		if e.Rights, err = parseStored(text); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("access control entries: %w", err)
	}
	return out, nil
}

func parseStored(text string) (Rights, error) {
	r, err := Parse(text)
	if err != nil {
		return 0, fmt.Errorf("stored rights %q: %w", text, err)
	}
	return r, nil
}
