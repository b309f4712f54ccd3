package dav

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"mailroom/internal/pim"
	"mailroom/internal/store"
)

const alice = "alice@example.com"

const (
	calHome  = "/dav/calendars/alice@example.com/"
	cal      = calHome + "Calendar/"
	bookHome = "/dav/addressbooks/alice@example.com/"
	book     = bookHome + "Contacts/"
)

func propfind(props string) string {
	return `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/" xmlns:a="http://apple.com/ns/ical/"><d:prop>` + props + `</d:prop></d:propfind>`
}

func syncReport(token string) string {
	return `<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>` + token + `</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`
}

var tokenRE = regexp.MustCompile(`<d:sync-token>([^<]*)</d:sync-token>`)

func TestDiscoveryAndAuth(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, user, method, path, body string
		hdr                            []string
		status                         int
		want                           []string
	}{
		{"well-known caldav", "", "GET", "/.well-known/caldav", "", nil, http.StatusMovedPermanently, nil},
		{"no credentials", "", "PROPFIND", "/dav/", "", nil, http.StatusUnauthorized, []string{"sign in"}},
		{"options", alice, "OPTIONS", "/dav/", "", nil, http.StatusOK, nil},
		{"current principal", alice, "PROPFIND", "/dav/", propfind(`<d:current-user-principal/>`), []string{"Depth", "0"}, http.StatusMultiStatus,
			[]string{"<d:href>/dav/principals/alice@example.com/</d:href>"}},
		{"homes", alice, "PROPFIND", "/dav/principals/alice@example.com/", propfind(`<c:calendar-home-set/><card:addressbook-home-set/><c:calendar-user-address-set/><d:foo/>`), []string{"Depth", "0"}, http.StatusMultiStatus,
			[]string{calHome, bookHome, "mailto:alice@example.com", "404 Not Found"}},
		{"calendar home lists calendar and tasks", alice, "PROPFIND", calHome, propfind(`<d:resourcetype/><c:supported-calendar-component-set/><cs:getctag/>`), []string{"Depth", "1"}, http.StatusMultiStatus,
			[]string{cal, calHome + "Tasks/", `<c:comp name="VEVENT"/>`, `<c:comp name="VTODO"/>`, "<c:calendar/>"}},
		{"address home lists contacts and GAL", alice, "PROPFIND", bookHome, propfind(`<d:resourcetype/><d:displayname/>`), []string{"Depth", "1"}, http.StatusMultiStatus,
			[]string{book, bookHome + "gal/", "Global Address List", "<card:addressbook/>"}},
		{"other user's home", alice, "PROPFIND", "/dav/calendars/bob@example.com/", propfind(`<d:resourcetype/>`), []string{"Depth", "0"}, http.StatusForbidden, nil},
		{"depth infinity", alice, "PROPFIND", calHome, propfind(`<d:resourcetype/>`), []string{"Depth", "infinity"}, http.StatusForbidden, []string{"propfind-finite-depth"}},
		{"bad xml", alice, "PROPFIND", calHome, `<d:propfind xmlns:d="DAV:"><d:prop>`, []string{"Depth", "0"}, http.StatusBadRequest, []string{"<d:error", "not valid XML"}},
		{"wrong root", alice, "PROPFIND", calHome, `<d:propertyupdate xmlns:d="DAV:"/>`, []string{"Depth", "0"}, http.StatusBadRequest, []string{"expected {DAV:}propfind"}},
		{"unknown method", alice, "PATCH", cal, "", nil, http.StatusMethodNotAllowed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := e.do(t, tc.user, tc.method, tc.path, tc.body, tc.hdr...)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q: %s", w, body)
				}
			}
			if tc.method == "OPTIONS" && !strings.Contains(hdr.Get("DAV"), "calendar-access") {
				t.Errorf("DAV header %q", hdr.Get("DAV"))
			}
		})
	}
}

