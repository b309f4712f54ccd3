package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Group is a set of users, shared mailboxes and other groups. With an address it is
// also a distribution list: mail to the address goes to its members.
type Group struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Address     string   `json:"address,omitempty"`
	DisplayName string   `json:"displayName"`
	Aliases     []string `json:"aliases,omitempty"`
	Members     []Member `json:"members,omitempty"`
}

// Member is a direct member of a group.
type Member struct {
	Kind string `json:"kind"` // "user", "shared" or "group"
	ID   int64  `json:"id"`
	Name string `json:"name"` // primary address, or a group's name
}

// AddGroup creates a group; an empty address makes a group that is not a distribution
// list, an empty display name is the name.
func (d *Directory) AddGroup(ctx context.Context, name, address, displayName string) (Group, error) {
	n, err := checkGroupName(name)
	if err != nil {
		return Group{}, err
	}
	var addr Address
	if strings.TrimSpace(address) != "" {
		if addr, err = ParseAddress(strings.TrimSpace(address)); err != nil {
			return Group{}, err
		}
	}
	dn, err := checkText("display name", displayName)
	if err != nil {
		return Group{}, err
	}
	if dn == "" {
		dn = n
	}
	var id int64
	err = d.serialTx(ctx, func(tx *sql.Tx) error {
		var other string
		err := tx.QueryRowContext(ctx, `SELECT name FROM principals WHERE name_key = $1`, strings.ToLower(n)).Scan(&other)
		if err == nil {
			return fmt.Errorf("%w: there is already a group named %s", ErrExists, other)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("add group %s: %w", n, err)
		}
		var domain any // NULL for a group without address
		if addr.Domain != "" {
			if _, err := domainByName(ctx, tx, addr.Domain); err != nil {
				return err
			}
			if err := checkAddressFree(ctx, tx, addr.String(), 0); err != nil {
				return err
			}
			domain = addr.Domain
		}
		if id, err = nextID(ctx, tx); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO principals (id, kind, domain, name, name_key, display_name, created)
			VALUES ($1, 'group', $2, $3, $4, $5, $6)`, id, domain, n, strings.ToLower(n), dn, d.micros())
		if err != nil {
			return fmt.Errorf("add group %s: %w", n, err)
		}
		if domain != nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO addresses (address, principal_id, domain, is_primary)
				VALUES ($1, $2, $3, 1)`, addr.String(), id, addr.Domain)
			if err != nil {
				return fmt.Errorf("add group %s: %w", n, err)
			}
		}
		return nil
	})
	if err != nil {
		return Group{}, err
	}
	return groupByID(ctx, d.db.Read(), id)
}

// Group returns a group by name or by one of its addresses.
func (d *Directory) Group(ctx context.Context, nameOrAddress string) (Group, error) {
	ref, err := findGroup(ctx, d.db.Read(), nameOrAddress)
	if err != nil {
		return Group{}, err
	}
	return groupByID(ctx, d.db.Read(), ref.id)
}

func groupByID(ctx context.Context, q querier, id int64) (Group, error) {
	gs, err := queryGroups(ctx, q, `p.id = $1`, id)
	if err != nil {
		return Group{}, err
	}
	if len(gs) == 0 {
		return Group{}, fmt.Errorf("%w: no group with id %d", ErrNotFound, id)
	}
	return gs[0], nil
}

// Groups lists all groups by name.
func (d *Directory) Groups(ctx context.Context) ([]Group, error) {
	return queryGroups(ctx, d.db.Read(), `1 = 1`)
}

// RemoveGroup removes a group (by name or address), its addresses and memberships;
// its members stay.
func (d *Directory) RemoveGroup(ctx context.Context, name string) error {
	return d.serialTx(ctx, func(tx *sql.Tx) error {
		ref, err := findGroup(ctx, tx, name)
		if err != nil {
			return err
		}
		// The foreign keys cascade to addresses and group_members.
		if _, err := tx.ExecContext(ctx, `DELETE FROM principals WHERE id = $1`, ref.id); err != nil {
			return fmt.Errorf("remove group %s: %w", name, err)
		}
		return nil
	})
}

