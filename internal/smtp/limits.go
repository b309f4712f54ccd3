package smtp

// Abuse limits. RFC 5321 7.8 lets a server bound what one client may take from it, and
// RFC 4954 6 gives 454 4.7.0 for an AUTH the server will not try now. Three kinds of
// state back the limits, all kept in the Server value:
//
//   - open connections per client address and role (Server.track and forget);
//   - failed AUTH attempts per address and per account, as a sliding window with an
//     exponentially growing back-off (backoff);
//   - messages per authenticated user on submission, as a token bucket (rateLimiter).
//
// Everything is counted in this process's memory. Several nodes serving one name each
// count their own, so a client spread over n nodes gets up to n times each limit; the
// limits slow abuse down, they are not an exact quota.
//
// The per-key tables are bounded: an entry that says no more than a fresh one would is
// dropped by a sweep every sweepEvery, and a table holding maxTracked entries makes
// room by dropping the entry idle longest. Time comes from Config.Now, so tests can
// move it.

import (
	"net"
	"sync"
	"time"
)

const (
	// maxTracked bounds each per-key table.
	maxTracked = 1 << 16
	// sweepEvery is how often a table drops its idle entries.
	sweepEvery = time.Minute
	// maxRefusing bounds the connections being told "too many connections" at once;
	// past it, further ones are closed without a reply.
	maxRefusing = 64
	// refuseTimeout bounds the TLS handshake and write of that reply.
	refuseTimeout = 10 * time.Second
)

// addressKey is the key a client's address is counted under: the address for IPv4,
// its /64 for IPv6, since one host is normally given a whole /64 (RFC 7421) and could
// otherwise change address for every connection.
func addressKey(ip net.IP) string {
	switch {
	case ip == nil:
		return "unknown"
	case ip.To4() != nil:
		return ip.To4().String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// table is a bounded map from a key to limiter state V.
type table[V any] struct {
	entries map[string]*V
	swept   time.Time
	// idle reports that an entry is no different from a fresh one at now.
	idle func(v *V, now time.Time) bool
	// active is an entry's last activity, to find the one idle longest.
	active func(v *V) time.Time
}

func newTable[V any](idle func(*V, time.Time) bool, active func(*V) time.Time) table[V] {
	return table[V]{entries: map[string]*V{}, idle: idle, active: active}
}

// get returns key's entry, making it with fresh if there is none.
func (t *table[V]) get(key string, now time.Time, fresh func() *V) *V {
	t.maybeSweep(now)
	if v, ok := t.entries[key]; ok {
		return v
	}
	if len(t.entries) >= maxTracked {
		t.sweep(now)
		if len(t.entries) >= maxTracked {
			t.evictOldest()
		}
	}
	v := fresh()
	t.entries[key] = v
	return v
}

// peek returns key's entry or nil.
func (t *table[V]) peek(key string, now time.Time) *V {
	t.maybeSweep(now)
	return t.entries[key]
}

func (t *table[V]) maybeSweep(now time.Time) {
	if now.Sub(t.swept) >= sweepEvery {
		t.sweep(now)
	}
}

func (t *table[V]) sweep(now time.Time) {
	t.swept = now
	for k, v := range t.entries {
		if t.idle(v, now) {
			delete(t.entries, k)
		}
	}
}

func (t *table[V]) evictOldest() {
	var oldest string
	var at time.Time
	for k, v := range t.entries {
		if a := t.active(v); oldest == "" || a.Before(at) {
			oldest, at = k, a
		}
	}
	delete(t.entries, oldest)
}

// backoff counts failures per key in a sliding window. When limit of them fall within
// window the key is locked out for base, and each further lockout doubles that, up to
// max. A key is forgotten, and its doubling with it, once it has been quiet for window
// after its last failure or lockout. A nil *backoff never locks anything out.
type backoff struct {
	now    func() time.Time
	limit  int
	window time.Duration
	base   time.Duration
	max    time.Duration

	mu sync.Mutex
	t  table[failures]
}

type failures struct {
	recent []time.Time // failures within the window, oldest first
	last   time.Time   // the latest failure
	level  int         // lockouts so far
	until  time.Time   // locked out until
}

func newBackoff(now func() time.Time, limit int, window, base, max time.Duration) *backoff {
	if limit <= 0 {
		return nil
	}
	b := &backoff{now: now, limit: limit, window: window, base: base, max: max}
	b.t = newTable(func(f *failures, now time.Time) bool {
		return now.Sub(f.active()) >= window
	}, (*failures).active)
	return b
}

func (f *failures) active() time.Time {
	if f.until.After(f.last) {
		return f.until
	}
	return f.last
}

// locked returns how much longer key is locked out, or false.
func (b *backoff) locked(key string) (time.Duration, bool) {
	if b == nil {
		return 0, false
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.t.peek(key, now)
	if f == nil || !now.Before(f.until) {
		return 0, false
	}
	return f.until.Sub(now), true
}

// fail records a failure for key and returns the lockout it starts, or 0.
func (b *backoff) fail(key string) time.Duration {
	if b == nil {
		return 0
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.t.get(key, now, func() *failures { return &failures{} })
	f.last = now
	keep := f.recent[:0]
	for _, at := range f.recent {
		if now.Sub(at) < b.window {
			keep = append(keep, at)
		}
	}
	f.recent = append(keep, now)
	if len(f.recent) < b.limit {
		return 0
	}
	d := b.base
	for i := 0; i < f.level && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	f.level++
	f.until = now.Add(d)
	f.recent = f.recent[:0]
	return d
}

// succeeded forgets key's failures within the window, so someone who mistyped a few
// times and then got it right starts again from zero; a lockout level reached stays.
func (b *backoff) succeeded(key string) {
	if b == nil {
		return
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if f := b.t.peek(key, now); f != nil {
		f.recent = f.recent[:0]
	}
}

// rateLimiter is a token bucket per key: a bucket holds up to burst tokens, gains
// perMinute of them a minute, and each event takes one. A bucket full again is the
// same as none and is dropped. A nil *rateLimiter allows everything.
type rateLimiter struct {
	now       func() time.Time
	perMinute int

	mu sync.Mutex
	t  table[bucket]
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

func newRateLimiter(now func() time.Time, perMinute int) *rateLimiter {
	if perMinute <= 0 {
		return nil
	}
	l := &rateLimiter{now: now, perMinute: perMinute}
	l.t = newTable(func(b *bucket, now time.Time) bool {
		return l.refill(b, now) >= float64(perMinute)
	}, func(b *bucket) time.Time { return b.at })
	return l
}

// refill returns how many tokens b holds at now; it does not change b.
func (l *rateLimiter) refill(b *bucket, now time.Time) float64 {
	gained := now.Sub(b.at).Minutes() * float64(l.perMinute)
	return min(b.tokens+max(gained, 0), float64(l.perMinute))
}

// take takes a token from key's bucket. When there is none it returns false and how
// long until there is one.
func (l *rateLimiter) take(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.t.get(key, now, func() *bucket { return &bucket{tokens: float64(l.perMinute), at: now} })
	b.tokens, b.at = l.refill(b, now), now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / float64(l.perMinute) * float64(time.Minute))
	}
	b.tokens--
	return true, 0
}
