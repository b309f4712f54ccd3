package dav

// Calendar object and address object resources: GET, PUT and DELETE with entity tags
// and conditional requests (RFC 4791 5.3.2, RFC 6352 6.3.2, RFC 9110 13.1).

import (
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/pim"
	"mailroom/internal/store"
)

// resource is one calendar object or vCard.
type resource struct {
	name     string
	etag     string
	ctype    string
	size     int64
	modified time.Time
	data     func() ([]byte, error)
}

// props renders a resource's properties.
func (res *resource) props(name xml.Name) (string, bool) {
	switch name {
	case dav("resourcetype"):
		return "", true
	case dav("getetag"):
		return escape(res.etag), true
	case dav("getcontenttype"):
		return escape(res.ctype), true
	case dav("getcontentlength"):
		if res.size > 0 {
			return strconv.FormatInt(res.size, 10), true
		}
	case dav("getlastmodified"):
		if !res.modified.IsZero() {
			return res.modified.UTC().Format(http.TimeFormat), true
		}
	case caldav("calendar-data"), carddav("address-data"):
		if (name.Space == nsCalDAV) != strings.HasPrefix(res.ctype, "text/calendar") {
			return "", false
		}
		data, err := res.data()
		if err != nil {
			return "", false
		}
		return escape(string(data)), true
	}
	return "", false
}

// storedResource is a resource kept in the store.
func (q *request) storedResource(m *member) *resource {
	ctype := "text/vcard; charset=utf-8"
	if m.kind == pim.KindEvent || m.kind == pim.KindTodo {
		ctype = "text/calendar; charset=utf-8; component=" + string(m.kind)
	}
	res := &resource{name: m.name, etag: m.etag, ctype: ctype, modified: m.date}
	var data []byte
	res.data = func() ([]byte, error) {
		if data != nil {
			return data, nil
		}
		raw, err := q.h.cfg.Store.Raw(q.r.Context(), m.id)
		if err != nil {
			return nil, err
		}
		data, err = pim.Body(raw)
		return data, err
	}
	return res
}

