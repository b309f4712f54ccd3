package dav

// PROPFIND (RFC 4918 9.1) over principals (RFC 5397, RFC 3744 4), homes (RFC 4791 6.2.1,
// RFC 6352 7.1.1), collections and resources.

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"mailroom/internal/pim"
)

// propSource renders the properties of one resource: ok is false for a property it
// does not have.
type propSource func(name xml.Name) (inner string, ok bool)

// allprop lists what an allprop PROPFIND returns for each kind of target: the live
// properties that are cheap, never calendar or address data (RFC 4791 9.6).
var allprop = map[targetKind][]xml.Name{
	targetRoot:       {dav("resourcetype"), dav("displayname"), dav("current-user-principal")},
	targetPrincipal:  {dav("resourcetype"), dav("displayname"), dav("principal-URL")},
	targetHome:       {dav("resourcetype"), dav("displayname")},
	targetCollection: {dav("resourcetype"), dav("displayname"), dav("getctag"), dav("sync-token")},
	targetResource:   {dav("resourcetype"), dav("getetag"), dav("getcontenttype"), dav("getcontentlength"), dav("getlastmodified")},
	targetSchedule:   {dav("resourcetype"), dav("displayname")},
}

// propRequest is what a PROPFIND or REPORT asks for.
type propRequest struct {
	names    []xml.Name
	all      bool
	nameOnly bool
}

// parsePropRequest reads DAV:prop, DAV:allprop or DAV:propname among n's children; a
// nil n (an empty PROPFIND body) means allprop (RFC 4918 9.1).
func parsePropRequest(n *node) propRequest {
	if n == nil || n.child(nsDAV, "allprop") != nil {
		return propRequest{all: true}
	}
	if n.child(nsDAV, "propname") != nil {
		return propRequest{nameOnly: true}
	}
	var pr propRequest
	for _, p := range n.all(nsDAV, "prop") {
		for _, c := range p.Children {
			pr.names = append(pr.names, c.Name)
		}
	}
	return pr
}

// respond renders one response for href from src.
func (pr propRequest) respond(href string, kind targetKind, src propSource) response {
	r := response{href: href}
	names := pr.names
	if pr.all || pr.nameOnly {
		names = allprop[kind]
	}
	for _, n := range names {
		inner, ok := src(n)
		switch {
		case !ok:
			if !pr.all && !pr.nameOnly {
				r.missing = append(r.missing, n)
			}
		case pr.nameOnly:
			r.found = append(r.found, prop{name: n})
		default:
			r.found = append(r.found, prop{name: n, inner: inner})
		}
	}
	return r
}

func (q *request) propfind() error {
	root, err := readXML(q.r, dav("propfind"))
	if err != nil {
		return err
	}
	pr := parsePropRequest(root)
	depth := q.r.Header.Get("Depth")
	switch depth {
	case "0", "1":
	case "", "infinity":
		if q.t.kind != targetResource {
			return errCondition(http.StatusForbidden, dav("propfind-finite-depth"), "PROPFIND with Depth infinity is not supported; use Depth 0 or 1")
		}
	default:
		return errStatus(http.StatusBadRequest, "Depth %q is not valid", depth)
	}
	ms := &multistatus{}
	switch q.t.kind {
	case targetRoot:
		ms.responses = append(ms.responses, pr.respond(q.r.URL.EscapedPath(), targetRoot, q.rootProps))
	case targetPrincipal:
		ms.responses = append(ms.responses, pr.respond(principalHref(q.user.Address), targetPrincipal, q.principalProps))
	case targetSchedule:
		ms.responses = append(ms.responses, pr.respond(scheduleHref(q.user.Address, q.t.coll), targetSchedule, q.scheduleProps))
	case targetHome:
		ms.responses = append(ms.responses, pr.respond(homeHref(q.t.space, q.user.Address), targetHome, q.homeProps))
		if depth == "1" {
			cs, err := q.collections()
			if err != nil {
				return err
			}
			for _, c := range cs {
				src, err := q.collectionProps(c)
				if err != nil {
					return err
				}
				ms.responses = append(ms.responses, pr.respond(c.href(q.user.Address), targetCollection, src))
			}
		}
	case targetCollection:
		c, err := q.collection()
		if err != nil {
			return err
		}
		src, err := q.collectionProps(c)
		if err != nil {
			return err
		}
		ms.responses = append(ms.responses, pr.respond(c.href(q.user.Address), targetCollection, src))
		if depth == "1" {
			ms2, err := q.members(c, pr)
			if err != nil {
				return err
			}
			ms.responses = append(ms.responses, ms2...)
		}
	case targetResource:
		c, err := q.collection()
		if err != nil {
			return err
		}
		res, err := q.resource(c, q.t.name)
		if err != nil {
			return err
		}
		ms.responses = append(ms.responses, pr.respond(resourceHref(c.space, q.user.Address, c.name, q.t.name), targetResource, res.props))
	}
	ms.write(q.w)
	return nil
}

// members renders every member of a collection.
func (q *request) members(c collection, pr propRequest) ([]response, error) {
	rs, err := q.resources(c)
	if err != nil {
		return nil, err
	}
	out := make([]response, 0, len(rs))
	for _, res := range rs {
		out = append(out, pr.respond(resourceHref(c.space, q.user.Address, c.name, res.name), targetResource, res.props))
	}
	return out, nil
}

func privileges(write bool) string {
	list := []string{"read", "read-current-user-privilege-set"}
	if write {
		list = append(list, "write", "write-properties", "write-content", "bind", "unbind")
	}
	var b strings.Builder
	for _, p := range list {
		b.WriteString(elem(dav("privilege"), elem(dav(p), "")))
	}
	return b.String()
}

