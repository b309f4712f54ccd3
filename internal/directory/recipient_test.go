package directory

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestResolveRecipient(t *testing.T) {
	ctx := context.Background()
	dir, _ := nestedGroups(t)
	must(t, dir.AddAlias(ctx, "alice@example.com", "a@example.com"))
	must(t, dir.AddAlias(ctx, "Sales", "vertrieb@example.com"))
	mustUser(t, dir, NewUser{Address: "bob+list@example.com"})
	must(t, dir.SetEnabled(ctx, "carol@example.com", false))

	tests := []struct {
		address string
		want    string // primary address, then the users, all separated by spaces
		group   string
		err     error
	}{
		{"alice@example.com", "alice@example.com alice@example.com", "", nil},
		{"ALICE@Example.COM", "alice@example.com alice@example.com", "", nil},
		{"a@example.com", "alice@example.com alice@example.com", "", nil},
		{"alice+news@example.com", "alice@example.com alice@example.com", "", nil},
		{"a+x+y@example.com", "alice@example.com alice@example.com", "", nil},
		{"bob+list@example.com", "bob+list@example.com bob+list@example.com", "", nil},
		{"bob+other@example.com", "bob@example.com bob@example.com", "", nil},
		{"info@example.com", "info@example.com info@example.com", "", nil},
		// A disabled user addressed directly still gets the mail; groups skip it.
		{"dave@example.com", "dave@example.com dave@example.com", "", nil},
		{"eng@example.com", "eng@example.com bob@example.com info@example.com", "Engineering", nil},
		// Through the cycle All → Sales → EMEA → All, everyone once; carol and dave are disabled.
		{"all@example.com", "all@example.com alice@example.com bob@example.com info@example.com", "All", nil},
		{"vertrieb@example.com", "sales@example.com alice@example.com bob@example.com info@example.com", "Sales", nil},
		{"sales+q4@example.com", "sales@example.com alice@example.com bob@example.com info@example.com", "Sales", nil},
		{"nobody@example.com", "", "", ErrNotFound},
		{"nobody+tag@example.com", "", "", ErrNotFound},
		{"+tag@example.com", "", "", ErrNotFound},
		{"alice@nowhere.example", "", "", ErrUnknownDomain},
		{"not an address", "", "", ErrInvalid},
	}
	for _, tt := range tests {
		r, err := dir.ResolveRecipient(ctx, tt.address)
		checkErr(t, "ResolveRecipient("+tt.address+")", err, tt.err)
		if err != nil {
			continue
		}
		got := strings.Join(append([]string{r.Address}, addresses(r.Users)...), " ")
		if got != tt.want {
			t.Errorf("ResolveRecipient(%q) = %s, want %s", tt.address, got, tt.want)
		}
		switch {
		case tt.group == "" && r.Group != nil:
			t.Errorf("ResolveRecipient(%q): group %s, want none", tt.address, r.Group.Name)
		case tt.group != "" && (r.Group == nil || r.Group.Name != tt.group):
			t.Errorf("ResolveRecipient(%q): group %+v, want %s", tt.address, r.Group, tt.group)
		}
	}
	// Mail to a domain we do not have is also simply not found.
	if _, err := dir.ResolveRecipient(ctx, "x@nowhere.example"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown domain: %v, want ErrNotFound too", err)
	}
}
