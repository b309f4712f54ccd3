package mailflow

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/queue"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
)

// queueRecorder takes remote copies in the tests; the queue itself is tested on its own
// with real SMTP and DNS servers.
type queueRecorder struct{ got []queue.Message }

func (q *queueRecorder) Enqueue(_ context.Context, m queue.Message) (int64, error) {
	q.got = append(q.got, m)
	return int64(len(q.got)), nil
}

type signer struct{}

func (signer) Sign(_ context.Context, domain string, raw []byte) ([]byte, error) {
	return append([]byte("DKIM-Signature: d="+domain+"\r\n"), raw...), nil
}

type fixture struct {
	st    *sqlstore.Store
	dir   *directory.Directory
	q     *queueRecorder
	sub   *Submitter
	alice directory.User
	bob   directory.User
}

const password = "correct horse battery"

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	tmp := t.TempDir()
	d, err := db.OpenSQLite(ctx, filepath.Join(tmp, "mailroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := blob.Open(filepath.Join(tmp, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.New(ctx, d, b, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := directory.New(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); d.Close() })
	f := &fixture{st: st, dir: dir, q: &queueRecorder{}}
	if _, err := dir.AddDomain(ctx, "example.test", ""); err != nil {
		t.Fatal(err)
	}
	add := func(nu directory.NewUser) directory.User {
		u, err := dir.AddUser(ctx, nu)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.EnsureAccount(ctx, store.AccountID(u.ID)); err != nil {
			t.Fatal(err)
		}
		return u
	}
	f.alice = add(directory.NewUser{Address: "alice@example.test", Password: password})
	f.bob = add(directory.NewUser{Address: "bob@example.test", Password: password})
	add(directory.NewUser{Address: "sales@example.test", Kind: directory.KindShared})
	if err := dir.Grant(ctx, "sales@example.test", "alice@example.test", directory.SendAs); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddGroup(ctx, "Team", "team@example.test", ""); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"alice@example.test", "bob@example.test"} {
		if err := dir.AddMember(ctx, "Team", m); err != nil {
			t.Fatal(err)
		}
	}
	flow := &Flow{Directory: dir, Mailboxes: st, Queue: f.q}
	f.sub = &Submitter{Flow: flow, Senders: dir, Signer: signer{}, Store: st}
	return f
}

func (f *fixture) inbox(t *testing.T, u directory.User, role store.Role) [][]byte {
	t.Helper()
	ctx := context.Background()
	folder, err := f.st.FolderByRole(ctx, store.AccountID(u.ID), role)
	if err != nil {
		t.Fatal(err)
	}
	list, err := f.st.List(ctx, folder.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range list {
		raw, err := f.st.Raw(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

func TestSubmit(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	raw := []byte("From: Alice <alice@example.test>\r\nTo: team@example.test, carol@remote.test\r\nBcc: bob@example.test,\r\n dave@remote.test\r\nSubject: plan\r\n\r\nHello\r\n")
	if err := f.sub.Submit(ctx, f.alice, raw, true); err != nil {
		t.Fatal(err)
	}
	// Bob is in the team and in Bcc: one copy. Alice is in the team: one copy.
	bob := f.inbox(t, f.bob, store.RoleInbox)
	if len(bob) != 1 || !bytes.HasPrefix(bob[0], []byte("DKIM-Signature: d=example.test")) || bytes.Contains(bob[0], []byte("Bcc:")) || bytes.Contains(bob[0], []byte("dave@")) {
		t.Fatalf("bob got %q", bob)
	}
	if got := f.inbox(t, f.alice, store.RoleInbox); len(got) != 1 {
		t.Fatalf("alice's inbox has %d", len(got))
	}
	sent := f.inbox(t, f.alice, store.RoleSent)
	if len(sent) != 1 || !bytes.Contains(sent[0], []byte("Bcc: bob@example.test")) {
		t.Fatalf("sent copy = %q", sent)
	}
	if len(f.q.got) != 1 || f.q.got[0].From != "alice@example.test" || !slices.Equal(f.q.got[0].To, []string{"carol@remote.test", "dave@remote.test"}) {
		t.Fatalf("queued = %+v", f.q.got)
	}
	if bytes.Contains(f.q.got[0].Raw, []byte("Bcc:")) {
		t.Fatal("the remote copy carries the Bcc field")
	}
}

func TestSubmitRefusals(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	cases := []struct {
		name, raw string
		want      error
		text      string
	}{
		{"foreign From", "From: mallory@example.test\r\nTo: bob@example.test\r\n\r\nx\r\n", ErrNotAllowed, "mallory@example.test"},
		{"two From fields", "From: alice@example.test\r\nFrom: alice@example.test\r\nTo: bob@example.test\r\n\r\nx\r\n", ErrNotAllowed, "exactly one"},
		{"no From", "To: bob@example.test\r\n\r\nx\r\n", ErrNotAllowed, "not 0"},
		{"no recipients", "From: alice@example.test\r\nSubject: x\r\n\r\nx\r\n", ErrNotAllowed, "no recipient"},
		{"unknown local recipient", "From: alice@example.test\r\nTo: nobody@example.test\r\n\r\nx\r\n", ErrUnknownRecipient, "nobody@example.test"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := f.sub.Submit(ctx, f.alice, []byte(tc.raw), true)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v, want %v mentioning %q", err, tc.want, tc.text)
			}
		})
	}
	if got := f.inbox(t, f.alice, store.RoleSent); len(got) != 0 {
		t.Fatalf("a refused message reached Sent: %d", len(got))
	}
	// SendAs on the shared mailbox is allowed.
	if err := f.sub.Submit(ctx, f.alice, []byte("From: sales@example.test\r\nTo: bob@example.test\r\n\r\nx\r\n"), false); err != nil {
		t.Fatal(err)
	}
}

func TestNotificationToUnknownIsDropped(t *testing.T) {
	f := setup(t)
	flow := f.sub.Flow
	ctx := context.Background()
	if err := flow.Deliver(ctx, "", []string{"gone@example.test", "bob@example.test"}, []byte("Subject: bounce\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := f.inbox(t, f.bob, store.RoleInbox); len(got) != 1 {
		t.Fatalf("bob got %d notifications", len(got))
	}
}
