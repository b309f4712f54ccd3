package activesync

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav"
	wcaldav "github.com/emersion/go-webdav/caldav"
	wcarddav "github.com/emersion/go-webdav/carddav"

	"mailroom/internal/dav"
	"mailroom/internal/pim"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// davClients are go-webdav's CalDAV and CardDAV clients signed in as alice on a DAV
// server over the same store, and the paths of her default calendar and address book.
type davClients struct {
	cal      *wcaldav.Client
	card     *wcarddav.Client
	calPath  string
	bookPath string
}

func newDAV(t *testing.T, e *env) *davClients {
	t.Helper()
	h := dav.New(dav.Config{Store: e.store, Auth: dav.Directory{Dir: e.dir}})
	mux := http.NewServeMux()
	h.Register(mux)
	ts := httptest.NewTLSServer(mux)
	t.Cleanup(ts.Close)
	hc := webdav.HTTPClientWithBasicAuth(ts.Client(), "alice@example.com", testPassword)
	d := &davClients{}
	var err error
	d.cal, err = wcaldav.NewClient(hc, ts.URL+"/dav/")
	must(t, err)
	d.card, err = wcarddav.NewClient(hc, ts.URL+"/dav/")
	must(t, err)
	ctx := context.Background()
	principal, err := d.cal.FindCurrentUserPrincipal(ctx)
	must(t, err)
	home, err := d.cal.FindCalendarHomeSet(ctx, principal)
	must(t, err)
	cals, err := d.cal.FindCalendars(ctx, home)
	must(t, err)
	for _, c := range cals {
		if slices.Contains(c.SupportedComponentSet, "VEVENT") {
			d.calPath = c.Path
		}
	}
	bhome, err := d.card.FindAddressBookHomeSet(ctx, principal)
	must(t, err)
	books, err := d.card.FindAddressBooks(ctx, bhome)
	must(t, err)
	for _, b := range books {
		if strings.Contains(b.Path, "Contacts") {
			d.bookPath = b.Path
		}
	}
	if d.calPath == "" || d.bookPath == "" {
		t.Fatalf("calendars %+v, address books %+v", cals, books)
	}
	return d
}

// events returns the calendar objects of the default calendar by UID.
func (d *davClients) events(t *testing.T) map[string]*ical.Calendar {
	t.Helper()
	objs, err := d.cal.QueryCalendar(context.Background(), d.calPath, &wcaldav.CalendarQuery{
		CompRequest: wcaldav.CalendarCompRequest{Name: "VCALENDAR", AllProps: true, AllComps: true},
		CompFilter:  wcaldav.CompFilter{Name: "VCALENDAR", Comps: []wcaldav.CompFilter{{Name: "VEVENT"}}},
	})
	must(t, err)
	out := map[string]*ical.Calendar{}
	for _, o := range objs {
		for _, c := range o.Data.Children {
			if c.Name == ical.CompEvent {
				out[propValue(c, ical.PropUID)] = o.Data
			}
		}
	}
	return out
}

// pimFolders runs a first FolderSync and returns the ServerId of each folder type.
func pimFolders(t testing.TB, c *client) map[string]string {
	t.Helper()
	r := c.do("FolderSync", folderSyncZero)
	out := map[string]string{}
	for _, a := range r.Child(wbxml.NSFolderHierarchy, "Changes").All(wbxml.NSFolderHierarchy, "Add") {
		out[a.ChildText(wbxml.NSFolderHierarchy, "Type")] = a.ChildText(wbxml.NSFolderHierarchy, "ServerId")
	}
	return out
}

// syncPIMAll syncs a collection until nothing more is available and returns the new
// key and what each command carried, by ServerId ("Add", "Change", "Delete").
func syncPIMAll(t *testing.T, c *client, coll, key, extra string) (string, map[string]*wbxml.Element) {
	t.Helper()
	got := map[string]*wbxml.Element{}
	for range 200 {
		r := collection(c.do("Sync", syncXML(coll, key, extra)))
		if s := r.ChildText(wbxml.NSAirSync, "Status"); s != "1" {
			t.Fatalf("Sync status %s: %s", s, r.XML())
		}
		key = r.ChildText(wbxml.NSAirSync, "SyncKey")
		var cmds []*wbxml.Element
		if cs := r.Child(wbxml.NSAirSync, "Commands"); cs != nil {
			cmds = cs.Children
		}
		for _, cmd := range cmds {
			e := cmd.Child(wbxml.NSAirSync, "ApplicationData")
			if e == nil {
				e = wbxml.New(wbxml.NSAirSync, cmd.Name)
			}
			e.Name = cmd.Name + ":" + e.Name
			got[cmd.ChildText(wbxml.NSAirSync, "ServerId")] = e
		}
		if r.Child(wbxml.NSAirSync, "MoreAvailable") == nil {
			return key, got
		}
		extra = ""
	}
	t.Fatal("MoreAvailable never ended")
	return "", nil
}

