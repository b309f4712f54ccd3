package dav

import (
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// caldavScript drives the server with python3-caldav (Debian's 0.11), an independent
// client: discovery from the context path, a new calendar, a recurring event with an
// exception, an update, a deletion, a time-range search that needs the recurrence
// expanded, and sync-collection reporting only what changed. Contacts go through the
// same client's plain WebDAV requests (the library has no CardDAV layer). It checks as
// it goes and exits with "FAIL: ..." at the first surprise.
// Arguments: URL, login, password, CA file.
const caldavScript = `
import sys, datetime, caldav
url, user, pw, cafile = sys.argv[1:5]

def check(cond, what):
    if not cond:
        raise SystemExit('FAIL: ' + what)

def text(r):
    return r.raw if isinstance(r.raw, str) else r.raw.decode()

WEEKLY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//python-caldav test//EN
BEGIN:VEVENT
UID:standup-1
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:20260105T090000
DTEND;TZID=Europe/Berlin:20260105T091500
RRULE:FREQ=WEEKLY;BYDAY=MO
SUMMARY:Standup
END:VEVENT
BEGIN:VEVENT
UID:standup-1
DTSTAMP:20260101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20260112T090000
DTSTART;TZID=Europe/Berlin:20260113T160000
DTEND;TZID=Europe/Berlin:20260113T161500
SUMMARY:Standup (moved to Tuesday)
END:VEVENT
END:VCALENDAR
"""
ONCE = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//python-caldav test//EN
BEGIN:VEVENT
UID:dentist-1
DTSTAMP:20260101T000000Z
DTSTART:20260302T100000Z
DTEND:20260302T110000Z
SUMMARY:Dentist
END:VEVENT
END:VCALENDAR
"""

client = caldav.DAVClient(url=url, username=user, password=pw, ssl_verify_cert=cafile)
principal = client.principal()
check(str(principal.url).endswith('/dav/principals/' + user + '/'), 'principal %s' % principal.url)
names = [c.name for c in principal.calendars()]
check('Calendar' in names and 'Tasks' in names, 'calendars %r' % names)

work = principal.make_calendar(name='Work', cal_id='work')
check('Work' in [c.name for c in principal.calendars()], 'new calendar not listed')

standup = work.save_event(WEEKLY)
dentist = work.save_event(ONCE)
first = work.objects_by_sync_token()
check(len(list(first)) == 2, 'initial sync %r' % list(first))
token = first.sync_token

# Expanded recurrence: the moved instance is on Tuesday 13th, not Monday 12th.
def found(start, end):
    return sorted(str(o.url).rsplit('/', 1)[1] for o in work.search(start=start, end=end, event=True))
d = datetime.datetime
monday12 = found(d(2026, 1, 12, 0, 0, tzinfo=datetime.timezone.utc), d(2026, 1, 12, 23, 0, tzinfo=datetime.timezone.utc))
tuesday13 = found(d(2026, 1, 13, 0, 0, tzinfo=datetime.timezone.utc), d(2026, 1, 13, 23, 0, tzinfo=datetime.timezone.utc))
far = found(d(2030, 6, 3, 0, 0, tzinfo=datetime.timezone.utc), d(2030, 6, 4, 0, 0, tzinfo=datetime.timezone.utc))
check(not any('standup' in n for n in monday12) and len(tuesday13) == 1 and len(far) == 1, 'search %r %r %r' % (monday12, tuesday13, far))

# Update one event: the sync reports exactly that one.
dentist.load()
dentist.data = dentist.data.replace('SUMMARY:Dentist', 'SUMMARY:Dentist (rescheduled)')
dentist.save()
changed = work.objects_by_sync_token(sync_token=token, load_objects=True)
urls = [str(o.url) for o in changed]
check(len(urls) == 1 and urls[0] == str(dentist.url), 'sync after update %r' % urls)
check('rescheduled' in list(changed)[0].data, 'synced data %r' % list(changed)[0].data)
token = changed.sync_token

# Delete the other: the sync reports it, and only it.
standup.delete()
gone = work.objects_by_sync_token(sync_token=token)
urls = [str(o.url) for o in gone]
check(urls == [str(standup.url)], 'sync after delete %r' % urls)
check(len(list(work.objects_by_sync_token())) == 1, 'full listing after delete')

# Contacts over plain WebDAV with the same client.
book = url.rstrip('/') + '/addressbooks/' + user + '/Contacts/'
card = 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann-1\r\nFN:Ann Example\r\nN:Example;Ann;;;\r\nEMAIL:ann@example.org\r\nEND:VCARD\r\n'
r = client.put(book + 'ann-1.vcf', card, {'Content-Type': 'text/vcard; charset=utf-8'})
check(r.status == 201, 'PUT contact %s' % r.status)
r = client.put(book + 'ann-1.vcf', card.replace('Ann Example', 'Ann Updated'), {'Content-Type': 'text/vcard; charset=utf-8'})
check(r.status == 204, 'update contact %s' % r.status)
r = client.request(book + 'ann-1.vcf')
check(r.status == 200 and 'Ann Updated' in text(r), 'GET contact %s %r' % (r.status, text(r)))
r = client.propfind(book, '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>', depth=1)
check('ann-1.vcf' in text(r), 'contact listing %r' % text(r))
r = client.delete(book + 'ann-1.vcf')
check(r.status == 204, 'DELETE contact %s' % r.status)
r = client.request(book + 'ann-1.vcf')
check(r.status == 404, 'deleted contact still there: %s' % r.status)
try:
    client.put(book + 'bad.vcf', 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No UID\r\nEND:VCARD\r\n', {'Content-Type': 'text/vcard'})
    check(False, 'a vCard without UID was accepted')
except caldav.lib.error.AuthorizationError as e:
    check('Forbidden' in str(e), 'invalid contact: %s' % e)
try:
    work.save_event(ONCE.replace('DTSTART:20260302T100000Z', 'DTSTART:yesterday'))
    check(False, 'an event with a bad DTSTART was accepted')
except caldav.lib.error.AuthorizationError as e:
    pass
check(len(list(work.objects_by_sync_token())) == 1, 'refused event was stored')
print('OK')
`

// debianPython is the interpreter with Debian's python3-caldav.
const debianPython = "/usr/bin/python3"

func TestPythonCaldav(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import caldav").Run(); err != nil {
		t.Skipf("python3-caldav is not installed (apt-get install python3-caldav): %v", err)
	}
	e := newEnv(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(debianPython, "-c", caldavScript, e.srv.URL+"/dav/", alice, testPassword, caFile)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("python3-caldav: %v\n%s", err, out)
	}
}
