package directory

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestAddDomain(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t) // has example.com, NetBIOS EXAMPLE
	tests := []struct {
		name, netbios string
		wantName      string
		wantNetBIOS   string
		err           error
	}{
		{"Contoso.COM", "", "contoso.com", "CONTOSO", nil},
		{"fabrikam.example.org.", "fab", "fabrikam.example.org", "FAB", nil},
		{"averyveryverylongname.com", "", "averyveryverylongname.com", "AVERYVERYVERYLO", nil},
		{"abcdefghijklmn-x.com", "", "abcdefghijklmn-x.com", "ABCDEFGHIJKLMN", nil},
		{"xn--bcher-kva.example", "", "xn--bcher-kva.example", "XN--BCHER-KVA", nil},
		{"example.com", "", "", "", ErrExists},
		{"EXAMPLE.com", "OTHER", "", "", ErrExists},
		{"example.net", "", "", "", ErrExists}, // derived NetBIOS EXAMPLE is taken
		{"example.org", "example", "", "", ErrExists},
		{"example.org", "EX.AMPLE", "", "", ErrInvalid},
		{"example.org", "ABCDEFGHIJKLMNOP", "", "", ErrInvalid},
		{"", "", "", "", ErrInvalid},
		{"localhost", "", "", "", ErrInvalid},
		{"bad_domain.com", "", "", "", ErrInvalid},
		{"bücher.example", "", "", "", ErrInvalid},
		{"1.2.3.4", "", "", "", ErrInvalid},
	}
	for _, tt := range tests {
		got, err := dir.AddDomain(ctx, tt.name, tt.netbios)
		checkErr(t, "AddDomain("+tt.name+", "+tt.netbios+")", err, tt.err)
		if tt.err == nil && (got.Name != tt.wantName || got.NetBIOS != tt.wantNetBIOS || got.Created.IsZero()) {
			t.Errorf("AddDomain(%q, %q) = %+v, want %s %s", tt.name, tt.netbios, got, tt.wantName, tt.wantNetBIOS)
		}
	}
	ds, err := dir.Domains(ctx)
	must(t, err)
	var names []string
	for _, d := range ds {
		names = append(names, d.Name)
	}
	want := "abcdefghijklmn-x.com averyveryverylongname.com contoso.com example.com fabrikam.example.org xn--bcher-kva.example"
	if strings.Join(names, " ") != want {
		t.Errorf("Domains = %v, want %s", names, want)
	}
	got, err := dir.Domain(ctx, "CONTOSO.com")
	if err != nil || got.NetBIOS != "CONTOSO" {
		t.Errorf("Domain(CONTOSO.com) = %+v, %v", got, err)
	}
	_, err = dir.Domain(ctx, "nowhere.example")
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrUnknownDomain) {
		t.Errorf("Domain(nowhere.example) error %v, want ErrNotFound and ErrUnknownDomain", err)
	}
}

func TestRemoveDomain(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	_, err := dir.AddDomain(ctx, "contoso.com", "")
	must(t, err)
	mustUser(t, dir, NewUser{Address: "alice@example.com"})
	must(t, dir.AddAlias(ctx, "alice@example.com", "alice@contoso.com"))
	g := mustGroup(t, dir, "Sales", "sales@contoso.com")

	err = dir.RemoveDomain(ctx, "contoso.com")
	checkErr(t, "RemoveDomain with an alias and a group in it", err, ErrInUse)
	if err != nil && !strings.Contains(err.Error(), "2 address(es), such as alice@contoso.com") {
		t.Errorf("error %q does not say what uses the domain", err)
	}
	must(t, dir.RemoveAlias(ctx, "alice@contoso.com"))
	checkErr(t, "RemoveDomain with a group in it", dir.RemoveDomain(ctx, "contoso.com"), ErrInUse)
	must(t, dir.RemoveGroup(ctx, g.Name))
	checkErr(t, "RemoveDomain unused", dir.RemoveDomain(ctx, "Contoso.com"), nil)
	checkErr(t, "RemoveDomain again", dir.RemoveDomain(ctx, "contoso.com"), ErrNotFound)
	checkErr(t, "RemoveDomain with a user", dir.RemoveDomain(ctx, "example.com"), ErrInUse)
}