// pimSync is a primed client and the collection ids and keys of its PIM folders.
func pimStart(t *testing.T, e *env, device string) (*client, map[string]string) {
	t.Helper()
	c := e.client(device)
	c.provision()
	folders := pimFolders(t, c)
	return c, folders
}

func firstKey(t *testing.T, c *client, coll string) string {
	t.Helper()
	return collection(c.do("Sync", syncXML(coll, "0", ""))).ChildText(wbxml.NSAirSync, "SyncKey")
}

const berlinTZ = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n" +
	"DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\n" +
	"TZOFFSETTO:+0100\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"

// weeklyWithException is a weekly series in Berlin time with one instance deleted
// and one moved, as a CalDAV client writes it.
const weeklyWithException = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + berlinTZ +
	"BEGIN:VEVENT\r\nUID:weekly-1@example.com\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260302T090000\r\n" +
	"DTEND;TZID=Europe/Berlin:20260302T100000\r\nSUMMARY:Team meeting\r\nLOCATION:Room 4\r\nDESCRIPTION:Weekly sync\r\n" +
	"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10\r\nEXDATE;TZID=Europe/Berlin:20260309T090000\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:weekly-1@example.com\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260316T090000\r\n" +
	"DTSTART;TZID=Europe/Berlin:20260316T110000\r\nDTEND;TZID=Europe/Berlin:20260316T120000\r\nSUMMARY:Team meeting (moved)\r\n" +
	"LOCATION:Room 4\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

// TestPIMCalendarCalDAVToActiveSync: a recurring event with a deleted and a moved
// instance written over CalDAV reaches an ActiveSync device with the same rule and
// exceptions, in both the 14.1 and the 16.1 forms; a CalDAV change and delete follow.
func TestPIMCalendarCalDAVToActiveSync(t *testing.T) {
	e := newEnv(t)
	d := newDAV(t, e)
	ctx := context.Background()
	obj, err := ical.NewDecoder(strings.NewReader(weeklyWithException)).Decode()
	must(t, err)
	_, err = d.cal.PutCalendarObject(ctx, d.calPath+"weekly.ics", obj)
	must(t, err)

	for _, version := range []string{"14.1", "16.1"} {
		c, folders := pimStart(t, e, "dev"+version)
		c.version = version
		cal := folders["8"]
		key := firstKey(t, c, cal)
		r := c.do("Sync", syncXML(cal, key, `<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type></airsyncbase:BodyPreference></Options>`))
		golden(t, "pim-calendar-"+version+".xml", r)
		add := collection(r).Child(wbxml.NSAirSync, "Commands").Child(wbxml.NSAirSync, "Add")
		app := add.Child(wbxml.NSAirSync, "ApplicationData")
		ns := wbxml.NSCalendar
		rec := app.Child(ns, "Recurrence")
		if app.ChildText(ns, "Subject") != "Team meeting" || app.ChildText(ns, "StartTime") != "20260302T080000Z" ||
			app.ChildText(ns, "EndTime") != "20260302T090000Z" || rec.ChildText(ns, "Type") != "1" ||
			rec.ChildText(ns, "DayOfWeek") != "2" || rec.ChildText(ns, "Occurrences") != "10" || app.ChildText(ns, "UID") != "weekly-1@example.com" {
			t.Fatalf("%s: event %s", version, app.XML())
		}
		tz, err := decodeTimeZone(app.ChildText(ns, "Timezone"))
		berlin, _ := time.LoadLocation("Europe/Berlin")
		if err != nil || !tz.sameRules(zoneInfo(berlin, 2026)) {
			t.Errorf("%s: Timezone %+v %v", version, tz, err)
		}
		excs := app.Child(ns, "Exceptions").All(ns, "Exception")
		inst := func(x *wbxml.Element) string {
			if version == "16.1" {
				return x.ChildText(wbxml.NSAirSyncBase, "InstanceId")
			}
			return x.ChildText(ns, "ExceptionStartTime")
		}
		if len(excs) != 2 || inst(excs[0]) != "20260309T080000Z" || excs[0].ChildText(ns, "Deleted") != "1" ||
			inst(excs[1]) != "20260316T080000Z" || excs[1].ChildText(ns, "StartTime") != "20260316T100000Z" ||
			excs[1].ChildText(ns, "Subject") != "Team meeting (moved)" {
			t.Errorf("%s: exceptions %s", version, app.Child(ns, "Exceptions").XML())
		}
		loc := app.ChildText(ns, "Location")
		if version == "16.1" {
			loc = app.Child(wbxml.NSAirSyncBase, "Location").ChildText(wbxml.NSAirSyncBase, "DisplayName")
		}
		if loc != "Room 4" {
			t.Errorf("%s: location %q", version, loc)
		}
		if version != "16.1" {
			continue
		}
		sid := add.ChildText(wbxml.NSAirSync, "ServerId")
		key = collection(r).ChildText(wbxml.NSAirSync, "SyncKey")

		// A CalDAV change is a Change of the same ServerId; a CalDAV delete a Delete.
		changed := strings.Replace(weeklyWithException, "SUMMARY:Team meeting\r\n", "SUMMARY:Team meeting (new room)\r\n", 1)
		obj, err := ical.NewDecoder(strings.NewReader(changed)).Decode()
		must(t, err)
		_, err = d.cal.PutCalendarObject(ctx, d.calPath+"weekly.ics", obj)
		must(t, err)
		lost := key
		key, got := syncPIMAll(t, c, cal, key, "")
		if ch := got[sid]; ch == nil || ch.Name != "Change:ApplicationData" || ch.ChildText(ns, "Subject") != "Team meeting (new room)" {
			t.Fatalf("after a CalDAV change: %v", got)
		}
		// The answer lost on the way: the same request gets the same answer again.
		again := collection(c.do("Sync", syncXML(cal, lost, "")))
		ch := again.Child(wbxml.NSAirSync, "Commands").Child(wbxml.NSAirSync, "Change")
		if again.ChildText(wbxml.NSAirSync, "SyncKey") != key || ch.ChildText(wbxml.NSAirSync, "ServerId") != sid ||
			ch.Child(wbxml.NSAirSync, "ApplicationData").ChildText(ns, "Subject") != "Team meeting (new room)" {
			t.Fatalf("replayed answer %s", again.XML())
		}
		must(t, d.cal.RemoveAll(ctx, d.calPath+"weekly.ics"))
		_, got = syncPIMAll(t, c, cal, key, "")
		if del := got[sid]; del == nil || del.Name != "Delete:Delete" {
			t.Fatalf("after a CalDAV delete: %v", got)
		}
	}
}

