package sqlstore

import (
	"context"
	"sync"
	"time"

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
// import, another node): it polls SQLite's data_version, which moves when another
// connection commits, and then reads the watched accounts' ModSeqs.
func (s *Store) watch(ctx context.Context) {
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
		for _, id := range s.hub.watched() {
			var m store.ModSeq
			if err := conn.QueryRowContext(ctx, `SELECT modseq FROM accounts WHERE id = $1`, id).Scan(&m); err == nil {
				s.hub.publish(id, m)
			}
		}
	}
}
