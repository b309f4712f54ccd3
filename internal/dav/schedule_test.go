package dav

import (
	"context"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/mailflow"
	"mailroom/internal/pim"
	"mailroom/internal/scheduling"
	"mailroom/internal/store"
)

const bob = "bob@example.com"

// newSchedEnv is the test server with a real scheduler whose mail goes through
// mailflow into the store.
func newSchedEnv(t testing.TB) *env {
	t.Helper()
	e := newEnv(t, func(e *env, cfg *Config) {
		flow := &mailflow.Flow{Directory: e.dir, Mailboxes: e.store}
		cfg.Scheduler = scheduling.New(scheduling.Config{Store: e.store, Directory: e.dir, Flow: flow, Hostname: "mail.example.com"})
		cfg.Users = e.dir
	})
	for _, u := range []string{alice, bob} {
		if status, _, body := e.do(t, u, "PROPFIND", "/dav/calendars/"+u+"/", propfind(`<d:resourcetype/>`), "Depth", "1"); status != http.StatusMultiStatus {
			t.Fatalf("PROPFIND of %s's home: %d %s", u, status, body)
		}
	}
	return e
}

// meeting is an event alice organises with bob (and, when agent is set, that
// SCHEDULE-AGENT on bob's ATTENDEE).
func meeting(uid, summary string, seq int, agent string) string {
	param := ""
	if agent != "" {
		param = ";SCHEDULE-AGENT=" + agent
	}
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261209T100000Z\r\nDTEND:20261209T110000Z\r\nSEQUENCE:" + string(rune('0'+seq)) +
		"\r\nSUMMARY:" + summary + "\r\nORGANIZER:mailto:alice@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\n" +
		"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE" + param + ":mailto:bob@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
}

