package dav

import (
	"context"
	"net/netip"
	"strconv"

	"mailroom/internal/directory"
)

// Directory adapts the directory to Authenticator and GAL.
type Directory struct{ Dir *directory.Directory }

// Authenticate implements Authenticator: users sign in with any of their login names;
// shared mailboxes, groups, unknown names, wrong passwords and disabled users do not.
func (d Directory) Authenticate(ctx context.Context, login, password string, _ netip.Addr) (Principal, error) {
	return principal(d.Dir.Authenticate(ctx, login, password))
}

// GAL implements GAL: enabled users, shared mailboxes and groups with an address.
func (d Directory) GAL(ctx context.Context) ([]GALEntry, error) {
	users, err := d.Dir.Users(ctx)
	if err != nil {
		return nil, err
	}
	groups, err := d.Dir.Groups(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]GALEntry, 0, len(users)+len(groups))
	for _, u := range users {
		if u.Kind == directory.KindUser && !u.Enabled {
			continue
		}
		out = append(out, GALEntry{
			ID: string(u.Kind) + "-" + strconv.FormatInt(u.ID, 10), Kind: string(u.Kind),
			DisplayName: u.DisplayName, GivenName: u.GivenName, Surname: u.Surname, Email: u.Address,
			Title: u.Title, Department: u.Department, Phone: u.Phone,
		})
	}
	for _, g := range groups {
		if g.Address == "" {
			continue
		}
		e := GALEntry{ID: "group-" + strconv.FormatInt(g.ID, 10), Kind: "group", DisplayName: g.DisplayName, Email: g.Address}
		for _, m := range g.Members {
			if m.Kind != "group" {
				e.Members = append(e.Members, m.Name)
			}
		}
		out = append(out, e)
	}
	return out, nil
}