func TestResourceLifecycle(t *testing.T) {
	e := newEnv(t)
	ev := event("e1", "Lunch", "20260310T120000Z")
	steps := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		want                     string
	}{
		{"create", "PUT", cal + "e1.ics", ev, []string{"If-None-Match", "*", "Content-Type", "text/calendar"}, http.StatusCreated, ""},
		{"create again refused", "PUT", cal + "e1.ics", ev, []string{"If-None-Match", "*"}, http.StatusPreconditionFailed, ""},
		{"stale if-match", "PUT", cal + "e1.ics", ev, []string{"If-Match", `"nope"`}, http.StatusPreconditionFailed, ""},
		{"get", "GET", cal + "e1.ics", "", nil, http.StatusOK, "SUMMARY:Lunch"},
		{"same uid elsewhere", "PUT", cal + "other.ics", ev, nil, http.StatusConflict, "no-uid-conflict"},
		{"invalid ical", "PUT", cal + "bad.ics", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", nil, http.StatusForbidden, "holds no VEVENT"},
		{"todo into calendar", "PUT", cal + "t.ics", strings.ReplaceAll(strings.ReplaceAll(ev, "VEVENT", "VTODO"), "UID:e1", "UID:t1"), nil, http.StatusForbidden, "supported-calendar-component"},
		{"endless secondly rule", "PUT", cal + "r.ics", strings.Replace(event("r1", "x", "20260310T120000Z"), "DURATION:PT1H", "RRULE:FREQ=SECONDLY", 1), nil, http.StatusForbidden, "more often than hourly"},
		{"vcard into calendar", "PUT", cal + "c.vcf", card("c1", "Ann", "ann@x.test"), []string{"Content-Type", "text/vcard"}, http.StatusForbidden, "supported-calendar-data"},
		{"gal is read-only", "PUT", bookHome + "gal/x.vcf", card("c1", "Ann", "ann@x.test"), nil, http.StatusForbidden, "read-only"},
		{"missing collection", "PUT", calHome + "Nope/x.ics", ev, nil, http.StatusNotFound, ""},
		{"delete missing", "DELETE", cal + "nothing.ics", "", nil, http.StatusNotFound, ""},
		{"delete", "DELETE", cal + "e1.ics", "", nil, http.StatusNoContent, ""},
		{"gone", "GET", cal + "e1.ics", "", nil, http.StatusNotFound, ""},
		{"recreate after delete", "PUT", cal + "e1.ics", ev, []string{"If-None-Match", "*"}, http.StatusCreated, ""},
		{"contact", "PUT", book + "c1.vcf", card("c1", "Ann Example", "ann@x.test"), []string{"Content-Type", "text/vcard; charset=utf-8"}, http.StatusCreated, ""},
		{"contact without uid", "PUT", book + "c2.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nEND:VCARD\r\n", nil, http.StatusForbidden, "no UID"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			status, _, body := e.do(t, alice, s.method, s.path, s.body, s.hdr...)
			if status != s.status || !strings.Contains(body, s.want) {
				t.Fatalf("%s %s: %d %q, want %d containing %q", s.method, s.path, status, body, s.status, s.want)
			}
		})
	}
	// An update with the right If-Match answers the new ETag, which GET repeats.
	_, hdr, _ := e.do(t, alice, "GET", cal+"e1.ics", "")
	status, hdr2, _ := e.do(t, alice, "PUT", cal+"e1.ics", event("e1", "Lunch moved", "20260310T130000Z"), "If-Match", hdr.Get("ETag"))
	if status != http.StatusNoContent || hdr2.Get("ETag") == hdr.Get("ETag") || hdr2.Get("ETag") == "" {
		t.Fatalf("update: %d etag %q (was %q)", status, hdr2.Get("ETag"), hdr.Get("ETag"))
	}
	_, hdr3, body := e.do(t, alice, "GET", cal+"e1.ics", "")
	if hdr3.Get("ETag") != hdr2.Get("ETag") || !strings.Contains(body, "Lunch moved") {
		t.Fatalf("after update: etag %q body %q", hdr3.Get("ETag"), body)
	}
	// Nothing refused above left anything in the store.
	infos, err := e.store.List(context.Background(), e.folder(t, store.RoleCalendar).ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 { // e1; the tombstone of its first life was replaced on re-creation
		t.Errorf("calendar holds %d items, want only e1", len(infos))
	}
}

