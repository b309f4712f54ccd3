package sqlstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/pgtest"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
	"mailroom/internal/store/storetest"
)

// TestMain runs the suite on SQLite, then again on PostgreSQL when it is installed.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// place is where one test's store lives: a directory holding the SQLite database and
// the blob files, or, in the PostgreSQL pass, a database of its own. On SQLite, blobs
// up to inline bytes live in the database (blob.Local), as they do in production.
type place struct {
	dir, pg string
	inline  int
}

func newPlace(t testing.TB) place {
	p := place{dir: t.TempDir(), inline: blob.DefaultInlineLimit}
	if pgtest.Enabled() {
		p.pg = pgtest.Start(t)
	}
	return p
}

// open opens the store kept at p, creating it if needed, as a process or node would.
func open(t testing.TB, p place) (*sqlstore.Store, *db.DB, blob.Area) {
	t.Helper()
	ctx := context.Background()
	var d *db.DB
	var b blob.Area
	var err error
	if p.pg != "" {
		if d, err = db.OpenPostgres(ctx, p.pg); err == nil {
			b, err = blob.NewTable(ctx, d, "store")
		}
	} else {
		if d, err = db.OpenSQLite(ctx, filepath.Join(p.dir, "mailroom.db")); err == nil {
			b, err = blob.OpenLocal(ctx, d, filepath.Join(p.dir, "blobs"), "store", p.inline)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.New(ctx, d, b, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s, d, b
}

// tiers runs a test with SQLite keeping message bytes in the database and, again, in
// files (every blob over the inline limit); PostgreSQL keeps them in rows either way.
func tiers(t *testing.T, test func(t *testing.T, newPlace func(testing.TB) place)) {
	if pgtest.Enabled() {
		test(t, newPlace)
		return
	}
	for _, tier := range []struct {
		name   string
		inline int
	}{{"inline", blob.DefaultInlineLimit}, {"files", 0}} {
		t.Run(tier.name, func(t *testing.T) {
			test(t, func(t testing.TB) place {
				p := newPlace(t)
				p.inline = tier.inline
				return p
			})
		})
	}
}

func TestConformance(t *testing.T) {
	tiers(t, func(t *testing.T, newPlace func(testing.TB) place) {
		storetest.Run(t, func(t *testing.T) store.Store {
			s, d, _ := open(t, newPlace(t))
			t.Cleanup(func() {
				s.Close()
				d.Close()
			})
			return s
		})
	})
}

// TestBlobFilesFollowReferences checks what the interface cannot show: a blob (file or
// row) lives exactly as long as a message refers to it.
func TestBlobFilesFollowReferences(t *testing.T) {
	tiers(t, testBlobLifetime)
}

func testBlobLifetime(t *testing.T, newPlace func(testing.TB) place) {
	s, d, blobs := open(t, newPlace(t))
	defer d.Close()
	defer s.Close()
	ctx := context.Background()
	if _, err := s.EnsureAccount(ctx, 1); err != nil {
		t.Fatal(err)
	}
	raw := storetest.Msg("a@x.test", "b@x.test", "blob", "body")
	exists := func() bool {
		_, err := blobs.Read(ctx, blob.ID(raw))
		if err != nil && !errors.Is(err, blob.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	ds, err := s.Deliver(ctx, store.NewMessage{Raw: raw}, []store.Placement{{Account: 1}, {Account: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Expunge(ctx, ds[0].Folder, []store.UID{ds[0].UID}); err != nil {
		t.Fatal(err)
	}
	if !exists() {
		t.Fatal("blob removed while a message still uses it")
	}
	if _, err := s.Expunge(ctx, ds[1].Folder, []store.UID{ds[1].UID}); err != nil {
		t.Fatal(err)
	}
	if exists() {
		t.Fatal("blob kept after its last message went")
	}
	// A delivery refused for quota leaves no file behind.
	if err := s.SetQuota(ctx, 1, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deliver(ctx, store.NewMessage{Raw: raw}, []store.Placement{{Account: 1}}); err == nil {
		t.Fatal("delivery over quota succeeded")
	}
	if exists() {
		t.Fatal("refused delivery left its blob behind")
	}
	if err := d.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestWakeAcrossProcesses checks that a subscriber hears about a change made through
// another connection to the same database (the admin CLI, another process; on
// PostgreSQL another node) within a second, through the watcher rather than the
// in-process hub.
func TestWakeAcrossProcesses(t *testing.T) {
	p := newPlace(t)
	a, da, _ := open(t, p)
	defer da.Close()
	defer a.Close()
	b, db2, _ := open(t, p)
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
	// A wake-up for this process's own earlier writes (EnsureAccount's, which on
	// PostgreSQL also come back through the listener) may arrive first.
	deadline := time.After(time.Second)
	for {
		select {
		case m := <-ch:
			if m >= d[0].ModSeq {
				return
			}
		case <-deadline:
			t.Fatalf("no wake-up for modseq %d within a second of another process's delivery", d[0].ModSeq)
		}
	}
}
