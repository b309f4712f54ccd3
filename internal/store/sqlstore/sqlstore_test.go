package sqlstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
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

// withAccount opens a store at p, closed when the test ends, with account 1.
func withAccount(tb testing.TB, p place) (*sqlstore.Store, *db.DB) {
	tb.Helper()
	s, d, _ := open(tb, p)
	tb.Cleanup(func() { s.Close(); d.Close() })
	if _, err := s.EnsureAccount(context.Background(), 1); err != nil {
		tb.Fatal(err)
	}
	return s, d
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

// TestSearchAcrossRemovedText checks that body search stays exact while the SQLite
// indexer catches up with a removal: the index entries of an expunged text stay until
// the indexer deletes them, and the next text stored gets the removed text's rowid.
func TestSearchAcrossRemovedText(t *testing.T) {
	s, d, _ := open(t, newPlace(t))
	defer d.Close()
	defer s.Close()
	ctx := context.Background()
	if _, err := s.EnsureAccount(ctx, 1); err != nil {
		t.Fatal(err)
	}
	deliver := func(body string) store.Delivered {
		t.Helper()
		got, err := s.Deliver(ctx, store.NewMessage{Raw: storetest.Msg("a@x.test", "b@x.test", "fts", body)}, []store.Placement{{Account: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return got[0]
	}
	textRowid := func() int64 {
		t.Helper()
		var id int64
		if err := d.Read().QueryRowContext(ctx, `SELECT rowid FROM message_text`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}

	a := deliver("the word marmalade")
	waitIndexed(t, d)
	searchBody(t, s, a.Folder, map[string][]store.UID{"marmalade": {a.UID}})
	var oldRowid int64
	if d.Dialect == db.SQLite {
		oldRowid = textRowid()
	}
	if _, err := s.Expunge(ctx, a.Folder, []store.UID{a.UID}); err != nil {
		t.Fatal(err)
	}
	b := deliver("the word quince")
	if d.Dialect == db.SQLite && textRowid() != oldRowid {
		t.Fatalf("the new text has rowid %d, not the removed one's %d: the test no longer covers reuse", textRowid(), oldRowid)
	}
	want := map[string][]store.UID{"marmalade": nil, "quince": {b.UID}}
	searchBody(t, s, b.Folder, want)
	waitIndexed(t, d)
	searchBody(t, s, b.Folder, want)
}

// searchBody checks, for each string of want, the UIDs a SEARCH BODY for it finds in
// folder.
func searchBody(t *testing.T, s *sqlstore.Store, folder store.FolderID, want map[string][]store.UID) {
	t.Helper()
	for body, uids := range want {
		got, err := s.Search(context.Background(), folder, &store.Criteria{Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, uids) {
			t.Errorf("BODY %q: UIDs %v, want %v", body, got, uids)
		}
	}
}

// waitIndexed waits (at most 30 s) until the SQLite indexer has taken in every text
// and deleted the entries of every removed one; PostgreSQL indexes in the writing
// transaction.
func waitIndexed(t testing.TB, d *db.DB) {
	t.Helper()
	if d.Dialect != db.SQLite {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := d.Read().QueryRowContext(context.Background(), `SELECT (SELECT count(*) FROM message_text WHERE NOT indexed) + (SELECT count(*) FROM message_fts_gone)`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d texts still waiting for the indexer after 30 s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