// deviceEvent is the series a 16.1 device adds: weekly on Monday and Wednesday in New
// York time until June, the second instance deleted, the third moved and renamed.
const deviceEvent = `<ApplicationData>` +
	`<cal:Timezone>$TZ</cal:Timezone><cal:StartTime>20260302T140000Z</cal:StartTime><cal:EndTime>20260302T150000Z</cal:EndTime>` +
	`<cal:Subject>Design review</cal:Subject><airsyncbase:Location><airsyncbase:DisplayName>Lab</airsyncbase:DisplayName></airsyncbase:Location>` +
	`<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type><airsyncbase:Data>Bring drafts</airsyncbase:Data></airsyncbase:Body>` +
	`<cal:Sensitivity>0</cal:Sensitivity><cal:BusyStatus>2</cal:BusyStatus><cal:AllDayEvent>0</cal:AllDayEvent><cal:Reminder>15</cal:Reminder>` +
	`<cal:ClientUid>review-1@device</cal:ClientUid>` +
	`<cal:Attendees><cal:Attendee><cal:Email>bob@example.com</cal:Email><cal:Name>Bob</cal:Name><cal:AttendeeType>1</cal:AttendeeType></cal:Attendee></cal:Attendees>` +
	`<cal:Recurrence><cal:Type>1</cal:Type><cal:Interval>1</cal:Interval><cal:DayOfWeek>10</cal:DayOfWeek><cal:Until>20260601T000000Z</cal:Until></cal:Recurrence>` +
	`<cal:Exceptions><cal:Exception><airsyncbase:InstanceId>20260304T140000Z</airsyncbase:InstanceId><cal:Deleted>1</cal:Deleted></cal:Exception>` +
	`<cal:Exception><airsyncbase:InstanceId>20260309T130000Z</airsyncbase:InstanceId><cal:Subject>Design review (late)</cal:Subject>` +
	`<cal:StartTime>20260309T170000Z</cal:StartTime><cal:EndTime>20260309T180000Z</cal:EndTime></cal:Exception></cal:Exceptions>` +
	`</ApplicationData>`

func syncXMLNS(collection, key, extra string) string {
	return strings.Replace(syncXML(collection, key, extra), `xmlns:email="Email:"`,
		`xmlns:email="Email:" xmlns:cal="Calendar:" xmlns:contacts="Contacts:" xmlns:tasks="Tasks:" xmlns:notes="Notes:" xmlns:contacts2="Contacts2:"`, 1)
}

