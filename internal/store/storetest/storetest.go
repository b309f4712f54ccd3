// Package storetest is the conformance suite every mailbox store backend must pass. A
// backend's own test calls Run with a constructor of fresh, empty stores.
//
// The suite checks behaviour through the store.Store interface only; it must never reach
// into a backend's tables or files.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/store"
)

// Factory returns a new, empty store for one test. It registers its own cleanup.
type Factory func(t *testing.T) store.Store

// Run runs the whole suite.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Accounts", testAccounts},
		{"Folders", testFolders},
		{"FolderErrors", testFolderErrors},
		{"Deliver", testDeliver},
		{"DeliverErrors", testDeliverErrors},
		{"Quota", testQuota},
		{"Flags", testFlags},
		{"UnchangedSince", testUnchangedSince},
		{"CopyMoveExpunge", testCopyMoveExpunge},
		{"CrossAccount", testCrossAccount},
		{"Changes", testChanges},
		{"Subscribe", testSubscribe},
		{"Search", testSearch},
		{"Props", testProps},
		{"RemoveAccount", testRemoveAccount},
		{"ConcurrentDeliveries", testConcurrentDeliveries},
		{"Replace", testReplace},
		{"ConcurrentReplace", testConcurrentReplace},
		{"RawMany", testRawMany},
		{"Marks", testMarks},
		{"FolderIndex", testFolderIndex},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// Msg builds a small RFC 5322 message for tests.