// inbox returns the messages in user's Inbox, each followed by its iCalendar part.
func (e *env) inbox(t testing.TB, user string) []string {
	t.Helper()
	ctx := context.Background()
	u, err := e.dir.ResolveRecipient(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.store.FolderByRole(ctx, store.AccountID(u.Users[0].ID), store.RoleInbox)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := e.store.List(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range infos {
		raw, err := e.store.Raw(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		// The iCalendar part travels base64-encoded: shown decoded after the message.
		data, _ := scheduling.Extract(raw)
		out = append(out, string(raw)+"\n"+string(data))
	}
	return out
}

// calendarObject returns the event uid in user's default calendar, "" when absent.
func (e *env) calendarObject(t testing.TB, user, name string) string {
	t.Helper()
	status, _, body := e.do(t, user, "GET", "/dav/calendars/"+user+"/Calendar/"+name, "")
	if status != http.StatusOK {
		return ""
	}
	return body
}

// TestImplicitScheduling drives RFC 6638 implicit scheduling over HTTP: alice's writes
// send invitations and cancellations, bob's answer goes back, SCHEDULE-AGENT=CLIENT
// sends nothing.
func TestImplicitScheduling(t *testing.T) {
	e := newSchedEnv(t)
	steps := []struct {
		name         string
		user, method string
		path, body   string
		status       int
		bobMail      []string // what bob's newest Inbox message holds; nil: no new mail
		aliceMail    []string
		bobCopy      []string // what bob's calendar copy holds; nil: not checked
	}{
		{"create invites bob", alice, "PUT", cal + "m1.ics", meeting("m1", "Planning", 0, ""), http.StatusCreated,
			[]string{"method=REQUEST", "Invitation: Planning", "SEQUENCE:0"}, nil, []string{"SUMMARY:Planning", "PARTSTAT=NEEDS-ACTION"}},
		{"an unchanged re-save sends nothing", alice, "PUT", cal + "m1.ics", meeting("m1", "Planning", 0, ""), http.StatusNoContent,
			nil, nil, nil},
		{"an update sends the new version", alice, "PUT", cal + "m1.ics", meeting("m1", "Planning (room 2)", 1, ""), http.StatusNoContent,
			[]string{"method=REQUEST", "SEQUENCE:1", "Planning (room 2)"}, nil, []string{"SUMMARY:Planning (room 2)", "SEQUENCE:1"}},
		{"bob accepts in his own copy", bob, "PUT", "/dav/calendars/bob@example.com/Calendar/m1.ics",
			strings.Replace(meeting("m1", "Planning (room 2)", 1, ""), "PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED", 1), http.StatusNoContent,
			nil, []string{"method=REPLY", "Accepted: Planning (room 2)", "PARTSTAT=ACCEPTED"}, nil},
		{"delete cancels", alice, "DELETE", cal + "m1.ics", "", http.StatusNoContent,
			[]string{"method=CANCEL", "Cancelled: Planning (room 2)", "SEQUENCE:2"}, nil, []string{"STATUS:CANCELLED"}},
		{"SCHEDULE-AGENT=CLIENT sends nothing", alice, "PUT", cal + "m2.ics", meeting("m2", "Client-run", 0, "CLIENT"), http.StatusCreated,
			nil, nil, nil},
	}
	for _, s := range steps {
		bobBefore, aliceBefore := len(e.inbox(t, bob)), len(e.inbox(t, alice))
		status, _, body := e.do(t, s.user, s.method, s.path, s.body, "Content-Type", "text/calendar")
		if status != s.status {
			t.Fatalf("%s: %s %s answered %d: %s", s.name, s.method, s.path, status, body)
		}
		for _, c := range []struct {
			who    string
			before int
			want   []string
		}{{bob, bobBefore, s.bobMail}, {alice, aliceBefore, s.aliceMail}} {
			mail := e.inbox(t, c.who)
			switch {
			case c.want == nil && len(mail) != c.before:
				t.Errorf("%s: %s got %d new messages", s.name, c.who, len(mail)-c.before)
			case c.want != nil && len(mail) != c.before+1:
				t.Errorf("%s: %s got %d new messages, want 1", s.name, c.who, len(mail)-c.before)
			case c.want != nil:
				for _, w := range c.want {
					if !strings.Contains(mail[len(mail)-1], w) {
						t.Errorf("%s: %s's new message lacks %q:\n%s", s.name, c.who, w, mail[len(mail)-1])
					}
				}
			}
		}
		if s.bobCopy != nil {
			got := e.calendarObject(t, bob, "m1.ics")
			for _, w := range s.bobCopy {
				if !strings.Contains(got, w) {
					t.Errorf("%s: bob's copy lacks %q:\n%s", s.name, w, got)
				}
			}
		}
		if s.name == "bob accepts in his own copy" {
			if got := e.calendarObject(t, alice, "m1.ics"); !strings.Contains(got, "PARTSTAT=ACCEPTED:mailto:bob@example.com") {
				t.Errorf("alice's copy after bob accepted:\n%s", got)
			}
		}
	}
	if got := e.calendarObject(t, bob, "m2.ics"); got != "" {
		t.Errorf("SCHEDULE-AGENT=CLIENT: bob's calendar got the event:\n%s", got)
	}
}

// TestSchedulingDiscoveryAndFreeBusy checks what clients look for (OPTIONS, the
// principal's inbox and outbox) and both free/busy requests.
func TestSchedulingDiscoveryAndFreeBusy(t *testing.T) {
	e := newSchedEnv(t)
	// bob is busy 10:00-11:00 on 9 December, tentative 14:00-15:00.
	for _, ev := range []struct{ name, text string }{
		{"busy.ics", event("busy-1", "Busy", "20261209T100000Z")},
		{"maybe.ics", strings.Replace(event("maybe-1", "Maybe", "20261209T140000Z"), "SUMMARY:", "STATUS:TENTATIVE\r\nSUMMARY:", 1)},
	} {
		if status, _, body := e.do(t, bob, "PUT", "/dav/calendars/bob@example.com/Calendar/"+ev.name, ev.text); status != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", ev.name, status, body)
		}
	}
	fbRequest := func(organizer string, attendees ...string) string {
		s := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20261201T000000Z\r\n" +
			"DTSTART:20261209T080000Z\r\nDTEND:20261209T180000Z\r\nORGANIZER:mailto:" + organizer + "\r\n"
		for _, a := range attendees {
			s += "ATTENDEE:mailto:" + a + "\r\n"
		}
		return s + "END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
	}
	outbox := "/dav/principals/alice@example.com/outbox/"
	tests := []struct {
		name, user, method, path, body string
		hdr                            []string
		status                         int
		want                           []string
	}{
		{"OPTIONS advertises auto-schedule", alice, "OPTIONS", cal, "", nil, http.StatusOK, nil},
		{"principal has inbox and outbox", alice, "PROPFIND", "/dav/principals/alice@example.com/",
			propfind(`<c:schedule-inbox-URL/><c:schedule-outbox-URL/><c:calendar-user-address-set/>`), []string{"Depth", "0"}, http.StatusMultiStatus,
			[]string{"<d:href>/dav/principals/alice@example.com/inbox/</d:href>", "<d:href>/dav/principals/alice@example.com/outbox/</d:href>", "mailto:alice@example.com"}},
		{"outbox PROPFIND", alice, "PROPFIND", outbox, propfind(`<d:resourcetype/>`), []string{"Depth", "0"}, http.StatusMultiStatus,
			[]string{"<c:schedule-outbox/>"}},
		{"inbox names the default calendar", alice, "PROPFIND", "/dav/principals/alice@example.com/inbox/", propfind(`<c:schedule-default-calendar-URL/>`), []string{"Depth", "0"}, http.StatusMultiStatus,
			[]string{"<d:href>" + cal + "</d:href>"}},
		{"free-busy POST", alice, "POST", outbox, fbRequest(alice, bob, "nobody@example.com", "someone@elsewhere.test"), []string{"Content-Type", "text/calendar"}, http.StatusOK,
			[]string{"<c:schedule-response", "mailto:bob@example.com", "2.0;Success", "METHOD:REPLY", "FREEBUSY;FBTYPE=BUSY:20261209T100000Z/20261209T110000Z",
				"FREEBUSY;FBTYPE=BUSY-TENTATIVE:20261209T140000Z/20261209T150000Z", "mailto:nobody@example.com", "3.7;Invalid calendar user"}},
		{"free-busy POST for someone else", alice, "POST", outbox, fbRequest(bob, bob), nil, http.StatusForbidden, []string{"organizer-allowed"}},
		{"free-busy POST that is no request", alice, "POST", outbox, event("x", "y", "20261209T100000Z"), nil, http.StatusForbidden, []string{"valid-calendar-data"}},
		{"POST elsewhere", alice, "POST", cal, fbRequest(alice, bob), nil, http.StatusMethodNotAllowed, nil},
		{"free-busy-query REPORT", bob, "REPORT", "/dav/calendars/bob@example.com/Calendar/",
			`<c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:time-range start="20261209T000000Z" end="20261210T000000Z"/></c:free-busy-query>`,
			[]string{"Depth", "1"}, http.StatusOK, []string{"BEGIN:VFREEBUSY", "FREEBUSY;FBTYPE=BUSY:20261209T100000Z/20261209T110000Z", "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20261209T140000Z/20261209T150000Z"}},
		{"free-busy-query without range", bob, "REPORT", "/dav/calendars/bob@example.com/Calendar/",
			`<c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav"/>`, nil, http.StatusForbidden, []string{"valid-filter"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := e.do(t, tc.user, tc.method, tc.path, tc.body, tc.hdr...)
			if status != tc.status {
				t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.path, status, tc.status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("answer lacks %q:\n%s", w, body)
				}
			}
			if tc.method == "OPTIONS" && !slices.Contains(strings.Split(hdr.Get("DAV"), ", "), "calendar-auto-schedule") {
				t.Errorf("DAV: %q", hdr.Get("DAV"))
			}
		})
	}
}

// TestSchedulingOff checks that without a scheduler nothing of RFC 6638 is offered.
func TestSchedulingOff(t *testing.T) {
	e := newEnv(t)
	_, hdr, _ := e.do(t, alice, "OPTIONS", cal, "")
	if strings.Contains(hdr.Get("DAV"), "auto-schedule") {
		t.Errorf("DAV: %q", hdr.Get("DAV"))
	}
	_, _, body := e.do(t, alice, "PROPFIND", "/dav/principals/alice@example.com/", propfind(`<c:schedule-outbox-URL/>`), "Depth", "0")
	if !strings.Contains(body, "404 Not Found") {
		t.Errorf("schedule-outbox-URL without a scheduler:\n%s", body)
	}
}

// pythonScheduling is the scheduling side of python3-caldav: alice saves a meeting
// with bob in her calendar, then asks for bob's free/busy through the outbox and for
// her own with free-busy-query. Arguments: URL, login, password, CA file.
const pythonScheduling = `
import sys, datetime, caldav
url, user, pw, cafile = sys.argv[1:5]

def check(cond, what):
    if not cond:
        raise SystemExit('FAIL: ' + what)

MEETING = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//python-caldav test//EN
BEGIN:VEVENT
UID:py-meeting-1
DTSTAMP:20260101T000000Z
DTSTART:20261209T100000Z
DTEND:20261209T110000Z
SUMMARY:Python planning
ORGANIZER:mailto:alice@example.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com
ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com
END:VEVENT
END:VCALENDAR
"""
client = caldav.DAVClient(url=url, username=user, password=pw, ssl_verify_cert=cafile)
principal = client.principal()
check(client.check_scheduling_support(), 'no scheduling support seen')
cal = [c for c in principal.calendars() if c.name == 'Calendar'][0]
cal.save_event(MEETING)
d = datetime.datetime
utc = datetime.timezone.utc
fb = cal.freebusy_request(d(2026, 12, 9, 0, 0, tzinfo=utc), d(2026, 12, 10, 0, 0, tzinfo=utc))
check('20261209T100000Z/20261209T110000Z' in fb.data, 'free-busy-query %r' % fb.data)
resp = client.post(str(principal.schedule_outbox().url),
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//p//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb-py\r\nDTSTAMP:20261201T000000Z\r\n"
    "DTSTART:20261209T000000Z\r\nDTEND:20261210T000000Z\r\nORGANIZER:mailto:alice@example.com\r\nATTENDEE:mailto:bob@example.com\r\n"
    "END:VFREEBUSY\r\nEND:VCALENDAR\r\n", {'Content-Type': 'text/calendar; charset=utf-8'})
raw = resp.raw if isinstance(resp.raw, str) else resp.raw.decode()
check(resp.status == 200 and '2.0;Success' in raw and '20261209T100000Z/20261209T110000Z' in raw, 'outbox POST %s %r' % (resp.status, raw))
print('OK')
`

// TestPythonCaldavScheduling runs python3-caldav against implicit scheduling: bob's
// calendar gets alice's meeting, and both free/busy requests show it.
func TestPythonCaldavScheduling(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import caldav").Run(); err != nil {
		t.Skipf("python3-caldav is not installed (apt-get install python3-caldav): %v", err)
	}
	e := newSchedEnv(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(debianPython, "-c", pythonScheduling, e.srv.URL+"/dav/", alice, testPassword, caFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("python3-caldav: %v\n%s", err, out)
	}
	if got := e.calendarObject(t, bob, "py-meeting-1.ics"); !strings.Contains(got, "SUMMARY:Python planning") {
		t.Errorf("bob's calendar after alice saved the meeting:\n%s", got)
	}
	if mail := e.inbox(t, bob); len(mail) != 1 || !strings.Contains(mail[0], "method=REQUEST") {
		t.Errorf("bob's Inbox: %d messages", len(mail))
	}
}

// FuzzFreeBusyRequest feeds arbitrary bodies to the outbox POST's iCalendar reader.
func FuzzFreeBusyRequest(f *testing.F) {
	f.Add([]byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:x\r\nDTSTAMP:20261201T000000Z\r\n" +
		"DTSTART:20261209T080000Z\r\nDTEND:20261209T180000Z\r\nORGANIZER:mailto:a@x.test\r\nATTENDEE:mailto:b@x.test\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"))
	f.Add([]byte(meeting("m", "s", 0, "CLIENT")))
	lim := pim.Limits{}.WithDefaults()
	f.Fuzz(func(t *testing.T, data []byte) {
		fb, err := parseFreeBusyRequest(data, lim)
		if err != nil {
			return
		}
		if fb.organizer == "" || len(fb.attendees) == 0 || !fb.end.After(fb.start) {
			t.Fatalf("accepted an incomplete request: %+v", fb)
		}
		clientSchedules(data, lim)
	})
}