// TestPIMCalendarActiveSyncToCalDAV: a series with exceptions added over ActiveSync is
// read over CalDAV with its rule, zone, EXDATE and override, and by a second device
// unchanged; a device's Change, instance Delete and Delete reach CalDAV.
func TestPIMCalendarActiveSyncToCalDAV(t *testing.T) {
	e := newEnv(t)
	d := newDAV(t, e)
	c, folders := pimStart(t, e, "dev1")
	cal := folders["8"]
	key := firstKey(t, c, cal)
	ny, _ := time.LoadLocation("America/New_York")
	tz := zoneInfo(ny, 2026)
	tz.stdName, tz.dstName = "Eastern Standard Time", "Eastern Daylight Time" // as Windows names it
	app := strings.ReplaceAll(deviceEvent, "$TZ", tz.encode())
	r := collection(c.do("Sync", syncXMLNS(cal, key, `<Commands><Add><ClientId>c1</ClientId>`+app+`</Add></Commands>`)))
	resp := r.Child(wbxml.NSAirSync, "Responses").Child(wbxml.NSAirSync, "Add")
	if resp.ChildText(wbxml.NSAirSync, "Status") != "1" {
		t.Fatalf("Add: %s", r.XML())
	}
	sid := resp.ChildText(wbxml.NSAirSync, "ServerId")
	key = r.ChildText(wbxml.NSAirSync, "SyncKey")

	obj := d.events(t)["review-1@device"]
	if obj == nil {
		t.Fatalf("CalDAV does not see the event: %v", d.events(t))
	}
	master, overrides := splitComponents(obj, ical.CompEvent)
	if got := master.Props.Get(ical.PropDateTimeStart); got.Params.Get(ical.PropTimezoneID) != "America/New_York" || got.Value != "20260302T090000" {
		t.Errorf("DTSTART %+v", got)
	}
	if rr := propValue(master, ical.PropRecurrenceRule); rr != "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260601T000000Z" {
		t.Errorf("RRULE %q", rr)
	}
	if ex := propValue(master, ical.PropExceptionDates); ex != "20260304T090000" || len(overrides) != 1 ||
		propValue(overrides[0], ical.PropRecurrenceID) != "20260309T090000" || propText(overrides[0], ical.PropSummary) != "Design review (late)" ||
		propValue(overrides[0], ical.PropDateTimeStart) != "20260309T130000" {
		t.Errorf("EXDATE %q, overrides %d", ex, len(overrides))
	}
	if propText(master, ical.PropLocation) != "Lab" || propText(master, ical.PropDescription) != "Bring drafts" ||
		!strings.Contains(propValue(master, ical.PropAttendee), "bob@example.com") {
		t.Errorf("fields of %+v", master.Props)
	}

	// The device that wrote it hears nothing back; another device reads it unchanged.
	if _, got := syncPIMAll(t, c, cal, key, ""); len(got) != 0 {
		t.Errorf("the device's own Add came back: %v", got)
	}
	c2, f2 := pimStart(t, e, "dev2")
	_, got := syncPIMAll(t, c2, f2["8"], firstKey(t, c2, f2["8"]), "")
	back := got[sid]
	if back == nil {
		t.Fatalf("second device: %v", got)
	}
	sent := mustXML(t, `<ApplicationData xmlns="AirSync:" xmlns:cal="Calendar:" xmlns:airsyncbase="AirSyncBase:">`+
		strings.TrimPrefix(app, "<ApplicationData>"))
	ns := wbxml.NSCalendar
	for _, name := range []string{"StartTime", "EndTime", "Subject", "Sensitivity", "BusyStatus", "AllDayEvent", "Reminder"} {
		if g, w := back.ChildText(ns, name), sent.ChildText(ns, name); g != w {
			t.Errorf("%s read back as %q, sent %q", name, g, w)
		}
	}
	if !back.Child(ns, "Recurrence").Equal(sent.Child(ns, "Recurrence")) {
		t.Errorf("Recurrence read back as %s, sent %s", back.Child(ns, "Recurrence").XML(), sent.Child(ns, "Recurrence").XML())
	}
	gx, sx := back.Child(ns, "Exceptions").All(ns, "Exception"), sent.Child(ns, "Exceptions").All(ns, "Exception")
	if len(gx) != 2 || gx[0].ChildText(wbxml.NSAirSyncBase, "InstanceId") != sx[0].ChildText(wbxml.NSAirSyncBase, "InstanceId") ||
		gx[1].ChildText(ns, "StartTime") != sx[1].ChildText(ns, "StartTime") || gx[1].ChildText(ns, "Subject") != sx[1].ChildText(ns, "Subject") {
		t.Errorf("Exceptions read back as %s", back.Child(ns, "Exceptions").XML())
	}
	if z, err := decodeTimeZone(back.ChildText(ns, "Timezone")); err != nil || !z.sameRules(tz) {
		t.Errorf("Timezone read back as %+v %v", z, err)
	}

	// A whole-series Change, a 16.x instance Delete and an instance Change.
	r = collection(c.do("Sync", syncXMLNS(cal, key, `<Commands><Change><ServerId>`+sid+`</ServerId>`+
		strings.Replace(app, "<cal:Subject>Design review</cal:Subject>", "<cal:Subject>Design review v2</cal:Subject>", 1)+`</Change>`+
		`<Delete><ServerId>`+sid+`</ServerId><airsyncbase:InstanceId>20260311T130000Z</airsyncbase:InstanceId></Delete>`+
		`<Change><ServerId>`+sid+`</ServerId><airsyncbase:InstanceId>20260316T130000Z</airsyncbase:InstanceId><ApplicationData><cal:Subject>Only this one</cal:Subject></ApplicationData></Change>`+
		`</Commands>`)))
	if r.Child(wbxml.NSAirSync, "Responses") != nil {
		t.Fatalf("changes refused: %s", r.XML())
	}
	key = r.ChildText(wbxml.NSAirSync, "SyncKey")
	obj = d.events(t)["review-1@device"]
	master, overrides = splitComponents(obj, ical.CompEvent)
	var subjects []string
	for _, o := range overrides {
		subjects = append(subjects, propValue(o, ical.PropRecurrenceID)+"="+propText(o, ical.PropSummary))
	}
	slices.Sort(subjects)
	if propText(master, ical.PropSummary) != "Design review v2" || len(master.Props[ical.PropExceptionDates]) != 2 ||
		strings.Join(subjects, ",") != "20260309T090000=Design review (late),20260316T090000=Only this one" {
		t.Errorf("after the changes: %s, EXDATE %v, overrides %v", propText(master, ical.PropSummary), master.Props[ical.PropExceptionDates], subjects)
	}

	// Delete: gone from CalDAV too.
	r = collection(c.do("Sync", syncXMLNS(cal, key, `<Commands><Delete><ServerId>`+sid+`</ServerId></Delete></Commands>`)))
	if r.Child(wbxml.NSAirSync, "Responses") != nil {
		t.Fatalf("delete refused: %s", r.XML())
	}
	if _, ok := d.events(t)["review-1@device"]; ok {
		t.Error("CalDAV still has the deleted event")
	}
}

