package dav

// Creating collections (MKCALENDAR, RFC 4791 5.3.1; extended MKCOL, RFC 5689) and
// setting their properties (PROPPATCH, RFC 4918 9.2).

import (
	"encoding/xml"
	"net/http"
	"slices"
	"strings"

	"mailroom/internal/pim"
	"mailroom/internal/store"
)

// Limits on dead properties kept per collection.
const (
	maxPropValue = 4096
	maxDeadProps = 64
)

// protected are the live properties a client cannot set (RFC 4918 16:
// cannot-modify-protected-property).
var protected = []xml.Name{
	dav("resourcetype"), dav("getetag"), dav("getctag"), {Space: nsCS, Local: "getctag"}, dav("sync-token"),
	dav("getcontenttype"), dav("getcontentlength"), dav("getlastmodified"), dav("owner"),
	dav("current-user-principal"), dav("current-user-privilege-set"), dav("supported-report-set"),
	caldav("supported-calendar-component-set"), caldav("supported-calendar-data"), carddav("supported-address-data"),
	caldav("max-resource-size"), carddav("max-resource-size"), caldav("calendar-home-set"), carddav("addressbook-home-set"),
}

// propChange is one property to set (value) or remove.
type propChange struct {
	name   xml.Name
	value  *node
	remove bool
}

// collectChanges reads the DAV:set and DAV:remove instructions under root, in order.
func collectChanges(root *node) []propChange {
	var out []propChange
	for _, instr := range root.Children {
		if instr.Name.Space != nsDAV || (instr.Name.Local != "set" && instr.Name.Local != "remove") {
			continue
		}
		for _, p := range instr.all(nsDAV, "prop") {
			for _, c := range p.Children {
				out = append(out, propChange{name: c.Name, value: c, remove: instr.Name.Local == "remove"})
			}
		}
	}
	return out
}

// propValues turns changes into the collection item's properties ("" removes one),
// or says which changes cannot be made. MKCOL's resourcetype and component set are
// the caller's business and skipped here when creating.
func propValues(changes []propChange, creating bool) (map[string]string, map[int][]xml.Name) {
	values := map[string]string{}
	failed := map[int][]xml.Name{}
	for _, ch := range changes {
		if creating && (ch.name == dav("resourcetype") || ch.name == caldav("supported-calendar-component-set")) {
			continue
		}
		if slices.Contains(protected, ch.name) {
			failed[http.StatusForbidden] = append(failed[http.StatusForbidden], ch.name)
			continue
		}
		key, isText := textProps[ch.name]
		v := ""
		switch {
		case ch.remove:
		case isText:
			v = strings.TrimSpace(ch.value.Text)
		default:
			v = ch.value.innerXML()
		}
		if !isText {
			key = deadKey(ch.name)
		}
		if len(v) > maxPropValue {
			failed[http.StatusInsufficientStorage] = append(failed[http.StatusInsufficientStorage], ch.name)
			continue
		}
		values[key] = v
	}
	return values, failed
}

func (q *request) proppatch() error {
	if q.t.kind != targetCollection {
		return errCondition(http.StatusForbidden, dav("cannot-modify-protected-property"), "only the properties of calendars and address books can be changed")
	}
	c, err := q.writable()
	if err != nil {
		return err
	}
	root, err := readXML(q.r, dav("propertyupdate"))
	if err != nil {
		return err
	}
	if root == nil {
		return errStatus(http.StatusBadRequest, "PROPPATCH needs a DAV:propertyupdate body")
	}
	changes := collectChanges(root)
	values, failed := propValues(changes, false)
	r := response{href: c.href(q.user.Address)}
	if len(failed) == 0 {
		if err := q.setCollectionProps(c.folder, values); err != nil {
			if de, ok := err.(*davError); ok && de.status == http.StatusInsufficientStorage {
				failed[http.StatusInsufficientStorage] = nil
			} else {
				return err
			}
		}
	}
	if len(failed) == 0 {
		for _, ch := range changes {
			r.found = append(r.found, prop{name: ch.name})
		}
	} else {
		// RFC 4918 9.2: all or nothing; the others failed because of those.
		r.failed = failed
		for _, ch := range changes {
			if !slices.ContainsFunc(mapsValues(failed), func(ns []xml.Name) bool { return slices.Contains(ns, ch.name) }) {
				r.failed[http.StatusFailedDependency] = append(r.failed[http.StatusFailedDependency], ch.name)
			}
		}
	}
	ms := &multistatus{responses: []response{r}}
	ms.write(q.w)
	return nil
}

