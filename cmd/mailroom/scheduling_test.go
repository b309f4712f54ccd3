package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"

	"mailroom/internal/pim"
	"mailroom/internal/scheduling"
	"mailroom/internal/testnet"
	"mailroom/internal/wbxml"
)

const federatedMeeting = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Thunderbird-like//EN\r\nBEGIN:VEVENT\r\n" +
	"UID:fed-meeting-1\r\nDTSTAMP:20261120T090000Z\r\nDTSTART:20261209T100000Z\r\nDTEND:20261209T110000Z\r\n" +
	"SUMMARY:Across domains\r\nSEQUENCE:0\r\nORGANIZER;CN=Alice:mailto:alice@a.test\r\n" +
	"ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@a.test\r\n" +
	"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@b.test\r\n" +
	"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carol@a.test\r\n" +
	"END:VEVENT\r\nEND:VCALENDAR\r\n"

// davClient is a CalDAV client (go-webdav) signed in as user on the site.
func (s *site) davClient(t *testing.T, user string) *caldav.Client {
	t.Helper()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	c, err := caldav.NewClient(webdav.HTTPClientWithBasicAuth(hc, user, goodPassword), "https://"+s.cfg.HTTP.TLSListen[0]+"/dav/")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// partstatIn returns the PARTSTAT of attendee addr in user's calendar object at name,
// or "" while it is not there.
func (s *site) partstatIn(t *testing.T, user, name, addr string) string {
	t.Helper()
	obj, err := s.davClient(t, user).GetCalendarObject(context.Background(), "/dav/calendars/"+user+"/Calendar/"+name)
	if err != nil {
		return ""
	}
	for _, ev := range obj.Data.Children {
		for _, a := range ev.Props[ical.PropAttendee] {
			if strings.EqualFold(a.Value, "mailto:"+addr) {
				return a.Params.Get(ical.ParamParticipationStatus)
			}
		}
	}
	return ""
}

// waitPartstat polls until user's copy shows addr with want.
func (s *site) waitPartstat(t *testing.T, user, name, addr, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for got := s.partstatIn(t, user, name, addr); got != want; got = s.partstatIn(t, user, name, addr) {
		if time.Now().After(deadline) {
			t.Fatalf("%s's %s shows %s as %q, want %q; queue:\n%s", user, name, addr, got, want, ok(t, "", "queue", "list", "--data", s.data))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// invitation is the iMIP REQUEST a mail client sends for event (as Outlook and phones
// do when they schedule by mail themselves).
func invitation(t *testing.T, from string, to []string, event []byte) []byte {
	t.Helper()
	req, err := scheduling.Request(event, pim.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := scheduling.Mail{From: from, To: to, Subject: "Invitation: Lunch", Text: "You are invited.",
		Method: scheduling.MethodRequest, Calendar: req, Date: time.Now()}.Build()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestScheduling runs two installations: alice@a.test files a meeting over CalDAV, and
// that PUT alone sends the invitation (implicit scheduling, RFC 6638) to bob@b.test and
// carol@a.test. Bob (other instance) gets the mail and the event in his calendar;
// carol (same instance) too. Bob accepts with ActiveSync MeetingResponse; the REPLY crosses back through the
// queue, DKIM-signed, and alice's copy shows bob ACCEPTED. ResolveRecipients on b
// shows bob busy during the meeting. Last, alice's phone sends carol an invitation
// of its own with SendMail, and it is filed in carol's calendar.
func TestScheduling(t *testing.T) {
	if _, err := exec.LookPath("swaks"); err != nil {
		t.Skip("swaks is not installed (scripts/test.sh installs it)")
	}
	d := startDNS(t)
	port := testnet.Port(t, "127.0.0.2", "127.0.0.3")
	a := newSite(t, "a.test", "127.0.0.2", port, d.Addr)
	b := newSite(t, "b.test", "127.0.0.3", port, d.Addr)
	for _, u := range []struct {
		s    *site
		addr string
	}{{a, "alice@a.test"}, {a, "carol@a.test"}, {b, "bob@b.test"}} {
		ok(t, goodPassword+"\n", "user", "add", "--data", u.s.data, "--password-stdin", u.addr)
	}
	a.publish(t, d)
	b.publish(t, d)
	a.start(t)
	b.start(t)

	// alice files the meeting in her calendar over CalDAV.
	cal, err := ical.NewDecoder(bytes.NewReader([]byte(federatedMeeting))).Decode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.davClient(t, "alice@a.test").PutCalendarObject(context.Background(), "/dav/calendars/alice@a.test/Calendar/meeting.ics", cal); err != nil {
		t.Fatal(err)
	}

	// Both attendees get the mail and the event, waiting for an answer.
	b.waitMessages(t, "bob@b.test", 1)
	b.waitPartstat(t, "bob@b.test", "fed-meeting-1.ics", "bob@b.test", "NEEDS-ACTION")
	a.waitMessages(t, "carol@a.test", 1)
	a.waitPartstat(t, "carol@a.test", "fed-meeting-1.ics", "carol@a.test", "NEEDS-ACTION")

	// bob accepts on his phone.
	hc := &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	phone := &easClient{t: t, base: "https://" + b.cfg.HTTP.TLSListen[0], user: "bob@b.test", device: "BOBPHONE", http: hc}
	phone.provision()
	fh := wbxml.NSFolderHierarchy
	inbox := ""
	for _, add := range phone.do("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`).Child(fh, "Changes").All(fh, "Add") {
		if add.ChildText(fh, "Type") == "2" {
			inbox = add.ChildText(fh, "ServerId")
		}
	}
	key := collectionOf(phone.do("Sync", syncRequest(inbox, "0", ""))).ChildText(wbxml.NSAirSync, "SyncKey")
	adds := collectionOf(phone.do("Sync", syncRequest(inbox, key, "<GetChanges>1</GetChanges>"))).Child(wbxml.NSAirSync, "Commands").All(wbxml.NSAirSync, "Add")
	if len(adds) != 1 {
		t.Fatalf("bob's Inbox on the phone: %d messages", len(adds))
	}
	ns := wbxml.NSMeetingResponse
	res := phone.do("MeetingResponse", `<MeetingResponse xmlns="MeetingResponse:"><Request><UserResponse>1</UserResponse><CollectionId>`+
		inbox+`</CollectionId><RequestId>`+adds[0].ChildText(wbxml.NSAirSync, "ServerId")+`</RequestId><SendResponse/></Request></MeetingResponse>`).Child(ns, "Result")
	if res.ChildText(ns, "Status") != "1" || res.ChildText(ns, "CalendarId") == "" {
		t.Fatalf("MeetingResponse: %s", res.XML())
	}
	if got := b.partstatIn(t, "bob@b.test", "fed-meeting-1.ics", "bob@b.test"); got != "ACCEPTED" {
		t.Errorf("bob's copy after accepting: %q", got)
	}

	// The REPLY reaches alice's instance and updates her own copy.
	a.waitPartstat(t, "alice@a.test", "meeting.ics", "bob@b.test", "ACCEPTED")
	if got := a.partstatIn(t, "alice@a.test", "meeting.ics", "carol@a.test"); got != "NEEDS-ACTION" {
		t.Errorf("carol, who has not answered, shows %q", got)
	}
	reply := a.mbox(t, "alice@a.test")
	for _, want := range []string{"method=REPLY", "dkim=pass", "header.d=b.test", "dmarc=pass"} {
		if !strings.Contains(reply, want) {
			t.Errorf("the REPLY in alice's Inbox lacks %q", want)
		}
	}

	// Free/busy of bob over the morning of the meeting, in 30-minute slots.
	rr := phone.do("ResolveRecipients", `<ResolveRecipients xmlns="ResolveRecipients:"><To>bob@b.test</To><Options><Availability>`+
		`<StartTime>2026-12-09T08:00:00.000Z</StartTime><EndTime>2026-12-09T12:00:00.000Z</EndTime></Availability></Options></ResolveRecipients>`)
	rns := wbxml.NSResolveRecipients
	if got := rr.Child(rns, "Response").Child(rns, "Recipient").Child(rns, "Availability").ChildText(rns, "MergedFreeBusy"); got != "00002200" {
		t.Errorf("MergedFreeBusy = %q, want 00002200\n%s", got, rr.XML())
	}

	// alice's phone invites carol by mail itself; mailflow's local delivery hands it to
	// the scheduler as SMTP would.
	lunch := strings.NewReplacer("fed-meeting-1", "eas-lunch-1", "Across domains", "Lunch", "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@b.test\r\n", "").Replace(federatedMeeting)
	alicePhone := &easClient{t: t, base: "https://" + a.cfg.HTTP.TLSListen[0], user: "alice@a.test", device: "ALICEPHONE", http: hc}
	alicePhone.provision()
	if code, el := alicePhone.post("SendMail", `<SendMail xmlns="ComposeMail:"><ClientId>lunch-1</ClientId><Mime>`+
		base64.StdEncoding.EncodeToString(invitation(t, "alice@a.test", []string{"carol@a.test"}, []byte(lunch)))+`</Mime></SendMail>`); code != http.StatusOK || el != nil {
		t.Fatalf("SendMail: HTTP %d %v", code, el)
	}
	a.waitPartstat(t, "carol@a.test", "eas-lunch-1.ics", "carol@a.test", "NEEDS-ACTION")

	// alice's phone files a meeting with carol in her calendar: that Sync alone invites
	// carol, as a CalDAV PUT does. The phone leaves OrganizerEmail out, as devices may
	// for a meeting they create: the server makes alice the organiser.
	calendar := ""
	for _, add := range alicePhone.do("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`).Child(fh, "Changes").All(fh, "Add") {
		if add.ChildText(fh, "Type") == "8" {
			calendar = add.ChildText(fh, "ServerId")
		}
	}
	calSync := func(key, extra string) *wbxml.Element {
		return collectionOf(alicePhone.do("Sync", `<Sync xmlns="AirSync:" xmlns:cal="Calendar:"><Collections><Collection><SyncKey>`+key+
			`</SyncKey><CollectionId>`+calendar+`</CollectionId>`+extra+`</Collection></Collections></Sync>`))
	}
	key = calSync("0", "").ChildText(wbxml.NSAirSync, "SyncKey")
	added := calSync(key, `<Commands><Add><ClientId>r1</ClientId><ApplicationData><cal:StartTime>20261210T120000Z</cal:StartTime>`+
		`<cal:EndTime>20261210T130000Z</cal:EndTime><cal:Subject>Review</cal:Subject><cal:ClientUid>eas-review-1</cal:ClientUid>`+
		`<cal:Attendees><cal:Attendee><cal:Email>carol@a.test</cal:Email>`+
		`<cal:Name>Carol</cal:Name><cal:AttendeeType>1</cal:AttendeeType></cal:Attendee></cal:Attendees></ApplicationData></Add></Commands>`)
	if st := added.Child(wbxml.NSAirSync, "Responses").Child(wbxml.NSAirSync, "Add").ChildText(wbxml.NSAirSync, "Status"); st != "1" {
		t.Fatalf("calendar Add: %s", added.XML())
	}
	// The device sent no AttendeeStatus, so carol's copy has no PARTSTAT (NEEDS-ACTION
	// by default, RFC 5545 3.2.12); the Sync answers only once it is filed.
	obj, err := a.davClient(t, "carol@a.test").GetCalendarObject(context.Background(), "/dav/calendars/carol@a.test/Calendar/eas-review-1.ics")
	if err != nil {
		t.Fatalf("carol's calendar after alice's phone added the meeting: %v", err)
	}
	if got, _ := obj.Data.Children[0].Props.Text(ical.PropSummary); got != "Review" {
		t.Errorf("carol's copy: SUMMARY %q", got)
	}
	a.waitMessages(t, "carol@a.test", 3) // the CalDAV meeting, the lunch, the review
}
