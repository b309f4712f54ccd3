package activesync

// Many devices of one user, or one device syncing a folder again from scratch, are sent
// the same messages rendered the same way. The render cache keeps recent renderings
// (fixedEmail: everything but Read, Flag and Categories), already encoded as WBXML, so
// a message's bytes are read, parsed and encoded once, not once per device. It is only
// a cache: a message's bytes never change under its id, and the fields that do change
// are rendered on every use.

import (
	"container/list"
	"sync"

	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// renderCacheBytes bounds the cache by the bytes it holds (about what it costs in
// memory): some ten thousand typical messages, a few thousand with bodies of 32 KB.
const renderCacheBytes = 64 << 20

// renderKey is what a rendering depends on besides the message's bytes.
type renderKey struct {
	id      store.MessageID
	folder  store.FolderID // for FileReference; an id keeps its place, but be sure
	uid     store.UID
	pref    bodyPref // the body chosen (itemOptions.choose)
	version int
}

type renderEntry struct {
	key   renderKey
	email fixedEmail
	size  int
}

// renderCache is a least-recently-used cache of renderings bounded in bytes.
type renderCache struct {
	mu      sync.Mutex
	max     int
	size    int
	entries map[renderKey]*list.Element // of *renderEntry
	order   *list.List                  // least recently used first

	fills [16]sync.Mutex // striped by folder: see filling
}

// filling returns the lock that requests hold while they render the missing items of
// folder, so that what one renders the others find instead of rendering it again.
func (c *renderCache) filling(folder store.FolderID) *sync.Mutex {
	return &c.fills[uint64(folder)%uint64(len(c.fills))]
}

func newRenderCache(max int) *renderCache {
	return &renderCache{max: max, entries: map[renderKey]*list.Element{}, order: list.New()}
}

func renderKeyOf(folder store.FolderID, m *store.MessageInfo, opts itemOptions, mimeAllowed bool, version int) renderKey {
	return renderKey{id: m.ID, folder: folder, uid: m.UID, pref: opts.choose(mimeAllowed), version: version}
}

func (c *renderCache) get(k renderKey) (fixedEmail, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[k]
	if !ok {
		return fixedEmail{}, false
	}
	c.order.MoveToBack(el)
	return el.Value.(*renderEntry).email, true
}

func (c *renderCache) put(k renderKey, f fixedEmail) {
	size := f.size()
	if size > c.max/16 {
		return // one huge item would push out many small ones
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		return
	}
	for c.size+size > c.max && c.order.Len() > 0 {
		oldest := c.order.Remove(c.order.Front()).(*renderEntry)
		delete(c.entries, oldest.key)
		c.size -= oldest.size
	}
	c.entries[k] = c.order.PushBack(&renderEntry{key: k, email: f, size: size})
	c.size += size
}

// frozen encodes each of the rendering's runs of elements once (wbxml.Freeze) and
// returns the rendering made of those encodings alone: the devices it goes to copy its
// bytes instead of encoding it again, and the cache holds the bytes without the element
// trees they came from. A run that cannot be encoded stays as it is, for Encode to
// report.
func (f fixedEmail) frozen() fixedEmail {
	freeze := func(run []*wbxml.Element) []*wbxml.Element {
		e, err := wbxml.Freeze(run...)
		if err != nil || e == nil {
			return run
		}
		return []*wbxml.Element{e}
	}
	return fixedEmail{beforeRead: freeze(f.beforeRead), beforeFlag: freeze(f.beforeFlag), rest: freeze(f.rest)}
}

// size estimates the memory a rendering holds: the encoded bytes of a frozen run, the
// text of any other element, and a little per element.
func (f fixedEmail) size() int {
	n := 0
	var walk func(es []*wbxml.Element)
	walk = func(es []*wbxml.Element) {
		for _, e := range es {
			n += 128 + e.FrozenLen() + len(e.Text) + len(e.Opaque)
			walk(e.Children)
		}
	}
	walk(f.beforeRead)
	walk(f.beforeFlag)
	walk(f.rest)
	return n
}