// AddMember makes member (a user or shared mailbox by address, alias or UPN, or a
// group by name or address) a direct member of group. Nesting groups in cycles is
// allowed, as in AD; expansion visits each group once.
func (d *Directory) AddMember(ctx context.Context, group, member string) error {
	return d.serialTx(ctx, func(tx *sql.Tx) error {
		g, err := findGroup(ctx, tx, group)
		if err != nil {
			return err
		}
		m, err := findPrincipal(ctx, tx, member)
		if err != nil {
			return err
		}
		if m.id == g.id {
			return fmt.Errorf("%w: group %s cannot be a member of itself", ErrInvalid, strings.TrimSpace(group))
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO group_members (group_id, member_id) VALUES ($1, $2)
			ON CONFLICT (group_id, member_id) DO NOTHING`, g.id, m.id)
		if err != nil {
			return fmt.Errorf("add %s to group %s: %w", member, group, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("add %s to group %s: %w", member, group, err)
		}
		if n == 0 {
			return fmt.Errorf("%w: %s is already a member of %s", ErrExists, describe(ctx, tx, m.id), describe(ctx, tx, g.id))
		}
		return nil
	})
}

// RemoveMember removes a direct member from a group.
func (d *Directory) RemoveMember(ctx context.Context, group, member string) error {
	return d.serialTx(ctx, func(tx *sql.Tx) error {
		g, err := findGroup(ctx, tx, group)
		if err != nil {
			return err
		}
		m, err := findPrincipal(ctx, tx, member)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = $1 AND member_id = $2`, g.id, m.id)
		if err != nil {
			return fmt.Errorf("remove %s from group %s: %w", member, group, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("remove %s from group %s: %w", member, group, err)
		}
		if n == 0 {
			return fmt.Errorf("%w: %s is not a direct member of %s", ErrNotFound, describe(ctx, tx, m.id), describe(ctx, tx, g.id))
		}
		return nil
	})
}

// MemberOf returns every group the user or shared mailbox userID is in, directly or
// through nested groups, by name.
func (d *Directory) MemberOf(ctx context.Context, userID int64) ([]Group, error) {
	q := d.db.Read()
	if _, err := userByID(ctx, q, userID); err != nil {
		return nil, err
	}
	// UNION (not UNION ALL) drops rows already found, which is what ends the recursion
	// when groups nest in a cycle.
	return queryGroups(ctx, q, `p.id IN (WITH RECURSIVE up(id) AS (
			SELECT group_id FROM group_members WHERE member_id = $1
			UNION SELECT m.group_id FROM group_members m JOIN up ON m.member_id = up.id)
		SELECT id FROM up)`, userID)
}

// queryGroups returns the groups p matching cond (an SQL condition with arguments
// args), by name, with their aliases and direct members.
func queryGroups(ctx context.Context, q querier, cond string, args ...any) ([]Group, error) {
	rows, err := q.QueryContext(ctx, `SELECT p.id, p.name, COALESCE(a.address, ''), p.display_name
		FROM principals p LEFT JOIN addresses a ON a.principal_id = p.id AND a.is_primary = 1
		WHERE p.kind = 'group' AND (`+cond+`) ORDER BY p.name_key`, args...)
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	defer rows.Close()
	var groups []Group
	index := map[int64]int{}
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.ID, &g.Name, &g.Address, &g.DisplayName); err != nil {
			return nil, fmt.Errorf("read groups: %w", err)
		}
		index[g.ID] = len(groups)
		groups = append(groups, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	if len(groups) == 0 {
		return nil, nil
	}
	rows.Close()
	aliases, err := queryAliases(ctx, q, `p.kind = 'group' AND (`+cond+`)`, args...)
	if err != nil {
		return nil, err
	}
	for id, as := range aliases {
		groups[index[id]].Aliases = as
	}
	mrows, err := q.QueryContext(ctx, `SELECT m.group_id, mp.kind, mp.id, COALESCE(mp.name, ma.address, '')
		FROM group_members m JOIN principals mp ON mp.id = m.member_id
		LEFT JOIN addresses ma ON ma.principal_id = mp.id AND ma.is_primary = 1
		WHERE m.group_id IN (SELECT p.id FROM principals p WHERE p.kind = 'group' AND (`+cond+`))`, args...)
	if err != nil {
		return nil, fmt.Errorf("read group members: %w", err)
	}
	defer mrows.Close()
	for mrows.Next() {
		var gid int64
		var m Member
		if err := mrows.Scan(&gid, &m.Kind, &m.ID, &m.Name); err != nil {
			return nil, fmt.Errorf("read group members: %w", err)
		}
		g := &groups[index[gid]]
		g.Members = append(g.Members, m)
	}
	if err := mrows.Err(); err != nil {
		return nil, fmt.Errorf("read group members: %w", err)
	}
	for i := range groups {
		ms := groups[i].Members
		sort.Slice(ms, func(a, b int) bool {
			if ms[a].Kind != ms[b].Kind {
				return ms[a].Kind > ms[b].Kind // users, then shared mailboxes, then groups
			}
			return strings.ToLower(ms[a].Name) < strings.ToLower(ms[b].Name)
		})
	}
	return groups, nil
}
