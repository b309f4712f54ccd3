package dav

// The index of a collection: its members by resource name. It is rebuilt from the store
// when first needed and then kept current from the account's change log, so a request
// costs a few queries however large the collection is.

import (
	"context"
	"maps"
	"strconv"
	"sync"
	"time"

	"mailroom/internal/pim"
	"mailroom/internal/store"
)

// member is one item of a collection, as the index knows it.
type member struct {
	id     store.MessageID
	modseq store.ModSeq
	kind   pim.Kind
	name   string
	uid    string
	etag   string
	start  int64 // Unix seconds; 0: unbounded
	end    int64 // Unix seconds; 0: no end
	size   int64
	date   time.Time
	props  map[string]string // kept for the collection-properties item only
}

func newMember(m store.Message) *member {
	p := m.Props
	mb := &member{id: m.ID, modseq: m.ModSeq, kind: pim.Kind(p[pim.PropKind]), name: p[pim.PropName], uid: p[pim.PropUID],
		etag: p[pim.PropETag], size: m.Size, date: m.InternalDate}
	mb.start, _ = strconv.ParseInt(p[pim.PropStart], 10, 64)
	mb.end, _ = strconv.ParseInt(p[pim.PropEnd], 10, 64)
	if mb.kind == pim.KindCollection {
		mb.props = p
	}
	return mb
}

// live reports whether the member is a resource a client sees.
func (m *member) live() bool {
	return m.name != "" && m.kind != pim.KindTombstone && m.kind != pim.KindCollection
}

// folderIndex is an immutable snapshot of one folder's members.
type folderIndex struct {
	folder store.Folder // HighestModSeq: the state the snapshot reflects
	byID   map[store.MessageID]*member
	byName map[string]*member // live members and tombstones
	coll   *member            // the collection-properties item, or nil
}

func (x *folderIndex) add(m *member) {
	x.byID[m.id] = m
	switch {
	case m.kind == pim.KindCollection:
		x.coll = m
	case m.name != "":
		x.byName[m.name] = m
	}
}

func (x *folderIndex) remove(id store.MessageID) {
	m, ok := x.byID[id]
	if !ok {
		return
	}
	delete(x.byID, id)
	if x.coll == m {
		x.coll = nil
	}
	if x.byName[m.name] == m {
		delete(x.byName, m.name)
	}
}

// indexCache holds the indexes of recently used folders, at most max of them.
type indexCache struct {
	mu  sync.Mutex
	max int
	m   map[store.FolderID]*folderIndex
}

func newIndexCache(max int) *indexCache {
	return &indexCache{max: max, m: map[store.FolderID]*folderIndex{}}
}

// maxCatchUp bounds the account changes an index follows before it is rebuilt instead.
const maxCatchUp = 5000

// get returns the index of folder f (as just read from the store) at f's state or later.
func (c *indexCache) get(ctx context.Context, st Store, f store.Folder) (*folderIndex, error) {
	c.mu.Lock()
	old := c.m[f.ID]
	c.mu.Unlock()
	if old != nil && old.folder.HighestModSeq >= f.HighestModSeq {
		return old, nil
	}
	var x *folderIndex
	var err error
	if old != nil {
		x, err = catchUp(ctx, st, old, f)
	}
	if x == nil && err == nil {
		x, err = build(ctx, st, f)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := c.m[f.ID]; cur == nil || cur.folder.HighestModSeq < x.folder.HighestModSeq {
		if cur == nil && len(c.m) >= c.max {
			for id := range c.m { // evict any one
				delete(c.m, id)
				break
			}
		}
		c.m[f.ID] = x
	}
	return x, nil
}

// build reads a folder's members afresh.
func build(ctx context.Context, st Store, f store.Folder) (*folderIndex, error) {
	infos, err := st.List(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	uids := make([]store.UID, len(infos))
	for i, in := range infos {
		uids[i] = in.UID
	}
	x := &folderIndex{folder: f, byID: make(map[store.MessageID]*member, len(infos)), byName: make(map[string]*member, len(infos))}
	if len(uids) == 0 {
		return x, nil
	}
	msgs, err := st.Messages(ctx, f.ID, uids)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		x.add(newMember(m))
	}
	return x, nil
}

// catchUp applies the changes since old to a copy of it; nil when there are too many
// and a rebuild is cheaper.
func catchUp(ctx context.Context, st Store, old *folderIndex, f store.Folder) (*folderIndex, error) {
	changes, _, err := st.Changes(ctx, f.Account, old.folder.HighestModSeq, maxCatchUp+1)
	if err != nil {
		return nil, err
	}
	if len(changes) > maxCatchUp {
		return nil, nil
	}
	x := &folderIndex{folder: f, byID: maps.Clone(old.byID), byName: maps.Clone(old.byName), coll: old.coll}
	for _, ch := range changes {
		if ch.Folder != f.ID {
			continue
		}
		switch ch.Kind {
		case store.ChangeExpunged:
			x.remove(ch.Message)
		case store.ChangeAdded, store.ChangeProps, store.ChangeFlags:
			m, err := st.Message(ctx, ch.Message)
			if err != nil {
				x.remove(ch.Message) // gone again since: a later change says so
				continue
			}
			if m.Folder == f.ID {
				x.remove(m.ID)
				x.add(newMember(m))
			}
		case store.ChangeFolderDeleted, store.ChangeFolderCreated:
			return nil, nil
		}
	}
	return x, nil
}
