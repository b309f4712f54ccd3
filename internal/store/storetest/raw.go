package storetest

import (
	"testing"

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
