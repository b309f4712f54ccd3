package directory

import (
	"context"
	"fmt"
	"strings"
)

// SendableAddresses returns, in lower case, every address the user may send as: their
// own primary address and aliases, and those of every mailbox they hold SendAs on. A
// disabled user may send as nobody: the error then matches ErrDisabled.
func (d *Directory) SendableAddresses(ctx context.Context, userID int64) (map[string]bool, error) {
	u, err := d.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if !u.Enabled {
		return nil, fmt.Errorf("%w: %s", ErrDisabled, u.Address)
	}
	grants, err := d.GrantsTo(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	add := func(m User) {
		out[strings.ToLower(m.Address)] = true
		for _, a := range m.Aliases {
			out[strings.ToLower(a)] = true
		}
	}
	add(u)
	for _, g := range grants {
		for _, r := range g.Rights {
			if r == SendAs {
				add(g.Mailbox)
			}
		}
	}
	return out, nil
}
