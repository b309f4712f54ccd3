package sqlstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/db"
	"mailroom/internal/store"
)

// hub fans an account's newest ModSeq out to its subscribers. A send never blocks: each
// channel subscriber has a one-slot channel that holds the newest value not yet read,
// and each function subscriber is called after the hub's lock is let go.
type hub struct {
	mu   sync.Mutex
	subs map[store.AccountID]*topic
}

// topic is one watched account: its subscribers and the newest ModSeq published.
type topic struct {
	chans map[chan store.ModSeq]struct{}
	funcs map[*func(store.ModSeq)]struct{}
	seen  store.ModSeq
}

func newHub() *hub {
	return &hub{subs: make(map[store.AccountID]*topic)}
}

// topic returns id's topic, creating it; h.mu is held.
func (h *hub) topic(id store.AccountID) *topic {
	t := h.subs[id]
	if t == nil {
		t = &topic{chans: make(map[chan store.ModSeq]struct{}), funcs: make(map[*func(store.ModSeq)]struct{})}
		h.subs[id] = t
	}
	return t
}

// drop forgets id's topic once nobody watches it; h.mu is held.
func (h *hub) drop(id store.AccountID, t *topic) {
	if len(t.chans) == 0 && len(t.funcs) == 0 && h.subs[id] == t {
		delete(h.subs, id)
	}
}

func (h *hub) subscribe(id store.AccountID) (<-chan store.ModSeq, func()) {
	ch := make(chan store.ModSeq, 1)
	h.mu.Lock()
	t := h.topic(id)
	t.chans[ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if _, ok := t.chans[ch]; !ok {
				return // closeAll already closed it
			}
			delete(t.chans, ch)
			h.drop(id, t)
			close(ch)
		})
	}
}

func (h *hub) notify(id store.AccountID, f func(store.ModSeq)) func() {
	key := &f
	h.mu.Lock()
	t := h.topic(id)
	t.funcs[key] = struct{}{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(t.funcs, key)
		h.drop(id, t)
	}
}

func (h *hub) publish(id store.AccountID, m store.ModSeq) {
	h.mu.Lock()
	t := h.subs[id]
	if t == nil || m <= t.seen {
		h.mu.Unlock()
		return
	}
	t.seen = m
	for ch := range t.chans {
		select {
		case <-ch: // drop the older value: the newest one says it all
		default:
		}
		ch <- m
	}
	funcs := make([]func(store.ModSeq), 0, len(t.funcs))
	for f := range t.funcs {
		funcs = append(funcs, *f)
	}
	h.mu.Unlock()
	for _, f := range funcs {
		f(m)
	}
}

func (h *hub) watched() []store.AccountID {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]store.AccountID, 0, len(h.subs))
	for id := range h.subs {
		ids = append(ids, id)
	}
	return ids
}

// closeAll closes every channel subscription; function subscribers are no longer
// called.
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, t := range h.subs {
		for ch := range t.chans {
			close(ch)
		}
		clear(t.chans)
		clear(t.funcs)
		delete(h.subs, id)
	}
}

// Subscribe implements store.Store.
func (s *Store) Subscribe(id store.AccountID) (<-chan store.ModSeq, func()) {
	return s.hub.subscribe(id)
}

// Notify is Subscribe with a function instead of a channel: f receives the account's
// newest ModSeq soon after any change, on the goroutine that saw the change, and must
// return quickly without calling the store. It may run once more after cancel returns.
// A watcher of thousands of accounts needs no goroutine per account this way.
func (s *Store) Notify(id store.AccountID, f func(store.ModSeq)) (cancel func()) {
	return s.hub.notify(id, f)
}

// watch wakes subscribers for changes this process did not make (the admin CLI, an
// import, another node).
func (s *Store) watch(ctx context.Context) {
	if s.db.Dialect == db.Postgres {
		s.listen(ctx)
		return
	}
	s.pollDataVersion(ctx)
}

// pollDataVersion polls SQLite's data_version, which moves when another connection
// commits, and then reads the watched accounts' ModSeqs.
func (s *Store) pollDataVersion(ctx context.Context) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.opts.Logger.Error("store watcher cannot start", "err", err)
		}
		return
	}
	defer conn.Close()
	var last int64 = -1
	t := time.NewTicker(s.opts.WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var v int64
		if err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
			if ctx.Err() == nil {
				s.opts.Logger.Warn("store watcher", "err", err)
			}
			continue
		}
		if v == last {
			continue
		}
		last = v
		s.pollWatched(ctx)
	}
}

// pollWatched reads the newest ModSeq of every watched account and publishes it.
func (s *Store) pollWatched(ctx context.Context) {
	for _, id := range s.hub.watched() {
		var m store.ModSeq
		if err := s.db.Read().QueryRowContext(ctx, `SELECT modseq FROM accounts WHERE id = $1`, id).Scan(&m); err == nil {
			s.hub.publish(id, m)
		}
	}
}

// notifyChannel is where the accounts trigger of the PostgreSQL schema announces each
// new ModSeq as "account modseq".
const notifyChannel = "mailroom_store"

// listen follows PostgreSQL notifications on a dedicated connection: every committed
// change of any node arrives as "account modseq" and is published at once. A
// notification is only a wake-up (one sent while this node was reconnecting is lost),
// so the watched accounts are also read after each (re)connection and every
// backstopInterval. A broken connection is reopened after a pause.
func (s *Store) listen(ctx context.Context) {
	const backstopInterval = 5 * time.Second
	pause := s.opts.WatchInterval
	for ctx.Err() == nil {
		conn, err := s.db.Listen(ctx, notifyChannel)
		if err != nil {
			if ctx.Err() == nil {
				s.opts.Logger.Warn("store watcher cannot listen; retrying", "err", err, "in", pause)
			}
			sleep(ctx, pause)
			pause = min(2*pause, 10*time.Second)
			continue
		}
		pause = s.opts.WatchInterval
		s.pollWatched(ctx)
		err = s.follow(ctx, conn, backstopInterval)
		conn.Close(context.Background())
		if ctx.Err() == nil {
			s.opts.Logger.Warn("store watcher lost its connection; reconnecting", "err", err)
			sleep(ctx, pause)
		}
	}
}

// follow publishes notifications from conn until it fails or ctx ends.
func (s *Store) follow(ctx context.Context, conn *pgx.Conn, backstop time.Duration) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, backstop)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			s.pollWatched(ctx)
			continue
		case err != nil:
			return err
		}
		acct, mod, ok := strings.Cut(n.Payload, " ")
		a, err1 := strconv.ParseInt(acct, 10, 64)
		m, err2 := strconv.ParseInt(mod, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			s.opts.Logger.Warn("store watcher: unexpected notification", "payload", n.Payload)
			continue
		}
		s.hub.publish(store.AccountID(a), store.ModSeq(m))
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
