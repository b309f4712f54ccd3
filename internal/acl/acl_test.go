package acl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"mailroom/internal/db"
	"mailroom/internal/pgtest"
)

// TestMain runs the suite on SQLite, then again on PostgreSQL when it is installed.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openDB opens a fresh database of the pass's dialect.
func openDB(t *testing.T) *db.DB {
	t.Helper()
	ctx := context.Background()
	var d *db.DB
	var err error
	if pgtest.Enabled() {
		d, err = db.OpenPostgres(ctx, pgtest.Start(t))
	} else {
		d, err = db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "acl.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestParseRights(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{"", "", false},
		{"lr", "lr", false},
		{"rl", "lr", false},
		{"lrswipkxtea", "lrswipkxtecda", false},
		{"lrswipkxtecda", "lrswipkxtecda", false},
		{"c", "kxc", false},
		{"d", "ted", false},
		{"lrz", "", true},
		{"l r", "", true},
		{"é", "", true},
	} {
		r, err := Parse(tc.in)
		if tc.bad {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("Parse(%q) = %v, %v; want a ParseError", tc.in, r, err)
			}
			continue
		}
		if err != nil || r.String() != tc.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tc.in, r, err, tc.want)
		}
	}
	if All.String() != Letters {
		t.Errorf("All = %q, want %q", All, Letters)
	}
}

// FuzzParse checks that whatever Parse accepts prints as rights it parses back to the
// same set.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "lr", "lrswipkxtecda", "cd", "zz", "l\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		back, err := Parse(r.String())
		if err != nil || back != r {
			t.Fatalf("Parse(%q) = %q, which parses to %q, %v", s, r, back, err)
		}
	})
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	d := openDB(t)
	s, err := Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, d); err != nil {
		t.Fatalf("second Open: %v", err)
	}
	if err := s.Set(ctx, Entry{Folder: 10, Owner: 1, Grantee: 1, Rights: Read}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("owner entry: %v", err)
	}
	for _, e := range []Entry{{10, 1, 2, Lookup | Read}, {11, 1, 2, All}, {10, 1, 3, Lookup}} {
		if err := s.Set(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Set(ctx, Entry{Folder: 10, Owner: 1, Grantee: 2, Rights: Lookup | Read | Seen}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Rights(ctx, 10, 2); err != nil || r != Lookup|Read|Seen {
		t.Fatalf("Rights = %q, %v", r, err)
	}
	if r, err := s.Rights(ctx, 12, 2); err != nil || r != 0 {
		t.Fatalf("Rights without entry = %q, %v", r, err)
	}
	shared, err := s.SharedWith(ctx, 2)
	if err != nil || len(shared) != 2 || shared[0].Folder != 10 || shared[1].Rights != All {
		t.Fatalf("SharedWith = %+v, %v", shared, err)
	}
	if es, err := s.Folder(ctx, 10); err != nil || len(es) != 2 {
		t.Fatalf("Folder = %+v, %v", es, err)
	}
	if err := s.Set(ctx, Entry{Folder: 11, Owner: 1, Grantee: 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, 10, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, 10, 3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete: %v", err)
	}
	if err := s.DeleteFolder(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if shared, err := s.SharedWith(ctx, 2); err != nil || len(shared) != 0 {
		t.Fatalf("after deletes: %+v, %v", shared, err)
	}
}