func Msg(from, to, subject, body string) []byte {
	return fmt.Appendf(nil, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\nMessage-ID: <%s@test>\r\n\r\n%s\r\n",
		from, to, subject, subject, body)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// ok turns a (value, error) result into the value, failing the test on an error:
// ok(s.Folders(c, 1))(t).
func ok[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func account(t *testing.T, s store.Store, id store.AccountID) store.Account {
	t.Helper()
	return ok(s.EnsureAccount(ctx(t), id))(t)
}

func inbox(t *testing.T, s store.Store, id store.AccountID) store.Folder {
	t.Helper()
	return ok(s.FolderByRole(ctx(t), id, store.RoleInbox))(t)
}

func deliver(t *testing.T, s store.Store, to store.Placement, raw []byte, flags ...string) store.Delivered {
	t.Helper()
	d := ok(s.Deliver(ctx(t), store.NewMessage{Raw: raw, Flags: flags}, []store.Placement{to}))(t)
	if len(d) != 1 {
		t.Fatalf("Deliver returned %d placements, want 1", len(d))
	}
	return d[0]
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

func testAccounts(t *testing.T, s store.Store) {
	c := ctx(t)
	_, err := s.Account(c, 1)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.EnsureAccount(c, 0)
	wantErr(t, err, store.ErrInvalid)
	a := account(t, s, 1)
	if a.ID != 1 || a.ModSeq == 0 {
		t.Fatalf("account = %+v", a)
	}
	again := account(t, s, 1)
	if again.ModSeq != a.ModSeq {
		t.Fatalf("EnsureAccount of an existing account changed it: %d -> %d", a.ModSeq, again.ModSeq)
	}
	folders := ok(s.Folders(c, 1))(t)
	var roles []store.Role
	for _, f := range folders {
		roles = append(roles, f.Role)
		if f.UIDValidity == 0 || f.UIDNext != 1 {
			t.Errorf("folder %v: UIDVALIDITY %d, UIDNEXT %d", f.Path, f.UIDValidity, f.UIDNext)
		}
	}
	for _, df := range store.DefaultFolders {
		if !slices.Contains(roles, df.Role) {
			t.Errorf("no %s folder among %v", df.Role, roles)
		}
	}
	if folders[0].Role != store.RoleInbox || folders[0].Name != "INBOX" {
		t.Errorf("first folder = %+v, want INBOX", folders[0])
	}
}

func testFolders(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	work := ok(s.CreateFolder(c, 1, 0, "Work", store.RoleNone))(t)
	proj := ok(s.CreateFolder(c, 1, work.ID, "Projects", store.RoleNone))(t)
	if !slices.Equal(proj.Path, []string{"Work", "Projects"}) {
		t.Fatalf("path = %v", proj.Path)
	}
	got := ok(s.FolderByPath(c, 1, []string{"Work", "Projects"}))(t)
	if got.ID != proj.ID {
		t.Fatalf("FolderByPath = %d, want %d", got.ID, proj.ID)
	}
	if f := ok(s.FolderByPath(c, 1, []string{"inbox"}))(t); f.Role != store.RoleInbox {
		t.Fatalf("inbox lookup is not case-insensitive: %+v", f)
	}
	// Renaming the parent renames the child's path; the UIDVALIDITY stays.
	renamed := ok(s.RenameFolder(c, work.ID, 0, "Job"))(t)
	if renamed.UIDValidity != work.UIDValidity {
		t.Fatalf("rename changed UIDVALIDITY")
	}
	child := ok(s.Folder(c, proj.ID))(t)
	if !slices.Equal(child.Path, []string{"Job", "Projects"}) {
		t.Fatalf("child path after rename = %v", child.Path)
	}
	// Move the child to the top level.
	top := ok(s.RenameFolder(c, proj.ID, 0, "Projects"))(t)
	if !slices.Equal(top.Path, []string{"Projects"}) {
		t.Fatalf("moved path = %v", top.Path)
	}
	// Delete and re-create: a new UIDVALIDITY.
	if err := s.DeleteFolder(c, top.ID); err != nil {
		t.Fatal(err)
	}
	again := ok(s.CreateFolder(c, 1, 0, "Projects", store.RoleNone))(t)
	if again.UIDValidity == top.UIDValidity {
		t.Fatalf("re-created folder kept UIDVALIDITY %d", again.UIDValidity)
	}
	if err := s.SetSubscribed(c, again.ID, false); err != nil {
		t.Fatal(err)
	}
	if f := ok(s.Folder(c, again.ID))(t); f.Subscribed {
		t.Fatalf("folder still subscribed")
	}
	// A second calendar may exist without a role; a second role folder may not.
	ok(s.CreateFolder(c, 1, 0, "Calendar", store.RoleCalendar))(t)
	_, err := s.CreateFolder(c, 1, 0, "Other Calendar", store.RoleCalendar)
	wantErr(t, err, store.ErrExists)
}

func testFolderErrors(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	account(t, s, 2)
	in := inbox(t, s, 1)
	work := ok(s.CreateFolder(c, 1, 0, "Work", store.RoleNone))(t)
	sub := ok(s.CreateFolder(c, 1, work.ID, "Sub", store.RoleNone))(t)
	other := inbox(t, s, 2)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"empty name", second(s.CreateFolder(c, 1, 0, "", store.RoleNone)), store.ErrInvalid},
		{"slash in name", second(s.CreateFolder(c, 1, 0, "a/b", store.RoleNone)), store.ErrInvalid},
		{"control character", second(s.CreateFolder(c, 1, 0, "a\nb", store.RoleNone)), store.ErrInvalid},
		{"inbox in other case", second(s.CreateFolder(c, 1, 0, "Inbox", store.RoleNone)), store.ErrInvalid},
		{"duplicate", second(s.CreateFolder(c, 1, 0, "Work", store.RoleNone)), store.ErrExists},
		{"unknown parent", second(s.CreateFolder(c, 1, 999999, "X", store.RoleNone)), store.ErrNotFound},
		{"parent of another account", second(s.CreateFolder(c, 1, other.ID, "X", store.RoleNone)), store.ErrCrossAccount},
		{"unknown account", second(s.CreateFolder(c, 77, 0, "X", store.RoleNone)), store.ErrNotFound},
		{"delete inbox", s.DeleteFolder(c, in.ID), store.ErrRoleFolder},
		{"rename inbox", second(s.RenameFolder(c, in.ID, 0, "Old")), store.ErrRoleFolder},
		{"delete with children", s.DeleteFolder(c, work.ID), store.ErrHasChildren},
		{"move under itself", second(s.RenameFolder(c, work.ID, sub.ID, "Work")), store.ErrInvalid},
		{"rename onto existing", second(s.RenameFolder(c, sub.ID, 0, "Work")), store.ErrExists},
		{"delete unknown", s.DeleteFolder(c, 999999), store.ErrNotFound},
		{"subscribe unknown", s.SetSubscribed(c, 999999, true), store.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.err, tc.want) })
	}
	// Nothing above changed the folders.
	if got := ok(s.Folder(c, sub.ID))(t); !slices.Equal(got.Path, []string{"Work", "Sub"}) {
		t.Fatalf("sub path = %v", got.Path)
	}
}

func second[T any](_ T, err error) error { return err }

