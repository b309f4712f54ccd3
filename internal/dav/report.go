package dav

// REPORTs: calendar-query and calendar-multiget (RFC 4791 7.8, 7.9), addressbook-query
// and addressbook-multiget (RFC 6352 8.6, 8.7), sync-collection (RFC 6578 3.2).

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/pim"
	"mailroom/internal/store"
)

func (q *request) report() error {
	if q.t.kind != targetCollection {
		return errCondition(http.StatusForbidden, dav("supported-report"), "REPORTs are answered on calendars and address books")
	}
	c, err := q.collection()
	if err != nil {
		return err
	}
	root, err := readXML(q.r, xmlNameAny)
	if err != nil {
		return err
	}
	if root == nil {
		return errStatus(http.StatusBadRequest, "REPORT needs a body")
	}
	calendar := c.space == spaceCalendars
	pr := parsePropRequest(root)
	var ms *multistatus
	switch {
	case root.Name == caldav("calendar-multiget") && calendar, root.Name == carddav("addressbook-multiget") && !calendar:
		ms, err = q.multiget(c, root, pr)
	case root.Name == caldav("calendar-query") && calendar:
		ms, err = q.calendarQuery(c, root, pr)
	case root.Name == carddav("addressbook-query") && !calendar:
		ms, err = q.addressbookQuery(c, root, pr)
	case root.Name == dav("sync-collection"):
		ms, err = q.syncCollection(c, root, pr)
	case root.Name == caldav("free-busy-query") && calendar:
		return q.freeBusyQuery(root)
	default:
		return errCondition(http.StatusForbidden, dav("supported-report"), "the report {%s}%s is not supported on this collection", root.Name.Space, root.Name.Local)
	}
	if err != nil {
		return err
	}
	ms.write(q.w)
	return nil
}

// multiget answers the resources named by DAV:href, each found or 404.
func (q *request) multiget(c collection, root *node, pr propRequest) (*multistatus, error) {
	ms := &multistatus{}
	prefix := c.href(q.user.Address)
	for _, h := range root.all(nsDAV, "href") {
		href := strings.TrimSpace(h.Text)
		if u, err := url.Parse(href); err == nil {
			href = u.EscapedPath()
		}
		rest, ok := strings.CutPrefix(href, prefix)
		name, err := url.PathUnescape(rest)
		if !ok || err != nil || name == "" || strings.Contains(name, "/") {
			ms.responses = append(ms.responses, response{href: href, status: http.StatusNotFound})
			continue
		}
		res, err := q.resource(c, name)
		if err != nil {
			ms.responses = append(ms.responses, response{href: href, status: http.StatusNotFound})
			continue
		}
		ms.responses = append(ms.responses, pr.respond(href, targetResource, res.props))
	}
	return ms, nil
}

// calendarQuery answers a calendar-query: the filter is one VCALENDAR comp-filter
// whose comp-filters name the component and may carry a time-range and prop-filters
// (RFC 4791 9.7).
func (q *request) calendarQuery(c collection, root *node, pr propRequest) (*multistatus, error) {
	f := root.child(nsCalDAV, "filter")
	top := f.child(nsCalDAV, "comp-filter")
	if top == nil || !strings.EqualFold(top.attr("name"), "VCALENDAR") {
		return nil, errCondition(http.StatusForbidden, caldav("valid-filter"), "a calendar-query filter starts with a VCALENDAR comp-filter")
	}
	var filters []*compFilter
	if top.child(nsCalDAV, "is-not-defined") != nil {
		return &multistatus{}, nil
	}
	for _, cf := range top.all(nsCalDAV, "comp-filter") {
		parsed, err := parseCompFilter(cf)
		if err != nil {
			return nil, err
		}
		filters = append(filters, parsed)
	}
	x, err := q.h.index.get(q.r.Context(), q.h.cfg.Store, c.folder)
	if err != nil {
		return nil, err
	}
	rs, err := q.resources(c)
	if err != nil {
		return nil, err
	}
	ms := &multistatus{}
	for _, res := range rs {
		ok, err := q.matchesCalendar(c, x.byName[res.name], res, filters)
		if err != nil {
			return nil, err
		}
		if ok {
			ms.responses = append(ms.responses, pr.respond(resourceHref(c.space, q.user.Address, c.name, res.name), targetResource, res.props))
		}
	}
	return ms, nil
}

