package directory

import (
	"container/list"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// Login cache bounds. ActiveSync sends Basic credentials with every request, and a
// phone syncing several folders would otherwise cost an argon2id run per request.
const (
	authCacheSize = 10000
	authCacheTTL  = 5 * time.Minute
)

// authCache remembers recent successful password verifications. An entry is keyed by
// an HMAC of (user id, password, stored hash) under a key that never leaves the
// process, so the cache holds nothing from which a password could be recovered, and
// a password change (a new stored hash) makes old entries unreachable at once.
type authCache struct {
	mu      sync.Mutex
	macKey  []byte
	max     int
	ttl     time.Duration
	now     func() time.Time
	entries map[[sha256.Size]byte]*list.Element // of *cacheEntry
	order   *list.List                          // oldest first
}

type cacheEntry struct {
	key     [sha256.Size]byte
	expires time.Time
}

func newAuthCache(max int, ttl time.Duration, now func() time.Time) *authCache {
	k := make([]byte, 32)
	rand.Read(k)
	return &authCache{
		macKey:  k,
		max:     max,
		ttl:     ttl,
		now:     now,
		entries: map[[sha256.Size]byte]*list.Element{},
		order:   list.New(),
	}
}

// key derives the cache key. Each variable-length part is length-prefixed so that no
// two different triples feed the same bytes to the MAC.
func (c *authCache) key(id int64, password, hash string) [sha256.Size]byte {
	m := hmac.New(sha256.New, c.macKey)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	m.Write(b[:])
	for _, s := range []string{password, hash} {
		binary.BigEndian.PutUint64(b[:], uint64(len(s)))
		m.Write(b[:])
		m.Write([]byte(s))
	}
	var k [sha256.Size]byte
	m.Sum(k[:0])
	return k
}

// valid reports whether k was added less than the TTL ago.
func (c *authCache) valid(k [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[k]
	if !ok {
		return false
	}
	if !c.now().Before(el.Value.(*cacheEntry).expires) {
		c.order.Remove(el)
		delete(c.entries, k)
		return false
	}
	return true
}

// add remembers k for the TTL, evicting the oldest entries beyond the size bound.
func (c *authCache) add(k [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	expires := c.now().Add(c.ttl)
	if el, ok := c.entries[k]; ok {
		el.Value.(*cacheEntry).expires = expires
		c.order.MoveToBack(el)
		return
	}
	for c.order.Len() >= c.max {
		oldest := c.order.Front()
		delete(c.entries, oldest.Value.(*cacheEntry).key)
		c.order.Remove(oldest)
	}
	c.entries[k] = c.order.PushBack(&cacheEntry{key: k, expires: expires})
}
