package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestAddUserDefaults(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	u := mustUser(t, dir, NewUser{Address: "Alice.Smith@Example.com", GivenName: "Alice", Surname: "Smith"})
	want := User{ID: u.ID, Kind: KindUser, Address: "alice.smith@example.com", UPN: "alice.smith@example.com",
		SAM: "alice.smith", Domain: "example.com", NetBIOS: "EXAMPLE", DisplayName: "Alice Smith",
		GivenName: "Alice", Surname: "Smith", Enabled: true, Created: u.Created}
	if fmt.Sprint(u) != fmt.Sprint(want) {
		t.Errorf("AddUser = %+v\nwant %+v", u, want)
	}
	if u.ID <= 0 || u.Created.IsZero() {
		t.Errorf("AddUser: id %d, created %v", u.ID, u.Created)
	}
	long := mustUser(t, dir, NewUser{Address: "a.very.long.local.part.indeed@example.com"})
	if long.SAM != "a.very.long.local.pa" || long.DisplayName != "a.very.long.local.part.indeed" {
		t.Errorf("derived SAM %q, display name %q", long.SAM, long.DisplayName)
	}
	plus := mustUser(t, dir, NewUser{Address: "x+y=z@example.com"})
	if plus.SAM != "xyz" {
		t.Errorf("derived SAM %q, want xyz", plus.SAM)
	}
	shared := mustUser(t, dir, NewUser{Address: "info@example.com", Kind: KindShared, DisplayName: "Information"})
	if shared.Kind != KindShared || !shared.Enabled || shared.Admin {
		t.Errorf("shared mailbox %+v", shared)
	}
	admin := mustUser(t, dir, NewUser{Address: "root@example.com", Admin: true, UPN: "Root@Corp.Example",
		SAM: "Administrator", Department: "IT", Title: "Admin", Phone: "+1 555 0100"})
	if !admin.Admin || admin.UPN != "Root@Corp.Example" || admin.SAM != "Administrator" || admin.Phone != "+1 555 0100" {
		t.Errorf("admin %+v", admin)
	}
	// Ids are never reused, since the store keys mailboxes by them.
	removed, err := dir.RemoveUser(ctx, "root@example.com")
	must(t, err)
	next := mustUser(t, dir, NewUser{Address: "root@example.com"})
	if next.ID <= removed.ID {
		t.Errorf("id %d after removing %d: ids must not be reused", next.ID, removed.ID)
	}
	us, err := dir.Users(ctx)
	must(t, err)
	if got := strings.Join(addresses(us), " "); got != "a.very.long.local.part.indeed@example.com alice.smith@example.com info@example.com root@example.com x+y=z@example.com" {
		t.Errorf("Users sorted: %s", got)
	}
}

