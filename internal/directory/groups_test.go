package directory

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestAddGroup(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	mustUser(t, dir, NewUser{Address: "alice@example.com", UPN: "boss@example.com"})
	g, err := dir.AddGroup(ctx, " Sales Team ", "Sales@Example.com", "The Sales Team")
	must(t, err)
	if g.Name != "Sales Team" || g.Address != "sales@example.com" || g.DisplayName != "The Sales Team" || g.ID <= 0 {
		t.Errorf("AddGroup = %+v", g)
	}
	plain, err := dir.AddGroup(ctx, "Staff", "", "")
	must(t, err)
	if plain.Address != "" || plain.DisplayName != "Staff" {
		t.Errorf("AddGroup without address = %+v", plain)
	}
	tests := []struct {
		name, gname, address string
		err                  error
	}{
		{"same name", "sales team", "", ErrExists},
		{"address taken by group", "Other", "sales@example.com", ErrExists},
		{"address taken by user", "Other", "alice@example.com", ErrExists},
		{"address is a UPN", "Other", "boss@example.com", ErrExists},
		{"unknown domain", "Other", "other@nowhere.example", ErrUnknownDomain},
		{"malformed address", "Other", "other@", ErrInvalid},
		{"empty name", " ", "", ErrInvalid},
		{"@ in name", "a@b", "", ErrInvalid},
		{`\ in name`, `a\b`, "", ErrInvalid},
		{"long name", strings.Repeat("g", 65), "", ErrInvalid},
	}
	for _, tt := range tests {
		_, err := dir.AddGroup(ctx, tt.gname, tt.address, "")
		checkErr(t, tt.name, err, tt.err)
	}
	gs, err := dir.Groups(ctx)
	must(t, err)
	if got := strings.Join(groupNames(gs), ","); got != "Sales Team,Staff" {
		t.Errorf("Groups = %s", got)
	}
	for _, key := range []string{"SALES TEAM", "sales@EXAMPLE.com"} {
		if g, err := dir.Group(ctx, key); err != nil || g.Name != "Sales Team" {
			t.Errorf("Group(%q) = %+v, %v", key, g, err)
		}
	}
	for _, key := range []string{"nobody", "alice@example.com"} {
		_, err := dir.Group(ctx, key)
		checkErr(t, "Group("+key+")", err, ErrNotFound)
	}
	checkErr(t, "RemoveGroup by address", dir.RemoveGroup(ctx, "sales@example.com"), nil)
	checkErr(t, "RemoveGroup again", dir.RemoveGroup(ctx, "Sales Team"), ErrNotFound)
	checkErr(t, "RemoveGroup of a user", dir.RemoveGroup(ctx, "alice@example.com"), ErrNotFound)
	// The address is free again.
	mustGroup(t, dir, "Sales", "sales@example.com")
}

