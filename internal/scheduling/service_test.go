package scheduling

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/mailflow"
	"mailroom/internal/pim"
	"mailroom/internal/queue"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
)

// outbox takes the remote copies mailflow queues; the queue itself is tested with real
// SMTP servers, and cmd/mailroom's scheduling test sends through it across instances.
type outbox struct{ got []queue.Message }

func (o *outbox) Enqueue(_ context.Context, m queue.Message) (int64, error) {
	o.got = append(o.got, m)
	return int64(len(o.got)), nil
}

type env struct {
	st                *sqlstore.Store
	dir               *directory.Directory
	out               *outbox
	svc               *Service
	alice, bob, carol directory.User
}

func newEnv(t testing.TB) *env {
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
	if _, err := dir.AddDomain(ctx, "a.test", ""); err != nil {
		t.Fatal(err)
	}
	add := func(addr string) directory.User {
		u, err := dir.AddUser(ctx, directory.NewUser{Address: addr, Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.EnsureAccount(ctx, store.AccountID(u.ID)); err != nil {
			t.Fatal(err)
		}
		return u
	}
	e := &env{st: st, dir: dir, out: &outbox{}}
	e.alice, e.bob, e.carol = add("alice@a.test"), add("bob@a.test"), add("carol@a.test")
	e.svc = New(Config{
		Store: st, Directory: dir, Flow: &mailflow.Flow{Directory: dir, Mailboxes: st, Queue: e.out},
		Hostname: "mail.a.test", Now: func() time.Time { return time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC) },
	})
	return e
}

// file stores an event in u's default calendar, as a CalDAV PUT would.
func (e *env) file(t *testing.T, u directory.User, data []byte) {
	t.Helper()
	ctx := context.Background()
	if _, err := pim.EnsureFolders(ctx, e.st, store.AccountID(u.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.putEvent(ctx, store.AccountID(u.ID), nil, data); err != nil {
		t.Fatal(err)
	}
}

// event returns u's calendar copy of uid, or nil.
func (e *env) event(t *testing.T, u directory.User, uid string) []byte {
	t.Helper()
	ev, err := e.svc.findEvent(context.Background(), store.AccountID(u.ID), uid)
	if err != nil {
		t.Fatal(err)
	}
	if ev == nil {
		return nil
	}
	return ev.data
}

// inbox returns the raw messages of u's Inbox.
func (e *env) inbox(t *testing.T, u directory.User) []store.Message {
	t.Helper()
	ctx := context.Background()
	f, err := e.st.FolderByRole(ctx, store.AccountID(u.ID), store.RoleInbox)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Message
	if err := e.svc.eachItem(ctx, f.ID, func(m store.Message) bool { out = append(out, m); return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) raw(t *testing.T, m store.Message) []byte {
	t.Helper()
	raw, err := e.st.Raw(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// internalMeeting is alice's meeting with bob and carol (ours) and dave (remote).
func internalMeeting(seq int, extra ...string) []byte {
	return ics("", append([]string{
		"UID:team-1", "DTSTAMP:20261101T090000Z", "DTSTART:20261202T100000Z", "DTEND:20261202T110000Z",
		"SUMMARY:Team meeting", "SEQUENCE:" + strconv.Itoa(seq),
		"ORGANIZER:mailto:alice@a.test",
		"ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@a.test",
		"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@a.test",
		"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:dave@remote.test",
	}, extra...)...)
}

// TestInternalInvitation: alice's new meeting puts the event in bob's calendar and the
// invitation in his Inbox, and queues it for the remote attendee; bob accepts, and
// alice's copy shows it at once; a change of time asks again, a removed attendee is
// cancelled.
func TestInternalInvitation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v0 := internalMeeting(0)
	e.file(t, e.alice, v0)
	if err := e.svc.Organize(ctx, e.alice, nil, v0); err != nil {
		t.Fatal(err)
	}
	if got := partstat(t, e.event(t, e.bob, "team-1"), "bob@a.test"); got != NeedsAction {
		t.Fatalf("bob's copy: PARTSTAT %q", got)
	}
	in := e.inbox(t, e.bob)
	if len(in) != 1 || !strings.Contains(string(e.raw(t, in[0])), "method=REQUEST") {
		t.Fatalf("bob's Inbox: %d messages", len(in))
	}
	if len(e.out.got) != 1 || strings.Join(e.out.got[0].To, ",") != "dave@remote.test" || e.out.got[0].From != "alice@a.test" {
		t.Fatalf("queued: %+v", e.out.got)
	}
	if e.event(t, e.carol, "team-1") != nil {
		t.Error("carol, not invited, has the event")
	}

	// bob accepts from the invitation mail, as MeetingResponse does.
	inv, _ := Extract(e.raw(t, in[0]))
	d, err := e.svc.Respond(ctx, e.bob, Response{Invitation: inv, PartStat: Accepted, Send: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.Folder == 0 || partstat(t, e.event(t, e.bob, "team-1"), "bob@a.test") != Accepted {
		t.Fatalf("bob's copy after accepting: %+v", d)
	}
	if got := partstat(t, e.event(t, e.alice, "team-1"), "bob@a.test"); got != Accepted {
		t.Fatalf("alice's copy shows bob %q", got)
	}
	if in := e.inbox(t, e.alice); len(in) != 1 || !strings.Contains(string(e.raw(t, in[0])), "method=REPLY") {
		t.Fatalf("alice's Inbox: %d messages", len(in))
	}
	if _, err := e.svc.Respond(ctx, e.alice, Response{UID: "team-1", PartStat: Accepted}); !errors.Is(err, ErrOrganizer) {
		t.Errorf("organiser answering: %v", err)
	}
	if _, err := e.svc.Respond(ctx, e.carol, Response{UID: "team-1", PartStat: Accepted}); !errors.Is(err, ErrUnknownEvent) {
		t.Errorf("carol answering: %v", err)
	}

	// Same event, one more attendee: only carol hears of it.
	e.out.got = nil
	v0c := internalMeeting(0, "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@a.test")
	if err := e.svc.Organize(ctx, e.alice, v0, v0c); err != nil {
		t.Fatal(err)
	}
	if len(e.inbox(t, e.bob)) != 1 || len(e.out.got) != 0 || e.event(t, e.carol, "team-1") == nil {
		t.Fatalf("adding carol: bob has %d messages, %d queued", len(e.inbox(t, e.bob)), len(e.out.got))
	}
	// Moved: everyone is asked again; bob's answer is reset by the new SEQUENCE.
	v1 := []byte(strings.Replace(string(internalMeeting(1)), "DTSTART:20261202T100000Z", "DTSTART:20261202T103000Z", 1))
	if err := e.svc.Organize(ctx, e.alice, v0c, v1); err != nil {
		t.Fatal(err)
	}
	if got := partstat(t, e.event(t, e.bob, "team-1"), "bob@a.test"); got != NeedsAction {
		t.Errorf("bob after the move: %q", got)
	}
	if c := e.event(t, e.carol, "team-1"); c == nil || !strings.Contains(string(c), "STATUS:CANCELLED") {
		t.Errorf("carol, removed, has no cancelled copy:\n%s", c)
	}
	// Deleted by the organiser: the remaining attendees are told.
	e.out.got = nil
	if err := e.svc.Organize(ctx, e.alice, v1, nil); err != nil {
		t.Fatal(err)
	}
	if c := e.event(t, e.bob, "team-1"); !strings.Contains(string(c), "STATUS:CANCELLED") || len(e.out.got) != 1 {
		t.Errorf("after deletion bob has\n%s\nand %d queued", c, len(e.out.got))
	}
	// bob organises nothing: his copy changing sends nothing.
	if err := e.svc.Organize(ctx, e.bob, nil, v1); err != nil || len(e.out.got) != 1 {
		t.Errorf("an attendee's change sent mail: %v, %d queued", err, len(e.out.got))
	}
}

// TestIncoming: an iMIP REPLY from a remote attendee updates the organiser's copy; a
// spoofed one, or one in Junk, does not; Delivered and Run do it off the caller's path.
func TestIncoming(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.file(t, e.alice, internalMeeting(0))
	reply := func(from, who string) []byte {
		cal := ics("REPLY", "UID:team-1", "DTSTAMP:20261101T090000Z", "ORGANIZER:mailto:alice@a.test", "ATTENDEE;PARTSTAT=DECLINED:mailto:"+who)
		raw, err := Mail{From: from, To: []string{"alice@a.test"}, Subject: "Declined", Method: MethodReply, Calendar: cal, Date: time.Now()}.Build()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	deliver := func(raw []byte, folder store.FolderID) store.Delivered {
		d, err := e.st.Deliver(ctx, store.NewMessage{Raw: raw}, []store.Placement{{Account: store.AccountID(e.alice.ID), Folder: folder}})
		if err != nil {
			t.Fatal(err)
		}
		return d[0]
	}
	if err := e.svc.Process(ctx, deliver(reply("mallory@evil.test", "dave@remote.test"), 0), reply("mallory@evil.test", "dave@remote.test")); !errors.Is(err, ErrSpoofed) {
		t.Fatalf("spoofed reply: %v", err)
	}
	junk, err := e.st.FolderByRole(ctx, store.AccountID(e.alice.ID), store.RoleJunk)
	if err != nil {
		t.Fatal(err)
	}
	good := reply("dave@remote.test", "dave@remote.test")
	if err := e.svc.Process(ctx, deliver(good, junk.ID), good); err != nil {
		t.Fatal(err)
	}
	if got := partstat(t, e.event(t, e.alice, "team-1"), "dave@remote.test"); got != NeedsAction {
		t.Fatalf("a reply in Junk was applied: %q", got)
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.svc.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	e.svc.Delivered(ctx, []store.Delivered{deliver([]byte("From: x@y.test\r\nSubject: plain\r\n\r\nno calendar\r\n"), 0), deliver(good, 0)})
	deadline := time.Now().Add(10 * time.Second)
	for partstat(t, e.event(t, e.alice, "team-1"), "dave@remote.test") != Declined {
		if time.Now().After(deadline) {
			t.Fatal("the queued reply was not applied")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFreeBusy: bob's busy time from his calendar, recurrences expanded, transparent,
// cancelled and declined events free, an unanswered invitation tentative.
func TestFreeBusy(t *testing.T) {
	e := newEnv(t)
	ev := func(uid string, extra ...string) []byte {
		return ics("", append([]string{"UID:" + uid, "DTSTAMP:20261101T090000Z"}, extra...)...)
	}
	e.file(t, e.bob, ev("busy", "DTSTART:20261202T090000Z", "DTEND:20261202T100000Z"))
	e.file(t, e.bob, ev("daily", "DTSTART:20261201T120000Z", "DURATION:PT30M", "RRULE:FREQ=DAILY"))
	e.file(t, e.bob, ev("transparent", "DTSTART:20261202T100000Z", "DTEND:20261202T110000Z", "TRANSP:TRANSPARENT"))
	e.file(t, e.bob, ev("cancelled", "DTSTART:20261202T100000Z", "DTEND:20261202T110000Z", "STATUS:CANCELLED"))
	e.file(t, e.bob, ev("oof", "DTSTART:20261202T140000Z", "DTEND:20261202T150000Z", "X-MICROSOFT-CDO-BUSYSTATUS:OOF"))
	e.file(t, e.bob, ev("invited", "DTSTART:20261202T103000Z", "DTEND:20261202T110000Z", "ORGANIZER:mailto:alice@a.test",
		"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@a.test"))
	e.file(t, e.bob, ev("declined", "DTSTART:20261202T110000Z", "DTEND:20261202T120000Z", "ORGANIZER:mailto:alice@a.test",
		"ATTENDEE;PARTSTAT=DECLINED:mailto:bob@a.test"))
	e.file(t, e.bob, ev("elsewhere", "DTSTART:20261202T150000Z", "DTEND:20261202T153000Z", "X-MICROSOFT-CDO-BUSYSTATUS:WORKINGELSEWHERE"))

	start := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	end := start.Add(8 * time.Hour)
	periods, err := e.svc.FreeBusy(context.Background(), e.bob, start, end)
	if err != nil {
		t.Fatal(err)
	}
	//        08  09  10  11  12  13  14  15
	want := "00" + "22" + "01" + "00" + "20" + "00" + "33" + "40"
	if got := Merged(periods, start, end, 30*time.Minute); got != want {
		t.Errorf("MergedFreeBusy\n got %s\nwant %s", got, want)
	}
	if got, _ := e.svc.FreeBusy(context.Background(), e.carol, start, end); len(got) != 0 {
		t.Errorf("carol, with no events, is busy: %+v", got)
	}
	if _, err := e.svc.FreeBusy(context.Background(), e.bob, end, start); !errors.Is(err, ErrInvalid) {
		t.Errorf("reversed range: %v", err)
	}
	fb, err := VFreeBusy(periods, "bob@a.test", start, end, start)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"BEGIN:VFREEBUSY", "FREEBUSY;FBTYPE=BUSY:20261202T090000Z/20261202T100000Z", "FBTYPE=BUSY-UNAVAILABLE", "FBTYPE=BUSY-TENTATIVE"} {
		if !strings.Contains(string(fb), w) {
			t.Errorf("VFREEBUSY lacks %q:\n%s", w, fb)
		}
	}
}

// TestRespondFiles: answering an invitation mail whose event is not in the calendar
// (the worker never saw it) files it with the answer; an answer that is not one of
// the three is refused before anything is written.
func TestRespondFiles(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req, err := Request(internalMeeting(0), pim.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Respond(ctx, e.bob, Response{Invitation: req, PartStat: "MAYBE"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad answer: %v", err)
	}
	if e.event(t, e.bob, "team-1") != nil {
		t.Fatal("a refused answer filed the event")
	}
	if _, err := e.svc.Respond(ctx, e.bob, Response{Invitation: req, PartStat: Tentative}); err != nil {
		t.Fatal(err)
	}
	if got := partstat(t, e.event(t, e.bob, "team-1"), "bob@a.test"); got != Tentative {
		t.Fatalf("bob's copy: %q", got)
	}
	if len(e.out.got) != 0 || len(e.inbox(t, e.alice)) != 0 {
		t.Error("an answer without Send went out")
	}
}

// BenchmarkFreeBusy: a week of free/busy over a calendar of 500 events, a tenth of
// them repeating daily.
func BenchmarkFreeBusy(b *testing.B) {
	e := newEnv(b)
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 500 {
		at := start.Add(time.Duration(i%60) * 24 * time.Hour).Add(time.Duration(8+i%9) * time.Hour)
		lines := []string{"UID:ev-" + strconv.Itoa(i), "DTSTAMP:20261101T090000Z",
			"DTSTART:" + at.Format("20060102T150405Z"), "DURATION:PT45M"}
		if i%10 == 0 {
			lines = append(lines, "RRULE:FREQ=DAILY")
		}
		obj, err := pim.ParseCalendar(ics("", lines...), pim.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pim.EnsureFolders(context.Background(), e.st, store.AccountID(e.bob.ID)); err != nil {
			b.Fatal(err)
		}
		if _, err := e.svc.putEvent(context.Background(), store.AccountID(e.bob.ID), nil, obj.Data); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.svc.FreeBusy(context.Background(), e.bob, start.Add(20*24*time.Hour), start.Add(27*24*time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}