// compFilter is a comp-filter inside VCALENDAR.
type compFilter struct {
	name         string
	notDefined   bool
	start, end   time.Time
	hasTimeRange bool
	props        []textFilter
}

// textFilter is a prop-filter: a property that must be absent, or contain text.
type textFilter struct {
	name       string
	notDefined bool
	match      *textMatch
}

// textMatch is a text-match (RFC 4791 9.7.5, RFC 6352 10.5.4), case-insensitive.
type textMatch struct {
	text, matchType string
	negate          bool
}

func (m *textMatch) test(v string) bool {
	v, t := strings.ToLower(v), strings.ToLower(m.text)
	var ok bool
	switch m.matchType {
	case "equals":
		ok = v == t
	case "starts-with":
		ok = strings.HasPrefix(v, t)
	case "ends-with":
		ok = strings.HasSuffix(v, t)
	default:
		ok = strings.Contains(v, t)
	}
	return ok != m.negate
}

func parseTextMatch(n *node) *textMatch {
	if n == nil {
		return nil
	}
	return &textMatch{text: n.Text, matchType: n.attr("match-type"), negate: n.attr("negate-condition") == "yes"}
}

// parseUTC parses a time-range attribute (RFC 4791 9.9: UTC date-time).
func parseUTC(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("20060102T150405Z", s)
	if err != nil {
		return time.Time{}, errCondition(http.StatusForbidden, caldav("valid-filter"), "the time-range value %q is not a UTC date-time", s)
	}
	return t, nil
}

func parseCompFilter(n *node) (*compFilter, error) {
	cf := &compFilter{name: strings.ToUpper(n.attr("name")), notDefined: n.child(nsCalDAV, "is-not-defined") != nil}
	if tr := n.child(nsCalDAV, "time-range"); tr != nil {
		var err error
		if cf.start, err = parseUTC(tr.attr("start")); err != nil {
			return nil, err
		}
		if cf.end, err = parseUTC(tr.attr("end")); err != nil {
			return nil, err
		}
		if cf.start.IsZero() && cf.end.IsZero() {
			return nil, errCondition(http.StatusForbidden, caldav("valid-filter"), "a time-range needs a start or an end")
		}
		cf.hasTimeRange = true
	}
	for _, pf := range n.all(nsCalDAV, "prop-filter") {
		cf.props = append(cf.props, textFilter{
			name:       strings.ToUpper(pf.attr("name")),
			notDefined: pf.child(nsCalDAV, "is-not-defined") != nil,
			match:      parseTextMatch(pf.child(nsCalDAV, "text-match")),
		})
	}
	return cf, nil
}

// matchesCalendar tests one resource against the comp-filters (all must match). The
// time span kept at PUT rules most resources out without reading them.
func (q *request) matchesCalendar(c collection, m *member, res *resource, filters []*compFilter) (bool, error) {
	for _, cf := range filters {
		isKind := cf.name == string(c.component())
		if cf.notDefined {
			if isKind {
				return false, nil
			}
			continue
		}
		if !isKind {
			return false, nil
		}
		if cf.hasTimeRange {
			if m != nil && !spanOverlaps(m, cf.start, cf.end) {
				return false, nil
			}
			data, err := res.data()
			if err != nil {
				return false, err
			}
			ok, err := pim.Overlaps(data, cf.start, cf.end, q.h.limits())
			if err != nil || !ok {
				return false, nil // a stored object that no longer parses matches nothing
			}
		}
		if len(cf.props) > 0 {
			data, err := res.data()
			if err != nil {
				return false, err
			}
			for _, pf := range cf.props {
				if !matchProp(contentLines(data, cf.name), pf) {
					return false, nil
				}
			}
		}
	}
	return true, nil
}

// spanOverlaps tests the span kept in the index against [start, end).
func spanOverlaps(m *member, start, end time.Time) bool {
	if m.start == 0 && m.end == 0 {
		return true
	}
	if !end.IsZero() && m.start != 0 && m.start >= end.Unix() {
		return false
	}
	if !start.IsZero() && m.end != 0 && m.end < start.Unix() {
		return false
	}
	return true
}

