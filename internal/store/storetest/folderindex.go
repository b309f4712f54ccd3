package storetest

import (
	"fmt"
	"reflect"
	"testing"

	"mailroom/internal/store"
)

// testFolderIndex checks what opening a folder reads as the folder changes: UIDs as
// runs split by expunges, the lowest unseen UID and the keywords in use, sorted.
func testFolderIndex(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	in := inbox(t, s, 1)
	for i := range 6 {
		flags := []string{store.FlagSeen}
		if i == 3 {
			flags = nil
		}
		deliver(t, s, store.Placement{Account: 1}, Msg("a@x.test", "b@x.test", fmt.Sprintf("m%d", i), "body"), flags...)
	}
	steps := []struct {
		name string
		do   func() error
		want store.FolderIndex
	}{
		{"delivered", nil, store.FolderIndex{UIDs: []store.UIDRange{{First: 1, Last: 6}}, FirstUnseen: 4}},
		{"expunged 2 and 5", func() error { return second(s.Expunge(c, in.ID, []store.UID{2, 5})) }, store.FolderIndex{UIDs: []store.UIDRange{{First: 1, Last: 1}, {First: 3, Last: 4}, {First: 6, Last: 6}}, FirstUnseen: 4}},
		{"keywords", func() error {
			if err := second(s.StoreFlags(c, store.FlagUpdate{Folder: in.ID, UIDs: []store.UID{1}, Op: store.FlagsAdd, Flags: []string{"zeta", "$Label1"}})); err != nil {
				return err
			}
			return second(s.StoreFlags(c, store.FlagUpdate{Folder: in.ID, UIDs: []store.UID{3, 6}, Op: store.FlagsAdd, Flags: []string{"alpha", "zeta"}}))
		}, store.FolderIndex{UIDs: []store.UIDRange{{First: 1, Last: 1}, {First: 3, Last: 4}, {First: 6, Last: 6}}, FirstUnseen: 4, Keywords: []string{"$Label1", "alpha", "zeta"}}},
		{"unseen 1, seen 4", func() error {
			if err := second(s.StoreFlags(c, store.FlagUpdate{Folder: in.ID, UIDs: []store.UID{4}, Op: store.FlagsAdd, Flags: []string{store.FlagSeen}})); err != nil {
				return err
			}
			return second(s.StoreFlags(c, store.FlagUpdate{Folder: in.ID, UIDs: []store.UID{1}, Op: store.FlagsRemove, Flags: []string{store.FlagSeen, "$Label1"}}))
		}, store.FolderIndex{UIDs: []store.UIDRange{{First: 1, Last: 1}, {First: 3, Last: 4}, {First: 6, Last: 6}}, FirstUnseen: 1, Keywords: []string{"alpha", "zeta"}}},
		{"all seen, appended", func() error {
			if err := second(s.StoreFlags(c, store.FlagUpdate{Folder: in.ID, UIDs: []store.UID{1}, Op: store.FlagsAdd, Flags: []string{store.FlagSeen}})); err != nil {
				return err
			}
			deliver(t, s, store.Placement{Account: 1}, Msg("a@x.test", "b@x.test", "m7", "body"), store.FlagSeen)
			return nil
		}, store.FolderIndex{UIDs: []store.UIDRange{{First: 1, Last: 1}, {First: 3, Last: 4}, {First: 6, Last: 7}}, Keywords: []string{"alpha", "zeta"}}},
		{"emptied", func() error { return second(s.Expunge(c, in.ID, []store.UID{1, 3, 4, 6, 7})) }, store.FolderIndex{}},
	}
	for _, st := range steps {
		if st.do != nil {
			if err := st.do(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		if got := ok(s.FolderIndex(c, in.ID))(t); !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s: FolderIndex = %+v, want %+v", st.name, got, st.want)
		}
	}
}
