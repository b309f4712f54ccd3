package directory

import (
	"context"
	"fmt"
	"testing"
)

func TestGrants(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	alice := mustUser(t, dir, NewUser{Address: "alice@example.com"})
	bob := mustUser(t, dir, NewUser{Address: "bob@example.com"})
	info := mustUser(t, dir, NewUser{Address: "info@example.com", Kind: KindShared})
	sales := mustUser(t, dir, NewUser{Address: "sales@example.com", Kind: KindShared})
	mustGroup(t, dir, "Team", "team@example.com")

	tests := []struct {
		name, mailbox, user string
		right               Right
		err                 error
	}{
		{"full access on shared", "info@example.com", "bob@example.com", FullAccess, nil},
		{"send as on shared", "INFO@example.com", "Bob@Example.com", SendAs, nil},
		{"right in other case", "info@example.com", "alice@example.com", "fullaccess", nil},
		{"on a user's mailbox", "alice@example.com", "bob@example.com", SendAs, nil},
		{"on another shared", "sales@example.com", "alice@example.com", SendAs, nil},
		{"twice", "info@example.com", "bob@example.com", FullAccess, ErrExists},
		{"unknown right", "info@example.com", "bob@example.com", "Owner", ErrInvalid},
		{"to a shared mailbox", "info@example.com", "sales@example.com", FullAccess, ErrInvalid},
		{"to oneself", "alice@example.com", "alice@example.com", FullAccess, ErrInvalid},
		{"to a group", "info@example.com", "Team", FullAccess, ErrNotFound},
		{"on a group", "Team", "bob@example.com", FullAccess, ErrNotFound},
		{"unknown mailbox", "nobody@example.com", "bob@example.com", FullAccess, ErrNotFound},
		{"unknown user", "info@example.com", "nobody@example.com", FullAccess, ErrNotFound},
	}
	for _, tt := range tests {
		checkErr(t, tt.name, dir.Grant(ctx, tt.mailbox, tt.user, tt.right), tt.err)
	}
	show := func(gs []Grant) string {
		var s []string
		for _, g := range gs {
			s = append(s, fmt.Sprintf("%s>%s%v", g.User.Address, g.Mailbox.Address, g.Rights))
		}
		return fmt.Sprint(s)
	}
	gs, err := dir.Grants(ctx, "info@example.com")
	must(t, err)
	if got, want := show(gs), "[alice@example.com>info@example.com[FullAccess] bob@example.com>info@example.com[FullAccess SendAs]]"; got != want {
		t.Errorf("Grants(info) = %s, want %s", got, want)
	}
	gs, err = dir.GrantsTo(ctx, bob.ID)
	must(t, err)
	if got, want := show(gs), "[bob@example.com>alice@example.com[SendAs] bob@example.com>info@example.com[FullAccess SendAs]]"; got != want {
		t.Errorf("GrantsTo(bob) = %s, want %s", got, want)
	}
	if gs[1].Mailbox.ID != info.ID || gs[1].User.ID != bob.ID || gs[1].Mailbox.Kind != KindShared {
		t.Errorf("grant users not filled in: %+v", gs[1])
	}
	gs, err = dir.GrantsTo(ctx, alice.ID)
	must(t, err)
	if got, want := show(gs), "[alice@example.com>info@example.com[FullAccess] alice@example.com>sales@example.com[SendAs]]"; got != want {
		t.Errorf("GrantsTo(alice) = %s, want %s", got, want)
	}

	checkErr(t, "revoke", dir.Revoke(ctx, "info@example.com", "bob@example.com", SendAs), nil)
	checkErr(t, "revoke twice", dir.Revoke(ctx, "info@example.com", "bob@example.com", SendAs), ErrNotFound)
	checkErr(t, "revoke unknown right", dir.Revoke(ctx, "info@example.com", "bob@example.com", "Owner"), ErrInvalid)
	checkErr(t, "revoke on unknown", dir.Revoke(ctx, "nobody@example.com", "bob@example.com", SendAs), ErrNotFound)
	gs, err = dir.Grants(ctx, "info@example.com")
	must(t, err)
	if got, want := show(gs), "[alice@example.com>info@example.com[FullAccess] bob@example.com>info@example.com[FullAccess]]"; got != want {
		t.Errorf("Grants(info) after revoke = %s, want %s", got, want)
	}
	if gs, err := dir.Grants(ctx, "bob@example.com"); err != nil || len(gs) != 0 {
		t.Errorf("Grants(bob) = %s, %v", show(gs), err)
	}
	// Removing a shared mailbox removes the grants on it.
	_, err = dir.RemoveUser(ctx, "sales@example.com")
	must(t, err)
	gs, err = dir.GrantsTo(ctx, alice.ID)
	must(t, err)
	if got, want := show(gs), "[alice@example.com>info@example.com[FullAccess]]"; got != want {
		t.Errorf("GrantsTo(alice) after removing sales = %s, want %s", got, want)
	}
	_, err = dir.Grants(ctx, "nobody@example.com")
	checkErr(t, "Grants unknown", err, ErrNotFound)
	_, err = dir.GrantsTo(ctx, sales.ID)
	checkErr(t, "GrantsTo removed", err, ErrNotFound)
}
