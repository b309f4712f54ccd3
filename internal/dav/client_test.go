package dav

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav"
	wcaldav "github.com/emersion/go-webdav/caldav"
	wcarddav "github.com/emersion/go-webdav/carddav"

	"mailroom/internal/pim"
	"mailroom/internal/store"
)

// TestGoWebdavClients drives the server with go-webdav's CalDAV and CardDAV clients.
func TestGoWebdavClients(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hc := webdav.HTTPClientWithBasicAuth(e.client, alice, testPassword)

	cc, err := wcaldav.NewClient(hc, e.srv.URL+"/dav/")
	if err != nil {
		t.Fatal(err)
	}
	principal, err := cc.FindCurrentUserPrincipal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	home, err := cc.FindCalendarHomeSet(ctx, principal)
	if err != nil {
		t.Fatal(err)
	}
	cals, err := cc.FindCalendars(ctx, home)
	if err != nil {
		t.Fatal(err)
	}
	var calPath string
	for _, c := range cals {
		if slices.Contains(c.SupportedComponentSet, "VEVENT") {
			calPath = c.Path
		}
	}
	if len(cals) != 2 || calPath != cal {
		t.Fatalf("calendars %+v", cals)
	}
	obj, err := ical.NewDecoder(strings.NewReader(weeklyWithException)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	put, err := cc.PutCalendarObject(ctx, cal+"weekly.ics", obj)
	if err != nil {
		t.Fatal(err)
	}
	if put.ETag == "" {
		t.Errorf("PUT returned no ETag: %+v", put)
	}
	q := &wcaldav.CalendarQuery{
		CompRequest: wcaldav.CalendarCompRequest{Name: "VCALENDAR", AllProps: true, AllComps: true},
		CompFilter: wcaldav.CompFilter{Name: "VCALENDAR", Comps: []wcaldav.CompFilter{{
			Name: "VEVENT", Start: time.Date(2028, 2, 7, 0, 0, 0, 0, time.UTC), End: time.Date(2028, 2, 8, 0, 0, 0, 0, time.UTC)}}},
	}
	found, err := cc.QueryCalendar(ctx, cal, q)
	if err != nil || len(found) != 1 || found[0].Path != cal+"weekly.ics" {
		t.Fatalf("query on a Monday two years on: %+v %v", found, err)
	}
	q.CompFilter.Comps[0].Start, q.CompFilter.Comps[0].End = time.Date(2028, 2, 8, 0, 0, 0, 0, time.UTC), time.Date(2028, 2, 9, 0, 0, 0, 0, time.UTC)
	if found, err := cc.QueryCalendar(ctx, cal, q); err != nil || len(found) != 0 {
		t.Fatalf("query on a Tuesday: %+v %v", found, err)
	}
	got, err := cc.MultiGetCalendar(ctx, cal, &wcaldav.CalendarMultiGet{Paths: []string{cal + "weekly.ics"}})
	if err != nil || len(got) != 1 || len(got[0].Data.Children) < 2 {
		t.Fatalf("multiget: %+v %v", got, err)
	}

	cd, err := wcarddav.NewClient(hc, e.srv.URL+"/dav/")
	if err != nil {
		t.Fatal(err)
	}
	if err := cd.HasSupport(ctx); err != nil {
		t.Fatal(err)
	}
	bhome, err := cd.FindAddressBookHomeSet(ctx, principal)
	if err != nil {
		t.Fatal(err)
	}
	books, err := cd.FindAddressBooks(ctx, bhome)
	if err != nil || len(books) != 2 {
		t.Fatalf("address books %+v %v", books, err)
	}
	for i := range 3 {
		c := vcard.Card{}
		c.SetValue(vcard.FieldVersion, "4.0")
		c.SetValue(vcard.FieldUID, "urn:uuid:c"+string(rune('0'+i)))
		c.SetValue(vcard.FieldFormattedName, "Person "+string(rune('A'+i)))
		c.SetValue(vcard.FieldEmail, "p"+string(rune('a'+i))+"@example.org")
		if _, err := cd.PutAddressObject(ctx, book+"c"+string(rune('0'+i))+".vcf", c); err != nil {
			t.Fatal(err)
		}
	}
	first, err := cd.SyncCollection(ctx, book, &wcarddav.SyncQuery{})
	if err != nil || len(first.Updated) != 3 || first.SyncToken == "" {
		t.Fatalf("initial sync: %+v %v", first, err)
	}
	// A change made through the store, as ActiveSync would: Replace of c1.
	f := e.folder(t, store.RoleContacts)
	var c1 store.MessageID
	msgs, err := e.store.Messages(ctx, f.ID, []store.UID{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Props[pim.PropName] == "c1.vcf" {
			c1 = m.ID
		}
	}
	o, err := pim.ParseContact([]byte("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:c1\r\nFN:Person B (phone)\r\nEND:VCARD\r\n"), pim.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Replace(ctx, c1, o.Item("c1.vcf")); err != nil {
		t.Fatal(err)
	}
	if err := cd.RemoveAll(ctx, book+"c2.vcf"); err != nil {
		t.Fatal(err)
	}
	next, err := cd.SyncCollection(ctx, book, &wcarddav.SyncQuery{SyncToken: first.SyncToken, DataRequest: wcarddav.AddressDataRequest{AllProp: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Updated) != 1 || next.Updated[0].Path != book+"c1.vcf" || len(next.Deleted) != 1 || next.Deleted[0] != book+"c2.vcf" {
		t.Fatalf("sync after a store change and a deletion: updated %+v deleted %v", next.Updated, next.Deleted)
	}
	found2, err := cd.QueryAddressBook(ctx, book, &wcarddav.AddressBookQuery{
		DataRequest: wcarddav.AddressDataRequest{AllProp: true},
		PropFilters: []wcarddav.PropFilter{{Name: vcard.FieldFormattedName, TextMatches: []wcarddav.TextMatch{{Text: "person a"}}}},
	})
	if err != nil || len(found2) != 1 || found2[0].Card.PreferredValue(vcard.FieldFormattedName) != "Person A" {
		t.Fatalf("addressbook-query: %+v %v", found2, err)
	}
	gal, err := cd.QueryAddressBook(ctx, bookHome+"gal/", &wcarddav.AddressBookQuery{DataRequest: wcarddav.AddressDataRequest{AllProp: true}})
	if err != nil || len(gal) != 4 { // alice, bob, sales, staff
		t.Fatalf("GAL: %d entries %v", len(gal), err)
	}
}