func TestAddUserValidation(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	_, err := dir.AddDomain(ctx, "contoso.com", "")
	must(t, err)
	mustUser(t, dir, NewUser{Address: "alice@example.com", UPN: "alice.upn@corp.example"})
	must(t, dir.AddAlias(ctx, "alice@example.com", "al@example.com"))
	mustGroup(t, dir, "Sales", "sales@example.com")
	mustUser(t, dir, NewUser{Address: "bob@example.com", SAM: "robert"})

	long := strings.Repeat("x", 257)
	tests := []struct {
		name    string
		nu      NewUser
		err     error
		errPart string
	}{
		{"no address", NewUser{Password: testPassword}, ErrInvalid, "empty"},
		{"no @", NewUser{Address: "alice", Password: testPassword}, ErrInvalid, `"alice" has no @`},
		{"space", NewUser{Address: "a b@example.com", Password: testPassword}, ErrInvalid, "a space"},
		{"unknown domain", NewUser{Address: "carol@nowhere.example", Password: testPassword}, ErrUnknownDomain, "nowhere.example"},
		{"same address", NewUser{Address: "ALICE@example.com", Password: testPassword}, ErrExists, "used by user alice@example.com"},
		{"an alias", NewUser{Address: "al@example.com", Password: testPassword}, ErrExists, "used by user alice@example.com"},
		{"a group address", NewUser{Address: "sales@example.com", Password: testPassword}, ErrExists, "group Sales"},
		{"a UPN as address", NewUser{Address: "alice.upn@corp.example", Password: testPassword}, ErrUnknownDomain, ""},
		{"UPN taken", NewUser{Address: "carol@example.com", UPN: "Alice.UPN@corp.example", Password: testPassword}, ErrExists, "UPN alice.upn@corp.example"},
		{"UPN is an address", NewUser{Address: "carol@example.com", UPN: "al@example.com", Password: testPassword}, ErrExists, "user alice@example.com"},
		{"bad UPN", NewUser{Address: "carol@example.com", UPN: "carol", Password: testPassword}, ErrInvalid, "UPN"},
		{"SAM taken", NewUser{Address: "carol@example.com", SAM: "ROBERT", Password: testPassword}, ErrExists, "sAMAccountName robert"},
		{"derived SAM taken", NewUser{Address: "robert@example.com", Password: testPassword}, ErrExists, "sAMAccountName robert"},
		{"SAM too long", NewUser{Address: "carol@example.com", SAM: strings.Repeat("c", 21), Password: testPassword}, ErrInvalid, "longer than 20"},
		{"SAM bad char", NewUser{Address: "carol@example.com", SAM: "ca/rol", Password: testPassword}, ErrInvalid, "'/'"},
		{"SAM dots", NewUser{Address: "carol@example.com", SAM: "...", Password: testPassword}, ErrInvalid, "dots only"},
		{"no SAM derivable", NewUser{Address: "+@example.com", Password: testPassword}, ErrInvalid, "give one"},
		{"bad kind", NewUser{Address: "carol@example.com", Kind: "robot", Password: testPassword}, ErrInvalid, "robot"},
		{"long display name", NewUser{Address: "carol@example.com", DisplayName: long, Password: testPassword}, ErrInvalid, "display name"},
		{"control char", NewUser{Address: "carol@example.com", Title: "a\x00b", Password: testPassword}, ErrInvalid, "title"},
		{"no password", NewUser{Address: "carol@example.com"}, ErrWeakPassword, "empty"},
		{"short password", NewUser{Address: "carol@example.com", Password: "Xy7!abc"}, ErrWeakPassword, "at least 8"},
		{"password has name", NewUser{Address: "carol@example.com", Password: "Carol2024!"}, ErrWeakPassword, "user name"},
		{"common password", NewUser{Address: "carol@example.com", Password: "Password123"}, ErrWeakPassword, "common"},
		{"shared with password", NewUser{Address: "info@example.com", Kind: KindShared, Password: testPassword}, ErrInvalid, "cannot have a password"},
		{"shared admin", NewUser{Address: "info@example.com", Kind: KindShared, Admin: true}, ErrInvalid, "administrator"},
		{"same SAM other domain", NewUser{Address: "robert@contoso.com", Password: testPassword}, nil, ""},
	}
	for _, tt := range tests {
		_, err := dir.AddUser(ctx, tt.nu)
		checkErr(t, tt.name, err, tt.err)
		if err != nil && !strings.Contains(err.Error(), tt.errPart) {
			t.Errorf("%s: error %q does not mention %q", tt.name, err, tt.errPart)
		}
	}
	// Nothing of the refused users was written.
	us, err := dir.Users(ctx)
	must(t, err)
	if got := strings.Join(addresses(us), " "); got != "alice@example.com bob@example.com robert@contoso.com" {
		t.Errorf("users after refusals: %s", got)
	}
}

func TestUserLookup(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	u := mustUser(t, dir, NewUser{Address: "alice@example.com", UPN: "Alice@Corp.Example", SAM: "asmith"})
	must(t, dir.AddAlias(ctx, "alice@example.com", "a.smith@example.com"))
	mustGroup(t, dir, "Sales", "sales@example.com")
	for _, key := range []string{"alice@example.com", "ALICE@Example.Com", "a.smith@EXAMPLE.com", "alice@corp.example",
		`example\asmith`, `EXAMPLE\ASmith`, `example.com\asmith`, " alice@example.com "} {
		got, err := dir.User(ctx, key)
		if err != nil || got.ID != u.ID || strings.Join(got.Aliases, ",") != "a.smith@example.com" {
			t.Errorf("User(%q) = %+v, %v", key, got, err)
		}
	}
	for _, key := range []string{"nobody@example.com", "Sales", "sales@example.com", `OTHER\asmith`, "alice"} {
		_, err := dir.User(ctx, key)
		checkErr(t, "User("+key+")", err, ErrNotFound)
	}
	_, err := dir.User(ctx, "")
	checkErr(t, "User(empty)", err, ErrInvalid)
	_, err = dir.UserByID(ctx, 9999)
	checkErr(t, "UserByID(9999)", err, ErrNotFound)
}