func testDeliver(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	account(t, s, 2)
	raw := Msg("alice@example.test", "bob@example.test", "Hello", "first body")
	when := time.Date(2026, 3, 2, 10, 0, 5, 0, time.UTC)
	ds := ok(s.Deliver(c, store.NewMessage{Raw: raw, InternalDate: when, Flags: []string{store.FlagSeen, "$Important"}},
		[]store.Placement{{Account: 1}, {Account: 2}}))(t)
	if len(ds) != 2 || ds[0].UID != 1 || ds[1].UID != 1 || ds[0].ID == ds[1].ID {
		t.Fatalf("delivered = %+v", ds)
	}
	second := deliver(t, s, store.Placement{Account: 1}, Msg("carol@example.test", "bob@example.test", "Again", "second"))
	if second.UID != 2 || second.ModSeq <= ds[0].ModSeq {
		t.Fatalf("second delivery = %+v after %+v", second, ds[0])
	}
	m := ok(s.Message(c, ds[0].ID))(t)
	if m.Envelope.Subject != "Hello" || len(m.Envelope.From) != 1 || m.Envelope.From[0].Mailbox != "alice" {
		t.Fatalf("envelope = %+v", m.Envelope)
	}
	if !m.InternalDate.Equal(when) || m.Size != int64(len(raw)) {
		t.Fatalf("date %v size %d", m.InternalDate, m.Size)
	}
	if !slices.Equal(m.Flags, []string{store.FlagSeen, "$Important"}) {
		t.Fatalf("flags = %v", m.Flags)
	}
	if m.Root.Type != "text" || m.Root.Subtype != "plain" {
		t.Fatalf("root part = %s/%s", m.Root.Type, m.Root.Subtype)
	}
	got := ok(s.Raw(c, ds[1].ID))(t)
	if string(got) != string(raw) {
		t.Fatalf("raw differs:\n%q\n%q", got, raw)
	}
	batch := ok(s.Messages(c, second.Folder, []store.UID{2, 7, 1}))(t)
	if len(batch) != 2 || batch[0].UID != 1 || batch[1].UID != 2 || batch[0].Envelope.Subject != "Hello" || batch[1].ID != second.ID {
		t.Fatalf("messages = %+v", batch)
	}
	byUID := ok(s.MessageByUID(c, second.Folder, 2))(t)
	if byUID.ID != second.ID {
		t.Fatalf("MessageByUID = %d, want %d", byUID.ID, second.ID)
	}
	f := inbox(t, s, 1)
	if f.Messages != 2 || f.Unseen != 1 || f.UIDNext != 3 || f.HighestModSeq != second.ModSeq {
		t.Fatalf("inbox counters = %+v", f)
	}
	a := ok(s.Account(c, 1))(t)
	if a.Messages != 2 || a.UsedBytes != m.Size+int64(len(Msg("carol@example.test", "bob@example.test", "Again", "second"))) {
		t.Fatalf("account = %+v", a)
	}
	list := ok(s.List(c, f.ID))(t)
	if len(list) != 2 || list[0].UID != 1 || list[1].UID != 2 {
		t.Fatalf("list = %+v", list)
	}
	_, err := s.MessageByUID(c, f.ID, 99)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.Message(c, 999999)
	wantErr(t, err, store.ErrNotFound)
}

func testDeliverErrors(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	account(t, s, 2)
	other := inbox(t, s, 2)
	raw := Msg("a@example.test", "b@example.test", "x", "y")
	cases := []struct {
		name string
		m    store.NewMessage
		to   []store.Placement
		want error
	}{
		{"no placement", store.NewMessage{Raw: raw}, nil, store.ErrInvalid},
		{"empty message", store.NewMessage{}, []store.Placement{{Account: 1}}, store.ErrInvalid},
		{"unknown account", store.NewMessage{Raw: raw}, []store.Placement{{Account: 9}}, store.ErrNotFound},
		{"unknown folder", store.NewMessage{Raw: raw}, []store.Placement{{Account: 1, Folder: 999999}}, store.ErrNotFound},
		{"folder of another account", store.NewMessage{Raw: raw}, []store.Placement{{Account: 1, Folder: other.ID}}, store.ErrCrossAccount},
		{"bad system flag", store.NewMessage{Raw: raw, Flags: []string{`\Recent`}}, []store.Placement{{Account: 1}}, store.ErrInvalid},
		{"bad keyword", store.NewMessage{Raw: raw, Flags: []string{"a b"}}, []store.Placement{{Account: 1}}, store.ErrInvalid},
		{"one bad placement spoils all", store.NewMessage{Raw: raw}, []store.Placement{{Account: 1}, {Account: 9}}, store.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Deliver(c, tc.m, tc.to)
			wantErr(t, err, tc.want)
		})
	}
	if f := inbox(t, s, 1); f.Messages != 0 || f.UIDNext != 1 {
		t.Fatalf("a failed delivery left traces: %+v", f)
	}
}

