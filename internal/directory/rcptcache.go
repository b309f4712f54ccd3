package directory

import (
	"container/list"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Recipient cache bounds. An MX resolves every RCPT TO, usually to the same few
// addresses; each resolution costs three or four queries.
const (
	rcptCacheSize = 4096
	rcptCacheTTL  = 5 * time.Second
)

// rcptCache remembers recent ResolveRecipient answers (found, no such address, unknown
// domain) for rcptCacheTTL. Every directory write in this process empties it when it
// commits (serialTx); a write by another process (the admin CLI, another node) shows
// after at most the TTL.
//
// A lookup notes the generation before it queries and stores its answer under that
// generation; a write bumps the generation after its commit, so an answer read before
// the commit is never served after it.
type rcptCache struct {
	gen atomic.Uint64

	mu      sync.Mutex
	max     int
	ttl     time.Duration
	now     func() time.Time
	entries map[string]*list.Element // of *rcptEntry
	order   *list.List               // oldest first
}

type rcptEntry struct {
	key     string
	gen     uint64
	expires time.Time
	rcpt    Recipient
	err     error
}

func newRcptCache(max int, ttl time.Duration, now func() time.Time) *rcptCache {
	return &rcptCache{max: max, ttl: ttl, now: now, entries: map[string]*list.Element{}, order: list.New()}
}

// get returns a fresh answer for key. The Recipient is a copy the caller may change.
func (c *rcptCache) get(key string) (Recipient, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return Recipient{}, nil, false
	}
	e := el.Value.(*rcptEntry)
	if e.gen != c.gen.Load() || !c.now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.entries, key)
		return Recipient{}, nil, false
	}
	return cloneRecipient(e.rcpt), e.err, true
}

// put stores an answer read at generation gen, evicting the oldest entries beyond the
// size bound.
func (c *rcptCache) put(key string, gen uint64, r Recipient, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen.Load() {
		return // a write committed meanwhile: the answer may be stale already
	}
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
		delete(c.entries, key)
	}
	for c.order.Len() >= c.max {
		oldest := c.order.Front()
		delete(c.entries, oldest.Value.(*rcptEntry).key)
		c.order.Remove(oldest)
	}
	e := &rcptEntry{key: key, gen: gen, expires: c.now().Add(c.ttl), rcpt: cloneRecipient(r), err: err}
	c.entries[key] = c.order.PushBack(e)
}

// invalidate drops every answer: called after a directory write commits.
func (c *rcptCache) invalidate() {
	c.gen.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	c.order.Init()
}

// cloneRecipient copies what a caller could change in place.
func cloneRecipient(r Recipient) Recipient {
	r.Users = slices.Clone(r.Users)
	for i := range r.Users {
		r.Users[i].Aliases = slices.Clone(r.Users[i].Aliases)
	}
	if r.Group != nil {
		g := *r.Group
		g.Aliases = slices.Clone(g.Aliases)
		g.Members = slices.Clone(g.Members)
		r.Group = &g
	}
	return r
}

// cacheable reports whether a resolution's answer may be remembered: a result, or the
// definite absence of the address or its domain; never a transient failure.
func cacheable(err error) bool {
	return err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnknownDomain) || errors.Is(err, ErrInvalid)
}

// ResolveRecipient resolves an address as resolveRecipient does, answering from the
// recipient cache when it can.
func (d *Directory) ResolveRecipient(ctx context.Context, address string) (Recipient, error) {
	key := strings.TrimSpace(address)
	if r, err, ok := d.rcpts.get(key); ok {
		return r, err
	}
	gen := d.rcpts.gen.Load()
	r, err := d.resolveRecipient(ctx, address)
	if cacheable(err) {
		d.rcpts.put(key, gen, r, err)
	}
	return r, err
}

// serialTx runs a directory write (see db.SerialTx) and then empties the recipient
// cache.
func (d *Directory) serialTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	defer d.rcpts.invalidate()
	return d.db.SerialTx(ctx, "directory", fn)
}

// Generation counts the directory writes this process has committed (serialTx); a
// cache of what the directory answered keeps an answer only while it stays the same.
func (d *Directory) Generation() uint64 { return d.rcpts.gen.Load() }
