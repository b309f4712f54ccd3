package dav

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailroom/internal/pim"
	"mailroom/internal/store"
)

var hrefRE = regexp.MustCompile(`<d:href>([^<]*)</d:href>`)

// fill puts n items into folder f through the store, as an import would.
func fill(b *testing.B, e *env, f store.Folder, n int, calendar bool) {
	ctx := context.Background()
	for i := range n {
		var o *pim.Object
		var err error
		if calendar {
			start := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * 3 * time.Hour)
			data := event(fmt.Sprintf("ev-%05d", i), fmt.Sprintf("Meeting %d with a few words of summary", i), start.Format("20060102T150405Z"))
			if i%10 == 0 {
				data = strings.Replace(data, "DURATION:PT1H", "DURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=20", 1)
			}
			o, err = pim.ParseCalendar([]byte(data), pim.Limits{})
		} else {
			o, err = pim.ParseContact([]byte(card(fmt.Sprintf("ct-%05d", i), fmt.Sprintf("Person %d", i), fmt.Sprintf("p%d@example.org", i))), pim.Limits{})
		}
		if err != nil {
			b.Fatal(err)
		}
		ext := ".vcf"
		if calendar {
			ext = ".ics"
		}
		if _, err := e.store.Deliver(ctx, o.Item(fmt.Sprintf("%s%s", o.UID, ext)), []store.Placement{{Account: f.Account, Folder: f.ID}}); err != nil {
			b.Fatal(err)
		}
	}
}

// fullSync does what a new client does: sync-collection without a token for the ETags,
// then multiget in batches of 100 for the data. It returns the items received.
func fullSync(b *testing.B, e *env, path string, calendar bool) int {
	status, _, body := e.do(b, alice, "REPORT", path, syncReport(""), "Depth", "1")
	if status != http.StatusMultiStatus {
		b.Fatalf("sync: %d %s", status, body)
	}
	var hrefs []string
	for _, m := range hrefRE.FindAllStringSubmatch(body, -1) {
		hrefs = append(hrefs, m[1])
	}
	root, data := `c:calendar-multiget xmlns:c="urn:ietf:params:xml:ns:caldav"`, "<c:calendar-data/>"
	if !calendar {
		root, data = `card:addressbook-multiget xmlns:card="urn:ietf:params:xml:ns:carddav"`, "<card:address-data/>"
	}
	got := 0
	for i := 0; i < len(hrefs); i += 100 {
		var q strings.Builder
		q.WriteString(`<?xml version="1.0"?><` + root + ` xmlns:d="DAV:"><d:prop><d:getetag/>` + data + `</d:prop>`)
		for _, h := range hrefs[i:min(i+100, len(hrefs))] {
			q.WriteString("<d:href>" + h + "</d:href>")
		}
		q.WriteString("</" + strings.Fields(root)[0] + ">")
		status, _, body := e.do(b, alice, "REPORT", path, q.String(), "Depth", "1")
		if status != http.StatusMultiStatus {
			b.Fatalf("multiget: %d %s", status, body)
		}
		got += strings.Count(body, "200 OK")
	}
	return got
}

// BenchmarkFullSync measures a new client's first sync of a 5,000-event calendar and a
// 5,000-contact address book (cold: the server's name index is built afresh each time).
// Run with -benchtime=3x; filling the store takes a while before the timer starts.
func BenchmarkFullSync(b *testing.B) {
	const n = 5000
	e := newEnv(b)
	// The first request creates the PIM folders.
	e.do(b, alice, "PROPFIND", calHome, propfind(`<d:resourcetype/>`), "Depth", "1")
	start := time.Now()
	fill(b, e, e.folder(b, store.RoleCalendar), n, true)
	fill(b, e, e.folder(b, store.RoleContacts), n, false)
	b.Logf("filled %d events and %d contacts in %v", n, n, time.Since(start))
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		h := New(Config{Store: e.store, Auth: Directory{e.dir}, GAL: Directory{e.dir}})
		mux := http.NewServeMux()
		h.Register(mux)
		e.srv.Config.Handler = mux
		b.StartTimer()
		t0 := time.Now()
		if got := fullSync(b, e, cal, true); got != n {
			b.Fatalf("calendar sync got %d of %d", got, n)
		}
		t1 := time.Now()
		if got := fullSync(b, e, book, false); got != n {
			b.Fatalf("address book sync got %d of %d", got, n)
		}
		b.ReportMetric(t1.Sub(t0).Seconds(), "s/calendar")
		b.ReportMetric(time.Since(t1).Seconds(), "s/addressbook")
	}
}