// TestPIMContacts: a vCard from CardDAV reaches the device field by field; a device's
// contact reaches CardDAV.
func TestPIMContacts(t *testing.T) {
	e := newEnv(t)
	d := newDAV(t, e)
	ctx := context.Background()
	card := vcard.Card{}
	card.SetValue(vcard.FieldVersion, "3.0")
	card.SetValue(vcard.FieldUID, "carol-1")
	card.SetValue(vcard.FieldFormattedName, "Carol Jones")
	card.SetName(&vcard.Name{FamilyName: "Jones", GivenName: "Carol"})
	card.Add(vcard.FieldEmail, &vcard.Field{Value: "carol@example.org", Params: vcard.Params{"TYPE": {"INTERNET"}}})
	card.Add(vcard.FieldTelephone, &vcard.Field{Value: "+1 555 0100", Params: vcard.Params{"TYPE": {"CELL"}}})
	card.Add(vcard.FieldTelephone, &vcard.Field{Value: "+1 555 0199", Params: vcard.Params{"TYPE": {"WORK", "VOICE"}}})
	card.Add(vcard.FieldAddress, &vcard.Field{Value: ";;1 Main St;Springfield;IL;62701;USA", Params: vcard.Params{"TYPE": {"WORK"}}})
	card.SetValue(vcard.FieldOrganization, "Acme;Research")
	card.SetValue(vcard.FieldTitle, "Chemist")
	card.SetValue(vcard.FieldBirthday, "1980-05-17")
	card.SetValue(vcard.FieldNote, "Met at the conference")
	_, err := d.card.PutAddressObject(ctx, d.bookPath+"carol.vcf", card)
	must(t, err)

	c, folders := pimStart(t, e, "dev1")
	book := folders["9"]
	first := c.do("Sync", syncXML(book, firstKey(t, c, book), ""))
	golden(t, "pim-contact.xml", first)
	key := collection(first).ChildText(wbxml.NSAirSync, "SyncKey")
	for _, add := range collection(first).Child(wbxml.NSAirSync, "Commands").All(wbxml.NSAirSync, "Add") {
		app := add.Child(wbxml.NSAirSync, "ApplicationData")
		ns := wbxml.NSContacts
		for name, want := range map[string]string{"FirstName": "Carol", "LastName": "Jones", "Email1Address": "carol@example.org",
			"MobilePhoneNumber": "+1 555 0100", "BusinessPhoneNumber": "+1 555 0199", "BusinessAddressCity": "Springfield",
			"CompanyName": "Acme", "Department": "Research", "JobTitle": "Chemist", "Birthday": "1980-05-17T00:00:00.000Z"} {
			if g := app.ChildText(ns, name); g != want {
				t.Errorf("%s = %q, want %q", name, g, want)
			}
		}
	}

	add := `<ApplicationData><contacts:FirstName>Dan</contacts:FirstName><contacts:LastName>Smith</contacts:LastName>` +
		`<contacts:Email1Address>"Dan Smith" &lt;dan@example.net&gt;</contacts:Email1Address><contacts:HomePhoneNumber>555-1234</contacts:HomePhoneNumber>` +
		`<contacts:HomeAddressStreet>2 Side Rd</contacts:HomeAddressStreet><contacts:HomeAddressCity>Shelbyville</contacts:HomeAddressCity>` +
		`<contacts:Birthday>1990-01-01T23:00:00.000Z</contacts:Birthday><contacts2:NickName>Danny</contacts2:NickName></ApplicationData>`
	r := collection(c.do("Sync", syncXMLNS(book, key, `<Commands><Add><ClientId>n1</ClientId>`+add+`</Add></Commands>`)))
	if s := r.Child(wbxml.NSAirSync, "Responses").Child(wbxml.NSAirSync, "Add").ChildText(wbxml.NSAirSync, "Status"); s != "1" {
		t.Fatalf("Add: %s", r.XML())
	}
	objs, err := d.card.QueryAddressBook(ctx, d.bookPath, &wcarddav.AddressBookQuery{DataRequest: wcarddav.AddressDataRequest{AllProp: true}})
	must(t, err)
	var dan vcard.Card
	for _, o := range objs {
		if o.Card.Value(vcard.FieldFormattedName) == "Dan Smith" {
			dan = o.Card
		}
	}
	if dan == nil || dan.Value(vcard.FieldEmail) != "dan@example.net" || dan.Value(vcard.FieldBirthday) != "1990-01-02" ||
		dan.Value(vcard.FieldNickname) != "Danny" || dan.Address() == nil || dan.Address().Locality != "Shelbyville" ||
		!dan.Get(vcard.FieldTelephone).Params.HasType("home") {
		t.Errorf("CardDAV sees %v", dan)
	}
}