func testQuota(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	raw := Msg("a@example.test", "b@example.test", "quota", "0123456789")
	if err := s.SetQuota(c, 1, int64(len(raw))*2); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.SetQuota(c, 1, -1), store.ErrInvalid)
	wantErr(t, s.SetQuota(c, 42, 10), store.ErrNotFound)
	d := deliver(t, s, store.Placement{Account: 1}, raw)
	deliver(t, s, store.Placement{Account: 1}, raw)
	_, err := s.Deliver(c, store.NewMessage{Raw: raw}, []store.Placement{{Account: 1}})
	wantErr(t, err, store.ErrOverQuota)
	// A copy counts too; freeing space lets mail in again.
	trash := ok(s.FolderByRole(c, 1, store.RoleTrash))(t)
	_, err = s.Copy(c, d.Folder, []store.UID{d.UID}, trash.ID)
	wantErr(t, err, store.ErrOverQuota)
	// Moving within the account needs no extra space.
	ok(s.Move(c, d.Folder, []store.UID{d.UID}, trash.ID))(t)
	ok(s.Expunge(c, trash.ID, []store.UID{1}))(t)
	deliver(t, s, store.Placement{Account: 1}, raw)
	if a := ok(s.Account(c, 1))(t); a.UsedBytes != 2*int64(len(raw)) || a.Messages != 2 {
		t.Fatalf("account = %+v", a)
	}
}

func testFlags(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	d1 := deliver(t, s, store.Placement{Account: 1}, Msg("a@x.test", "b@x.test", "one", "1"))
	d2 := deliver(t, s, store.Placement{Account: 1}, Msg("a@x.test", "b@x.test", "two", "2"))
	f := d1.Folder
	res := ok(s.StoreFlags(c, store.FlagUpdate{Folder: f, UIDs: []store.UID{1, 2, 2, 7}, Op: store.FlagsAdd, Flags: []string{`\seen`, "Work"}}))(t)
	if len(res.Updated) != 2 || res.ModSeq <= d2.ModSeq {
		t.Fatalf("result = %+v", res)
	}
	if fo := ok(s.Folder(c, f))(t); fo.Unseen != 0 || fo.HighestModSeq != res.ModSeq {
		t.Fatalf("folder = %+v", fo)
	}
	// Adding what is there already is no change and takes no ModSeq.
	same := ok(s.StoreFlags(c, store.FlagUpdate{Folder: f, UIDs: []store.UID{1}, Op: store.FlagsAdd, Flags: []string{"work"}}))(t)
	if same.ModSeq != 0 || !slices.Equal(same.Updated[0].Flags, []string{store.FlagSeen, "Work"}) {
		t.Fatalf("no-op store = %+v", same)
	}
	rm := ok(s.StoreFlags(c, store.FlagUpdate{Folder: f, UIDs: []store.UID{2}, Op: store.FlagsRemove, Flags: []string{store.FlagSeen, "WORK"}}))(t)
	if len(rm.Updated) != 1 || len(rm.Updated[0].Flags) != 0 {
		t.Fatalf("remove = %+v", rm)
	}
	rep := ok(s.StoreFlags(c, store.FlagUpdate{Folder: f, UIDs: []store.UID{1}, Op: store.FlagsReplace, Flags: []string{store.FlagFlagged, store.FlagAnswered}}))(t)
	if !slices.Equal(rep.Updated[0].Flags, []string{store.FlagAnswered, store.FlagFlagged}) {
		t.Fatalf("replace = %v", rep.Updated[0].Flags)
	}
	if fo := ok(s.Folder(c, f))(t); fo.Unseen != 2 {
		t.Fatalf("unseen = %d, want 2", fo.Unseen)
	}
	_, err := s.StoreFlags(c, store.FlagUpdate{Folder: f, UIDs: []store.UID{1}, Op: store.FlagsAdd, Flags: []string{`\Bogus`}})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.StoreFlags(c, store.FlagUpdate{Folder: 999999, UIDs: []store.UID{1}, Op: store.FlagsAdd, Flags: []string{store.FlagSeen}})
	wantErr(t, err, store.ErrNotFound)
	list := ok(s.List(c, f))(t)
	if list[0].ModSeq != rep.ModSeq || list[1].ModSeq != rm.ModSeq {
		t.Fatalf("per-message modseq = %d, %d", list[0].ModSeq, list[1].ModSeq)
	}
	infos := ok(s.Infos(c, f, []store.UID{2, 9, 1, 2}))(t)
	if len(infos) != 2 || infos[0].UID != 1 || infos[1].UID != 2 || !slices.Equal(infos[0].Flags, list[0].Flags) || infos[1].ModSeq != list[1].ModSeq {
		t.Fatalf("infos = %+v", infos)
	}
}

