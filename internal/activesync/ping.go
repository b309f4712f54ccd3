package activesync

// Ping follows [MS-ASCMD] 2.2.1.13 (Direct Push): the request names folders and a
// heartbeat; the answer comes when one of the folders changes (status 2) or the
// heartbeat ends (status 1). A held Ping is one goroutine blocked on the store's
// subscription channel, a timer and the shutdown channel; it reads the change log only
// when woken.

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

func (s *Server) ping(ctx context.Context, w http.ResponseWriter, r *request) error {
	ns := wbxml.NSPing
	answer := func(code pingStatus, fill func(resp *wbxml.Element)) error {
		resp := wbxml.New(ns, "Ping")
		resp.AddText(ns, "Status", text(code))
		if fill != nil {
			fill(resp)
		}
		return s.writeWBXML(w, resp)
	}
	heartbeat, folders := r.dev.pingHeartbeat, []pingFolder(nil)
	if r.dev.pingFolders != "" {
		_ = json.Unmarshal([]byte(r.dev.pingFolders), &folders) // an unreadable cache is no cache
	}
	if len(r.body) > 0 {
		req, err := decodeBody(r)
		if err != nil {
			return err
		}
		if hb := req.Child(ns, "HeartbeatInterval"); hb != nil {
			v, err := strconv.Atoi(hb.Text)
			if err != nil {
				return answer(pingSyntaxError, nil)
			}
			if v < s.cfg.MinHeartbeat || v > s.cfg.MaxHeartbeat {
				limit := clamp(v, s.cfg.MinHeartbeat, s.cfg.MaxHeartbeat)
				return answer(pingBadHeartbeat, func(resp *wbxml.Element) {
					resp.AddText(ns, "HeartbeatInterval", strconv.Itoa(limit))
				})
			}
			heartbeat = v
		}
		if fs := req.Child(ns, "Folders"); fs != nil {
			folders = folders[:0]
			for _, f := range fs.All(ns, "Folder") {
				folders = append(folders, pingFolder{ID: f.ChildText(ns, "Id"), Class: f.ChildText(ns, "Class")})
			}
			if len(folders) > s.cfg.MaxPingFolders {
				return answer(pingTooManyFolders, func(resp *wbxml.Element) {
					resp.AddText(ns, "MaxFolders", strconv.Itoa(s.cfg.MaxPingFolders))
				})
			}
		}
		if err := s.savePingCache(ctx, r, heartbeat, folders); err != nil {
			return err
		}
	}
	if heartbeat == 0 || len(folders) == 0 {
		return answer(pingMissingParams, nil)
	}

	// Subscribe before looking, so a change between the look and the wait still wakes.
	wake, cancel := s.store.Subscribe(r.account())
	defer cancel()
	defer s.hold()()

	watch := map[store.FolderID]store.ModSeq{}
	_, now, err := s.store.Changes(ctx, r.account(), 1<<62, 1)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	since := now
	for _, f := range folders {
		f, ok, err := s.ownFolder(ctx, r, f.ID)
		if err != nil {
			return err
		}
		if !ok {
			return answer(pingHierarchyChanged, nil)
		}
		// Changes count from what the device last synced of the folder; a folder
		// it never synced counts from now.
		from := now
		st, found, err := s.newestState(ctx, stateRef{r.account(), r.deviceID, folderServerID(f.ID)})
		if err != nil {
			return err
		}
		if found && !st.backlog {
			from = st.modseq
		} else if found {
			from = -1 // more is waiting for the device already
		}
		watch[f.ID] = from
		since = min(since, max(from, 0))
	}
	changed := func(hit []store.FolderID) error {
		return answer(pingChanges, func(resp *wbxml.Element) {
			fe := resp.Add(ns, "Folders")
			for _, id := range hit {
				fe.AddText(ns, "Folder", folderServerID(id))
			}
		})
	}
	var pending []store.FolderID
	for id, from := range watch {
		if from < 0 {
			pending = append(pending, id)
		}
	}
	if len(pending) > 0 {
		slices.Sort(pending)
		return changed(pending)
	}
	hit, newest, err := s.changedFolders(ctx, r.account(), since, watch)
	if err != nil {
		return err
	}
	if len(hit) > 0 {
		return changed(hit)
	}
	timer := time.NewTimer(time.Duration(heartbeat) * time.Second)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			return answer(pingExpired, nil)
		case <-s.closing:
			return answer(pingExpired, nil)
		case <-ctx.Done():
			return nil // the device went away
		case _, ok := <-wake:
			if !ok {
				return answer(pingExpired, nil)
			}
		}
		if hit, newest, err = s.changedFolders(ctx, r.account(), newest, watch); err != nil {
			return err
		}
		if len(hit) > 0 {
			return changed(hit)
		}
	}
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
	var hit []store.FolderID
	seen := map[store.FolderID]bool{}
	for {
		changes, newest, err := s.sharedChanges(ctx, acct, since)
		if err != nil {
			return nil, 0, fmt.Errorf("changes: %w", err)
		}
		for _, c := range changes {
			if mark, ok := watch[c.Folder]; ok && c.ModSeq > mark && !seen[c.Folder] {
				seen[c.Folder] = true
				hit = append(hit, c.Folder)
			}
			since = max(since, c.ModSeq)
		}
		if len(changes) < changeScan || since >= newest {
			slices.Sort(hit)
			return hit, max(since, newest), nil
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