func TestCollections(t *testing.T) {
	e := newEnv(t)
	mkcal := `<?xml version="1.0"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:a="http://apple.com/ns/ical/"><d:set><d:prop>
<d:displayname>Work</d:displayname><a:calendar-color>#FF0000FF</a:calendar-color><a:calendar-order xmlns:a="http://apple.com/ns/ical/">3</a:calendar-order>
<c:supported-calendar-component-set><c:comp name="VEVENT"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>`
	mkbook := `<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop>
<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype><d:displayname>Friends</d:displayname></d:prop></d:set></d:mkcol>`
	patch := `<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Work stuff</d:displayname><c:calendar-description>Meetings</c:calendar-description></d:prop></d:set></d:propertyupdate>`
	badPatch := `<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>x</d:displayname><d:getetag>x</d:getetag></d:prop></d:set></d:propertyupdate>`
	for _, s := range []struct {
		name, method, path, body string
		status                   int
		want                     []string
	}{
		{"mkcalendar", "MKCALENDAR", calHome + "work/", mkcal, http.StatusCreated, nil},
		{"mkcalendar again", "MKCALENDAR", calHome + "work/", mkcal, http.StatusMethodNotAllowed, nil},
		{"mkcol address book", "MKCOL", bookHome + "friends/", mkbook, http.StatusCreated, nil},
		{"mkcol gal name", "MKCOL", bookHome + "gal/", mkbook, http.StatusMethodNotAllowed, nil},
		{"mkcalendar in address books", "MKCALENDAR", bookHome + "x/", mkcal, http.StatusForbidden, nil},
		{"properties", "PROPFIND", calHome + "work/", propfind(`<d:displayname/><a:calendar-color/><a:calendar-order/><d:resourcetype/>`), http.StatusMultiStatus,
			[]string{"<d:displayname>Work</d:displayname>", "#FF0000FF", "<a:calendar-order>3</a:calendar-order>", "<c:calendar/>"}},
		{"proppatch", "PROPPATCH", calHome + "work/", patch, http.StatusMultiStatus, []string{"200 OK"}},
		{"patched", "PROPFIND", calHome + "work/", propfind(`<d:displayname/><c:calendar-description/>`), http.StatusMultiStatus,
			[]string{"Work stuff", "Meetings"}},
		{"protected property", "PROPPATCH", calHome + "work/", badPatch, http.StatusMultiStatus, []string{"403 Forbidden", "424 Failed Dependency"}},
		{"not applied", "PROPFIND", calHome + "work/", propfind(`<d:displayname/>`), http.StatusMultiStatus, []string{"Work stuff"}},
		{"event in new calendar", "PUT", calHome + "work/a.ics", event("w1", "Review", "20260311T090000Z"), http.StatusCreated, nil},
		{"book listed", "PROPFIND", bookHome + "friends/", propfind(`<d:displayname/><d:resourcetype/>`), http.StatusMultiStatus, []string{"Friends", "<card:addressbook/>"}},
		{"default calendar stays", "DELETE", cal, "", http.StatusForbidden, nil},
		{"delete calendar", "DELETE", calHome + "work/", "", http.StatusNoContent, nil},
		{"deleted", "PROPFIND", calHome + "work/", propfind(`<d:displayname/>`), http.StatusNotFound, nil},
	} {
		t.Run(s.name, func(t *testing.T) {
			status, _, body := e.do(t, alice, s.method, s.path, s.body, "Depth", "0")
			if status != s.status {
				t.Fatalf("%s %s: %d, want %d: %s", s.method, s.path, status, s.status, body)
			}
			for _, w := range s.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q: %s", w, body)
				}
			}
		})
	}
	// IMAP must not see the new calendar, which is a folder below Calendar.
	folders, err := e.store.Folders(context.Background(), store.AccountID(e.alice.ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folders {
		if f.Name == "friends" && pim.RoleOf(folders, f) != store.RoleContacts {
			t.Errorf("friends has PIM role %q", pim.RoleOf(folders, f))
		}
	}
}

const weeklyWithException = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
	"BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260105T090000\r\nDURATION:PT30M\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:Standup\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260112T090000\r\nDTSTART;TZID=Europe/Berlin:20260113T140000\r\nDURATION:PT30M\r\nSUMMARY:Standup (moved)\r\nEND:VEVENT\r\n" +
	"END:VCALENDAR\r\n"

func TestQueries(t *testing.T) {
	e := newEnv(t)
	for _, p := range []struct{ path, body string }{
		{cal + "once.ics", event("once", "Dentist", "20260301T100000Z")},
		{cal + "weekly.ics", weeklyWithException},
		{book + "ann.vcf", card("ann", "Ann Example", "ann@example.org")},
		{book + "bob.vcf", card("bob", "Bob Builder", "bob@example.net")},
	} {
		if status, _, body := e.do(t, alice, "PUT", p.path, p.body); status != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", p.path, status, body)
		}
	}
	calQuery := func(start, end string) string {
		return `<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop>
<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="` + start + `" end="` + end + `"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`
	}
	bookQuery := func(text string) string {
		return `<?xml version="1.0"?><card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data/></d:prop>
<card:filter><card:prop-filter name="EMAIL"><card:text-match match-type="contains">` + text + `</card:text-match></card:prop-filter></card:filter></card:addressbook-query>`
	}
	multiget := `<?xml version="1.0"?><c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>
<d:href>` + cal + `once.ics</d:href><d:href>` + cal + `missing.ics</d:href></c:calendar-multiget>`
	for _, tc := range []struct {
		name, path, body string
		want, not        []string
	}{
		{"range with single event", cal, calQuery("20260301T000000Z", "20260302T000000Z"), []string{"once.ics"}, []string{"weekly.ics"}},
		{"weekly far ahead", cal, calQuery("20270104T000000Z", "20270105T000000Z"), []string{"weekly.ics"}, []string{"once.ics"}},
		{"weekly on a free day", cal, calQuery("20270105T000000Z", "20270106T000000Z"), nil, []string{"weekly.ics", "once.ics"}},
		{"overridden instance moved away", cal, calQuery("20260112T000000Z", "20260113T000000Z"), nil, []string{"weekly.ics"}},
		{"override's new day", cal, calQuery("20260113T000000Z", "20260114T000000Z"), []string{"weekly.ics"}, nil},
		{"multiget", cal, multiget, []string{"SUMMARY:Dentist", "missing.ics</d:href><d:status>HTTP/1.1 404"}, nil},
		{"addressbook-query", book, bookQuery("example.org"), []string{"ann.vcf", "FN:Ann Example"}, []string{"bob.vcf"}},
		{"gal query", bookHome + "gal/", bookQuery("staff@"), []string{"X-ADDRESSBOOKSERVER-MEMBER:mailto:alice@example.com"}, []string{"Alice"}},
		{"gal lists shared mailbox", bookHome + "gal/", bookQuery("sales@"), []string{"FN:Sales", "Shared mailbox"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := e.do(t, alice, "REPORT", tc.path, tc.body, "Depth", "1")
			if status != http.StatusMultiStatus {
				t.Fatalf("status %d: %s", status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("lacks %q: %s", w, body)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(body, w) {
					t.Errorf("has %q: %s", w, body)
				}
			}
		})
	}
	status, _, body := e.do(t, alice, "REPORT", cal, `<c:calendar-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:filter><c:comp-filter name="VEVENT"/></c:filter></c:calendar-query>`)
	if status != http.StatusForbidden || !strings.Contains(body, "valid-filter") {
		t.Fatalf("bad filter: %d %s", status, body)
	}
	status, _, body = e.do(t, alice, "REPORT", cal, `<d:expand-property xmlns:d="DAV:"/>`)
	if status != http.StatusForbidden || !strings.Contains(body, "supported-report") {
		t.Fatalf("unknown report: %d %s", status, body)
	}
}

func TestSyncCollection(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, n := range []string{"a", "b", "c"} {
		if status, _, body := e.do(t, alice, "PUT", cal+n+".ics", event(n, n, "20260301T100000Z")); status != http.StatusCreated {
			t.Fatalf("PUT: %d %s", status, body)
		}
	}
	sync := func(token string) (int, string, string) {
		status, _, body := e.do(t, alice, "REPORT", cal, syncReport(token), "Depth", "0")
		m := tokenRE.FindStringSubmatch(body)
		if m == nil {
			return status, "", body
		}
		return status, m[1], body
	}
	status, tok, body := sync("")
	if status != http.StatusMultiStatus || strings.Count(body, "<d:response>") != 3 {
		t.Fatalf("initial sync: %d %s", status, body)
	}
	// Nothing changed: nothing reported.
	if _, tok2, body := sync(tok); tok2 != tok || strings.Contains(body, "<d:response>") {
		t.Fatalf("idle sync: token %q -> %q, %s", tok, tok2, body)
	}
	// One update and one deletion through DAV: exactly those two.
	e.do(t, alice, "PUT", cal+"a.ics", event("a", "a2", "20260301T110000Z"))
	e.do(t, alice, "DELETE", cal+"b.ics", "")
	_, tok2, body := sync(tok)
	if strings.Count(body, "<d:response>") != 2 || !strings.Contains(body, "a.ics</d:href><d:propstat>") ||
		!strings.Contains(body, "b.ics</d:href><d:status>HTTP/1.1 404") || strings.Contains(body, "c.ics") {
		t.Fatalf("sync after update and delete: %s", body)
	}
	// A change made through the store, as ActiveSync would: a new item and a replaced one.
	f := e.folder(t, store.RoleCalendar)
	obj, err := pim.ParseCalendar([]byte(event("d", "from EAS", "20260302T100000Z")), pim.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Deliver(ctx, obj.Item("d.ics"), []store.Placement{{Account: f.Account, Folder: f.ID}}); err != nil {
		t.Fatal(err)
	}
	_, tok3, body := sync(tok2)
	if strings.Count(body, "<d:response>") != 1 || !strings.Contains(body, "d.ics") {
		t.Fatalf("sync after a store delivery: %s", body)
	}
	// An item expunged by another protocol has no name left: the token is refused.
	d, err := e.store.MessageByUID(ctx, f.ID, f.UIDNext)
	if err != nil || d.Props[pim.PropName] != "d.ics" {
		t.Fatalf("the delivered item: %+v %v", d.Props, err)
	}
	if _, err := e.store.Expunge(ctx, f.ID, []store.UID{d.UID}); err != nil {
		t.Fatal(err)
	}
	status, _, body = sync(tok3)
	if status != http.StatusForbidden || !strings.Contains(body, "valid-sync-token") {
		t.Fatalf("sync after a foreign expunge: %d %s", status, body)
	}
	for _, bad := range []string{"nonsense", "urn:mailroom:sync:999:1", "urn:mailroom:sync:" + strings.Split(tok, ":")[3] + ":99999999"} {
		if status, _, body := sync(bad); status != http.StatusForbidden || !strings.Contains(body, "valid-sync-token") {
			t.Errorf("token %q: %d %s", bad, status, body)
		}
	}
}

// TestDeadPropertiesRoundTrip keeps client properties of any shape and gives them back
// as well-formed XML.
func TestDeadPropertiesRoundTrip(t *testing.T) {
	e := newEnv(t)
	patch := `<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z"><d:set><d:prop>` +
		`<z:order>1 &lt; 2 &amp; "q"</z:order><z:nested a="b"><z:inner>x</z:inner><y xmlns="">plain</y></z:nested><bare xmlns="">v</bare>` +
		`</d:prop></d:set></d:propertyupdate>`
	if status, _, body := e.do(t, alice, "PROPPATCH", cal, patch); status != http.StatusMultiStatus || !strings.Contains(body, "200 OK") {
		t.Fatalf("PROPPATCH: %d %s", status, body)
	}
	status, _, body := e.do(t, alice, "PROPFIND", cal, `<d:propfind xmlns:d="DAV:" xmlns:z="urn:z"><d:prop><z:order/><z:nested/><bare xmlns=""/><z:missing/></d:prop></d:propfind>`, "Depth", "0")
	if status != http.StatusMultiStatus {
		t.Fatalf("PROPFIND: %d %s", status, body)
	}
	root, err := parseXML([]byte(body))
	if err != nil {
		t.Fatalf("malformed answer (%v): %s", err, body)
	}
	for _, w := range []string{`1 &lt; 2 &amp;`, ">plain<", ">v</bare>", "404 Not Found"} {
		if !strings.Contains(body, w) {
			t.Errorf("answer lacks %q: %s", w, body)
		}
	}
	if root.Name != dav("multistatus") {
		t.Fatalf("root %v", root.Name)
	}
}
