package activesync

// Ping follows [MS-ASCMD] 2.2.1.13 (Direct Push): the request names folders and a
// heartbeat; the answer comes when one of the folders changes (status 2) or the
// heartbeat ends (status 1). Over HTTP/1.1 a Ping that must wait leaves net/http and
// is parked without a goroutine (park.go). Otherwise (HTTP/2) a held Ping is one
// goroutine blocked on the store's subscription channel, a timer and the shutdown
// channel. Either way it reads the change log only when woken.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// pingFolder is one folder a Ping watches.
type pingFolder struct {
	ID    string `json:"id"`
	Class string `json:"class"`
}

// pingWatch is what a held Ping waits with: the watched folders with the ModSeq each
// counts changes from, the change log position read last, and the heartbeat.
type pingWatch struct {
	folders   map[store.FolderID]store.ModSeq
	newest    store.ModSeq
	heartbeat time.Duration
}

// ping answers at once what it can (pingLook) and otherwise waits. The waiting part
// keeps a small stack frame: thousands of Pings wait at once, and the Go runtime
// halves a waiting goroutine's stack only while it uses under a quarter of it.
func (s *Server) ping(ctx context.Context, w http.ResponseWriter, r *request) error {
	if s.parking != nil && r.hijackable {
		return s.parking.ping(ctx, w, r)
	}
	// Subscribe before looking, so a change between the look and the wait still wakes.
	wake, cancel := s.store.Subscribe(r.account())
	defer cancel()
	defer s.hold()()
	p, err := s.pingLook(ctx, w, r)
	if err != nil || p == nil {
		return err
	}
	timer := time.NewTimer(p.heartbeat)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			return s.pingAnswer(w, pingExpired, nil)
		case <-s.closing:
			return s.pingAnswer(w, pingExpired, nil)
		case <-ctx.Done():
			return nil // the device went away
		case _, ok := <-wake:
			if !ok {
				return s.pingAnswer(w, pingExpired, nil)
			}
		}
		hit, newest, err := s.changedFolders(ctx, r.account(), p.newest, p.folders)
		if err != nil && ctx.Err() != nil {
			return nil // the device went away while woken
		}
		if err != nil {
			return err
		}
		if len(hit) > 0 {
			return s.pingAnswer(w, pingChanges, hit)
		}
		p.newest = newest
	}
}

// pingAnswer writes a Ping response; hit lists the changed folders of status 2.
func (s *Server) pingAnswer(w http.ResponseWriter, code pingStatus, hit []store.FolderID, extra ...*wbxml.Element) error {
	return s.writeWBXML(w, pingResponse(code, hit, extra...))
}

// pingResponse is the body of a Ping response.
func pingResponse(code pingStatus, hit []store.FolderID, extra ...*wbxml.Element) *wbxml.Element {
	ns := wbxml.NSPing
	resp := wbxml.New(ns, "Ping")
	resp.AddText(ns, "Status", text(code))
	if len(hit) > 0 {
		fe := resp.Add(ns, "Folders")
		for _, id := range hit {
			fe.AddText(ns, "Folder", folderServerID(id))
		}
	}
	resp.Children = append(resp.Children, extra...)
	return resp
}

// pingLook reads the request (or the cached one) and the change log. It answers
// itself and returns nil when the Ping is done; otherwise it returns what to wait with.
func (s *Server) pingLook(ctx context.Context, w http.ResponseWriter, r *request) (*pingWatch, error) {
	ns := wbxml.NSPing
	answer := func(code pingStatus, name, value string) (*pingWatch, error) {
		var extra []*wbxml.Element
		if name != "" {
			e := wbxml.New(ns, name)
			e.Text = value
			extra = append(extra, e)
		}
		return nil, s.pingAnswer(w, code, nil, extra...)
	}
	heartbeat, folders := r.dev.pingHeartbeat, []pingFolder(nil)
	if r.dev.pingFolders != "" {
		_ = json.Unmarshal([]byte(r.dev.pingFolders), &folders) // an unreadable cache is no cache
	}
	if len(r.body) > 0 {
		req, err := decodeBody(r)
		if err != nil {
			return nil, err
		}
		if hb := req.Child(ns, "HeartbeatInterval"); hb != nil {
			v, err := strconv.Atoi(hb.Text)
			if err != nil {
				return answer(pingSyntaxError, "", "")
			}
			if v < s.cfg.MinHeartbeat || v > s.cfg.MaxHeartbeat {
				limit := clamp(v, s.cfg.MinHeartbeat, s.cfg.MaxHeartbeat)
				return answer(pingBadHeartbeat, "HeartbeatInterval", strconv.Itoa(limit))
			}
			heartbeat = v
		}
		if fs := req.Child(ns, "Folders"); fs != nil {
			folders = folders[:0]
			for _, f := range fs.All(ns, "Folder") {
				folders = append(folders, pingFolder{ID: f.ChildText(ns, "Id"), Class: f.ChildText(ns, "Class")})
			}
			if len(folders) > s.cfg.MaxPingFolders {
				return answer(pingTooManyFolders, "MaxFolders", strconv.Itoa(s.cfg.MaxPingFolders))
			}
		}
		if err := s.savePingCache(ctx, r, heartbeat, folders); err != nil {
			return nil, err
		}
	}
	if heartbeat == 0 || len(folders) == 0 {
		return answer(pingMissingParams, "", "")
	}

	watch := map[store.FolderID]store.ModSeq{}
	_, now, err := s.store.Changes(ctx, r.account(), 1<<62, 1)
	if err != nil {
		return nil, fmt.Errorf("ping: %w", err)
	}
	since := now
	for _, f := range folders {
		f, ok, err := s.ownFolder(ctx, r, f.ID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return answer(pingHierarchyChanged, "", "")
		}
		// Changes count from what the device last synced of the folder; a folder
		// it never synced counts from now.
		from := now
		st, found, err := s.newestState(ctx, stateRef{r.account(), r.deviceID, folderServerID(f.ID)})
		if err != nil {
			return nil, err
		}
		if found && !st.backlog {
			from = st.modseq
		} else if found {
			from = -1 // more is waiting for the device already
		}
		watch[f.ID] = from
		since = min(since, max(from, 0))
	}
	var pending []store.FolderID
	for id, from := range watch {
		if from < 0 {
			pending = append(pending, id)
		}
	}
	if len(pending) > 0 {
		slices.Sort(pending)
		return nil, s.pingAnswer(w, pingChanges, pending)
	}
	hit, newest, err := s.changedFolders(ctx, r.account(), since, watch)
	if err != nil {
		return nil, err
	}
	if len(hit) > 0 {
		return nil, s.pingAnswer(w, pingChanges, hit)
	}
	// What remains is waiting, perhaps for the whole heartbeat, and thousands of Pings
	// wait at once: let go of what only the start needed.
	r.body, r.params, r.dev, r.profile = nil, nil, nil, Enforced{}
	return &pingWatch{folders: watch, newest: newest, heartbeat: time.Duration(heartbeat) * time.Second}, nil
}

