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
}

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
	dom := Domain{Name: n, NetBIOS: nb, Created: fromMicros(d.micros())}
	err = d.db.WriteTx(ctx, func(tx *sql.Tx) error {
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
		_, err = tx.ExecContext(ctx, `INSERT INTO domains (name, netbios, created) VALUES ($1, $2, $3)`,
			dom.Name, dom.NetBIOS, dom.Created.UnixMicro())
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

// Domains lists the domains by name.
func (d *Directory) Domains(ctx context.Context) ([]Domain, error) {
	rows, err := d.db.Read().QueryContext(ctx, `SELECT name, netbios, created FROM domains ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	defer rows.Close()
	var out []Domain
	for rows.Next() {
		var dom Domain
		var created int64
		if err := rows.Scan(&dom.Name, &dom.NetBIOS, &created); err != nil {
			return nil, fmt.Errorf("list domains: %w", err)
		}
		dom.Created = fromMicros(created)
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
	var dom Domain
	var created int64
	err := q.QueryRowContext(ctx, `SELECT name, netbios, created FROM domains WHERE name = $1`, n).
		Scan(&dom.Name, &dom.NetBIOS, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Domain{}, unknownDomainError(n)
	}
	if err != nil {
		return Domain{}, fmt.Errorf("domain %s: %w", n, err)
	}
	dom.Created = fromMicros(created)
	return dom, nil
}

// RemoveDomain removes a domain that no address uses any more.
func (d *Directory) RemoveDomain(ctx context.Context, name string) error {
	return d.db.WriteTx(ctx, func(tx *sql.Tx) error {
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