// contentLines returns the unfolded content lines (name and value) of the given
// component, or of a vCard when comp is "VCARD".
func contentLines(data []byte, comp string) map[string][]string {
	out := map[string][]string{}
	unfolded := strings.NewReplacer("\r\n ", "", "\r\n\t", "", "\n ", "", "\n\t", "").Replace(string(data))
	depth, in := 0, false
	for line := range strings.Lines(unfolded) {
		line = strings.TrimRight(line, "\r\n")
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, ";")
		name = strings.ToUpper(name)
		if i := strings.LastIndexByte(name, '.'); i >= 0 { // vCard group prefix
			name = name[i+1:]
		}
		switch name {
		case "BEGIN":
			depth++
			if strings.EqualFold(value, comp) {
				in, depth = true, 1
			}
			continue
		case "END":
			depth--
			if in && depth == 0 {
				in = false
			}
			continue
		}
		if in && depth == 1 {
			out[name] = append(out[name], value)
		}
	}
	return out
}

// matchProp applies one prop-filter to a component's lines.
func matchProp(lines map[string][]string, pf textFilter) bool {
	vals, defined := lines[pf.name]
	switch {
	case pf.notDefined:
		return !defined
	case !defined:
		return false
	case pf.match == nil:
		return true
	}
	for _, v := range vals {
		if pf.match.test(v) {
			return true
		}
	}
	return false
}

// addressbookQuery answers an addressbook-query (RFC 6352 10.5): prop-filters with
// text-match or is-not-defined, combined by the filter's test (anyof by default).
func (q *request) addressbookQuery(c collection, root *node, pr propRequest) (*multistatus, error) {
	f := root.child(nsCardDAV, "filter")
	allof := f != nil && f.attr("test") == "allof"
	type propFilter struct {
		filters []textFilter
		allof   bool
	}
	var pfs []propFilter
	for _, pf := range f.all(nsCardDAV, "prop-filter") {
		p := propFilter{allof: pf.attr("test") == "allof"}
		name := strings.ToUpper(pf.attr("name"))
		if pf.child(nsCardDAV, "is-not-defined") != nil {
			p.filters = append(p.filters, textFilter{name: name, notDefined: true})
		}
		for _, tm := range pf.all(nsCardDAV, "text-match") {
			p.filters = append(p.filters, textFilter{name: name, match: parseTextMatch(tm)})
		}
		if len(p.filters) == 0 {
			p.filters = append(p.filters, textFilter{name: name})
		}
		pfs = append(pfs, p)
	}
	limit := 0
	if l := root.child(nsCardDAV, "limit"); l != nil {
		limit, _ = strconv.Atoi(strings.TrimSpace(l.child(nsCardDAV, "nresults").textOr("")))
	}
	rs, err := q.resources(c)
	if err != nil {
		return nil, err
	}
	ms := &multistatus{}
	for _, res := range rs {
		data, err := res.data()
		if err != nil {
			return nil, err
		}
		lines := contentLines(data, "VCARD")
		ok := len(pfs) == 0 || allof
		for _, p := range pfs {
			hit := p.allof
			for _, tf := range p.filters {
				if p.allof {
					hit = hit && matchProp(lines, tf)
				} else {
					hit = hit || matchProp(lines, tf)
				}
			}
			if allof {
				ok = ok && hit
			} else {
				ok = ok || hit
			}
		}
		if !ok {
			continue
		}
		if limit > 0 && len(ms.responses) == limit {
			// RFC 6352 8.6.1: the result was truncated.
			ms.responses = append(ms.responses, response{href: c.href(q.user.Address), status: http.StatusInsufficientStorage})
			break
		}
		ms.responses = append(ms.responses, pr.respond(resourceHref(c.space, q.user.Address, c.name, res.name), targetResource, res.props))
	}
	return ms, nil
}

func (n *node) textOr(def string) string {
	if n == nil {
		return def
	}
	return n.Text
}

// syncToken is a collection's sync-token (RFC 6578 3.2: a URI) at modseq.
func syncToken(folder store.FolderID, m store.ModSeq) string {
	return "urn:mailroom:sync:" + strconv.FormatInt(int64(folder), 10) + ":" + strconv.FormatInt(int64(m), 10)
}
