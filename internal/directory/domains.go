package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Domain is a mail domain Mailroom accepts mail for.
type Domain struct {
	Name    string    `json:"name"`
	NetBIOS string    `json:"netbios"`
	Created time.Time `json:"created"`
	// POP3KeepDeleted makes a POP3 DELE move the message to the mailbox's Deleted
	// Items, where it stays POP3RetentionDays, instead of removing it: POP3 clients
	// delete what they download, often unasked, and users lose mail they meant to keep.
	POP3KeepDeleted   bool `json:"pop3KeepDeleted"`
	POP3RetentionDays int  `json:"pop3RetentionDays"`
}

// Defaults and bounds of the POP3 retention setting; the defaults are also the
// columns' defaults in migration 0003.
const (
	DefaultPOP3RetentionDays = 30
	MaxPOP3RetentionDays     = 3650
)

// maxNetBIOSLen is the length of a NetBIOS domain name: 16 bytes, the last one being
// the service type.
const maxNetBIOSLen = 15

// AddDomain adds a mail domain. An empty netbios derives the NetBIOS name from the first
// label, upper-cased and cut to 15 characters, as Windows does.
func (d *Directory) AddDomain(ctx context.Context, name, netbios string) (Domain, error) {
	n, err := parseDomainName(strings.TrimSpace(name))
	if err != nil {
		return Domain{}, fmt.Errorf("%w: %s", ErrInvalid, err)
	}
	derived := netbios == ""
	if derived {
		netbios, _, _ = strings.Cut(n, ".")
		if len(netbios) > maxNetBIOSLen {
			netbios = strings.TrimRight(netbios[:maxNetBIOSLen], "-")
		}
	}
	nb, err := parseNetBIOS(netbios)
	if err != nil {
		return Domain{}, err
	}
	dom := Domain{Name: n, NetBIOS: nb, Created: fromMicros(d.micros()),
		POP3KeepDeleted: true, POP3RetentionDays: DefaultPOP3RetentionDays}
	err = d.serialTx(ctx, func(tx *sql.Tx) error {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT name FROM domains WHERE name = $1 OR netbios = $2`, n, nb).Scan(&owner)
		switch {
		case err == nil && owner == n:
			return fmt.Errorf("%w: domain %s already exists", ErrExists, n)
		case err == nil && derived:
			return fmt.Errorf("%w: NetBIOS name %s is already used by domain %s; give another NetBIOS name", ErrExists, nb, owner)
		case err == nil:
			return fmt.Errorf("%w: NetBIOS name %s is already used by domain %s", ErrExists, nb, owner)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("add domain %s: %w", n, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO domains (name, netbios, created, pop3_keep_deleted, pop3_retention_days)
			VALUES ($1, $2, $3, $4, $5)`,
			dom.Name, dom.NetBIOS, dom.Created.UnixMicro(), boolInt(dom.POP3KeepDeleted), dom.POP3RetentionDays)
		if err != nil {
			return fmt.Errorf("add domain %s: %w", n, err)
		}
		return nil
	})
	if err != nil {
		return Domain{}, err
	}
	return dom, nil
}

// parseNetBIOS upper-cases a NetBIOS domain name and checks it: 1 to 15 characters of
// A-Z, 0-9 and hyphen (a conservative subset of what NetBIOS permits, and what DOMAIN\user
// logins can be typed with anywhere).
func parseNetBIOS(s string) (string, error) {
	nb := strings.ToUpper(strings.TrimSpace(s))
	if nb == "" || len(nb) > maxNetBIOSLen {
		return "", fmt.Errorf("%w: NetBIOS name %q must have 1 to %d characters", ErrInvalid, s, maxNetBIOSLen)
	}
	for i := 0; i < len(nb); i++ {
		c := nb[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return "", fmt.Errorf("%w: NetBIOS name %q may only contain letters, digits and hyphens", ErrInvalid, s)
		}
	}
	return nb, nil
}

// domainColumns are the columns scanDomain reads, in its order.
const domainColumns = `name, netbios, created, pop3_keep_deleted, pop3_retention_days`