// TestPIMTasksAndNotes: tasks and notes a device adds reach a second device unchanged.
func TestPIMTasksAndNotes(t *testing.T) {
	e := newEnv(t)
	c, folders := pimStart(t, e, "dev1")
	tasks, notes := folders["7"], folders["10"]
	task := `<ApplicationData><airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type><airsyncbase:Data>Milk, eggs</airsyncbase:Data></airsyncbase:Body>` +
		`<tasks:Subject>Shopping</tasks:Subject><tasks:Importance>2</tasks:Importance><tasks:UtcDueDate>2026-03-05T17:00:00.000Z</tasks:UtcDueDate>` +
		`<tasks:DueDate>2026-03-05T12:00:00.000Z</tasks:DueDate><tasks:Complete>0</tasks:Complete><tasks:Sensitivity>0</tasks:Sensitivity>` +
		`<tasks:ReminderSet>1</tasks:ReminderSet><tasks:ReminderTime>2026-03-05T16:00:00.000Z</tasks:ReminderTime>` +
		`<tasks:Categories><tasks:Category>Home</tasks:Category></tasks:Categories>` +
		`<tasks:Recurrence><tasks:Type>1</tasks:Type><tasks:Start>2026-03-05T12:00:00.000Z</tasks:Start><tasks:Interval>1</tasks:Interval>` +
		`<tasks:DayOfWeek>16</tasks:DayOfWeek><tasks:Occurrences>4</tasks:Occurrences></tasks:Recurrence></ApplicationData>`
	note := `<ApplicationData><notes:Subject>Ideas</notes:Subject><airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type>` +
		`<airsyncbase:Data>One&#xD;&#xA;Two</airsyncbase:Data></airsyncbase:Body><notes:Categories><notes:Category>Work</notes:Category></notes:Categories></ApplicationData>`
	for coll, app := range map[string]string{tasks: task, notes: note} {
		r := collection(c.do("Sync", syncXMLNS(coll, firstKey(t, c, coll), `<Commands><Add><ClientId>x</ClientId>`+app+`</Add></Commands>`)))
		if s := r.Child(wbxml.NSAirSync, "Responses").Child(wbxml.NSAirSync, "Add").ChildText(wbxml.NSAirSync, "Status"); s != "1" {
			t.Fatalf("Add: %s", r.XML())
		}
	}
	c2, f2 := pimStart(t, e, "dev2")
	tkey, got := syncPIMAll(t, c2, f2["7"], firstKey(t, c2, f2["7"]), "")
	var tk *wbxml.Element
	var tsid string
	for k, v := range got {
		tk, tsid = v, k
	}
	ns := wbxml.NSTasks
	if tk == nil || tk.ChildText(ns, "Subject") != "Shopping" || tk.ChildText(ns, "Importance") != "2" ||
		tk.ChildText(ns, "UtcDueDate") != "2026-03-05T17:00:00.000Z" || tk.ChildText(ns, "ReminderTime") != "2026-03-05T16:00:00.000Z" ||
		tk.Child(wbxml.NSAirSyncBase, "Body").ChildText(wbxml.NSAirSyncBase, "Data") != "Milk, eggs" ||
		tk.Child(ns, "Categories").ChildText(ns, "Category") != "Home" || tk.Child(ns, "Recurrence").ChildText(ns, "DayOfWeek") != "16" ||
		tk.Child(ns, "Recurrence").ChildText(ns, "Occurrences") != "4" || tk.Child(ns, "Recurrence").ChildText(ns, "Start") != "2026-03-05T12:00:00.000Z" {
		t.Errorf("task read back as %v", tk.XML())
	}
	_, got = syncPIMAll(t, c2, f2["10"], firstKey(t, c2, f2["10"]), "")
	var nt *wbxml.Element
	for _, v := range got {
		nt = v
	}
	if nt == nil || nt.ChildText(wbxml.NSNotes, "Subject") != "Ideas" ||
		nt.Child(wbxml.NSAirSyncBase, "Body").ChildText(wbxml.NSAirSyncBase, "Data") != "One\r\nTwo" ||
		nt.Child(wbxml.NSNotes, "Categories").ChildText(wbxml.NSNotes, "Category") != "Work" {
		t.Errorf("note read back as %v", nt.XML())
	}

	// Completing the task on the second device reaches the first.
	key1, _ := syncPIMAll(t, c, tasks, firstKey(t, c, tasks), "")
	done := strings.Replace(task, "<tasks:Complete>0</tasks:Complete>", "<tasks:Complete>1</tasks:Complete><tasks:DateCompleted>2026-03-04T10:00:00.000Z</tasks:DateCompleted>", 1)
	r := collection(c2.do("Sync", syncXMLNS(f2["7"], tkey, `<Commands><Change><ServerId>`+tsid+`</ServerId>`+done+`</Change></Commands>`)))
	if r.Child(wbxml.NSAirSync, "Responses") != nil {
		t.Fatalf("Change: %s", r.XML())
	}
	_, got = syncPIMAll(t, c, tasks, key1, "")
	if ch := got[tsid]; ch == nil || ch.ChildText(ns, "Complete") != "1" || ch.ChildText(ns, "DateCompleted") != "2026-03-04T10:00:00.000Z" {
		t.Errorf("completion reached the first device as %v", got)
	}
}