func TestMembers(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	alice := mustUser(t, dir, NewUser{Address: "alice@example.com"})
	info := mustUser(t, dir, NewUser{Address: "info@example.com", Kind: KindShared})
	mustGroup(t, dir, "Sales", "sales@example.com")
	staff := mustGroup(t, dir, "Staff", "")
	must(t, dir.AddAlias(ctx, "alice@example.com", "a@example.com"))

	tests := []struct {
		name, group, member string
		err                 error
	}{
		{"user by alias", "sales", "A@example.com", nil},
		{"shared mailbox", "sales@example.com", "info@example.com", nil},
		{"group", "Sales", "staff", nil},
		{"again", "Sales", "alice@example.com", ErrExists},
		{"itself", "Sales", "sales@example.com", ErrInvalid},
		{"unknown member", "Sales", "nobody@example.com", ErrNotFound},
		{"unknown group", "Nobody", "alice@example.com", ErrNotFound},
		{"user as group", "alice@example.com", "info@example.com", ErrNotFound},
	}
	for _, tt := range tests {
		checkErr(t, tt.name, dir.AddMember(ctx, tt.group, tt.member), tt.err)
	}
	g, err := dir.Group(ctx, "Sales")
	must(t, err)
	want := []Member{{"user", alice.ID, "alice@example.com"}, {"shared", info.ID, "info@example.com"}, {"group", staff.ID, "Staff"}}
	if fmt.Sprint(g.Members) != fmt.Sprint(want) {
		t.Errorf("members = %+v, want %+v", g.Members, want)
	}
	checkErr(t, "RemoveMember", dir.RemoveMember(ctx, "Sales", "info@example.com"), nil)
	checkErr(t, "RemoveMember again", dir.RemoveMember(ctx, "Sales", "info@example.com"), ErrNotFound)
	checkErr(t, "RemoveMember unknown", dir.RemoveMember(ctx, "Sales", "nobody@example.com"), ErrNotFound)
	// Removing a nested group removes its membership.
	must(t, dir.RemoveGroup(ctx, "Staff"))
	g, err = dir.Group(ctx, "Sales")
	must(t, err)
	if len(g.Members) != 1 || g.Members[0].ID != alice.ID {
		t.Errorf("members after removals = %+v", g.Members)
	}
}

// nestedGroups builds: All ⊃ {Sales, Engineering}; Sales ⊃ {alice, bob, EMEA};
// EMEA ⊃ {carol, All} (a cycle); Engineering ⊃ {bob, dave (disabled), info (shared)}.
func nestedGroups(t *testing.T) (*Directory, map[string]User) {
	ctx := context.Background()
	dir := newTestDir(t)
	users := map[string]User{}
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		users[n] = mustUser(t, dir, NewUser{Address: n + "@example.com"})
	}
	users["info"] = mustUser(t, dir, NewUser{Address: "info@example.com", Kind: KindShared})
	must(t, dir.SetEnabled(ctx, "dave@example.com", false))
	mustGroup(t, dir, "All", "all@example.com")
	mustGroup(t, dir, "Sales", "sales@example.com")
	mustGroup(t, dir, "EMEA", "")
	mustGroup(t, dir, "Engineering", "eng@example.com")
	mustGroup(t, dir, "Unrelated", "")
	for _, m := range [][2]string{
		{"All", "Sales"}, {"All", "Engineering"},
		{"Sales", "alice@example.com"}, {"Sales", "bob@example.com"}, {"Sales", "EMEA"},
		{"EMEA", "carol@example.com"}, {"EMEA", "All"},
		{"Engineering", "bob@example.com"}, {"Engineering", "dave@example.com"}, {"Engineering", "info@example.com"},
	} {
		must(t, dir.AddMember(ctx, m[0], m[1]))
	}
	return dir, users
}

func TestMemberOf(t *testing.T) {
	ctx := context.Background()
	dir, users := nestedGroups(t)
	tests := []struct{ user, want string }{
		{"alice", "All,EMEA,Sales"}, // Sales ⊂ All ⊂ EMEA (the cycle) ⊂ Sales
		{"carol", "All,EMEA,Sales"},
		{"bob", "All,EMEA,Engineering,Sales"},
		{"dave", "All,EMEA,Engineering,Sales"},
		{"info", "All,EMEA,Engineering,Sales"},
	}
	for _, tt := range tests {
		gs, err := dir.MemberOf(ctx, users[tt.user].ID)
		must(t, err)
		if got := strings.Join(groupNames(gs), ","); got != tt.want {
			t.Errorf("MemberOf(%s) = %s, want %s", tt.user, got, tt.want)
		}
	}
	loner := mustUser(t, dir, NewUser{Address: "loner@example.com"})
	if gs, err := dir.MemberOf(ctx, loner.ID); err != nil || len(gs) != 0 {
		t.Errorf("MemberOf(loner) = %v, %v", groupNames(gs), err)
	}
	_, err := dir.MemberOf(ctx, 9999)
	checkErr(t, "MemberOf unknown", err, ErrNotFound)
}