func mapsValues(m map[int][]xml.Name) [][]xml.Name {
	out := make([][]xml.Name, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// setCollectionProps merges values into the folder's collection item, creating it.
func (q *request) setCollectionProps(folder store.Folder, values map[string]string) error {
	if len(values) == 0 {
		return nil
	}
	ctx := q.r.Context()
	defer q.h.locks.lock(folder.ID)()
	f, err := q.h.cfg.Store.Folder(ctx, folder.ID)
	if err != nil {
		return err
	}
	x, err := q.h.index.get(ctx, q.h.cfg.Store, f)
	if err != nil {
		return err
	}
	dead := 0
	merged := map[string]string{}
	if x.coll != nil {
		for k, v := range x.coll.props {
			merged[k] = v
		}
	}
	for k, v := range values {
		merged[k] = v
	}
	for k, v := range merged {
		if strings.HasPrefix(k, "dav:") && v != "" {
			dead++
		}
	}
	if dead > maxDeadProps {
		return errStatus(http.StatusInsufficientStorage, "a collection keeps at most %d other properties", maxDeadProps)
	}
	if x.coll != nil {
		_, err = q.h.cfg.Store.SetProps(ctx, x.coll.id, values)
		return err
	}
	_, err = q.h.cfg.Store.Deliver(ctx, pim.CollectionItem(values), []store.Placement{{Account: f.Account, Folder: f.ID}})
	return err
}

// mkcol creates a calendar, task list or address book below the default folder of
// its kind.
func (q *request) mkcol() error {
	if q.t.kind != targetCollection {
		return errStatus(http.StatusForbidden, "collections can be created only directly inside the calendar or address book home")
	}
	want := dav("mkcol")
	if q.r.Method == "MKCALENDAR" {
		if q.t.space != spaceCalendars {
			return errStatus(http.StatusForbidden, "MKCALENDAR creates calendars in the calendar home")
		}
		want = caldav("mkcalendar")
	}
	root, err := readXML(q.r, want)
	if err != nil {
		return err
	}
	var changes []propChange
	if root != nil {
		changes = collectChanges(root)
	}
	role := store.RoleContacts
	if q.t.space == spaceCalendars {
		role = store.RoleCalendar
	}
	for _, ch := range changes {
		switch ch.name {
		case dav("resourcetype"):
			// RFC 5689 3: the resource type says what to create; it must match the home.
			wantType := carddav("addressbook")
			if q.t.space == spaceCalendars {
				wantType = caldav("calendar")
			}
			if ch.value.child(wantType.Space, wantType.Local) == nil {
				return errCondition(http.StatusForbidden, dav("valid-resourcetype"), "only %s collections can be created here", wantType.Local)
			}
		case caldav("supported-calendar-component-set"):
			comps := ch.value.all(nsCalDAV, "comp")
			names := make([]string, 0, len(comps))
			for _, c := range comps {
				names = append(names, strings.ToUpper(c.attr("name")))
			}
			switch {
			case slices.Contains(names, string(pim.KindEvent)):
			case slices.Contains(names, string(pim.KindTodo)):
				role = store.RoleTasks
			default:
				return errCondition(http.StatusForbidden, caldav("supported-calendar-component"), "a calendar holds VEVENT or VTODO components")
			}
		}
	}
	values, failed := propValues(changes, true)
	if len(failed) > 0 {
		return errCondition(http.StatusForbidden, dav("cannot-modify-protected-property"), "the new collection's properties cannot be set as asked")
	}
	name := q.t.coll
	cs, err := q.collections()
	if err != nil {
		return err
	}
	if name == galName || slices.ContainsFunc(cs, func(c collection) bool { return c.name == name }) {
		q.w.Header().Set("Allow", allow)
		return errCondition(http.StatusMethodNotAllowed, dav("resource-must-be-null"), "a collection %q exists already", name)
	}
	all, err := q.folders()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(all, func(f store.Folder) bool { return f.Role == role })
	if i < 0 {
		return errStatus(http.StatusConflict, "the account has no %s folder", role)
	}
	f, err := q.h.cfg.Store.CreateFolder(q.r.Context(), q.user.Account, all[i].ID, name, store.RoleNone)
	if err != nil {
		return err
	}
	if err := q.setCollectionProps(f, values); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusCreated)
	return nil
}
