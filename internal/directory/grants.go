package directory

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// Right is a permission a user holds on another mailbox, as in Exchange.
type Right string

// Mailbox rights.
const (
	FullAccess Right = "FullAccess" // open the mailbox and read and change everything in it
	SendAs     Right = "SendAs"     // send mail from the mailbox's address
)

// Grant is what one user may do with one mailbox.
type Grant struct {
	Mailbox User    `json:"mailbox"`
	User    User    `json:"user"`
	Rights  []Right `json:"rights"`
}

func parseRight(r Right) (Right, error) {
	for _, known := range []Right{FullAccess, SendAs} {
		if strings.EqualFold(string(r), string(known)) {
			return known, nil
		}
	}
	return "", fmt.Errorf("%w: right %q is neither %s nor %s", ErrInvalid, r, FullAccess, SendAs)
}

// Grant gives user (a user, not a shared mailbox) the right r on mailbox (a shared
// mailbox or another user's mailbox).
func (d *Directory) Grant(ctx context.Context, mailbox, user string, r Right) error {
	right, err := parseRight(r)
	if err != nil {
		return err
	}
	return d.serialTx(ctx, func(tx *sql.Tx) error {
		mb, u, err := grantParties(ctx, tx, mailbox, user)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO mailbox_grants (mailbox_id, user_id, access_right, created)
			VALUES ($1, $2, $3, $4) ON CONFLICT (mailbox_id, user_id, access_right) DO NOTHING`,
			mb.id, u.id, string(right), d.micros())
		if err != nil {
			return fmt.Errorf("grant %s on %s to %s: %w", right, mailbox, user, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("grant %s on %s to %s: %w", right, mailbox, user, err)
		}
		if n == 0 {
			return fmt.Errorf("%w: %s already has %s on %s", ErrExists, describe(ctx, tx, u.id), right, describe(ctx, tx, mb.id))
		}
		return nil
	})
}

// Revoke takes the right r on mailbox away from user.
func (d *Directory) Revoke(ctx context.Context, mailbox, user string, r Right) error {
	right, err := parseRight(r)
	if err != nil {
		return err
	}
	return d.serialTx(ctx, func(tx *sql.Tx) error {
		mb, u, err := grantParties(ctx, tx, mailbox, user)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM mailbox_grants WHERE mailbox_id = $1 AND user_id = $2 AND access_right = $3`,
			mb.id, u.id, string(right))
		if err != nil {
			return fmt.Errorf("revoke %s on %s from %s: %w", right, mailbox, user, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("revoke %s on %s from %s: %w", right, mailbox, user, err)
		}
		if n == 0 {
			return fmt.Errorf("%w: %s has no %s on %s", ErrNotFound, describe(ctx, tx, u.id), right, describe(ctx, tx, mb.id))
		}
		return nil
	})
}

// grantParties finds the mailbox and the user of a grant and checks they can be one.
func grantParties(ctx context.Context, q querier, mailbox, user string) (mb, u principalRef, err error) {
	if mb, err = findMailbox(ctx, q, mailbox); err != nil {
		return mb, u, err
	}
	if u, err = findMailbox(ctx, q, user); err != nil {
		return mb, u, err
	}
	if u.kind != KindUser {
		return mb, u, fmt.Errorf("%w: rights are granted to users; %s is a shared mailbox, which never logs in",
			ErrInvalid, describe(ctx, q, u.id))
	}
	if mb.id == u.id {
		return mb, u, fmt.Errorf("%w: %s already owns its mailbox", ErrInvalid, describe(ctx, q, u.id))
	}
	return mb, u, nil
}

// Grants lists who holds rights on mailbox, by user address.
func (d *Directory) Grants(ctx context.Context, mailbox string) ([]Grant, error) {
	q := d.db.Read()
	mb, err := findMailbox(ctx, q, mailbox)
	if err != nil {
		return nil, err
	}
	return queryGrants(ctx, q, `mailbox_id = $1`, mb.id)
}

// GrantsTo lists the mailboxes user userID holds rights on, by mailbox address.
func (d *Directory) GrantsTo(ctx context.Context, userID int64) ([]Grant, error) {
	q := d.db.Read()
	if _, err := userByID(ctx, q, userID); err != nil {
		return nil, err
	}
	return queryGrants(ctx, q, `user_id = $1`, userID)
}

// queryGrants returns the grants matching cond (a condition on mailbox_grants), one
// per pair of mailbox and user, ordered by mailbox and user address.
func queryGrants(ctx context.Context, q querier, cond string, args ...any) ([]Grant, error) {
	rows, err := q.QueryContext(ctx, `SELECT mailbox_id, user_id, access_right FROM mailbox_grants WHERE `+cond+`
		ORDER BY mailbox_id, user_id, access_right`, args...)
	if err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	defer rows.Close()
	type pair struct{ mailbox, user int64 }
	var pairs []pair
	rights := map[pair][]Right{}
	for rows.Next() {
		var p pair
		var r Right
		if err := rows.Scan(&p.mailbox, &p.user, &r); err != nil {
			return nil, fmt.Errorf("read grants: %w", err)
		}
		if _, ok := rights[p]; !ok {
			pairs = append(pairs, p)
		}
		rights[p] = append(rights[p], r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	us, _, err := queryUsers(ctx, q, `p.id IN (SELECT mailbox_id FROM mailbox_grants WHERE `+cond+`)
		OR p.id IN (SELECT user_id FROM mailbox_grants WHERE `+cond+`)`, args...)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]User, len(us))
	rank := make(map[int64]int, len(us)) // users come sorted by address
	for i, u := range us {
		byID[u.ID], rank[u.ID] = u, i
	}
	out := make([]Grant, 0, len(pairs))
	for _, p := range pairs {
		out = append(out, Grant{Mailbox: byID[p.mailbox], User: byID[p.user], Rights: rights[p]})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Mailbox.ID != b.Mailbox.ID {
			return rank[a.Mailbox.ID] < rank[b.Mailbox.ID]
		}
		return rank[a.User.ID] < rank[b.User.ID]
	})
	return out, nil
}