// savePingCache remembers the heartbeat and folders, so a later empty Ping can reuse
// them ([MS-ASCMD] 2.2.3.88.1).
func (s *Server) savePingCache(ctx context.Context, r *request, heartbeat int, folders []pingFolder) error {
	b, _ := json.Marshal(folders) // plain values always marshal
	if heartbeat == r.dev.pingHeartbeat && string(b) == r.dev.pingFolders {
		return nil
	}
	return s.updateDevice(ctx, r.account(), r.deviceID, `ping_heartbeat = $3, ping_folders = $4`, heartbeat, string(b))
}

// changedFolders reads the change log after since and returns the watched folders with
// a change newer than their own mark, and the newest ModSeq read.
func (s *Server) changedFolders(ctx context.Context, acct store.AccountID, since store.ModSeq,
	watch map[store.FolderID]store.ModSeq) ([]store.FolderID, store.ModSeq, error) {
	hits, newest, err := s.changedFoldersOf(ctx, acct, since, []map[store.FolderID]store.ModSeq{watch})
	if err != nil {
		return nil, 0, err
	}
	return hits[0], newest, nil
}

// changedFoldersOf is changedFolders for several watches of one account at once, in
// one read of the change log: hits[i] belongs to watches[i].
func (s *Server) changedFoldersOf(ctx context.Context, acct store.AccountID, since store.ModSeq,
	watches []map[store.FolderID]store.ModSeq) (hits [][]store.FolderID, newest store.ModSeq, err error) {
	hits = make([][]store.FolderID, len(watches))
	seen := make([]map[store.FolderID]bool, len(watches))
	for {
		changes, last, err := s.sharedChanges(ctx, acct, since)
		if err != nil {
			return nil, 0, fmt.Errorf("changes: %w", err)
		}
		for _, c := range changes {
			for i, watch := range watches {
				if mark, ok := watch[c.Folder]; ok && c.ModSeq > mark && !seen[i][c.Folder] {
					if seen[i] == nil {
						seen[i] = map[store.FolderID]bool{}
					}
					seen[i][c.Folder] = true
					hits[i] = append(hits[i], c.Folder)
				}
			}
			since = max(since, c.ModSeq)
		}
		if len(changes) < changeScan || since >= last {
			for _, hit := range hits {
				slices.Sort(hit)
			}
			return hits, max(since, last), nil
		}
	}
}

// changePage is one read of an account's change log.
type changePage struct {
	changes []store.Change
	newest  store.ModSeq
}

// sharedChanges reads up to changeScan changes of acct after since. Concurrent reads of
// the same page share one query: a change wakes every held Ping of the account at
// once, and each would otherwise ask the database the same question. The caller must
// not modify the returned slice.
func (s *Server) sharedChanges(ctx context.Context, acct store.AccountID, since store.ModSeq) ([]store.Change, store.ModSeq, error) {
	key := strconv.FormatInt(int64(acct), 10) + "/" + strconv.FormatInt(int64(since), 10)
	ch := s.changeReads.DoChan(key, func() (any, error) {
		// The read outlives any one waiter's request; it is bounded by the store.
		changes, newest, err := s.store.Changes(context.WithoutCancel(ctx), acct, since, changeScan)
		return changePage{changes, newest}, err
	})
	select {
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, 0, r.Err
		}
		p := r.Val.(changePage)
		return p.changes, p.newest, nil
	}
}
