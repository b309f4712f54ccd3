package storetest

import (
	"context"
	"slices"
	"testing"

	"mailroom/internal/store"
)

// testReplace checks Replace: the old item goes and the new one arrives in the same
// folder under one ModSeq, counters follow, and a refused replacement changes nothing.
func testReplace(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	cal := ok(s.CreateFolder(c, 1, 0, "Calendar", store.RoleCalendar))(t)
	v1 := []byte("Content-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
	v2 := []byte("Content-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\nX-V:2\r\nEND:VCALENDAR\r\n")
	d := deliver(t, s, store.Placement{Account: 1, Folder: cal.ID}, v1, store.FlagSeen)
	before := ok(s.Account(c, 1))(t)

	r := ok(s.Replace(c, d.ID, store.NewMessage{Raw: v2, Flags: []string{store.FlagSeen}, Props: map[string]string{"dav:name": "a.ics"}}))(t)
	if r.Folder != cal.ID || r.Account != 1 || r.ID == d.ID || r.UID <= d.UID || r.ModSeq <= before.ModSeq {
		t.Fatalf("Replace = %+v after %+v", r, d)
	}
	_, err := s.Message(c, d.ID)
	wantErr(t, err, store.ErrNotFound)
	m := ok(s.Message(c, r.ID))(t)
	if m.Props["dav:name"] != "a.ics" || m.ModSeq != r.ModSeq || !slices.Contains(m.Flags, store.FlagSeen) {
		t.Fatalf("replacement = %+v", m)
	}
	if raw := ok(s.Raw(c, r.ID))(t); string(raw) != string(v2) {
		t.Fatalf("raw = %q", raw)
	}
	ch, newest := must2(t)(s.Changes(c, 1, before.ModSeq, 0))
	want := []store.Change{
		{ModSeq: r.ModSeq, Kind: store.ChangeExpunged, Folder: cal.ID, Message: d.ID, UID: d.UID},
		{ModSeq: r.ModSeq, Kind: store.ChangeAdded, Folder: cal.ID, Message: r.ID, UID: r.UID},
	}
	if !slices.Equal(ch, want) || newest != r.ModSeq {
		t.Fatalf("changes = %+v (newest %d), want %+v", ch, newest, want)
	}
	f := ok(s.Folder(c, cal.ID))(t)
	if f.Messages != 1 || f.Size != int64(len(v2)) || f.Unseen != 0 || f.HighestModSeq != r.ModSeq {
		t.Fatalf("folder = %+v", f)
	}
	a := ok(s.Account(c, 1))(t)
	if a.Messages != before.Messages || a.UsedBytes != before.UsedBytes-int64(len(v1))+int64(len(v2)) {
		t.Fatalf("account = %+v, before %+v", a, before)
	}

	// The same bytes again: the shared blob must survive the release of the old copy.
	r2 := ok(s.Replace(c, r.ID, store.NewMessage{Raw: v2}))(t)
	if raw := ok(s.Raw(c, r2.ID))(t); string(raw) != string(v2) {
		t.Fatalf("raw after identical replacement = %q", raw)
	}
	if f := ok(s.Folder(c, cal.ID))(t); f.Unseen != 1 || f.Messages != 1 {
		t.Fatalf("folder after replacing with an unseen item = %+v", f)
	}

	// Refusals leave everything as it was.
	if err := s.SetQuota(c, 1, ok(s.Account(c, 1))(t).UsedBytes+5); err != nil {
		t.Fatal(err)
	}
	stable := ok(s.Account(c, 1))(t)
	big := append(slices.Clone(v2), make([]byte, 64)...)
	for _, tc := range []struct {
		name string
		id   store.MessageID
		m    store.NewMessage
		want error
	}{
		{"missing", 999999, store.NewMessage{Raw: v1}, store.ErrNotFound},
		{"gone", d.ID, store.NewMessage{Raw: v1}, store.ErrNotFound},
		{"empty", r2.ID, store.NewMessage{}, store.ErrInvalid},
		{"bad keyword", r2.ID, store.NewMessage{Raw: v1, Flags: []string{"a(b"}}, store.ErrInvalid},
		{"over quota", r2.ID, store.NewMessage{Raw: big}, store.ErrOverQuota},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Replace(c, tc.id, tc.m)
			wantErr(t, err, tc.want)
			if a := ok(s.Account(c, 1))(t); a != stable {
				t.Fatalf("account after refused Replace = %+v, want %+v", a, stable)
			}
			if raw := ok(s.Raw(c, r2.ID))(t); string(raw) != string(v2) {
				t.Fatalf("raw after refused Replace = %q", raw)
			}
		})
	}
	// A smaller replacement fits even when the account is over its quota.
	if err := s.SetQuota(c, 1, 1); err != nil {
		t.Fatal(err)
	}
	ok(s.Replace(c, r2.ID, store.NewMessage{Raw: v1}))(t)
}

// testConcurrentReplace races replacements of one item: exactly one wins per round
// and the folder keeps exactly one item.
func testConcurrentReplace(t *testing.T, s store.Store) {
	c := ctx(t)
	account(t, s, 1)
	d := deliver(t, s, store.Placement{Account: 1}, Msg("a@x.test", "b@x.test", "r", "0"))
	cur := d.ID
	for round := range 5 {
		errs := make(chan error, 2)
		ids := make(chan store.MessageID, 2)
		for i := range 2 {
			go func() {
				r, err := s.Replace(context.WithoutCancel(c), cur, store.NewMessage{Raw: Msg("a@x.test", "b@x.test", "r", string(rune('a'+round*2+i)))})
				if err == nil {
					ids <- r.ID
				}
				errs <- err
			}()
		}
		wins := 0
		for range 2 {
			if err := <-errs; err == nil {
				wins++
			} else {
				wantErr(t, err, store.ErrNotFound)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d replacements won, want 1", round, wins)
		}
		cur = <-ids
	}
	if f := ok(s.Folder(c, d.Folder))(t); f.Messages != 1 {
		t.Fatalf("folder holds %d items after racing replacements, want 1", f.Messages)
	}
}
