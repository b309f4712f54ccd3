package dav

import (
	"net/http"
	"testing"
)

var xmlSeeds = []string{
	propfind(`<d:getetag/><c:calendar-data/><cs:getctag/>`),
	`<d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>`,
	`<d:propertyupdate xmlns:d="DAV:" xmlns:a="http://apple.com/ns/ical/"><d:set><d:prop><d:displayname>x</d:displayname><a:calendar-color>#fff</a:calendar-color></d:prop></d:set><d:remove><d:prop><x:y xmlns:x="urn:x"><x:z/></x:y></d:prop></d:remove></d:propertyupdate>`,
	`<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20260101T000000Z" end="20260201T000000Z"/><c:prop-filter name="SUMMARY"><c:text-match>x</c:text-match></c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`,
	`<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><card:filter test="allof"><card:prop-filter name="FN"><card:is-not-defined/></card:prop-filter></card:filter><card:limit><card:nresults>1</card:nresults></card:limit></card:addressbook-query>`,
	syncReport("urn:mailroom:sync:1:1"),
	`<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>`,
}

// FuzzRequestXML feeds arbitrary bodies to the request parser and to what reads its tree.
func FuzzRequestXML(f *testing.F) {
	for _, s := range xmlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		root, err := parseXML(body)
		if err != nil {
			return
		}
		parsePropRequest(root)
		changes := collectChanges(root)
		propValues(changes, false)
		for _, ch := range changes {
			ch.value.innerXML()
		}
		var walk func(n *node)
		walk = func(n *node) {
			if n.Name == caldav("comp-filter") {
				parseCompFilter(n)
			}
			for _, c := range n.Children {
				walk(c)
			}
		}
		walk(root)
	})
}

// FuzzHandler sends arbitrary bodies with each method to a live server and requires
// an answer that is not a server error.
func FuzzHandler(f *testing.F) {
	for _, s := range xmlSeeds {
		f.Add(uint8(0), []byte(s))
	}
	f.Add(uint8(5), []byte(event("u", "s", "20260101T100000Z")))
	f.Add(uint8(6), []byte(card("u", "n", "e@x.test")))
	e := newEnv(f)
	type call struct{ method, path string }
	calls := []call{
		{"PROPFIND", cal}, {"PROPPATCH", cal}, {"REPORT", cal}, {"REPORT", book}, {"MKCALENDAR", calHome + "fz/"},
		{"PUT", cal + "fz.ics"}, {"PUT", book + "fz.vcf"}, {"MKCOL", bookHome + "fz/"}, {"REPORT", bookHome + "gal/"},
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		c := calls[int(which)%len(calls)]
		status, _, resp := e.do(t, alice, c.method, c.path, string(body), "Depth", "1")
		if status >= http.StatusInternalServerError && status != http.StatusInsufficientStorage {
			t.Fatalf("%s %s answered %d: %s", c.method, c.path, status, resp)
		}
		if status == http.StatusMultiStatus {
			if _, err := parseXML([]byte(resp)); err != nil {
				t.Fatalf("%s %s answered malformed XML (%v): %s", c.method, c.path, err, resp)
			}
			// What PROPPATCH kept must come back as well-formed XML.
			_, _, props := e.do(t, alice, "PROPFIND", cal, `<d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>`, "Depth", "0")
			if _, err := parseXML([]byte(props)); err != nil {
				t.Fatalf("PROPFIND answered malformed XML (%v): %s", err, props)
			}
		}
	})
}
