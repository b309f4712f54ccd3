package activesync

import (
	"context"
	"strings"
	"testing"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/mailflow"
	"mailroom/internal/pim"
	"mailroom/internal/queue"
	"mailroom/internal/scheduling"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
	"mailroom/internal/wbxml"
)

// remoteOutbox takes what mailflow queues for remote recipients; the queue has its
// own tests with real SMTP servers.
type remoteOutbox struct{ got []queue.Message }

func (o *remoteOutbox) Enqueue(_ context.Context, m queue.Message) (int64, error) {
	o.got = append(o.got, m)
	return int64(len(o.got)), nil
}

// withScheduler gives the server a real scheduling service over its store and
// directory, and hands it to the test.
func withScheduler(svc **scheduling.Service, out *remoteOutbox) envOption {
	return func(c *Config) {
		st, dir := c.Store.(*sqlstore.Store), c.Directory.(*directory.Directory)
		*svc = scheduling.New(scheduling.Config{Store: st, Directory: dir, Flow: &mailflow.Flow{Directory: dir, Mailboxes: st, Queue: out}})
		c.Scheduler = *svc
	}
}

const teamMeeting = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:team-42\r\n" +
	"DTSTAMP:20261101T090000Z\r\nDTSTART:20261202T100000Z\r\nDTEND:20261202T110000Z\r\nSUMMARY:Team\r\n" +
	"ORGANIZER:mailto:alice@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\n" +
	"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com\r\n" +
	"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:dave@remote.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

// calendarCopy returns u's stored event with uid and where it is.
func (e *env) calendarCopy(u directory.User, uid string) (store.Message, string) {
	e.t.Helper()
	all, err := pim.EnsureFolders(e.ctx, e.store, store.AccountID(u.ID))
	must(e.t, err)
	for _, f := range pim.Collections(all, store.RoleCalendar) {
		infos, err := e.store.List(e.ctx, f.ID)
		must(e.t, err)
		for _, in := range infos {
			m, err := e.store.MessageByUID(e.ctx, f.ID, in.UID)
			must(e.t, err)
			if m.Props[pim.PropUID] == uid && m.Props[pim.PropKind] == string(pim.KindEvent) {
				raw, err := e.store.Raw(e.ctx, m.ID)
				must(e.t, err)
				body, err := pim.Body(raw)
				must(e.t, err)
				return m, string(body)
			}
		}
	}
	e.t.Fatalf("%s has no event %q", u.Address, uid)
	return store.Message{}, ""
}

func meetingRequest(response, collection, id, extra string) string {
	return `<MeetingResponse xmlns="MeetingResponse:"><Request><UserResponse>` + response + `</UserResponse>` +
		`<CollectionId>` + collection + `</CollectionId><RequestId>` + id + `</RequestId>` + extra + `</Request></MeetingResponse>`
}