// TestPIMBadInput: what cannot become a valid object is refused item by item with
// status 6, and nothing of it is stored.
func TestPIMBadInput(t *testing.T) {
	e := newEnv(t)
	c, folders := pimStart(t, e, "dev1")
	cal := folders["8"]
	key := firstKey(t, c, cal)
	ok := `<cal:StartTime>20260302T140000Z</cal:StartTime><cal:EndTime>20260302T150000Z</cal:EndTime><cal:Subject>x</cal:Subject>`
	many := strings.Repeat(`<cal:Attendee><cal:Email>a@example.com</cal:Email></cal:Attendee>`, 600)
	cases := map[string]string{
		"date":        `<cal:StartTime>yesterday</cal:StartTime>`,
		"end":         `<cal:StartTime>20260302T140000Z</cal:StartTime><cal:EndTime>20260301T150000Z</cal:EndTime>`,
		"timezone":    `<cal:Timezone>AAAA</cal:Timezone>` + ok,
		"forever":     ok + `<cal:Recurrence><cal:Type>0</cal:Type><cal:Occurrences>100000</cal:Occurrences></cal:Recurrence>`,
		"pattern":     ok + `<cal:Recurrence><cal:Type>4</cal:Type></cal:Recurrence>`,
		"attendees":   ok + `<cal:Attendees>` + many + `</cal:Attendees>`,
		"exception":   ok + `<cal:Recurrence><cal:Type>0</cal:Type></cal:Recurrence><cal:Exceptions><cal:Exception><cal:Deleted>1</cal:Deleted></cal:Exception></cal:Exceptions>`,
		"sensitivity": ok + `<cal:Sensitivity>9</cal:Sensitivity>`,
	}
	var adds strings.Builder
	for id, body := range cases {
		adds.WriteString(`<Add><ClientId>` + id + `</ClientId><ApplicationData>` + body + `</ApplicationData></Add>`)
	}
	adds.WriteString(`<Change><ServerId>` + cal + `:r1234</ServerId><ApplicationData>` + ok + `</ApplicationData></Change>`)
	resp, el := c.send("Sync", syncXMLNS(cal, key, `<Commands>`+adds.String()+`</Commands>`))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	got := map[string]string{}
	for _, r := range collection(el).Child(wbxml.NSAirSync, "Responses").Children {
		id := r.ChildText(wbxml.NSAirSync, "ClientId") + r.ChildText(wbxml.NSAirSync, "ServerId")
		got[id] = r.ChildText(wbxml.NSAirSync, "Status")
	}
	for id := range cases {
		if got[id] != "6" {
			t.Errorf("%s: status %q, want 6", id, got[id])
		}
	}
	if got[cal+":r1234"] != "8" {
		t.Errorf("unknown item: status %q, want 8", got[cal+":r1234"])
	}
	id, _ := strconv.ParseInt(cal, 10, 64)
	infos, err := e.store.List(e.ctx, store.FolderID(id))
	must(t, err)
	if len(infos) != 0 {
		t.Errorf("%d items stored from bad input", len(infos))
	}
}

