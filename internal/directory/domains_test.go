package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
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

func TestPOP3Retention(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	_, err := dir.AddDomain(ctx, "contoso.com", "")
	must(t, err)
	got, err := dir.Domain(ctx, "example.com")
	must(t, err)
	if !got.POP3KeepDeleted || got.POP3RetentionDays != DefaultPOP3RetentionDays {
		t.Fatalf("new domain %+v, want POP3 deletions kept %d days", got, DefaultPOP3RetentionDays)
	}
	tests := []struct {
		domain   string
		keep     bool
		days     int
		err      error
		wantKeep bool // what example.com has afterwards
		wantDays int
	}{
		{"example.com", false, 30, nil, false, 30},
		{"EXAMPLE.com.", true, 7, nil, true, 7},
		{"example.com", true, 1, nil, true, 1},
		{"example.com", true, MaxPOP3RetentionDays, nil, true, MaxPOP3RetentionDays},
		{"example.com", false, 0, ErrInvalid, true, MaxPOP3RetentionDays},
		{"example.com", true, -5, ErrInvalid, true, MaxPOP3RetentionDays},
		{"example.com", true, MaxPOP3RetentionDays + 1, ErrInvalid, true, MaxPOP3RetentionDays},
		{"nowhere.example", true, 10, ErrNotFound, true, MaxPOP3RetentionDays},
	}
	for _, tt := range tests {
		err := dir.SetPOP3Retention(ctx, tt.domain, tt.keep, tt.days)
		checkErr(t, fmt.Sprintf("SetPOP3Retention(%s, %v, %d)", tt.domain, tt.keep, tt.days), err, tt.err)
		got, err := dir.Domain(ctx, "example.com")
		must(t, err)
		if got.POP3KeepDeleted != tt.wantKeep || got.POP3RetentionDays != tt.wantDays {
			t.Errorf("after SetPOP3Retention(%s, %v, %d): keep %v days %d, want %v %d", tt.domain, tt.keep, tt.days,
				got.POP3KeepDeleted, got.POP3RetentionDays, tt.wantKeep, tt.wantDays)
		}
	}
	// The setting is per domain, and Domains reads it as Domain does.
	ds, err := dir.Domains(ctx)
	must(t, err)
	want := map[string]Domain{
		"contoso.com": {POP3KeepDeleted: true, POP3RetentionDays: DefaultPOP3RetentionDays},
		"example.com": {POP3KeepDeleted: true, POP3RetentionDays: MaxPOP3RetentionDays},
	}
	for _, d := range ds {
		if w := want[d.Name]; d.POP3KeepDeleted != w.POP3KeepDeleted || d.POP3RetentionDays != w.POP3RetentionDays {
			t.Errorf("Domains: %s keep %v days %d, want %v %d", d.Name, d.POP3KeepDeleted, d.POP3RetentionDays,
				w.POP3KeepDeleted, w.POP3RetentionDays)
		}
	}
}

// TestPOP3RetentionMigration checks that domains made before migration 0003 get the
// default: POP3 deletions kept 30 days.
func TestPOP3RetentionMigration(t *testing.T) {
	ctx := context.Background()
	d := openTestDB(t)
	old := fstest.MapFS{}
	for _, name := range []string{"0001_directory.sql", "0002_dkim.sql"} {
		name = string(d.Dialect) + "/" + name
		b, err := migrationFiles.ReadFile("migrations/" + name)
		must(t, err)
		old[name] = &fstest.MapFile{Data: b}
	}
	must(t, d.Migrate(ctx, "directory", old))
	must(t, d.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO domains (name, netbios, created) VALUES ('old.example', 'OLD', 0)`)
		return err
	}))
	dir, err := New(ctx, d)
	must(t, err)
	got, err := dir.Domain(ctx, "old.example")
	must(t, err)
	if !got.POP3KeepDeleted || got.POP3RetentionDays != DefaultPOP3RetentionDays {
		t.Errorf("domain from before the migration: %+v, want POP3 deletions kept %d days", got, DefaultPOP3RetentionDays)
	}
}
