package imap

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
	"mailroom/internal/store/storetest"
)

func testStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	d, err := db.OpenSQLite(ctx, filepath.Join(dir, "mailroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.New(ctx, d, b, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); d.Close() })
	return s
}

func TestViewSync(t *testing.T) {
	ctx := context.Background()
	s := testStore(t)
	if _, err := s.EnsureAccount(ctx, 1); err != nil {
		t.Fatal(err)
	}
	deliver := func(subject string) store.Delivered {
		d, err := s.Deliver(ctx, store.NewMessage{Raw: storetest.Msg("a@x.test", "b@x.test", subject, "x")}, []store.Placement{{Account: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return d[0]
	}
	for _, n := range []string{"1", "2", "3", "4"} {
		deliver(n)
	}
	in, _ := s.FolderByRole(ctx, 1, store.RoleInbox)
	v, err := openView(ctx, s, 1, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.count() != 4 || v.uid(2) != 2 || v.seq(4) != 4 || v.uid(5) != 0 {
		t.Fatalf("view = %+v", v)
	}
	// Nothing happened: nothing to say.
	up, err := v.sync(ctx, s, true)
	if err != nil || up.Exists != -1 || len(up.Expunged) != 0 || len(up.Changed) != 0 {
		t.Fatalf("idle sync = %+v, %v", up, err)
	}
	// Another session expunges 1 and 3, flags 4, and a message arrives.
	if _, err := s.Expunge(ctx, in.ID, []store.UID{1, 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StoreFlags(ctx, store.FlagUpdate{Folder: in.ID, UIDs: []store.UID{4}, Op: store.FlagsAdd, Flags: []string{store.FlagSeen}}); err != nil {
		t.Fatal(err)
	}
	deliver("5")
	// During a FETCH, expunges wait; the new message and the flag change do not.
	up, err = v.sync(ctx, s, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(up.Expunged) != 0 || up.Exists != 5 || len(up.Changed) != 1 || up.Changed[0].Seq != 4 || !slices.Equal(up.Changed[0].Info.Flags, []string{store.FlagSeen}) {
		t.Fatalf("sync without expunge = %+v", up)
	}
	// Later, the expunges come, numbered as the client sees them one after another.
	up, err = v.sync(ctx, s, true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(up.Expunged, []uint32{1, 2}) || !slices.Equal(up.Vanished, []store.UID{1, 3}) || up.Exists != -1 {
		t.Fatalf("sync with expunge = %+v", up)
	}
	if got := v.uids.appendSeqs(nil, 1, v.uids.len()); !slices.Equal(got, []store.UID{2, 4, 5}) {
		t.Fatalf("uids = %v", got)
	}
	// A message added and removed between two syncs is never announced.
	d := deliver("6")
	if _, err := s.Expunge(ctx, in.ID, []store.UID{d.UID}); err != nil {
		t.Fatal(err)
	}
	up, err = v.sync(ctx, s, true)
	if err != nil || up.Exists != -1 || len(up.Expunged) != 0 {
		t.Fatalf("add-then-remove sync = %+v, %v", up, err)
	}
	// Changes in other folders are not this view's business.
	trash, _ := s.FolderByRole(ctx, 1, store.RoleTrash)
	if _, err := s.Move(ctx, in.ID, []store.UID{2}, trash.ID); err != nil {
		t.Fatal(err)
	}
	up, err = v.sync(ctx, s, true)
	if err != nil || !slices.Equal(up.Expunged, []uint32{1}) || up.Exists != -1 {
		t.Fatalf("move-away sync = %+v, %v", up, err)
	}
}

// TestOpenView checks what SELECT takes from a view opened on the store's folder
// index: sequence numbers past an expunge, the first unseen message by sequence
// number and the keywords in use.
func TestOpenView(t *testing.T) {
	ctx := context.Background()
	s := testStore(t)
	if _, err := s.EnsureAccount(ctx, 1); err != nil {
		t.Fatal(err)
	}
	in, _ := s.FolderByRole(ctx, 1, store.RoleInbox)
	tests := []struct {
		name        string
		change      func() error
		uids        []store.UID
		firstUnseen uint32
		keywords    []string
	}{
		{"empty", func() error { return nil }, nil, 0, nil},
		{"delivered", func() error {
			for i := range 5 {
				flags := []string{store.FlagSeen}
				if i == 3 {
					flags = []string{"b", "a"}
				}
				if _, err := s.Deliver(ctx, store.NewMessage{Raw: storetest.Msg("a@x.test", "b@x.test", "s", "x"), Flags: flags}, []store.Placement{{Account: 1}}); err != nil {
					return err
				}
			}
			return nil
		}, []store.UID{1, 2, 3, 4, 5}, 4, []string{"a", "b"}},
		{"expunged before the unseen one", func() error {
			_, err := s.Expunge(ctx, in.ID, []store.UID{2})
			return err
		}, []store.UID{1, 3, 4, 5}, 3, []string{"a", "b"}},
		{"all seen", func() error {
			_, err := s.StoreFlags(ctx, store.FlagUpdate{Folder: in.ID, UIDs: []store.UID{4}, Op: store.FlagsReplace, Flags: []string{store.FlagSeen}})
			return err
		}, []store.UID{1, 3, 4, 5}, 0, nil},
	}
	for _, tt := range tests {
		if err := tt.change(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		v, err := openView(ctx, s, 1, in.ID)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := v.uids.appendSeqs(nil, 1, v.uids.len()); !slices.Equal(got, tt.uids) || v.firstUnseen != tt.firstUnseen || !slices.Equal(v.keywords, tt.keywords) {
			t.Errorf("%s: UIDs %v, first unseen %d, keywords %v; want %v, %d, %v", tt.name, got, v.firstUnseen, v.keywords, tt.uids, tt.firstUnseen, tt.keywords)
		}
	}
}
