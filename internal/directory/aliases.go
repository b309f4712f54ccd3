package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// AddAlias gives the user, shared mailbox or group key (an address, or a group's
// name) one more address. The alias must be in one of our domains and used by no one,
// as an address or a UPN.
func (d *Directory) AddAlias(ctx context.Context, key, alias string) error {
	a, err := ParseAddress(strings.TrimSpace(alias))
	if err != nil {
		return err
	}
	return d.serialTx(ctx, func(tx *sql.Tx) error {
		ref, err := findPrincipal(ctx, tx, key)
		if err != nil {
			return err
		}
		if _, err := domainByName(ctx, tx, a.Domain); err != nil {
			return err
		}
		if err := checkAddressFree(ctx, tx, a.String(), ref.id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO addresses (address, principal_id, domain, is_primary) VALUES ($1, $2, $3, 0)`,
			a.String(), ref.id, a.Domain)
		if err != nil {
			return fmt.Errorf("add alias %s: %w", a, err)
		}
		return nil
	})
}

// RemoveAlias removes an alias. A primary address cannot be removed this way.
func (d *Directory) RemoveAlias(ctx context.Context, alias string) error {
	a := strings.ToLower(strings.TrimSpace(alias))
	return d.serialTx(ctx, func(tx *sql.Tx) error {
		var owner int64
		var primary int
		err := tx.QueryRowContext(ctx, `SELECT principal_id, is_primary FROM addresses WHERE address = $1`, a).
			Scan(&owner, &primary)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no alias %q", ErrNotFound, a)
		}
		if err != nil {
			return fmt.Errorf("remove alias %s: %w", a, err)
		}
		if primary != 0 {
			return fmt.Errorf("%w: %s is the primary address of %s, not an alias", ErrInvalid, a, describe(ctx, tx, owner))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM addresses WHERE address = $1`, a); err != nil {
			return fmt.Errorf("remove alias %s: %w", a, err)
		}
		return nil
	})
}
