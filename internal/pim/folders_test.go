package pim_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/pim"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
)

func newStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	d, err := db.OpenSQLite(ctx, filepath.Join(dir, "mailroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	b, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.New(ctx, d, b, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestEnsureFolders(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.EnsureAccount(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// A mail folder already called Calendar: the calendar gets another name.
	if _, err := s.CreateFolder(ctx, 1, 0, "Calendar", store.RoleNone); err != nil {
		t.Fatal(err)
	}
	all, err := pim.EnsureFolders(ctx, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	again, err := pim.EnsureFolders(ctx, s, 1)
	if err != nil || len(again) != len(all) {
		t.Fatalf("second EnsureFolders: %d folders (was %d), %v", len(again), len(all), err)
	}
	names := map[store.Role]string{}
	for _, f := range all {
		names[f.Role] = f.Name
	}
	want := map[store.Role]string{store.RoleCalendar: "Calendar 2", store.RoleContacts: "Contacts", store.RoleTasks: "Tasks", store.RoleNotes: "Notes"}
	for r, n := range want {
		if names[r] != n {
			t.Errorf("%s folder is %q, want %q", r, names[r], n)
		}
	}
	cal, err := s.FolderByRole(ctx, 1, store.RoleCalendar)
	if err != nil {
		t.Fatal(err)
	}
	work, err := s.CreateFolder(ctx, 1, cal.ID, "work", store.RoleNone)
	if err != nil {
		t.Fatal(err)
	}
	all, _ = s.Folders(ctx, 1)
	if r := pim.RoleOf(all, work); r != store.RoleCalendar {
		t.Errorf("RoleOf(work) = %q", r)
	}
	cols := pim.Collections(all, store.RoleCalendar)
	if len(cols) != 2 || cols[0].ID != cal.ID || cols[1].ID != work.ID {
		t.Errorf("Collections = %+v", cols)
	}
	inbox, _ := s.FolderByRole(ctx, 1, store.RoleInbox)
	if r := pim.RoleOf(all, inbox); r != store.RoleNone {
		t.Errorf("RoleOf(INBOX) = %q", r)
	}
}

func TestNoteItem(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.EnsureAccount(ctx, 1); err != nil {
		t.Fatal(err)
	}
	all, err := pim.EnsureFolders(ctx, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	var notes store.Folder
	for _, f := range all {
		if f.Role == store.RoleNotes {
			notes = f
		}
	}
	it, err := pim.Note("n1", "Shopping: Äpfel\r\nBcc: x@y", "milk\r\neggs\r\n")
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Deliver(ctx, it, []store.Placement{{Account: 1, Folder: notes.ID}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Message(ctx, d[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Envelope.Subject, "=?utf-8?b?") { // kept encoded, as IMAP's ENVELOPE shows it
		t.Errorf("subject %q", m.Envelope.Subject)
	}
	if len(m.Envelope.Bcc) != 0 {
		t.Errorf("a header was injected through the subject: %+v", m.Envelope.Bcc)
	}
	raw, _ := s.Raw(ctx, d[0].ID)
	if body, err := pim.Body(raw); err != nil || string(body) != "milk\r\neggs\r\n" || m.Props[pim.PropKind] != string(pim.KindNote) {
		t.Errorf("body %q props %v err %v", body, m.Props, err)
	}
}
