package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// principalRef names a principal found by one of its keys.
type principalRef struct {
	id   int64
	kind Kind
}

// findPrincipal finds a user, shared mailbox or group by any name it answers to, case
// insensitively: an address (primary or alias), a UPN, DOMAIN\sam (NetBIOS or DNS
// domain name), or a group name.
func findPrincipal(ctx context.Context, q querier, key string) (principalRef, error) {
	k := strings.TrimSpace(key)
	if k == "" {
		return principalRef{}, fmt.Errorf("%w: no name given", ErrInvalid)
	}
	var ref principalRef
	var err error
	switch {
	case strings.Contains(k, `\`):
		dom, sam, _ := strings.Cut(k, `\`)
		err = q.QueryRowContext(ctx, `SELECT p.id, p.kind FROM principals p JOIN domains d ON d.name = p.domain
			WHERE (d.netbios = $1 OR d.name = $2) AND p.sam_key = $3`,
			strings.ToUpper(dom), strings.ToLower(dom), strings.ToLower(sam)).Scan(&ref.id, &ref.kind)
	case strings.Contains(k, "@"):
		lower := strings.ToLower(k)
		err = q.QueryRowContext(ctx, `SELECT p.id, p.kind FROM addresses a JOIN principals p ON p.id = a.principal_id
			WHERE a.address = $1`, lower).Scan(&ref.id, &ref.kind)
		if errors.Is(err, sql.ErrNoRows) {
			err = q.QueryRowContext(ctx, `SELECT id, kind FROM principals WHERE upn_key = $1`, lower).
				Scan(&ref.id, &ref.kind)
		}
	default:
		err = q.QueryRowContext(ctx, `SELECT id, kind FROM principals WHERE name_key = $1`, strings.ToLower(k)).
			Scan(&ref.id, &ref.kind)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return principalRef{}, fmt.Errorf("%w: no user, shared mailbox or group %q", ErrNotFound, k)
	}
	if err != nil {
		return principalRef{}, fmt.Errorf("look up %q: %w", k, err)
	}
	return ref, nil
}

// findMailbox finds a user or shared mailbox.
func findMailbox(ctx context.Context, q querier, key string) (principalRef, error) {
	ref, err := findPrincipal(ctx, q, key)
	if err != nil {
		return ref, err
	}
	if ref.kind == kindGroup {
		return principalRef{}, fmt.Errorf("%w: %q is a group, not a user or shared mailbox", ErrNotFound, strings.TrimSpace(key))
	}
	return ref, nil
}

// findGroup finds a group by name or address.
func findGroup(ctx context.Context, q querier, key string) (principalRef, error) {
	ref, err := findPrincipal(ctx, q, key)
	if err != nil {
		return ref, err
	}
	if ref.kind != kindGroup {
		return principalRef{}, fmt.Errorf("%w: %q is a %s, not a group", ErrNotFound, strings.TrimSpace(key), ref.kind.noun())
	}
	return ref, nil
}

// describe names a principal for an error message: "user alice@example.com",
// "group Sales".
func describe(ctx context.Context, q querier, id int64) string {
	var kind Kind
	var name, addr sql.NullString
	err := q.QueryRowContext(ctx, `SELECT p.kind, p.name, a.address FROM principals p
		LEFT JOIN addresses a ON a.principal_id = p.id AND a.is_primary = 1 WHERE p.id = $1`, id).
		Scan(&kind, &name, &addr)
	if err != nil {
		return fmt.Sprintf("principal %d", id)
	}
	if kind == kindGroup {
		return "group " + name.String
	}
	return kind.noun() + " " + addr.String
}

// checkAddressFree fails with ErrExists if addr is an address of anyone, or the UPN of
// anyone but self (0: no one). Addresses and UPNs share one name space because both
// are login names.
func checkAddressFree(ctx context.Context, q querier, addr string, self int64) error {
	var owner int64
	err := q.QueryRowContext(ctx, `SELECT principal_id FROM addresses WHERE address = $1`, addr).Scan(&owner)
	if err == nil {
		return fmt.Errorf("%w: address %s is already used by %s", ErrExists, addr, describe(ctx, q, owner))
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("check address %s: %w", addr, err)
	}
	err = q.QueryRowContext(ctx, `SELECT id FROM principals WHERE upn_key = $1 AND id <> $2`, addr, self).Scan(&owner)
	if err == nil {
		return fmt.Errorf("%w: address %s is already the UPN of %s", ErrExists, addr, describe(ctx, q, owner))
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("check address %s: %w", addr, err)
	}
	return nil
}

// checkUPNFree fails with ErrExists if upnKey is the UPN or an address of anyone but
// self.
func checkUPNFree(ctx context.Context, q querier, upnKey string, self int64) error {
	var owner int64
	err := q.QueryRowContext(ctx, `SELECT id FROM principals WHERE upn_key = $1 AND id <> $2
		UNION SELECT principal_id FROM addresses WHERE address = $1 AND principal_id <> $2`, upnKey, self).Scan(&owner)
	if err == nil {
		return fmt.Errorf("%w: UPN %s is already used by %s", ErrExists, upnKey, describe(ctx, q, owner))
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("check UPN %s: %w", upnKey, err)
	}
	return nil
}

// checkSAMFree fails with ErrExists if another principal of domain has the
// sAMAccountName samKey.
func checkSAMFree(ctx context.Context, q querier, domain, samKey string, self int64) error {
	var owner int64
	err := q.QueryRowContext(ctx, `SELECT id FROM principals WHERE domain = $1 AND sam_key = $2 AND id <> $3`,
		domain, samKey, self).Scan(&owner)
	if err == nil {
		return fmt.Errorf("%w: sAMAccountName %s is already used in domain %s by %s", ErrExists, samKey, domain,
			describe(ctx, q, owner))
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("check sAMAccountName %s: %w", samKey, err)
	}
	return nil
}