func testUnchangedSince(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	d1 := deliver(t, s, store.Placement{Account: 1}, Msg("a@x.test", "b@x.test", "one", "1"))
	d2 := deliver(t, s, store.Placement{Account: 1}, Msg("a@x.test", "b@x.test", "two", "2"))
	res := ok(s.StoreFlags(c, store.FlagUpdate{Folder: d1.Folder, UIDs: []store.UID{1, 2}, Op: store.FlagsAdd, Flags: []string{store.FlagSeen}, UnchangedSince: d1.ModSeq}))(t)
	if !slices.Equal(res.Modified, []store.UID{2}) || len(res.Updated) != 1 || res.Updated[0].UID != 1 {
		t.Fatalf("result = %+v (d2 modseq %d)", res, d2.ModSeq)
	}
}

func testCopyMoveExpunge(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	in := inbox(t, s, 1)
	arch := ok(s.FolderByRole(c, 1, store.RoleArchive))(t)
	for i := range 3 {
		deliver(t, s, store.Placement{Account: 1}, Msg("a@x.test", "b@x.test", fmt.Sprintf("m%d", i), "body"))
	}
	cp := ok(s.Copy(c, in.ID, []store.UID{3, 1, 99}, arch.ID))(t)
	if !slices.Equal(cp.Source, []store.UID{1, 3}) || !slices.Equal(cp.Dest, []store.UID{1, 2}) || cp.UIDValidity != arch.UIDValidity {
		t.Fatalf("copy = %+v", cp)
	}
	mv := ok(s.Move(c, in.ID, []store.UID{2}, arch.ID))(t)
	if !slices.Equal(mv.Dest, []store.UID{3}) {
		t.Fatalf("move = %+v", mv)
	}
	_, err := s.Move(c, in.ID, []store.UID{1}, in.ID)
	wantErr(t, err, store.ErrInvalid)
	if got := ok(s.List(c, in.ID))(t); len(got) != 2 || got[0].UID != 1 || got[1].UID != 3 {
		t.Fatalf("inbox after move = %+v", got)
	}
	// Expunging the originals leaves the copies readable.
	gone := ok(s.Expunge(c, in.ID, []store.UID{1, 3, 5}))(t)
	if !slices.Equal(gone, []store.UID{1, 3}) {
		t.Fatalf("expunged = %v", gone)
	}
	for _, mi := range ok(s.List(c, arch.ID))(t) {
		raw := ok(s.Raw(c, mi.ID))(t)
		if len(raw) == 0 {
			t.Fatalf("copy %d lost its bytes", mi.UID)
		}
	}
	fi, fa := ok(s.Folder(c, in.ID))(t), ok(s.Folder(c, arch.ID))(t)
	if fi.Messages != 0 || fa.Messages != 3 || fa.Unseen != 3 || fi.Size != 0 {
		t.Fatalf("counters inbox %+v archive %+v", fi, fa)
	}
	if a := ok(s.Account(c, 1))(t); a.Messages != 3 {
		t.Fatalf("account messages = %d", a.Messages)
	}
	// Deleting a folder takes its messages.
	ok(s.Copy(c, arch.ID, []store.UID{1}, in.ID))(t)
	work := ok(s.CreateFolder(c, 1, 0, "Work", store.RoleNone))(t)
	ok(s.Move(c, arch.ID, []store.UID{1, 2, 3}, work.ID))(t)
	if err := s.DeleteFolder(c, work.ID); err != nil {
		t.Fatal(err)
	}
	if a := ok(s.Account(c, 1))(t); a.Messages != 1 {
		t.Fatalf("account messages after folder delete = %d", a.Messages)
	}
	if got := ok(s.List(c, in.ID))(t); len(got) != 1 || len(ok(s.Raw(c, got[0].ID))(t)) == 0 {
		t.Fatalf("inbox = %+v", got)
	}
}

