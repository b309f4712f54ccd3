package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"mailroom/internal/directory"
)

// Sign-in cache bounds. ActiveSync signs in with every request, and a full password
// sign-in costs about eight database reads (the user twice, two lockout keys, the MFA
// switch, the lockout to clear, the audit log to coalesce).
const (
	signInCacheSize = 10000
	signInCacheTTL  = 3 * time.Second
)

// signInCache remembers recent successful password sign-ins for signInCacheTTL, so a
// device repeating the same credentials from the same address is signed in without
// reading the database again.
//
// What a sign-in checks takes effect at once in this process and within the TTL on
// other processes sharing the database: an entry is kept only while both the
// service's generation (bumped by every failure counted against a key, every app
// password revocation and every change of the MFA switch) and the directory's (bumped
// by every directory write: a password change, a disabled account, a new alias) stay
// what they were when the sign-in began. A failure anywhere empties the cache, so a
// lockout refuses even a cached password as before. An entry is also not used once
// the audit entry it relied on is older than the coalescing window: the full path
// then writes the next one, as it would have.
//
// Entries are keyed by an HMAC, under a key that never leaves the process, of
// everything the answer depends on, so the cache holds nothing from which a password
// could be recovered.
type signInCache struct {
	gen    atomic.Uint64
	macKey []byte

	mu      sync.Mutex
	entries map[[sha256.Size]byte]signInEntry
}

type signInEntry struct {
	gen, dirGen uint64
	expires     time.Time
	auditUntil  time.Time // when the audit entry covering this sign-in stops covering it
	user        directory.User
}

func newSignInCache() *signInCache {
	k := make([]byte, 32)
	rand.Read(k)
	return &signInCache{macKey: k, entries: map[[sha256.Size]byte]signInEntry{}}
}

// key derives the cache key of a sign-in. Each part is length-prefixed so that no two
// different sign-ins feed the same bytes to the MAC.
func (c *signInCache) key(login, password string, from Source, mail bool) [sha256.Size]byte {
	m := hmac.New(sha256.New, c.macKey)
	var b [8]byte
	kind := "check"
	if mail {
		kind = "mail"
	}
	for _, s := range []string{kind, login, password, from.Protocol, from.Remote.String()} {
		binary.BigEndian.PutUint64(b[:], uint64(len(s)))
		m.Write(b[:])
		m.Write([]byte(s))
	}
	var k [sha256.Size]byte
	m.Sum(k[:0])
	return k
}

// get returns the user a sign-in with key k signed in, if that is still good at now
// with the directory at generation dirGen.
func (c *signInCache) get(k [sha256.Size]byte, now time.Time, dirGen uint64) (directory.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return directory.User{}, false
	}
	if e.gen != c.gen.Load() || e.dirGen != dirGen || !now.Before(e.expires) || !now.Before(e.auditUntil) {
		delete(c.entries, k)
		return directory.User{}, false
	}
	return e.user, true
}

// put remembers a sign-in that began at generations gen and dirGen. When the cache is
// full, expired entries go, and all of them if that is not enough.
func (c *signInCache) put(k [sha256.Size]byte, e signInEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.gen != c.gen.Load() {
		return // a failure or a change committed meanwhile: the answer may be stale
	}
	if len(c.entries) >= signInCacheSize {
		now := e.expires.Add(-signInCacheTTL)
		for key, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, key)
			}
		}
		if len(c.entries) >= signInCacheSize {
			clear(c.entries) // as many sign-ins within one TTL: nothing worth keeping
		}
	}
	c.entries[k] = e
}

// invalidate drops every entry: something a sign-in checks has changed.
func (c *signInCache) invalidate() {
	c.gen.Add(1)
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
