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
// subscriber has a one-slot channel that holds the newest value not yet read.
type hub struct {
	mu   sync.Mutex
	subs map[store.AccountID]map[chan store.ModSeq]struct{}
	seen map[store.AccountID]store.ModSeq // the newest ModSeq published per watched account
}

func newHub() *hub {
	return &hub{
		subs: make(map[store.AccountID]map[chan store.ModSeq]struct{}),
		seen: make(map[store.AccountID]store.ModSeq),
	}
}

func (h *hub) subscribe(id store.AccountID) (<-chan store.ModSeq, func()) {
	ch := make(chan store.ModSeq, 1)
	h.mu.Lock()
	if h.subs[id] == nil {
		h.subs[id] = make(map[chan store.ModSeq]struct{})
	}
	h.subs[id][ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if _, ok := h.subs[id][ch]; !ok {
				return // closeAll already closed it
			}
			delete(h.subs[id], ch)
			if len(h.subs[id]) == 0 {
				delete(h.subs, id)
				delete(h.seen, id)
			}
			close(ch)
		})
	}
}

func (h *hub) publish(id store.AccountID, m store.ModSeq) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m <= h.seen[id] {
		return
	}
	if _, watched := h.subs[id]; !watched {
		return
	}
	h.seen[id] = m
	for ch := range h.subs[id] {
		select {
		case <-ch: // drop the older value: the newest one says it all
		default:
		}
		ch <- m
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

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, chans := range h.subs {
		for ch := range chans {
			close(ch)
		}
		delete(h.subs, id)
	}
}

// Subscribe implements store.Store.
func (s *Store) Subscribe(id store.AccountID) (<-chan store.ModSeq, func()) {
	return s.hub.subscribe(id)
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