func testCrossAccount(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	account(t, s, 2)
	d := deliver(t, s, store.Placement{Account: 1}, Msg("a@x.test", "shared@x.test", "shared", "body"))
	dst := inbox(t, s, 2)
	mv := ok(s.Move(c, d.Folder, []store.UID{d.UID}, dst.ID))(t)
	if len(mv.Dest) != 1 {
		t.Fatalf("move = %+v", mv)
	}
	a1, a2 := ok(s.Account(c, 1))(t), ok(s.Account(c, 2))(t)
	if a1.Messages != 0 || a1.UsedBytes != 0 || a2.Messages != 1 || a2.UsedBytes == 0 {
		t.Fatalf("accounts after cross-account move: %+v %+v", a1, a2)
	}
	ch1, _ := must2(t)(s.Changes(c, 1, d.ModSeq, 0))
	if len(ch1) != 1 || ch1[0].Kind != store.ChangeExpunged {
		t.Fatalf("source changes = %+v", ch1)
	}
}

func must2(t *testing.T) func([]store.Change, store.ModSeq, error) ([]store.Change, store.ModSeq) {
	return func(ch []store.Change, m store.ModSeq, err error) ([]store.Change, store.ModSeq) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ch, m
	}
}

func testChanges(t *testing.T, s store.Store) {
	c := ctx(t)
	start := account(t, s, 1).ModSeq
	d1 := deliver(t, s, store.Placement{Account: 1}, Msg("a@x.test", "b@x.test", "one", "1"))
	deliver(t, s, store.Placement{Account: 1}, Msg("a@x.test", "b@x.test", "two", "2"))
	flags := ok(s.StoreFlags(c, store.FlagUpdate{Folder: d1.Folder, UIDs: []store.UID{1, 2}, Op: store.FlagsAdd, Flags: []string{store.FlagSeen}}))(t)
	ok(s.Expunge(c, d1.Folder, []store.UID{1}))(t)
	f := ok(s.CreateFolder(c, 1, 0, "New", store.RoleNone))(t)
	ok(s.RenameFolder(c, f.ID, 0, "Newer"))(t)
	if err := s.DeleteFolder(c, f.ID); err != nil {
		t.Fatal(err)
	}
	all, newest := must2(t)(s.Changes(c, 1, start, 0))
	var kinds []store.ChangeKind
	for i, ch := range all {
		kinds = append(kinds, ch.Kind)
		if i > 0 && ch.ModSeq < all[i-1].ModSeq {
			t.Fatalf("changes out of order: %+v", all)
		}
	}
	want := []store.ChangeKind{store.ChangeAdded, store.ChangeAdded, store.ChangeFlags, store.ChangeFlags, store.ChangeExpunged,
		store.ChangeFolderCreated, store.ChangeFolderUpdated, store.ChangeFolderDeleted}
	if !slices.Equal(kinds, want) {
		t.Fatalf("kinds = %v\nwant    %v", kinds, want)
	}
	if newest != all[len(all)-1].ModSeq || ok(s.Account(c, 1))(t).ModSeq != newest {
		t.Fatalf("newest = %d, last change %d", newest, all[len(all)-1].ModSeq)
	}
	// A limit that would cut the two flag changes (one ModSeq) apart returns both.
	part, _ := must2(t)(s.Changes(c, 1, start, 3))
	if len(part) != 4 || part[3].ModSeq != flags.ModSeq {
		t.Fatalf("limited changes = %+v", part)
	}
	rest, _ := must2(t)(s.Changes(c, 1, part[3].ModSeq, 0))
	if len(rest) != 4 {
		t.Fatalf("resumed changes = %+v", rest)
	}
	none, _ := must2(t)(s.Changes(c, 1, newest, 0))
	if len(none) != 0 {
		t.Fatalf("changes after newest = %+v", none)
	}
	_, _, err := s.Changes(c, 99, 0, 0)
	wantErr(t, err, store.ErrNotFound)
}

