package activesync

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// TestSyncPagedFirstSync checks a first sync that takes several windows while the
// folder changes under it: new mail, a message the device holds deleted and one
// changed, a message not yet sent deleted. The device ends up with exactly the folder,
// each item added once; a retry replays; a repeated SyncKey 0 starts over.
func TestSyncPagedFirstSync(t *testing.T) {
	e := newEnv(t)
	inboxID := e.folder(e.alice, store.RoleInbox).ID
	var uids []store.UID
	deliver := func(subject string) store.UID {
		d := e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", subject, "x"), time.Now())
		return d.UID
	}
	for i := range 23 {
		uids = append(uids, deliver(fmt.Sprintf("m%02d", i)))
	}
	c, inbox, key := primed(t, e, "")
	ns := wbxml.NSAirSync
	window := `<WindowSize>5</WindowSize>`
	type item struct {
		op  string
		uid store.UID
	}
	sync := func(key string) (*wbxml.Element, []item) {
		t.Helper()
		col := collection(c.do("Sync", syncXML(inbox, key, window)))
		if st := col.ChildText(ns, "Status"); st != "1" {
			t.Fatalf("status %s: %s", st, col.XML())
		}
		var got []item
		if cmds := col.Child(ns, "Commands"); cmds != nil {
			for _, op := range cmds.Children {
				_, u, ok := parseItemID(op.ChildText(ns, "ServerId"))
				if !ok {
					t.Fatalf("server id: %s", op.XML())
				}
				got = append(got, item{op.Name, u})
			}
		}
		return col, got
	}

	// The first page: the newest five, newest first.
	col, got := sync(key)
	if want := []item{{"Add", uids[22]}, {"Add", uids[21]}, {"Add", uids[20]}, {"Add", uids[19]}, {"Add", uids[18]}}; !slices.Equal(got, want) ||
		col.Child(ns, "MoreAvailable") == nil {
		t.Fatalf("first page: %v, %s", got, col.XML())
	}
	// A retry of the same request gets the same answer.
	if _, again := sync(key); !slices.Equal(again, got) {
		t.Errorf("retry: %v, want %v", again, got)
	}
	key = col.ChildText(ns, "SyncKey")

	held := map[store.UID]bool{}
	for _, it := range got {
		held[it.uid] = true
	}
	// Meanwhile: new mail, a held message deleted, another flagged, and a message not
	// yet sent deleted.
	fresh := deliver("new")
	_, err := e.store.Expunge(e.ctx, inboxID, []store.UID{uids[21], uids[3]})
	must(t, err)
	_, err = e.store.StoreFlags(e.ctx, store.FlagUpdate{Folder: inboxID, UIDs: []store.UID{uids[20]}, Op: store.FlagsAdd, Flags: []string{store.FlagSeen}})
	must(t, err)

	var changed []store.UID
	for round := 0; ; round++ {
		if round > 10 {
			t.Fatal("no end to MoreAvailable")
		}
		col, got = sync(key)
		key = col.ChildText(ns, "SyncKey")
		for _, it := range got {
			switch it.op {
			case "Add":
				if held[it.uid] {
					t.Errorf("uid %d added twice", it.uid)
				}
				held[it.uid] = true
			case "Delete":
				delete(held, it.uid)
			case "Change":
				changed = append(changed, it.uid)
			default:
				t.Errorf("unexpected %s", it.op)
			}
		}
		if col.Child(ns, "MoreAvailable") == nil {
			break
		}
	}
	var want []store.UID
	for _, u := range append(slices.Clone(uids), fresh) {
		if u != uids[21] && u != uids[3] {
			want = append(want, u)
		}
	}
	have := make([]store.UID, 0, len(held))
	for u := range held {
		have = append(have, u)
	}
	slices.Sort(have)
	if !slices.Equal(have, want) || !slices.Equal(changed, []store.UID{uids[20]}) {
		t.Errorf("device holds %v (changed %v), want %v (changed %d)", have, changed, want, uids[20])
	}
	// Nothing more, and the key stays.
	if col, got = sync(key); len(got) != 0 || col.ChildText(ns, "SyncKey") != key {
		t.Errorf("after the full sync: %s", col.XML())
	}

	// A repeated SyncKey 0 starts over: the old key is gone, everything comes again.
	r := c.do("Sync", syncXML(inbox, "0", ""))
	if s := collection(c.do("Sync", syncXML(inbox, key, window))).ChildText(ns, "Status"); s != "3" {
		t.Errorf("old key after a restart: status %s", s)
	}
	key = collection(r).ChildText(ns, "SyncKey")
	if n, _ := strconv.Atoi(key); n == 0 {
		t.Fatalf("restart key %q", key)
	}
	count := 0
	for round := 0; round < 10; round++ {
		col, got = sync(key)
		key = col.ChildText(ns, "SyncKey")
		count += len(got)
		if col.Child(ns, "MoreAvailable") == nil {
			break
		}
	}
	if count != len(want) {
		t.Errorf("after a restart: %d items, want %d", count, len(want))
	}
}
