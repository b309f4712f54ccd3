package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
	"mailroom/internal/store/storetest"
)

// open opens the store kept in dir, creating it if needed.
func open(t testing.TB, dir string) (*sqlstore.Store, *db.DB) {
	t.Helper()
	ctx := context.Background()
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
	return s, d
}

func newStore(t *testing.T) store.Store {
	s, d := open(t, t.TempDir())
	t.Cleanup(func() {
		s.Close()
		d.Close()
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newStore)
}

// TestBlobFilesFollowReferences checks what the interface cannot show: a blob file lives
// exactly as long as a message refers to it.
func TestBlobFilesFollowReferences(t *testing.T) {
	dir := t.TempDir()
	s, d := open(t, dir)
	defer d.Close()
	defer s.Close()
	ctx := context.Background()
	if _, err := s.EnsureAccount(ctx, 1); err != nil {
		t.Fatal(err)
	}
	raw := storetest.Msg("a@x.test", "b@x.test", "blob", "body")
	path := filepath.Join(dir, "blobs", blob.ID(raw)[:2], blob.ID(raw)[2:4], blob.ID(raw))
	ds, err := s.Deliver(ctx, store.NewMessage{Raw: raw}, []store.Placement{{Account: 1}, {Account: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Expunge(ctx, ds[0].Folder, []store.UID{ds[0].UID}); err != nil {
		t.Fatal(err)
	}
	if !exists(path) {
		t.Fatal("blob removed while a message still uses it")
	}
	if _, err := s.Expunge(ctx, ds[1].Folder, []store.UID{ds[1].UID}); err != nil {
		t.Fatal(err)
	}
	if exists(path) {
		t.Fatal("blob kept after its last message went")
	}
	// A delivery refused for quota leaves no file behind.
	if err := s.SetQuota(ctx, 1, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deliver(ctx, store.NewMessage{Raw: raw}, []store.Placement{{Account: 1}}); err == nil {
		t.Fatal("delivery over quota succeeded")
	}
	if exists(path) {
		t.Fatal("refused delivery left its blob behind")
	}
	if err := d.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestWakeAcrossProcesses checks that a subscriber hears about a change made through
// another connection to the same database (the admin CLI, another process) within a
// second, through the watcher rather than the in-process hub.
func TestWakeAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	a, da := open(t, dir)
	defer da.Close()
	defer a.Close()
	b, db2 := open(t, dir)
	defer db2.Close()
	defer b.Close()
	ctx := context.Background()
	if _, err := a.EnsureAccount(ctx, 1); err != nil {
		t.Fatal(err)
	}
	ch, cancel := a.Subscribe(1)
	defer cancel()
	d, err := b.Deliver(ctx, store.NewMessage{Raw: storetest.Msg("a@x.test", "b@x.test", "other process", "x")}, []store.Placement{{Account: 1}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch:
		if m < d[0].ModSeq {
			t.Fatalf("woken with %d, want >= %d", m, d[0].ModSeq)
		}
	case <-time.After(time.Second):
		t.Fatal("no wake-up within a second of another process's delivery")
	}
}