func testSubscribe(t *testing.T, s store.Store) {
	account(t, s, 1)
	ch, cancel := s.Subscribe(1)
	defer cancel()
	other, cancelOther := s.Subscribe(2)
	defer cancelOther()
	d := deliver(t, s, store.Placement{Account: 1}, Msg("a@x.test", "b@x.test", "push", "1"))
	select {
	case m := <-ch:
		if m < d.ModSeq {
			t.Fatalf("woken with %d, want >= %d", m, d.ModSeq)
		}
	case <-time.After(time.Second):
		t.Fatal("no wake-up within a second of a delivery")
	}
	select {
	case m := <-other:
		t.Fatalf("account 2 woken for account 1's change: %d", m)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	cancel() // twice is harmless
	if _, ok := <-ch; ok {
		t.Fatal("channel still open after cancel")
	}
}

func testSearch(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	day := func(d int) time.Time { return time.Date(2026, 1, d, 12, 0, 0, 0, time.UTC) }
	msgs := []struct {
		raw   string
		flags []string
		date  time.Time
	}{
		{"From: Alice Archer <alice@example.test>\r\nTo: bob@example.test\r\nSubject: Quarterly report\r\nDate: Thu, 01 Jan 2026 09:00:00 +0000\r\nX-Priority: 1\r\n\r\nThe Kontonummer is 4711.\r\n", []string{store.FlagSeen}, day(1)},
		{"From: bob@example.test\r\nTo: alice@example.test\r\nCc: carol@example.test\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nDate: Sat, 10 Jan 2026 09:00:00 +0000\r\n\r\nMeet at the café, ok?\r\n", []string{store.FlagFlagged, "Work"}, day(10)},
		{"From: carol@example.test\r\nTo: bob@example.test\r\nSubject: lunch\r\nDate: Tue, 20 Jan 2026 09:00:00 +0000\r\nContent-Type: text/html\r\n\r\n<p>Pizza &amp; <b>pasta</b> 100% sure_thing</p>\r\n" + string(make([]byte, 0)), nil, day(20)},
		{"From: dave@example.test\r\nTo: bob@example.test\r\nSubject: long\r\nDate: Wed, 21 Jan 2026 09:00:00 +0000\r\n\r\n" + strings.Repeat("filler text ", 3000) + "the needle at the end\r\n", nil, day(21)},
	}
	var f store.FolderID
	for _, m := range msgs {
		d := ok(s.Deliver(c, store.NewMessage{Raw: []byte(m.raw), Flags: m.flags, InternalDate: m.date}, []store.Placement{{Account: 1}}))(t)
		f = d[0].Folder
	}
	u := func(uids ...store.UID) []store.UID { return uids }
	cases := []struct {
		name string
		c    store.Criteria
		want []store.UID
	}{
		{"all", store.Criteria{}, u(1, 2, 3, 4)},
		{"uid range", store.Criteria{UIDs: []store.UIDRange{{First: 2, Last: 0}}}, u(2, 3, 4)},
		{"empty uid set", store.Criteria{UIDs: []store.UIDRange{}}, nil},
		{"seen", store.Criteria{Flags: []string{store.FlagSeen}}, u(1)},
		{"unseen", store.Criteria{NotFlags: []string{store.FlagSeen}}, u(2, 3, 4)},
		{"keyword any case", store.Criteria{Flags: []string{"work"}}, u(2)},
		{"subject substring any case", store.Criteria{Subject: "REPORT"}, u(1)},
		{"decoded subject", store.Criteria{Subject: "grüße"}, u(2)},
		{"from display name", store.Criteria{From: "archer"}, u(1)},
		{"to", store.Criteria{To: "alice@"}, u(2)},
		{"cc", store.Criteria{Cc: "carol"}, u(2)},
		{"header", store.Criteria{Header: []store.HeaderMatch{{Name: "X-Priority", Value: "1"}}}, u(1)},
		{"header present", store.Criteria{Header: []store.HeaderMatch{{Name: "x-priority"}}}, u(1)},
		{"body substring", store.Criteria{Body: "ontonum"}, u(1)},
		{"body short", store.Criteria{Body: "ok"}, u(2)},
		{"body unicode", store.Criteria{Body: "CAFÉ"}, u(2)},
		{"html text without tags", store.Criteria{Body: "pizza & pasta"}, u(3)},
		{"like wildcards are literal", store.Criteria{Body: "100%"}, u(3)},
		{"underscore matches itself", store.Criteria{Body: "e_t"}, u(3)},
		{"underscore is no wildcard", store.Criteria{Body: "s_re"}, nil},
		{"short underscore is no wildcard", store.Criteria{Body: "s_"}, nil},
		{"text in header", store.Criteria{Text: "quarterly"}, u(1)},
		{"text in body", store.Criteria{Text: "4711"}, u(1)},
		{"since", store.Criteria{Since: day(10)}, u(2, 3, 4)},
		{"before", store.Criteria{Before: day(10)}, u(1)},
		{"sent since", store.Criteria{SentSince: day(15)}, u(3, 4)},
		{"sent before", store.Criteria{SentBefore: day(2)}, u(1)},
		{"larger", store.Criteria{Larger: 150}, u(1, 2, 3, 4)},
		{"smaller", store.Criteria{Smaller: 10}, nil},
		{"or", store.Criteria{Or: [][2]*store.Criteria{{{Subject: "lunch"}, {Flags: []string{store.FlagSeen}}}}}, u(1, 3)},
		{"not", store.Criteria{Not: []*store.Criteria{{From: "bob"}}}, u(1, 3, 4)},
		{"and", store.Criteria{To: "bob", NotFlags: []string{store.FlagSeen}}, u(3, 4)},
		{"quote in phrase", store.Criteria{Body: `say "hi"`}, nil},
		{"past the indexed part of a long text", store.Criteria{Body: "needle at the END"}, u(4)},
		{"text past the indexed part", store.Criteria{Text: "the needle"}, u(4)},
		{"start of a long text", store.Criteria{Body: "filler text filler"}, u(4)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ok(s.Search(c, f, &tc.c))(t)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	ms := ok(s.Search(c, f, &store.Criteria{ModSeq: ok(s.List(c, f))(t)[2].ModSeq}))(t)
	if !slices.Equal(ms, []store.UID{3, 4}) {
		t.Fatalf("modseq search = %v", ms)
	}
}

func testProps(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	d := deliver(t, s, store.Placement{Account: 1}, Msg("a@x.test", "b@x.test", "props", "1"))
	m1 := ok(s.SetProps(c, d.ID, map[string]string{"eas:ConversationId": "abc", "mapi:0x0E07": "1"}))(t)
	m2 := ok(s.SetProps(c, d.ID, map[string]string{"mapi:0x0E07": ""}))(t)
	if m2 <= m1 || m1 <= d.ModSeq {
		t.Fatalf("modseqs %d %d %d", d.ModSeq, m1, m2)
	}
	m := ok(s.Message(c, d.ID))(t)
	if len(m.Props) != 1 || m.Props["eas:ConversationId"] != "abc" || m.ModSeq != m2 {
		t.Fatalf("props = %v modseq %d", m.Props, m.ModSeq)
	}
	_, err := s.SetProps(c, 999999, map[string]string{"a": "b"})
	wantErr(t, err, store.ErrNotFound)
	_, err = s.SetProps(c, d.ID, map[string]string{"": "b"})
	wantErr(t, err, store.ErrInvalid)
	ch, _ := must2(t)(s.Changes(c, 1, d.ModSeq, 0))
	if len(ch) != 2 || ch[0].Kind != store.ChangeProps {
		t.Fatalf("changes = %+v", ch)
	}
}

func testRemoveAccount(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	account(t, s, 2)
	raw := Msg("a@x.test", "b@x.test", "both", "shared bytes")
	ds := ok(s.Deliver(c, store.NewMessage{Raw: raw}, []store.Placement{{Account: 1}, {Account: 2}}))(t)
	if err := s.RemoveAccount(c, 1); err != nil {
		t.Fatal(err)
	}
	_, err := s.Account(c, 1)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.Folders(c, 1)
	if err == nil {
		if fs, _ := s.Folders(c, 1); len(fs) != 0 {
			t.Fatalf("folders left: %+v", fs)
		}
	}
	if got := ok(s.Raw(c, ds[1].ID))(t); string(got) != string(raw) {
		t.Fatal("the other account's copy lost its bytes")
	}
}

func testConcurrentDeliveries(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	const n = 40
	var wg sync.WaitGroup
	uids := make(chan store.UID, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := s.Deliver(c, store.NewMessage{Raw: Msg("a@x.test", "b@x.test", fmt.Sprintf("c%d", i), "x")}, []store.Placement{{Account: 1}})
			if err != nil {
				errs <- err
				return
			}
			uids <- d[0].UID
		}()
	}
	wg.Wait()
	close(uids)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var got []store.UID
	for u := range uids {
		got = append(got, u)
	}
	slices.Sort(got)
	for i, u := range got {
		if u != store.UID(i+1) {
			t.Fatalf("UIDs = %v", got)
		}
	}
	if f := inbox(t, s, 1); f.Messages != n || f.UIDNext != n+1 {
		t.Fatalf("inbox = %+v", f)
	}
}
