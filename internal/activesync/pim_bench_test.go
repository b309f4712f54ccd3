package activesync

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"mailroom/internal/pim"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// BenchmarkPIMNewDevice measures a new device's first sync of a 5,000-event calendar
// (a tenth of them weekly series in Berlin time) and a 5,000-contact address book:
// Provision, FolderSync, then Sync of both collections with WindowSize 100 until
// nothing more is available. Run with -benchtime=1x; each iteration is a new device.
func BenchmarkPIMNewDevice(b *testing.B) {
	const n = 5000
	e := newEnv(b)
	seed := e.client("seed")
	seed.provision()
	folders := pimFolders(b, seed)
	fill := func(role store.Role, item func(i int) (*pim.Object, string, error)) {
		f := e.folder(e.alice, role)
		var g errgroup.Group
		g.SetLimit(8)
		for i := range n {
			g.Go(func() error {
				obj, name, err := item(i)
				if err != nil {
					return err
				}
				_, err = e.store.Deliver(e.ctx, obj.Item(name), []store.Placement{{Account: store.AccountID(e.alice.ID), Folder: f.ID}})
				return err
			})
		}
		must(b, g.Wait())
	}
	start := time.Now()
	fill(store.RoleCalendar, func(i int) (*pim.Object, string, error) {
		day := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC).AddDate(0, 0, i%365).Add(time.Duration(i%8) * time.Hour)
		rule := ""
		if i%10 == 0 {
			rule = "RRULE:FREQ=WEEKLY;COUNT=20\r\n"
		}
		data := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n" + berlinTZ + "BEGIN:VEVENT\r\nUID:ev" + strconv.Itoa(i) +
			"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:" + day.Format("20060102T150405") + "\r\nDURATION:PT1H\r\n" + rule +
			"SUMMARY:Event " + strconv.Itoa(i) + "\r\nLOCATION:Room " + strconv.Itoa(i%20) + "\r\nDESCRIPTION:Agenda for event " + strconv.Itoa(i) +
			"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
		obj, err := pim.ParseCalendar([]byte(data), pim.Limits{})
		return obj, fmt.Sprintf("ev%d.ics", i), err
	})
	fill(store.RoleContacts, func(i int) (*pim.Object, string, error) {
		data := fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c%d\r\nFN:Person %d\r\nN:Person;%d;;;\r\nEMAIL;TYPE=INTERNET:p%d@example.org\r\n"+
			"TEL;TYPE=CELL:+1 555 %04d\r\nORG:Company %d\r\nADR;TYPE=WORK:;;%d Main St;Springfield;IL;62701;USA\r\nEND:VCARD\r\n", i, i, i, i, i, i%50, i)
		obj, err := pim.ParseContact([]byte(data), pim.Limits{})
		return obj, fmt.Sprintf("c%d.vcf", i), err
	})
	b.Logf("stored %d events and %d contacts in %s", n, n, time.Since(start).Round(time.Millisecond))
	b.ResetTimer()
	for i := range b.N {
		c := e.client("new" + strconv.Itoa(i))
		c.provision()
		pimFolders(b, c)
		counts := map[string]int{}
		for _, typ := range []string{"8", "9"} {
			coll := folders[typ]
			key := collection(c.do("Sync", syncXML(coll, "0", ""))).ChildText(wbxml.NSAirSync, "SyncKey")
			for range 1000 {
				r := collection(c.do("Sync", syncXML(coll, key, `<WindowSize>100</WindowSize>`)))
				key = r.ChildText(wbxml.NSAirSync, "SyncKey")
				counts[typ] += len(r.Child(wbxml.NSAirSync, "Commands").All(wbxml.NSAirSync, "Add"))
				if r.Child(wbxml.NSAirSync, "MoreAvailable") == nil {
					break
				}
			}
		}
		if counts["8"] != n || counts["9"] != n {
			b.Fatalf("synced %v items, want %d of each", counts, n)
		}
	}
	b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "items/s")
}
