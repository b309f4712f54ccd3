package retention

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
)

// now is the purge's clock in these tests; a function, so no test can move it for
// the others.
func now() time.Time { return time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC) }

// env is a real SQLite directory and store with two domains: example.com keeps POP3
// deletions 30 days (the default), short.example 7 days.
type env struct {
	dir   *directory.Directory
	store store.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	tmp := t.TempDir()
	d, err := db.OpenSQLite(ctx, filepath.Join(tmp, "mailroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	dir, err := directory.New(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"example.com", "short.example"} {
		if _, err := dir.AddDomain(ctx, name, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := dir.SetPOP3Retention(ctx, "short.example", true, 7); err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.Open(filepath.Join(tmp, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.New(ctx, d, blobs, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &env{dir: dir, store: st}
}

// addUser adds a user; with a mailbox it also creates the user's account in the store.
func (e *env) addUser(t *testing.T, address string, mailbox bool) store.AccountID {
	t.Helper()
	u, err := e.dir.AddUser(context.Background(), directory.NewUser{Address: address, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if mailbox {
		if _, err := e.store.EnsureAccount(context.Background(), store.AccountID(u.ID)); err != nil {
			t.Fatal(err)
		}
	}
	return store.AccountID(u.ID)
}

// deliver puts a message with the given subject and properties into acct's folder
// of role.
func (e *env) deliver(t *testing.T, acct store.AccountID, role store.Role, subject string, props map[string]string) {
	t.Helper()
	ctx := context.Background()
	f, err := e.store.FolderByRole(ctx, acct, role)
	if err != nil {
		t.Fatal(err)
	}
	raw := "From: bob@example.com\r\nSubject: " + subject + "\r\n\r\nbody\r\n"
	_, err = e.store.Deliver(ctx, store.NewMessage{Raw: []byte(raw), Props: props, InternalDate: now().AddDate(-1, 0, 0)},
		[]store.Placement{{Account: acct, Folder: f.ID}})
	if err != nil {
		t.Fatal(err)
	}
}

// subjects lists the subjects in acct's folder of role, sorted.
func (e *env) subjects(t *testing.T, acct store.AccountID, role store.Role) []string {
	t.Helper()
	ctx := context.Background()
	f, err := e.store.FolderByRole(ctx, acct, role)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := e.store.List(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	var uids []store.UID
	for _, m := range infos {
		uids = append(uids, m.UID)
	}
	msgs, err := e.store.Messages(ctx, f.ID, uids)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.Envelope.Subject)
	}
	slices.Sort(out)
	return out
}

// mark is a POP3 deletion mark set ago before now.
func mark(ago time.Duration) map[string]string {
	return map[string]string{DeletedAtProp: now().Add(-ago).Format(time.RFC3339)}
}

const day = 24 * time.Hour

func TestPurge(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	alice := e.addUser(t, "alice@example.com", true)
	bob := e.addUser(t, "bob@short.example", true)
	// carol has never received mail, so the store has no account for her.
	e.addUser(t, "carol@example.com", false)

	// Deleted Items holds POP3's marked messages and mail deleted any other way.
	messages := []struct {
		acct    store.AccountID
		role    store.Role
		subject string
		props   map[string]string
	}{
		{alice, store.RoleTrash, "pop3 40 days ago", mark(40 * day)},
		{alice, store.RoleTrash, "pop3 31 days ago", mark(31 * day)},
		{alice, store.RoleTrash, "pop3 exactly 30 days ago", mark(30 * day)},
		{alice, store.RoleTrash, "pop3 10 days ago", mark(10 * day)},
		{alice, store.RoleTrash, "deleted in IMAP long ago", nil},
		{alice, store.RoleTrash, "other property", map[string]string{"activesync:class": "Email"}},
		{alice, store.RoleTrash, "unreadable mark", map[string]string{DeletedAtProp: "last spring"}},
		{alice, store.RoleInbox, "marked but restored to Inbox", mark(40 * day)},
		{bob, store.RoleTrash, "pop3 10 days ago", mark(10 * day)},
		{bob, store.RoleTrash, "pop3 3 days ago", mark(3 * day)},
		{bob, store.RoleTrash, "deleted in IMAP long ago", nil},
	}
	for _, m := range messages {
		e.deliver(t, m.acct, m.role, m.subject, m.props)
	}

	n, err := Purge(ctx, e.store, e.dir, now())
	if err != nil || n != 3 {
		t.Fatalf("Purge = %d, %v; want 3 messages expunged", n, err)
	}
	want := []struct {
		acct     store.AccountID
		role     store.Role
		subjects []string
	}{
		{alice, store.RoleTrash, []string{"deleted in IMAP long ago", "other property", "pop3 10 days ago", "pop3 exactly 30 days ago", "unreadable mark"}},
		{alice, store.RoleInbox, []string{"marked but restored to Inbox"}},
		{bob, store.RoleTrash, []string{"deleted in IMAP long ago", "pop3 3 days ago"}},
	}
	for _, w := range want {
		if got := e.subjects(t, w.acct, w.role); !slices.Equal(got, w.subjects) {
			t.Errorf("account %d %s holds %q, want %q", w.acct, w.role, got, w.subjects)
		}
	}
	if n, err := Purge(ctx, e.store, e.dir, now()); err != nil || n != 0 {
		t.Errorf("second Purge = %d, %v; want nothing left to expunge", n, err)
	}
	// Ten days on, alice's 10-day-old mark passes 30 days only 20 days later; bob's
	// 3-day-old one has passed 7.
	if n, err := Purge(ctx, e.store, e.dir, now().Add(10*day)); err != nil || n != 2 {
		t.Errorf("Purge ten days later = %d, %v; want 2 (alice's exactly-30-days, bob's 3-days)", n, err)
	}
	if got := e.subjects(t, bob, store.RoleTrash); !slices.Equal(got, []string{"deleted in IMAP long ago"}) {
		t.Errorf("bob's Deleted Items holds %q after the second period", got)
	}
}

// failingList is a store that cannot list one folder.
type failingList struct {
	store.Store
	folder store.FolderID
}

func (s failingList) List(ctx context.Context, folder store.FolderID) ([]store.MessageInfo, error) {
	if folder == s.folder {
		return nil, errors.New("disk I/O error")
	}
	return s.Store.List(ctx, folder)
}

// failingUsers is a directory that cannot list its users.
type failingUsers struct{ *directory.Directory }

func (failingUsers) Users(context.Context) ([]directory.User, error) {
	return nil, errors.New("database is locked")
}

// TestPurgeErrors checks that a mailbox that fails does not keep the others from
// being purged, and that a directory failure is an error.
func TestPurgeErrors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	alice := e.addUser(t, "alice@example.com", true)
	bob := e.addUser(t, "bob@short.example", true)
	e.deliver(t, alice, store.RoleTrash, "alice's", mark(40*day))
	e.deliver(t, bob, store.RoleTrash, "bob's", mark(40*day))
	trash, err := e.store.FolderByRole(ctx, alice, store.RoleTrash)
	if err != nil {
		t.Fatal(err)
	}

	n, err := Purge(ctx, failingList{Store: e.store, folder: trash.ID}, e.dir, now())
	if n != 1 || err == nil || !strings.Contains(err.Error(), "alice@example.com") {
		t.Errorf("Purge with alice's Deleted Items unreadable = %d, %v; want bob's message expunged and an error naming alice", n, err)
	}
	if got := e.subjects(t, alice, store.RoleTrash); !slices.Equal(got, []string{"alice's"}) {
		t.Errorf("alice's Deleted Items holds %q", got)
	}
	if n, err := Purge(ctx, e.store, failingUsers{e.dir}, now()); n != 0 || err == nil {
		t.Errorf("Purge without the user list = %d, %v; want an error", n, err)
	}
}

// lockedBuffer is a log destination Run's goroutine and the test can share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRun checks that Run purges at once and on every tick, logs what it expunged,
// and returns when its context ends.
func TestRun(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice@example.com", true)
	old := map[string]string{DeletedAtProp: time.Now().Add(-40 * day).UTC().Format(time.RFC3339)}
	e.deliver(t, alice, store.RoleTrash, "first", old)
	var logged lockedBuffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, 20*time.Millisecond, e.store, e.dir, log) }()

	waitEmpty := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); len(e.subjects(t, alice, store.RoleTrash)) > 0; {
			if time.Now().After(deadline) {
				t.Fatalf("Run did not purge %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitEmpty("at once")
	e.deliver(t, alice, store.RoleTrash, "second", old)
	waitEmpty("on a later tick")
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if !strings.Contains(logged.String(), "retention purge") || !strings.Contains(logged.String(), "expunged=1") {
		t.Errorf("Run logged:\n%s", logged.String())
	}
	if err := Run(context.Background(), 0, e.store, e.dir, log); err == nil {
		t.Error("Run with interval 0 did not fail")
	}
}