// TestMeetingResponse: alice invites bob (ours) and dave (remote); bob accepts the
// invitation mail from his Inbox with a 16.1 device, his calendar and alice's copy show
// it; a bad RequestId, a plain message and the organiser answering get status 2; a
// decline of the calendar item returns no CalendarId; ResolveRecipients Availability
// shows bob busy in the meeting's slots.
func TestMeetingResponse(t *testing.T) {
	var svc *scheduling.Service
	out := &remoteOutbox{}
	e := newEnv(t, withScheduler(&svc, out))
	alice := store.AccountID(e.alice.ID)
	_, err := pim.EnsureFolders(e.ctx, e.store, alice)
	must(t, err)
	obj, err := pim.ParseCalendar([]byte(teamMeeting), pim.Limits{})
	must(t, err)
	_, err = e.store.Deliver(e.ctx, obj.Item("team-42.ics"), []store.Placement{{Account: alice, Folder: e.folder(e.alice, store.RoleCalendar).ID}})
	must(t, err)
	must(t, svc.Organize(e.ctx, e.alice, nil, []byte(teamMeeting)))
	if len(out.got) != 1 || out.got[0].To[0] != "dave@remote.test" {
		t.Fatalf("queued for dave: %+v", out.got)
	}

	c := e.client("mr-phone")
	c.login = "bob@example.com"
	c.provision()
	inbox := e.folder(e.bob, store.RoleInbox)
	infos, err := e.store.List(e.ctx, inbox.ID)
	must(t, err)
	if len(infos) != 1 {
		t.Fatalf("bob's Inbox has %d messages", len(infos))
	}
	invitation := itemServerID(inbox.ID, infos[0].UID)
	plain := e.deliver(e.bob, store.RoleInbox, message("carol@example.com", "bob@example.com", "lunch", "no calendar here"), time.Now())

	ns := wbxml.NSMeetingResponse
	result := func(el *wbxml.Element) (string, string) {
		r := el.Child(ns, "Result")
		return status(r, ns), r.ChildText(ns, "CalendarId")
	}
	for _, tt := range []struct{ name, xml, status string }{
		{"unknown item", meetingRequest("1", folderServerID(inbox.ID), folderServerID(inbox.ID)+":999", ""), "2"},
		{"not an item id", meetingRequest("1", folderServerID(inbox.ID), "nonsense", ""), "2"},
		{"wrong collection", meetingRequest("1", "12345", invitation, ""), "2"},
		{"plain message", meetingRequest("1", folderServerID(inbox.ID), itemServerID(inbox.ID, plain.UID), ""), "2"},
		{"bad answer", meetingRequest("7", folderServerID(inbox.ID), invitation, ""), "2"},
	} {
		if st, _ := result(c.do("MeetingResponse", tt.xml)); st != tt.status {
			t.Errorf("%s: status %s, want %s", tt.name, st, tt.status)
		}
	}

	st, calID := result(c.do("MeetingResponse", meetingRequest("1", folderServerID(inbox.ID), invitation, "<SendResponse/>")))
	if st != "1" || calID == "" {
		t.Fatalf("accept: status %s, CalendarId %q", st, calID)
	}
	bobCopy, bobText := e.calendarCopy(e.bob, "team-42")
	if itemServerID(bobCopy.Folder, bobCopy.UID) != calID || !strings.Contains(bobText, "PARTSTAT=ACCEPTED:mailto:bob@example.com") {
		t.Errorf("bob's copy (%s):\n%s", calID, bobText)
	}
	if _, aliceText := e.calendarCopy(e.alice, "team-42"); !strings.Contains(aliceText, "PARTSTAT=ACCEPTED:mailto:bob@example.com") {
		t.Errorf("alice's copy does not show bob's answer:\n%s", aliceText)
	}

	// ResolveRecipients Availability over the morning of the meeting.
	rr := c.do("ResolveRecipients", `<ResolveRecipients xmlns="ResolveRecipients:"><To>bob@example.com</To><Options><Availability>`+
		`<StartTime>2026-12-02T08:00:00.000Z</StartTime><EndTime>2026-12-02T12:00:00.000Z</EndTime></Availability></Options></ResolveRecipients>`)
	rns := wbxml.NSResolveRecipients
	av := rr.Child(rns, "Response").Child(rns, "Recipient").Child(rns, "Availability")
	if status(av, rns) != "1" || av.ChildText(rns, "MergedFreeBusy") != "00002200" {
		t.Errorf("Availability: %s", rr.XML())
	}
	tooLong := c.do("ResolveRecipients", `<ResolveRecipients xmlns="ResolveRecipients:"><To>bob@example.com</To><Options><Availability>`+
		`<StartTime>2026-12-02T08:00:00.000Z</StartTime><EndTime>2027-03-02T08:00:00.000Z</EndTime></Availability></Options></ResolveRecipients>`)
	if status(tooLong, rns) != "5" {
		t.Errorf("a 90-day span: %s", tooLong.XML())
	}

	// Declining the calendar item itself (16.x) returns no CalendarId.
	cal := folderServerID(bobCopy.Folder)
	st, calID = result(c.do("MeetingResponse", meetingRequest("3", cal, itemServerID(bobCopy.Folder, bobCopy.UID), "")))
	if st != "1" || calID != "" {
		t.Errorf("decline: status %s, CalendarId %q", st, calID)
	}
	if _, text := e.calendarCopy(e.bob, "team-42"); !strings.Contains(text, "PARTSTAT=DECLINED:mailto:bob@example.com") {
		t.Errorf("bob's copy after declining:\n%s", text)
	}
	if _, aliceText := e.calendarCopy(e.alice, "team-42"); !strings.Contains(aliceText, "PARTSTAT=ACCEPTED:mailto:bob@example.com") {
		t.Errorf("a decline without SendResponse reached alice:\n%s", aliceText)
	}

	// The organiser answering her own meeting.
	ca := e.client("mr-phone-2")
	ca.provision()
	aliceCopy, _ := e.calendarCopy(e.alice, "team-42")
	if st, _ := result(ca.do("MeetingResponse", meetingRequest("1", folderServerID(aliceCopy.Folder), itemServerID(aliceCopy.Folder, aliceCopy.UID), ""))); st != "2" {
		t.Errorf("organiser answering: status %s", st)
	}
}
