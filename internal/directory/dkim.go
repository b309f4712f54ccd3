package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DKIMKey is a domain's DKIM signing key.
type DKIMKey struct {
	Domain     string    `json:"domain"`
	Selector   string    `json:"selector"`
	PrivateKey []byte    `json:"-"` // PEM; never printed
	Created    time.Time `json:"created"`
}

// SetDKIMKey stores (or replaces) the DKIM signing key of one of our domains.
func (d *Directory) SetDKIMKey(ctx context.Context, domain, selector string, privatePEM []byte) error {
	name, err := parseDomainName(domain)
	if err != nil {
		return err
	}
	if err := checkLabel(selector); err != nil {
		return fmt.Errorf("%w: DKIM selector %q: %v", ErrInvalid, selector, err)
	}
	if len(privatePEM) == 0 {
		return fmt.Errorf("%w: DKIM key of %s is empty", ErrInvalid, name)
	}
	return d.serialTx(ctx, func(tx *sql.Tx) error {
		if _, err := domainByName(ctx, tx, name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO dkim_keys (domain, selector, private_key, created) VALUES ($1, $2, $3, $4)
			ON CONFLICT (domain) DO UPDATE SET selector = excluded.selector, private_key = excluded.private_key, created = excluded.created`,
			name, selector, string(privatePEM), d.micros())
		if err != nil {
			return fmt.Errorf("store DKIM key of %s: %w", name, err)
		}
		return nil
	})
}

// DKIMKey returns the DKIM signing key of a domain; ErrNotFound when it has none.
func (d *Directory) DKIMKey(ctx context.Context, domain string) (DKIMKey, error) {
	name, err := parseDomainName(domain)
	if err != nil {
		return DKIMKey{}, err
	}
	k := DKIMKey{Domain: name}
	var pem string
	var created int64
	err = d.db.Read().QueryRowContext(ctx, `SELECT selector, private_key, created FROM dkim_keys WHERE domain = $1`, name).
		Scan(&k.Selector, &pem, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("%w: domain %s has no DKIM key", ErrNotFound, name)
	}
	if err != nil {
		return k, fmt.Errorf("DKIM key of %s: %w", name, err)
	}
	k.PrivateKey, k.Created = []byte(pem), fromMicros(created)
	return k, nil
}