func TestUpdateUser(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	mustUser(t, dir, NewUser{Address: "alice@example.com"})
	mustUser(t, dir, NewUser{Address: "bob@example.com"})
	mustUser(t, dir, NewUser{Address: "info@example.com", Kind: KindShared})
	s := func(v string) *string { return &v }
	b := func(v bool) *bool { return &v }

	u, err := dir.UpdateUser(ctx, "ALICE@example.com", UserUpdate{DisplayName: s(" Alice Liddell "), Title: s("CEO"),
		UPN: s("Alice@Wonderland.Example"), SAM: s("ALiddell"), Admin: b(true)})
	must(t, err)
	if u.DisplayName != "Alice Liddell" || u.Title != "CEO" || u.UPN != "Alice@Wonderland.Example" || u.SAM != "ALiddell" || !u.Admin {
		t.Errorf("UpdateUser = %+v", u)
	}
	if got, err := dir.User(ctx, `EXAMPLE\aliddell`); err != nil || got.ID != u.ID {
		t.Errorf("lookup by new SAM: %+v, %v", got, err)
	}
	if u, err = dir.UpdateUser(ctx, "alice@example.com", UserUpdate{}); err != nil || u.Title != "CEO" {
		t.Errorf("empty update changed something: %+v, %v", u, err)
	}
	tests := []struct {
		name string
		key  string
		u    UserUpdate
		err  error
	}{
		{"UPN of another", "bob@example.com", UserUpdate{UPN: s("alice@wonderland.example")}, ErrExists},
		{"UPN is an address", "bob@example.com", UserUpdate{UPN: s("alice@example.com")}, ErrExists},
		{"own address as UPN", "alice@example.com", UserUpdate{UPN: s("alice@example.com")}, nil},
		{"SAM of another", "bob@example.com", UserUpdate{SAM: s("aliddell")}, ErrExists},
		{"bad SAM", "bob@example.com", UserUpdate{SAM: s("a*b")}, ErrInvalid},
		{"bad UPN", "bob@example.com", UserUpdate{UPN: s("bob at example")}, ErrInvalid},
		{"empty display name", "bob@example.com", UserUpdate{DisplayName: s(" ")}, ErrInvalid},
		{"shared admin", "info@example.com", UserUpdate{Admin: b(true)}, ErrInvalid},
		{"unknown", "carol@example.com", UserUpdate{Title: s("x")}, ErrNotFound},
	}
	for _, tt := range tests {
		_, err := dir.UpdateUser(ctx, tt.key, tt.u)
		checkErr(t, tt.name, err, tt.err)
	}
	if bob, _ := dir.User(ctx, "bob@example.com"); bob.UPN != "bob@example.com" || bob.SAM != "bob" {
		t.Errorf("refused updates changed bob: %+v", bob)
	}
}

func TestSetEnabledAndPassword(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	mustUser(t, dir, NewUser{Address: "alice@example.com"})
	mustUser(t, dir, NewUser{Address: "info@example.com", Kind: KindShared})
	must(t, dir.SetEnabled(ctx, "alice@example.com", false))
	if u, _ := dir.User(ctx, "alice@example.com"); u.Enabled {
		t.Error("SetEnabled(false) left the user enabled")
	}
	checkErr(t, "SetEnabled unknown", dir.SetEnabled(ctx, "nobody@example.com", true), ErrNotFound)
	checkErr(t, "SetPassword weak", dir.SetPassword(ctx, "alice@example.com", "alice123"), ErrWeakPassword)
	checkErr(t, "SetPassword shared", dir.SetPassword(ctx, "info@example.com", testPassword), ErrInvalid)
	checkErr(t, "SetPassword unknown", dir.SetPassword(ctx, "nobody@example.com", testPassword), ErrNotFound)
}

