package directory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"mailroom/internal/db"
	"mailroom/internal/pgtest"
)

// testPassword passes the policy for every test user.
const testPassword = "correct horse battery"

// TestMain runs the suite on SQLite, then again on PostgreSQL when it is installed.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openTestDB opens a fresh, empty database: SQLite, or PostgreSQL in that pass.
func openTestDB(t testing.TB) *db.DB {
	t.Helper()
	ctx := context.Background()
	var d *db.DB
	var err error
	if pgtest.Enabled() {
		d, err = db.OpenPostgres(ctx, pgtest.Start(t))
	} else {
		d, err = db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "mailroom.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// newTestDir opens a directory on a fresh database with the domain example.com.
func newTestDir(t testing.TB) *Directory {
	t.Helper()
	ctx := context.Background()
	d := openTestDB(t)
	dir, err := New(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddDomain(ctx, "example.com", ""); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustUser(t testing.TB, dir *Directory, nu NewUser) User {
	t.Helper()
	if nu.Password == "" && nu.Kind != KindShared {
		nu.Password = testPassword
	}
	u, err := dir.AddUser(context.Background(), nu)
	if err != nil {
		t.Fatalf("AddUser(%q): %v", nu.Address, err)
	}
	return u
}

func mustGroup(t testing.TB, dir *Directory, name, address string) Group {
	t.Helper()
	g, err := dir.AddGroup(context.Background(), name, address, "")
	if err != nil {
		t.Fatalf("AddGroup(%q): %v", name, err)
	}
	return g
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkErr fails unless err matches want (nil: no error).
func checkErr(t testing.TB, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func addresses(us []User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Address)
	}
	return out
}

func groupNames(gs []Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}