// commonProps are those every target of the user's tree has.
func (q *request) commonProps(name xml.Name) (string, bool) {
	switch name {
	case dav("current-user-principal"):
		return hrefElem(principalHref(q.user.Address)), true
	case dav("principal-collection-set"):
		return hrefElem(Prefix + "principals/"), true
	case dav("owner"):
		return hrefElem(principalHref(q.user.Address)), true
	case caldav("calendar-home-set"):
		return hrefElem(homeHref(spaceCalendars, q.user.Address)), true
	case carddav("addressbook-home-set"):
		return hrefElem(homeHref(spaceAddressbooks, q.user.Address)), true
	}
	return "", false
}

func (q *request) rootProps(name xml.Name) (string, bool) {
	switch name {
	case dav("resourcetype"):
		return elem(dav("collection"), ""), true
	case dav("displayname"):
		return "Mailroom", true
	case dav("current-user-privilege-set"):
		return privileges(false), true
	}
	return q.commonProps(name)
}

func (q *request) principalProps(name xml.Name) (string, bool) {
	switch name {
	case dav("resourcetype"):
		return elem(dav("collection"), "") + elem(dav("principal"), ""), true
	case dav("displayname"):
		if q.user.DisplayName != "" {
			return escape(q.user.DisplayName), true
		}
		return escape(q.user.Address), true
	case dav("principal-URL"):
		return hrefElem(principalHref(q.user.Address)), true
	case caldav("calendar-user-address-set"):
		return hrefElem("mailto:" + q.user.Address), true
	case caldav("calendar-user-type"):
		return "INDIVIDUAL", true
	case xml.Name{Space: nsCS, Local: "email-address-set"}:
		return text(xml.Name{Space: nsCS, Local: "email-address"}, q.user.Address), true
	case dav("current-user-privilege-set"):
		return privileges(false), true
	case dav("supported-report-set"):
		return "", true
	}
	if v, ok := q.principalScheduleProps(name); ok {
		return v, true
	}
	return q.commonProps(name)
}

func (q *request) homeProps(name xml.Name) (string, bool) {
	switch name {
	case dav("resourcetype"):
		return elem(dav("collection"), ""), true
	case dav("displayname"):
		return escape(string(q.t.space)), true
	case dav("current-user-privilege-set"):
		return privileges(true), true
	}
	return q.commonProps(name)
}

// deadKey is the collection-item property that keeps a dead property's value.
func deadKey(n xml.Name) string { return "dav:{" + n.Space + "}" + n.Local }

// textProps are the collection properties kept as plain text in pim's properties.
var textProps = map[xml.Name]string{
	dav("displayname"):                        pim.PropDisplayName,
	caldav("calendar-description"):            pim.PropDescription,
	carddav("addressbook-description"):        pim.PropDescription,
	{Space: nsApple, Local: "calendar-color"}: pim.PropColor,
}

// propApplies tells whether a text property belongs to a calendar or an address book.
func propApplies(name xml.Name, calendar bool) bool {
	switch name.Space {
	case nsCalDAV, nsApple:
		return calendar
	case nsCardDAV:
		return !calendar
	}
	return true
}

func supportedReports(reports ...xml.Name) string {
	var b strings.Builder
	for _, r := range reports {
		b.WriteString(elem(dav("supported-report"), elem(dav("report"), elem(r, ""))))
	}
	return b.String()
}

// collectionProps renders a collection's properties.
func (q *request) collectionProps(c collection) (propSource, error) {
	if c.gal {
		return q.galProps()
	}
	x, err := q.h.index.get(q.r.Context(), q.h.cfg.Store, c.folder)
	if err != nil {
		return nil, err
	}
	var stored map[string]string
	if x.coll != nil {
		stored = x.coll.props
	}
	calendar := c.space == spaceCalendars
	return func(name xml.Name) (string, bool) {
		if key, ok := textProps[name]; ok && propApplies(name, calendar) {
			if v := stored[key]; v != "" {
				return escape(v), true
			}
			if name == dav("displayname") {
				return escape(c.folder.Name), true
			}
			return "", false
		}
		switch name {
		case dav("resourcetype"):
			if calendar {
				return elem(dav("collection"), "") + elem(caldav("calendar"), ""), true
			}
			return elem(dav("collection"), "") + elem(carddav("addressbook"), ""), true
		case xml.Name{Space: nsCS, Local: "getctag"}, dav("getctag"):
			return escape(strconv.FormatInt(int64(c.folder.HighestModSeq), 10)), true
		case dav("sync-token"):
			return escape(syncToken(c.folder.ID, c.folder.HighestModSeq)), true
		case dav("current-user-privilege-set"):
			return privileges(true), true
		case dav("supported-report-set"):
			if calendar {
				return supportedReports(caldav("calendar-query"), caldav("calendar-multiget"), caldav("free-busy-query"), dav("sync-collection")), true
			}
			return supportedReports(carddav("addressbook-query"), carddav("addressbook-multiget"), dav("sync-collection")), true
		case caldav("supported-calendar-component-set"):
			if calendar {
				return fmt.Sprintf(`<c:comp name="%s"/>`, c.component()), true
			}
		case caldav("supported-calendar-data"):
			if calendar {
				return `<c:calendar-data content-type="text/calendar" version="2.0"/>`, true
			}
		case carddav("supported-address-data"):
			if !calendar {
				return `<card:address-data-type content-type="text/vcard" version="3.0"/><card:address-data-type content-type="text/vcard" version="4.0"/>`, true
			}
		case caldav("max-resource-size"), carddav("max-resource-size"):
			return strconv.Itoa(q.h.limits().MaxSize), true
		}
		if v, ok := stored[deadKey(name)]; ok {
			return v, true
		}
		return q.commonProps(name)
	}, nil
}
