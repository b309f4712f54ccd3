package dav

import (
	"net/http"
	"slices"
	"sync"

	"mailroom/internal/pim"
	"mailroom/internal/store"
)

// galName is the address book segment of the global address list.
const galName = "gal"

// collection is a calendar, task list or address book.
type collection struct {
	space  space
	name   string // URL segment: the folder's name
	folder store.Folder
	role   store.Role // calendar, tasks or contacts
	gal    bool
}

func (c collection) href(user string) string { return collectionHref(c.space, user, c.name) }

// component is the one calendar component kind the collection holds.
func (c collection) component() pim.Kind {
	if c.role == store.RoleTasks {
		return pim.KindTodo
	}
	return pim.KindEvent
}

// folders returns the account's folders, creating the PIM folders on first use.
func (q *request) folders() ([]store.Folder, error) {
	ctx := q.r.Context()
	if _, err := q.h.cfg.Store.EnsureAccount(ctx, q.user.Account); err != nil {
		return nil, err
	}
	return pim.EnsureFolders(ctx, q.h.cfg.Store, q.user.Account)
}

// roles are the folder roles each space shows.
var spaceRoles = map[space][]store.Role{
	spaceCalendars:    {store.RoleCalendar, store.RoleTasks},
	spaceAddressbooks: {store.RoleContacts},
}

// collections lists the collections of the request's space.
func (q *request) collections() ([]collection, error) {
	all, err := q.folders()
	if err != nil {
		return nil, err
	}
	var out []collection
	for _, role := range spaceRoles[q.t.space] {
		for _, f := range pim.Collections(all, role) {
			out = append(out, collection{space: q.t.space, name: f.Name, folder: f, role: role})
		}
	}
	if q.t.space == spaceAddressbooks && q.h.cfg.GAL != nil {
		out = append(out, collection{space: spaceAddressbooks, name: galName, role: store.RoleContacts, gal: true})
	}
	return out, nil
}

// collection finds the request's collection.
func (q *request) collection() (collection, error) {
	cs, err := q.collections()
	if err != nil {
		return collection{}, err
	}
	i := slices.IndexFunc(cs, func(c collection) bool { return c.name == q.t.coll })
	if i < 0 {
		return collection{}, errStatus(http.StatusNotFound, "no collection %q", q.t.coll)
	}
	return cs[i], nil
}

// folderLocks orders the writes to one folder's names within this process, so two
// PUTs of a new name cannot both create it.
type folderLocks [64]sync.Mutex

func (l *folderLocks) lock(f store.FolderID) func() {
	m := &l[uint64(f)%uint64(len(l))]
	m.Lock()
	return m.Unlock
}