func TestRemoveUserCascades(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	alice := mustUser(t, dir, NewUser{Address: "alice@example.com"})
	bob := mustUser(t, dir, NewUser{Address: "bob@example.com"})
	mustUser(t, dir, NewUser{Address: "info@example.com", Kind: KindShared})
	must(t, dir.AddAlias(ctx, "alice@example.com", "a@example.com"))
	mustGroup(t, dir, "Sales", "sales@example.com")
	must(t, dir.AddMember(ctx, "Sales", "alice@example.com"))
	must(t, dir.AddMember(ctx, "Sales", "bob@example.com"))
	must(t, dir.Grant(ctx, "info@example.com", "alice@example.com", FullAccess))
	must(t, dir.Grant(ctx, "alice@example.com", "bob@example.com", SendAs))

	got, err := dir.RemoveUser(ctx, "A@example.com")
	must(t, err)
	if got.ID != alice.ID || got.Address != "alice@example.com" {
		t.Errorf("RemoveUser returned %+v", got)
	}
	_, err = dir.User(ctx, "alice@example.com")
	checkErr(t, "removed user", err, ErrNotFound)
	r, err := dir.ResolveRecipient(ctx, "a@example.com")
	checkErr(t, "removed alias", err, ErrNotFound)
	if err == nil {
		t.Errorf("alias still resolves to %+v", r)
	}
	g, err := dir.Group(ctx, "Sales")
	must(t, err)
	if len(g.Members) != 1 || g.Members[0].ID != bob.ID {
		t.Errorf("Sales members after removal: %+v", g.Members)
	}
	if gs, err := dir.Grants(ctx, "info@example.com"); err != nil || len(gs) != 0 {
		t.Errorf("grants on info after removal: %+v, %v", gs, err)
	}
	if gs, err := dir.GrantsTo(ctx, bob.ID); err != nil || len(gs) != 0 {
		t.Errorf("grants to bob after removal: %+v, %v", gs, err)
	}
	// The alias is free again.
	must(t, dir.AddAlias(ctx, "bob@example.com", "a@example.com"))
	_, err = dir.RemoveUser(ctx, "alice@example.com")
	checkErr(t, "remove twice", err, ErrNotFound)
	_, err = dir.RemoveUser(ctx, "Sales")
	checkErr(t, "remove a group as user", err, ErrNotFound)
}

func TestAliases(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	mustUser(t, dir, NewUser{Address: "alice@example.com", UPN: "alice@corp.example"})
	mustUser(t, dir, NewUser{Address: "bob@example.com"})
	mustGroup(t, dir, "Sales", "sales@example.com")
	mustGroup(t, dir, "Staff", "")
	tests := []struct {
		name, key, alias string
		err              error
	}{
		{"user alias", "alice@example.com", "Ally@Example.com", nil},
		{"group alias", "sales", "vertrieb@example.com", nil},
		{"alias for a group without address", "Staff", "staff@example.com", nil},
		{"taken alias", "bob@example.com", "ally@example.com", ErrExists},
		{"own primary", "alice@example.com", "alice@example.com", ErrExists},
		{"group address", "bob@example.com", "sales@example.com", ErrExists},
		{"another's UPN", "bob@example.com", "alice@corp.example", ErrUnknownDomain},
		{"unknown domain", "bob@example.com", "bob@nowhere.example", ErrUnknownDomain},
		{"malformed", "bob@example.com", "bob@@example.com", ErrInvalid},
		{"unknown owner", "carol@example.com", "c@example.com", ErrNotFound},
	}
	for _, tt := range tests {
		checkErr(t, tt.name, dir.AddAlias(ctx, tt.key, tt.alias), tt.err)
	}
	// A UPN in one of our domains blocks the address for anyone else.
	_, err := dir.UpdateUser(ctx, "alice@example.com", UserUpdate{UPN: ptr("alice.upn@example.com")})
	must(t, err)
	checkErr(t, "another's UPN in our domain", dir.AddAlias(ctx, "bob@example.com", "alice.upn@example.com"), ErrExists)
	must(t, dir.AddAlias(ctx, "alice@example.com", "alice.upn@example.com"))

	if u, _ := dir.User(ctx, "ally@example.com"); strings.Join(u.Aliases, " ") != "alice.upn@example.com ally@example.com" {
		t.Errorf("aliases %v", u.Aliases)
	}
	if g, _ := dir.Group(ctx, "vertrieb@example.com"); g.Name != "Sales" || strings.Join(g.Aliases, " ") != "vertrieb@example.com" {
		t.Errorf("group by alias: %+v", g)
	}
	checkErr(t, "remove primary", dir.RemoveAlias(ctx, "alice@example.com"), ErrInvalid)
	checkErr(t, "remove unknown", dir.RemoveAlias(ctx, "nobody@example.com"), ErrNotFound)
	checkErr(t, "remove alias", dir.RemoveAlias(ctx, "ALLY@example.com"), nil)
	checkErr(t, "remove alias twice", dir.RemoveAlias(ctx, "ally@example.com"), ErrNotFound)
}

func ptr[T any](v T) *T { return &v }

func TestConcurrentAddUser(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = dir.AddUser(ctx, NewUser{Address: "race@example.com", Password: testPassword})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrExists):
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent AddUser calls succeeded, want 1", ok, n)
	}
	us, err := dir.Users(ctx)
	must(t, err)
	if len(us) != 1 {
		t.Errorf("%d users, want 1", len(us))
	}
}