// scanDomain reads one row of domainColumns.
func scanDomain(scan func(dest ...any) error) (Domain, error) {
	var dom Domain
	var created int64
	var keep int
	if err := scan(&dom.Name, &dom.NetBIOS, &created, &keep, &dom.POP3RetentionDays); err != nil {
		return Domain{}, err
	}
	dom.Created, dom.POP3KeepDeleted = fromMicros(created), keep != 0
	return dom, nil
}

// Domains lists the domains by name.
func (d *Directory) Domains(ctx context.Context) ([]Domain, error) {
	rows, err := d.db.Read().QueryContext(ctx, `SELECT `+domainColumns+` FROM domains ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	defer rows.Close()
	var out []Domain
	for rows.Next() {
		dom, err := scanDomain(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("list domains: %w", err)
		}
		out = append(out, dom)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	return out, nil
}

// Domain returns one domain by its name (any case).
func (d *Directory) Domain(ctx context.Context, name string) (Domain, error) {
	return domainByName(ctx, d.db.Read(), name)
}

func domainByName(ctx context.Context, q querier, name string) (Domain, error) {
	n := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
	dom, err := scanDomain(q.QueryRowContext(ctx, `SELECT `+domainColumns+` FROM domains WHERE name = $1`, n).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return Domain{}, unknownDomainError(n)
	}
	if err != nil {
		return Domain{}, fmt.Errorf("domain %s: %w", n, err)
	}
	return dom, nil
}

// SetPOP3Retention sets what a POP3 DELE does in a domain: with keep, the message
// moves to Deleted Items and is purged days later; without, it is removed at QUIT.
// Days must lie between 1 and MaxPOP3RetentionDays even when keep is off, so that
// turning keep on again never starts from a nonsensical period.
func (d *Directory) SetPOP3Retention(ctx context.Context, domain string, keep bool, days int) error {
	if days < 1 || days > MaxPOP3RetentionDays {
		return fmt.Errorf("%w: POP3 retention of %d days; it must be 1 to %d days", ErrInvalid, days, MaxPOP3RetentionDays)
	}
	return d.serialTx(ctx, func(tx *sql.Tx) error {
		dom, err := domainByName(ctx, tx, domain)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE domains SET pop3_keep_deleted = $2, pop3_retention_days = $3 WHERE name = $1`,
			dom.Name, boolInt(keep), days)
		if err != nil {
			return fmt.Errorf("set POP3 retention of %s: %w", dom.Name, err)
		}
		return nil
	})
}

// RemoveDomain removes a domain that no address uses any more.
func (d *Directory) RemoveDomain(ctx context.Context, name string) error {
	return d.serialTx(ctx, func(tx *sql.Tx) error {
		dom, err := domainByName(ctx, tx, name)
		if err != nil {
			return err
		}
		var n int
		err = tx.QueryRowContext(ctx, `SELECT count(*) FROM addresses WHERE domain = $1`, dom.Name).Scan(&n)
		if err != nil {
			return fmt.Errorf("remove domain %s: %w", dom.Name, err)
		}
		if n > 0 {
			var example string
			err := tx.QueryRowContext(ctx, `SELECT address FROM addresses WHERE domain = $1 ORDER BY address LIMIT 1`,
				dom.Name).Scan(&example)
			if err != nil {
				return fmt.Errorf("remove domain %s: %w", dom.Name, err)
			}
			return fmt.Errorf("%w: domain %s is still used by %d address(es), such as %s", ErrInUse, dom.Name, n, example)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE name = $1`, dom.Name); err != nil {
			return fmt.Errorf("remove domain %s: %w", dom.Name, err)
		}
		return nil
	})
}

// unknownDomainError is returned when a domain is not one of ours. It matches both
// ErrUnknownDomain and ErrNotFound: for a caller asking about the domain itself it is
// simply not found, for one adding an address it names the actual problem.
type unknownDomainError string

func (e unknownDomainError) Error() string {
	return fmt.Sprintf("%s: %s is not one of our domains", ErrUnknownDomain, string(e))
}

func (e unknownDomainError) Is(target error) bool {
	return target == ErrUnknownDomain || target == ErrNotFound
}
