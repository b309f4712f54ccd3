package storetest

import (
	"reflect"
	"testing"

	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// testRawMany reads several messages' bytes at once: each as Raw gives it, copies
// sharing one blob each under their own id, ids that name nothing left out.
func testRawMany(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	account(t, s, 2)
	a := Msg("alice@example.test", "bob@example.test", "One", "first body")
	b := Msg("carol@example.test", "bob@example.test", "Two", "second body")
	ds := ok(s.Deliver(c, store.NewMessage{Raw: a}, []store.Placement{{Account: 1}, {Account: 2}}))(t)
	other := deliver(t, s, store.Placement{Account: 1}, b)
	gone := deliver(t, s, store.Placement{Account: 1}, Msg("dave@example.test", "bob@example.test", "Three", "third"))
	ok(s.Expunge(c, gone.Folder, []store.UID{gone.UID}))(t)
	tests := []struct {
		name string
		ids  []store.MessageID
		want map[store.MessageID][]byte
	}{
		{"none", nil, map[store.MessageID][]byte{}},
		{"one", []store.MessageID{other.ID}, map[store.MessageID][]byte{other.ID: b}},
		{"copies and another", []store.MessageID{ds[1].ID, other.ID, ds[0].ID}, map[store.MessageID][]byte{ds[0].ID: a, ds[1].ID: a, other.ID: b}},
		{"expunged and unknown left out", []store.MessageID{gone.ID, other.ID, 1 << 40}, map[store.MessageID][]byte{other.ID: b}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ok(s.RawMany(c, tc.ids))(t)
			if len(got) != len(tc.want) {
				t.Fatalf("RawMany(%v) has %d messages, want %d", tc.ids, len(got), len(tc.want))
			}
			for id, raw := range tc.want {
				if string(got[id]) != string(raw) {
					t.Errorf("message %d: %q, want %q", id, got[id], raw)
				}
			}
		})
	}
}

// testMarks reads messages without their summaries: each as Messages gives it but
// with Envelope and Root empty, flags and properties current, UIDs not there left out.
func testMarks(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	a := deliver(t, s, store.Placement{Account: 1}, Msg("alice@example.test", "bob@example.test", "One", "first body"), store.FlagSeen, "$Label1")
	b := deliver(t, s, store.Placement{Account: 1}, Msg("carol@example.test", "bob@example.test", "Two", "second body"))
	gone := deliver(t, s, store.Placement{Account: 1}, Msg("dave@example.test", "bob@example.test", "Three", "third"))
	ok(s.SetProps(c, b.ID, map[string]string{"x-category": `["Blue"]`}))(t)
	ok(s.StoreFlags(c, store.FlagUpdate{Folder: b.Folder, UIDs: []store.UID{b.UID}, Op: store.FlagsAdd, Flags: []string{store.FlagFlagged}}))(t)
	ok(s.Expunge(c, gone.Folder, []store.UID{gone.UID}))(t)
	tests := []struct {
		name string
		uids []store.UID
	}{
		{"none", nil},
		{"one", []store.UID{b.UID}},
		{"out of order, gone left out", []store.UID{gone.UID, b.UID, a.UID, 999}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := ok(s.Messages(c, a.Folder, tc.uids))(t)
			for i := range want {
				want[i].Envelope, want[i].Root = mime.Envelope{}, mime.Part{}
			}
			got := ok(s.Marks(c, a.Folder, tc.uids))(t)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Marks(%v)\n%+v\nwant %+v", tc.uids, got, want)
			}
		})
	}
}