// resources lists a collection's members, by name.
func (q *request) resources(c collection) ([]*resource, error) {
	if c.gal {
		return q.galResources()
	}
	x, err := q.h.index.get(q.r.Context(), q.h.cfg.Store, c.folder)
	if err != nil {
		return nil, err
	}
	out := make([]*resource, 0, len(x.byName))
	for _, m := range x.byName {
		if m.live() {
			out = append(out, q.storedResource(m))
		}
	}
	slices.SortFunc(out, func(a, b *resource) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// resource finds one member of a collection.
func (q *request) resource(c collection, name string) (*resource, error) {
	if c.gal {
		rs, err := q.galResources()
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(rs, func(r *resource) bool { return r.name == name }); i >= 0 {
			return rs[i], nil
		}
		return nil, errStatus(http.StatusNotFound, "no resource %q", name)
	}
	x, err := q.h.index.get(q.r.Context(), q.h.cfg.Store, c.folder)
	if err != nil {
		return nil, err
	}
	if m := x.byName[name]; m != nil && m.live() {
		return q.storedResource(m), nil
	}
	return nil, errStatus(http.StatusNotFound, "no resource %q", name)
}

func (q *request) get() error {
	if q.t.kind != targetResource {
		return errStatus(http.StatusMethodNotAllowed, "GET of a collection is not supported; use PROPFIND or REPORT")
	}
	c, err := q.collection()
	if err != nil {
		return err
	}
	res, err := q.resource(c, q.t.name)
	if err != nil {
		return err
	}
	if inm := q.r.Header.Get("If-None-Match"); inm != "" && etagListMatches(inm, res.etag) {
		q.w.Header().Set("ETag", res.etag)
		q.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	data, err := res.data()
	if err != nil {
		return err
	}
	h := q.w.Header()
	h.Set("Content-Type", res.ctype)
	h.Set("ETag", res.etag)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	if !res.modified.IsZero() {
		h.Set("Last-Modified", res.modified.UTC().Format(http.TimeFormat))
	}
	q.w.WriteHeader(http.StatusOK)
	if q.r.Method != http.MethodHead {
		q.w.Write(data)
	}
	return nil
}

// etagListMatches reports whether a header's entity-tag list (or "*") names etag
// (RFC 9110 13.1.1: weak comparison for If-None-Match is the same for our strong tags).
func etagListMatches(list, etag string) bool {
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// checkConditions applies If-Match and If-None-Match to a write over the current
// entity tag ("" when the resource does not exist) (RFC 9110 13.2.2).
func (q *request) checkConditions(current string) error {
	if im := q.r.Header.Get("If-Match"); im != "" {
		if current == "" || !etagListMatches(im, current) {
			return errStatus(http.StatusPreconditionFailed, "the resource has changed (If-Match)")
		}
	}
	if inm := q.r.Header.Get("If-None-Match"); inm != "" && current != "" && etagListMatches(inm, current) {
		return errStatus(http.StatusPreconditionFailed, "the resource exists already (If-None-Match)")
	}
	return nil
}

// writable finds the request's collection for a write; the GAL is read-only.
func (q *request) writable() (collection, error) {
	c, err := q.collection()
	if err != nil {
		return collection{}, err
	}
	if c.gal {
		return collection{}, errCondition(http.StatusForbidden, dav("need-privileges"), "the global address list is read-only")
	}
	return c, nil
}

// validName is a resource name a client may choose.
func validName(name string) bool {
	return name != "" && len(name) <= 255 && !strings.HasPrefix(name, ".") &&
		!strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func (q *request) put() error {
	if q.t.kind != targetResource {
		return errStatus(http.StatusMethodNotAllowed, "PUT needs the URL of a resource inside a calendar or address book")
	}
	c, err := q.writable()
	if err != nil {
		return err
	}
	if !validName(q.t.name) {
		return errStatus(http.StatusBadRequest, "the resource name %q is not allowed", q.t.name)
	}
	lim := q.h.limits()
	data, err := io.ReadAll(io.LimitReader(q.r.Body, int64(lim.MaxSize)+1))
	if err != nil {
		return errStatus(http.StatusBadRequest, "cannot read the request body: %v", err)
	}
	calendar := c.space == spaceCalendars
	var obj *pim.Object
	if calendar {
		if len(data) > lim.MaxSize {
			return errCondition(http.StatusForbidden, caldav("max-resource-size"), "the calendar object is larger than %d bytes", lim.MaxSize)
		}
		if err := checkMediaType(q.r, "text/calendar"); err != nil {
			return errCondition(http.StatusForbidden, caldav("supported-calendar-data"), "%v", err)
		}
		if obj, err = pim.ParseCalendar(data, lim); err != nil {
			return errCondition(http.StatusForbidden, caldav("valid-calendar-data"), "%v", err)
		}
		if obj.Kind != c.component() {
			return errCondition(http.StatusForbidden, caldav("supported-calendar-component"), "this collection holds %s components, not %s", c.component(), obj.Kind)
		}
	} else {
		if len(data) > lim.MaxSize {
			return errCondition(http.StatusForbidden, carddav("max-resource-size"), "the vCard is larger than %d bytes", lim.MaxSize)
		}
		if err := checkMediaType(q.r, "text/vcard", "text/x-vcard"); err != nil {
			return errCondition(http.StatusForbidden, carddav("supported-address-data"), "%v", err)
		}
		if obj, err = pim.ParseContact(data, lim); err != nil {
			return errCondition(http.StatusForbidden, carddav("valid-address-data"), "%v", err)
		}
	}

	ctx := q.r.Context()
	defer q.h.locks.lock(c.folder.ID)()
	f, err := q.h.cfg.Store.Folder(ctx, c.folder.ID)
	if err != nil {
		return err
	}
	x, err := q.h.index.get(ctx, q.h.cfg.Store, f)
	if err != nil {
		return err
	}
	cur := x.byName[q.t.name]
	etag := ""
	if cur != nil && cur.live() {
		etag = cur.etag
	}
	if err := q.checkConditions(etag); err != nil {
		return err
	}
	for _, m := range x.byName {
		if m.live() && m.uid == obj.UID && m.name != q.t.name {
			cond := caldav("no-uid-conflict")
			if !calendar {
				cond = carddav("no-uid-conflict")
			}
			e := errCondition(http.StatusConflict, cond, "another resource (%s) has the UID %q", m.name, obj.UID)
			e.inner = hrefElem(resourceHref(c.space, q.user.Address, c.name, m.name))
			return e
		}
	}
	item := obj.Item(q.t.name)
	status := http.StatusCreated
	previous := q.storedBody(cur)
	if cur != nil {
		if _, err := q.h.cfg.Store.Replace(ctx, cur.id, item); err != nil {
			return err
		}
		if etag != "" {
			status = http.StatusNoContent
		}
	} else if _, err := q.h.cfg.Store.Deliver(ctx, item, []store.Placement{{Account: f.Account, Folder: f.ID}}); err != nil {
		return err
	}
	if obj.Kind == pim.KindEvent {
		q.scheduleChange(previous, data)
	}
	q.w.Header().Set("ETag", item.Props[pim.PropETag])
	q.w.WriteHeader(status)
	return nil
}

// checkMediaType accepts a request without Content-Type or with one of want.
func checkMediaType(r *http.Request, want ...string) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(want, mt) {
		return errors.New("the content type " + ct + " is not accepted here; send " + want[0])
	}
	return nil
}

func (q *request) delete() error {
	switch q.t.kind {
	case targetCollection:
		return q.deleteCollection()
	case targetResource:
	default:
		return errStatus(http.StatusForbidden, "this cannot be deleted")
	}
	c, err := q.writable()
	if err != nil {
		return err
	}
	ctx := q.r.Context()
	defer q.h.locks.lock(c.folder.ID)()
	f, err := q.h.cfg.Store.Folder(ctx, c.folder.ID)
	if err != nil {
		return err
	}
	x, err := q.h.index.get(ctx, q.h.cfg.Store, f)
	if err != nil {
		return err
	}
	cur := x.byName[q.t.name]
	if cur == nil || !cur.live() {
		return errStatus(http.StatusNotFound, "no resource %q", q.t.name)
	}
	if err := q.checkConditions(cur.etag); err != nil {
		return err
	}
	previous := q.storedBody(cur)
	// The tombstone keeps the name for clients that sync later (RFC 6578 3.5.2).
	if _, err := q.h.cfg.Store.Replace(ctx, cur.id, pim.Tombstone(cur.name, cur.uid)); err != nil {
		return err
	}
	if previous != nil {
		q.scheduleChange(previous, nil)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (q *request) deleteCollection() error {
	c, err := q.writable()
	if err != nil {
		return err
	}
	if c.folder.Role != store.RoleNone {
		return errCondition(http.StatusForbidden, dav("need-privileges"), "the default %s collection cannot be deleted", c.folder.Role)
	}
	if err := q.h.cfg.Store.DeleteFolder(q.r.Context(), c.folder.ID); err != nil {
		if errors.Is(err, store.ErrHasChildren) {
			return errStatus(http.StatusConflict, "the collection has subfolders")
		}
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