// TestPIMProfileClasses: a "contacts only" profile offers only the Contacts folder, and
// a calendar collection is unknown to Sync.
func TestPIMProfileClasses(t *testing.T) {
	profile := &fakeProfiles{}
	e := newEnv(t, func(c *Config) { c.Profiles = profile })
	c, all := pimStart(t, e, "dev1")
	profile.set(Enforced{PolicyVersion: "contacts-only/1", Classes: ClassSet(ClassContacts)})
	c.provision()
	folders := pimFolders(t, c)
	if len(folders) != 1 || folders["9"] == "" {
		t.Errorf("contacts only: FolderSync offers %v", folders)
	}
	r := collection(c.do("Sync", syncXML(all["8"], "0", "")))
	if s := r.ChildText(wbxml.NSAirSync, "Status"); s != "12" {
		t.Errorf("calendar Sync under a contacts-only profile: status %s", s)
	}
	// A calendar below the default one is a user calendar (type 13) when calendars sync.
	id, _ := strconv.ParseInt(all["8"], 10, 64)
	_, err := e.store.CreateFolder(e.ctx, store.AccountID(e.alice.ID), store.FolderID(id), "Holidays", store.RoleNone)
	must(t, err)
	profile.set(Enforced{PolicyVersion: "calendar-only/1", Classes: ClassSet(ClassCalendar)})
	c.provision()
	folders = pimFolders(t, c)
	if len(folders) != 2 || folders["8"] == "" || folders["13"] == "" {
		t.Errorf("calendar only: FolderSync offers %v", folders)
	}
	if s := collection(c.do("Sync", syncXML(folders["13"], "0", ""))).ChildText(wbxml.NSAirSync, "Status"); s != "1" {
		t.Errorf("user calendar Sync: status %s", s)
	}
}

// TestPIMCalendarFilter: a calendar's FilterType leaves out events that ended before
// the window; an open series is always sent.
func TestPIMCalendarFilter(t *testing.T) {
	e := newEnv(t)
	c, folders := pimStart(t, e, "dev1")
	addFilterEvents(t, e)
	_, got := syncPIMAll(t, c, folders["8"], firstKey(t, c, folders["8"]), `<Options><FilterType>4</FilterType></Options>`)
	var subjects []string
	for _, app := range got {
		subjects = append(subjects, app.ChildText(wbxml.NSCalendar, "Subject"))
	}
	slices.Sort(subjects)
	if strings.Join(subjects, ",") != "next,recent,series" {
		t.Errorf("two weeks back: %v", subjects)
	}
}

// TestPIMGetItemEstimate counts what a Sync of a calendar would bring, with and without
// a FilterType, and nothing once the device holds it all.
func TestPIMGetItemEstimate(t *testing.T) {
	e := newEnv(t)
	c, folders := pimStart(t, e, "dev1")
	addFilterEvents(t, e)
	cal := folders["8"]
	estimate := func(key, options string) string {
		t.Helper()
		r := c.do("GetItemEstimate", `<GetItemEstimate xmlns="GetItemEstimate:" xmlns:airsync="AirSync:"><Collections><Collection>`+
			`<airsync:SyncKey>`+key+`</airsync:SyncKey><CollectionId>`+cal+`</CollectionId>`+options+`</Collection></Collections></GetItemEstimate>`)
		resp := r.Child(wbxml.NSGetItemEstimate, "Response")
		if s := resp.ChildText(wbxml.NSGetItemEstimate, "Status"); s != "1" {
			t.Fatalf("GetItemEstimate status %s: %s", s, r.XML())
		}
		return resp.Child(wbxml.NSGetItemEstimate, "Collection").ChildText(wbxml.NSGetItemEstimate, "Estimate")
	}
	key := firstKey(t, c, cal)
	if got := estimate(key, `<airsync:Options><airsync:FilterType>4</airsync:FilterType></airsync:Options>`); got != "3" {
		t.Errorf("estimate with two weeks back = %s, want 3", got)
	}
	if got := estimate(key, ""); got != "4" {
		t.Errorf("estimate of everything = %s, want 4", got)
	}
	key, _ = syncPIMAll(t, c, cal, key, "")
	if got := estimate(key, ""); got != "0" {
		t.Errorf("estimate after a full sync = %s, want 0", got)
	}
}

// addFilterEvents puts four events in alice's calendar: one that ended a year ago, one
// three days ago, one next month, and a weekly series that began two years ago.
func addFilterEvents(t *testing.T, e *env) {
	t.Helper()
	f := e.folder(e.alice, store.RoleCalendar)
	now := time.Now().UTC()
	for name, when := range map[string]string{
		"old":    now.AddDate(-1, 0, 0).Format(compactTime),
		"recent": now.AddDate(0, 0, -3).Format(compactTime),
		"next":   now.AddDate(0, 1, 0).Format(compactTime),
		"series": now.AddDate(-2, 0, 0).Format(compactTime) + "\r\nRRULE:FREQ=WEEKLY",
	} {
		data := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:" + name + "\r\nDTSTAMP:20260101T000000Z\r\n" +
			"DTSTART:" + when + "\r\nDURATION:PT1H\r\nSUMMARY:" + name + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
		obj, err := pim.ParseCalendar([]byte(data), pim.Limits{})
		must(t, err)
		_, err = e.store.Deliver(e.ctx, obj.Item(name+".ics"), []store.Placement{{Account: f.Account, Folder: f.ID}})
		must(t, err)
	}
}
