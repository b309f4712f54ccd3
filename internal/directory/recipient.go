package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Recipient is where mail to one address goes.
type Recipient struct {
	// Address is the primary address of the user, shared mailbox or group the
	// address belongs to.
	Address string `json:"address"`
	// Users are the mailboxes the mail is delivered to: the one addressed, or a
	// group's members expanded through nested groups, each once, disabled ones left out.
	Users []User `json:"users"`
	// Group is the group addressed, if it is one.
	Group *Group `json:"group,omitempty"`
}

// resolveRecipient says what mail to address is delivered to. Unknown addresses and
// addresses outside our domains give ErrNotFound (the latter also matches
// ErrUnknownDomain, so SMTP can tell "no such user" from "we do not relay").
//
// Plus-addressing: user+tag@domain goes to user@domain, unless user+tag@domain is
// itself an address. A disabled user addressed directly still gets the mail (the
// mailbox exists, as in Exchange); groups skip disabled members.
func (d *Directory) resolveRecipient(ctx context.Context, address string) (Recipient, error) {
	a, err := ParseAddress(strings.TrimSpace(address))
	if err != nil {
		return Recipient{}, err
	}
	q := d.db.Read()
	if _, err := domainByName(ctx, q, a.Domain); err != nil {
		return Recipient{}, err
	}
	ref, err := findByAddress(ctx, q, a.String())
	if errors.Is(err, ErrNotFound) {
		if plus := strings.IndexByte(a.Local, '+'); plus > 0 {
			ref, err = findByAddress(ctx, q, a.Local[:plus]+"@"+a.Domain)
		}
	}
	if errors.Is(err, ErrNotFound) {
		return Recipient{}, fmt.Errorf("%w: no recipient %s", ErrNotFound, a)
	}
	if err != nil {
		return Recipient{}, err
	}
	if ref.kind != kindGroup {
		u, err := userByID(ctx, q, ref.id)
		if err != nil {
			return Recipient{}, err
		}
		return Recipient{Address: u.Address, Users: []User{u}}, nil
	}
	g, err := groupByID(ctx, q, ref.id)
	if err != nil {
		return Recipient{}, err
	}
	// UNION drops groups already visited, so a cycle of nested groups ends.
	users, _, err := queryUsers(ctx, q, `p.enabled = 1 AND p.id IN (WITH RECURSIVE down(id) AS (
			SELECT CAST($1 AS BIGINT)
			UNION SELECT m.member_id FROM group_members m JOIN down ON m.group_id = down.id)
		SELECT id FROM down)`, ref.id)
	if err != nil {
		return Recipient{}, err
	}
	return Recipient{Address: g.Address, Users: users, Group: &g}, nil
}

// findByAddress finds the principal an address (primary or alias, in lower case)
// belongs to.
func findByAddress(ctx context.Context, q querier, addr string) (principalRef, error) {
	var ref principalRef
	err := q.QueryRowContext(ctx, `SELECT p.id, p.kind FROM addresses a JOIN principals p ON p.id = a.principal_id
		WHERE a.address = $1`, addr).Scan(&ref.id, &ref.kind)
	if errors.Is(err, sql.ErrNoRows) {
		return ref, fmt.Errorf("%w: no address %s", ErrNotFound, addr)
	}
	if err != nil {
		return ref, fmt.Errorf("look up %s: %w", addr, err)
	}
	return ref, nil
}
