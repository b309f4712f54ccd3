package activesync

// Sync follows [MS-ASCMD] 2.2.1.21 for the Email class: server changes as Add, Change,
// Delete and SoftDelete within WindowSize with MoreAvailable, client Change (Read,
// Flag, Categories), Delete (DeletesAsMoves) and Fetch, and the hanging Sync of 12.1+
// (Wait, HeartbeatInterval). What the device holds is the sync state its SyncKey names
// (state.go); the store's change log says whether a collection needs looking at.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

const (
	defaultWindowSize = 100
	maxWindowSize     = 512
	maxCollections    = 100
	// changeScan bounds the change log entries read to decide whether a collection
	// changed; beyond it the collection is simply compared in full.
	changeScan = 2000
)

// syncResult is one collection's part of a Sync response.
type syncResult struct {
	elem   *wbxml.Element
	output bool // anything for the device beyond an unchanged key
	// for a hanging Sync: what to watch
	folder store.FolderID
	modseq store.ModSeq
}

func (s *Server) sync(ctx context.Context, w http.ResponseWriter, r *request) error {
	syncFail := func(code syncStatus, limit string) error {
		resp := wbxml.New(wbxml.NSAirSync, "Sync")
		resp.AddText(wbxml.NSAirSync, "Status", text(code))
		if limit != "" {
			resp.AddText(wbxml.NSAirSync, "Limit", limit)
		}
		return s.writeWBXML(w, resp)
	}
	if len(r.body) == 0 {
		// An empty Sync asks to repeat the last full request ([MS-ASCMD] 2.2.3.177.17
		// status 13); requests are not kept, so the device sends the full one.
		return syncFail(syncIncomplete, "")
	}
	req, err := decodeBody(r)
	if err != nil {
		return err
	}
	if err := s.noteSync(ctx, r); err != nil {
		return err
	}
	colls := req.Child(wbxml.NSAirSync, "Collections").All(wbxml.NSAirSync, "Collection")
	switch {
	case len(colls) == 0:
		return syncFail(syncIncomplete, "")
	case len(colls) > maxCollections:
		return syncFail(syncInvalidRequest, "")
	}
	var hold time.Duration
	waitText, hbText := req.ChildText(wbxml.NSAirSync, "Wait"), req.ChildText(wbxml.NSAirSync, "HeartbeatInterval")
	switch {
	case req.Child(wbxml.NSAirSync, "Wait") != nil && req.Child(wbxml.NSAirSync, "HeartbeatInterval") != nil:
		return syncFail(syncProtocolError, "")
	case waitText != "":
		m, err := strconv.Atoi(waitText)
		if err != nil || m < 1 || m > 59 {
			return syncFail(syncInvalidWait, strconv.Itoa(clamp(m, 1, 59)))
		}
		hold = time.Duration(m) * time.Minute
	case hbText != "":
		sec, err := strconv.Atoi(hbText)
		if err != nil || sec < s.cfg.MinHeartbeat || sec > s.cfg.MaxHeartbeat {
			return syncFail(syncInvalidWait, strconv.Itoa(clamp(sec, s.cfg.MinHeartbeat, s.cfg.MaxHeartbeat)))
		}
		hold = time.Duration(sec) * time.Second
	}
	window, _ := strconv.Atoi(req.ChildText(wbxml.NSAirSync, "WindowSize"))

	var wake <-chan store.ModSeq
	if hold > 0 {
		ch, cancel := s.store.Subscribe(r.account())
		defer cancel()
		wake = ch
	}
	results := make([]syncResult, len(colls))
	output := false
	for i, c := range colls {
		if results[i], err = s.syncCollection(ctx, r, c, window, true); err != nil {
			return err
		}
		output = output || results[i].output
	}
	if hold > 0 && !output {
		if err := s.holdSync(ctx, r, colls, results, window, hold, wake); err != nil {
			return err
		}
	}
	resp := wbxml.New(wbxml.NSAirSync, "Sync")
	cs := resp.Add(wbxml.NSAirSync, "Collections")
	for _, res := range results {
		cs.Children = append(cs.Children, res.elem)
	}
	return s.writeWBXML(w, resp)
}

// holdSync waits, like Ping, for a change to one of the collections, then syncs them
// again into results. Without a change before hold ends, results stay as they are.
func (s *Server) holdSync(ctx context.Context, r *request, colls []*wbxml.Element, results []syncResult,
	window int, hold time.Duration, wake <-chan store.ModSeq) error {
	r.releaseSlot()
	defer s.hold()()
	timer := time.NewTimer(hold)
	defer timer.Stop()
	watch := map[store.FolderID]store.ModSeq{}
	since := store.ModSeq(-1)
	for _, res := range results {
		if res.folder != 0 {
			watch[res.folder] = res.modseq
			if since < 0 || res.modseq < since {
				since = res.modseq
			}
		}
	}
	if len(watch) == 0 {
		return nil
	}
	for {
		select {
		case <-timer.C:
			return nil
		case <-s.closing:
			return nil
		case <-ctx.Done():
			return nil
		case _, ok := <-wake:
			if !ok {
				return nil
			}
		}
		hit, newest, err := s.changedFolders(ctx, r.account(), since, watch)
		if err != nil {
			return err
		}
		since = newest
		if len(hit) == 0 {
			continue
		}
		output := false
		for i, c := range colls {
			res, err := s.syncCollection(ctx, r, c, window, false)
			if err != nil {
				return err
			}
			results[i] = res
			output = output || res.output
		}
		if output {
			return nil
		}
	}
}

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }

// collectionHead returns what starts the answer to Sync's Collection c (CollectionId
// collID) for a SyncKey and status: its Class when the device sent one, the key, the
// collection and the status.
func collectionHead(c *wbxml.Element, collID string) func(key string, code syncStatus) *wbxml.Element {
	ns := wbxml.NSAirSync
	return func(key string, code syncStatus) *wbxml.Element {
		e := wbxml.New(ns, "Collection")
		if cls := c.ChildText(ns, "Class"); cls != "" {
			e.AddText(ns, "Class", cls)
		}
		e.AddText(ns, "SyncKey", key)
		e.AddText(ns, "CollectionId", collID)
		e.AddText(ns, "Status", text(code))
		return e
	}
}

// syncCollection runs one Collection of a Sync request. withCommands is false when a
// hanging Sync looks again after its first pass, which already applied them.
func (s *Server) syncCollection(ctx context.Context, r *request, c *wbxml.Element, globalWindow int, withCommands bool) (syncResult, error) {
	ns := wbxml.NSAirSync
	collID := c.ChildText(ns, "CollectionId")
	keyText := c.ChildText(ns, "SyncKey")
	head := collectionHead(c, collID)
	folder, ok, err := s.ownFolder(ctx, r, collID)
	if err != nil {
		return syncResult{}, err
	}
	if !ok {
		return syncResult{elem: head(keyText, syncHierarchyChange), output: true}, nil
	}
	if role, err := s.folderRole(ctx, folder); err != nil {
		return syncResult{}, err
	} else if _, isPIM := pimKinds[role]; isPIM {
		return s.syncPIM(ctx, r, c, folder, role, globalWindow, withCommands) // pimsync.go
	}
	ref := stateRef{r.account(), r.deviceID, collID}
	defer s.lockState(ref)()
	key, keyOK := parseKey(keyText)
	// The state the key names comes with the collection's saved options in one query.
	var st, child syncState
	var saved []byte
	if keyOK && key != 0 {
		if st, child, saved, err = s.stateAndChild(ctx, ref, key); err != nil {
			return syncResult{}, err
		}
	}
	opts, err := s.syncOptions(ctx, ref, c, withCommands, func() ([]byte, error) {
		if st.key != 0 {
			return saved, nil
		}
		return s.collectionOptions(ctx, ref)
	})
	if err != nil {
		return syncResult{}, err
	}
	opts.FilterType = s.filterFor(r, opts.FilterType)
	if !keyOK {
		return syncResult{elem: head("0", syncInvalidKey), output: true}, nil
	}
	if key == 0 {
		// A new start, also when repeated: all earlier state of the collection goes.
		st, err := s.firstState(ctx, r.account(), folder.ID, opts.FilterType)
		if err != nil {
			return syncResult{}, err
		}
		newKey, err := s.resetState(ctx, ref, st)
		if err != nil {
			return syncResult{}, err
		}
		return syncResult{elem: head(strconv.FormatInt(newKey, 10), syncOK), output: true}, nil
	}
	if st.key == 0 {
		return syncResult{elem: head("0", syncInvalidKey), output: true}, nil
	}
	// A retry of a Sync whose answer was lost gets that answer again.
	if len(child.response) > 0 {
		if e, err := wbxml.Decode(child.response); err == nil && e.Is(ns, "Collection") {
			if err := s.refill(ctx, r, folder.ID, e, opts); err != nil {
				return syncResult{}, err
			}
			return syncResult{elem: e, output: true}, nil
		}
	}
	// What the device holds is read only when needed: a Sync that finds nothing to
	// look at (most of them) neither reads nor rewrites it.
	var held heldItems
	loadHeld := func() bool {
		if held != nil {
			return true
		}
		h, err := decodeHeld(st.items)
		if err != nil {
			// A state that cannot be read is one the device must start over from.
			s.log.Error("corrupt sync state", "user", r.user.Address, "device", r.deviceID, "collection", collID, "err", err)
			return false
		}
		held = h
		return true
	}
	invalid := syncResult{elem: head("0", syncInvalidKey), output: true}

	var responses *wbxml.Element
	applied := false
	if cmds := c.Child(ns, "Commands"); cmds != nil && withCommands {
		if !loadHeld() {
			return invalid, nil
		}
		deletesAsMoves := c.ChildText(ns, "DeletesAsMoves") != "0"
		if responses, err = s.applyCommands(ctx, r, folder, cmds, held, deletesAsMoves, opts); err != nil {
			return syncResult{}, err
		}
		applied = true
	}

	getChanges := c.ChildText(ns, "GetChanges") != "0"
	window, _ := strconv.Atoi(c.ChildText(ns, "WindowSize"))
	if window <= 0 {
		window = globalWindow
	}
	if window <= 0 {
		window = defaultWindowSize
	}
	window = min(window, maxWindowSize)

	var d diff
	newModSeq, below := st.modseq, st.below
	if getChanges {
		changes, newest, err := s.store.Changes(ctx, r.account(), st.modseq, changeScan)
		if err != nil {
			return syncResult{}, fmt.Errorf("changes: %w", err)
		}
		// A filtered collection is always compared: mail ages out of the window
		// without any change in the log.
		look := st.backlog || applied || opts.FilterType != 0 || len(changes) >= changeScan
		for _, ch := range changes {
			look = look || ch.Folder == folder.ID
		}
		newModSeq = newest
		paged := false
		pageable := below > 0 && opts.FilterType == 0 && len(changes) < changeScan
		if (look || pageable) && !loadHeld() {
			return invalid, nil
		}
		if pageable {
			if d, below, paged, err = s.pageFolder(ctx, folder.ID, held, changes, below, window); err != nil {
				return syncResult{}, err
			}
		}
		if !paged {
			below = 0
		}
		if look && !paged {
			if d, err = s.diffFolder(ctx, folder.ID, held, opts.FilterType, window); err != nil {
				return syncResult{}, err
			}
		}
	}
	commands, err := s.renderChanges(ctx, r, folder.ID, d, held, opts)
	if err != nil {
		return syncResult{}, err
	}
	res := syncResult{folder: folder.ID, modseq: newModSeq}
	if commands == nil && responses == nil && !applied {
		// Nothing to say: the key stays, its state moves to the newer log position.
		if getChanges && (st.modseq != newModSeq || st.backlog || st.below != below) {
			st.modseq, st.backlog, st.below = newModSeq, false, below
			if err := s.updateState(ctx, ref, st); err != nil {
				return syncResult{}, err
			}
		}
		res.modseq = st.modseq
		res.elem = head(keyText, syncOK)
		return res, nil
	}
	if !loadHeld() {
		return invalid, nil
	}
	next := syncState{modseq: newModSeq, items: held.encode(), backlog: d.more, below: below}
	res.output = true
	res.elem, err = s.advanceState(ctx, ref, key, next, func(newKey int64) *wbxml.Element {
		e := head(strconv.FormatInt(newKey, 10), syncOK)
		if d.more {
			e.Add(ns, "MoreAvailable")
		}
		if commands != nil {
			e.Children = append(e.Children, commands)
		}
		if responses != nil {
			e.Children = append(e.Children, responses)
		}
		return e
	})
	return res, err
}

// syncOptions returns the collection's options: those in the request, which Sync then
// remembers (save), or those the device sent last ([MS-ASCMD] 2.2.3.125.6: options
// persist). saved returns the options last saved; it is called only when needed.
func (s *Server) syncOptions(ctx context.Context, ref stateRef, c *wbxml.Element, save bool, saved func() ([]byte, error)) (itemOptions, error) {
	var o *wbxml.Element
	for _, x := range c.All(wbxml.NSAirSync, "Options") {
		if cls := x.ChildText(wbxml.NSAirSync, "Class"); cls == "" || cls == "Email" {
			o = x
			break
		}
	}
	if o != nil {
		opts := parseOptions(o)
		if !save {
			return opts, nil
		}
		b, _ := json.Marshal(opts) // plain values always marshal
		// Devices repeat their options on every Sync; only a change is written.
		if old, err := saved(); err != nil || bytes.Equal(old, b) {
			return opts, err
		}
		return opts, s.saveCollectionOptions(ctx, ref, b)
	}
	var opts itemOptions
	b, err := saved()
	if err != nil || len(b) == 0 {
		return opts, err
	}
	_ = json.Unmarshal(b, &opts) // unreadable options read as the defaults
	return opts, nil
}

// diff is what a device lacks of a folder, within one window.
type diff struct {
	deletes, softDeletes []store.UID
	changes, adds        []store.MessageInfo
	more                 bool
	pending              int // all differences, window or not
}

// diffFolder compares the folder, within the FilterType window, with what the device
// holds. Deletes come first, then changes, then additions newest first, so a device
// with a small window sees its latest mail at once.
func (s *Server) diffFolder(ctx context.Context, folder store.FolderID, held heldItems, filter, window int) (diff, error) {
	infos, err := s.store.List(ctx, folder)
	if err != nil {
		return diff{}, fmt.Errorf("list folder %d: %w", folder, err)
	}
	start := windowStart(filter, s.now())
	var d diff
	present := make(map[store.UID]bool, len(infos))
	for _, m := range infos {
		present[m.UID] = true
		seen, has := held[m.UID]
		inWindow := start.IsZero() || !m.InternalDate.Before(start)
		switch {
		case !inWindow && has:
			d.softDeletes = append(d.softDeletes, m.UID)
		case !inWindow:
		case !has:
			d.adds = append(d.adds, m)
		case m.ModSeq > seen:
			d.changes = append(d.changes, m)
		}
	}
	for u := range held {
		if !present[u] {
			d.deletes = append(d.deletes, u)
		}
	}
	slices.Sort(d.deletes)
	slices.Sort(d.softDeletes)
	slices.SortFunc(d.adds, func(a, b store.MessageInfo) int {
		if c := b.InternalDate.Compare(a.InternalDate); c != 0 {
			return c
		}
		return int(b.UID) - int(a.UID)
	})
	d.pending = len(d.deletes) + len(d.softDeletes) + len(d.changes) + len(d.adds)
	room := window
	take := func(n int) int {
		k := min(n, room)
		room -= k
		return k
	}
	d.deletes = d.deletes[:take(len(d.deletes))]
	d.softDeletes = d.softDeletes[:take(len(d.softDeletes))]
	d.changes = d.changes[:take(len(d.changes))]
	d.adds = d.adds[:take(len(d.adds))]
	d.more = d.pending > window
	return d, nil
}

// renderChanges writes the Commands element for d and records in held what the device
// now has; it returns nil when there is nothing to send.
func (s *Server) renderChanges(ctx context.Context, r *request, folder store.FolderID, d diff, held heldItems, opts itemOptions) (*wbxml.Element, error) {
	ns := wbxml.NSAirSync
	cmds := wbxml.New(ns, "Commands")
	for _, u := range d.deletes {
		cmds.Add(ns, "Delete").AddText(ns, "ServerId", itemServerID(folder, u))
		delete(held, u)
	}
	for _, u := range d.softDeletes {
		cmds.Add(ns, "SoftDelete").AddText(ns, "ServerId", itemServerID(folder, u))
		delete(held, u)
	}
	uids := func(ms []store.MessageInfo) []store.UID {
		out := make([]store.UID, len(ms))
		for i, m := range ms {
			out[i] = m.UID
		}
		return out
	}
	if len(d.changes) > 0 {
		msgs, err := s.store.Messages(ctx, folder, uids(d.changes))
		if err != nil {
			return nil, fmt.Errorf("messages of folder %d: %w", folder, err)
		}
		for i := range msgs {
			m := &msgs[i]
			ch := cmds.Add(ns, "Change")
			ch.AddText(ns, "ServerId", itemServerID(folder, m.UID))
			addChangedFields(ch.Add(ns, "ApplicationData"), m)
			held[m.UID] = m.ModSeq
		}
	}
	if len(d.adds) > 0 {
		msgs, rendered, err := s.renderAdds(ctx, folder, d.adds, opts, r.version)
		if err != nil {
			return nil, err
		}
		byUID := make(map[store.UID]*store.Message, len(msgs))
		for i := range msgs {
			byUID[msgs[i].UID] = &msgs[i]
		}
		for _, info := range d.adds { // newest first, as diffFolder ordered them
			m := byUID[info.UID]
			if m == nil {
				continue // expunged meanwhile
			}
			fixed, ok := rendered[m.ID]
			if !ok {
				continue
			}
			add := cmds.Add(ns, "Add")
			add.AddText(ns, "ServerId", itemServerID(folder, m.UID))
			fixed.into(add.Add(ns, "ApplicationData"), m)
			held[m.UID] = m.ModSeq
		}
	}
	if len(cmds.Children) == 0 {
		return nil, nil
	}
	return cmds, nil
}

// renderAdds reads and renders the messages of adds for Sync Adds, each from the render
// cache when it can: those only with what changes after delivery (store.Marks), the
// others whole and with their bytes read in one go. Requests missing items of the same
// folder render them one after the other (renderCache.filling), so that devices
// syncing the same folder at once render each message once, not once each. A message
// gone meanwhile is left out of both results.
func (s *Server) renderAdds(ctx context.Context, folder store.FolderID, adds []store.MessageInfo, opts itemOptions, version int) ([]store.Message, map[store.MessageID]fixedEmail, error) {
	mimeAllowed := opts.MIMESupport == 2
	out := make(map[store.MessageID]fixedEmail, len(adds))
	var hits []store.UID
	lookup := func(infos []store.MessageInfo) (misses []store.MessageInfo) {
		for i := range infos {
			if f, ok := s.renders.get(renderKeyOf(folder, &infos[i], opts, mimeAllowed, version)); ok {
				out[infos[i].ID] = f
				hits = append(hits, infos[i].UID)
			} else {
				misses = append(misses, infos[i])
			}
		}
		return misses
	}
	var full []store.Message
	if misses := lookup(adds); len(misses) > 0 {
		fill := s.renders.filling(folder)
		fill.Lock()
		var err error
		if misses = lookup(misses); len(misses) > 0 { // what others rendered meanwhile is not rendered again
			full, err = s.renderMisses(ctx, folder, misses, opts, mimeAllowed, version, out)
		}
		fill.Unlock()
		if err != nil {
			return nil, nil, err
		}
	}
	var msgs []store.Message
	if len(hits) > 0 {
		marks, err := s.store.Marks(ctx, folder, hits)
		if err != nil {
			return nil, nil, fmt.Errorf("messages of folder %d: %w", folder, err)
		}
		msgs = marks
	}
	return append(msgs, full...), out, nil
}

// renderMisses reads and renders the messages of misses, puts them in the render cache
// and in out, and returns them.
func (s *Server) renderMisses(ctx context.Context, folder store.FolderID, misses []store.MessageInfo, opts itemOptions, mimeAllowed bool, version int,
	out map[store.MessageID]fixedEmail) ([]store.Message, error) {
	uids := make([]store.UID, len(misses))
	for i := range misses {
		uids[i] = misses[i].UID
	}
	full, err := s.store.Messages(ctx, folder, uids)
	if err != nil {
		return nil, fmt.Errorf("messages of folder %d: %w", folder, err)
	}
	ids := make([]store.MessageID, len(full))
	for i := range full {
		ids[i] = full[i].ID
	}
	raws, err := s.store.RawMany(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("messages' bytes: %w", err)
	}
	for i := range full {
		m := &full[i]
		raw, ok := raws[m.ID]
		if !ok {
			continue
		}
		f := renderFixed(m, raw, opts, mimeAllowed, version).frozen()
		s.renders.put(renderKeyOf(folder, &m.MessageInfo, opts, mimeAllowed, version), f)
		out[m.ID] = f
	}
	return full, nil
}

// applyCommands applies the device's Change, Delete, Add and Fetch commands to the
// store and updates held to match. It returns the Responses element, or nil.
func (s *Server) applyCommands(ctx context.Context, r *request, folder store.Folder, cmds *wbxml.Element,
	held heldItems, deletesAsMoves bool, opts itemOptions) (*wbxml.Element, error) {
	ns := wbxml.NSAirSync
	responses := wbxml.New(ns, "Responses")
	respond := func(op, idName, id string, code syncStatus) *wbxml.Element {
		e := responses.Add(ns, op)
		e.AddText(ns, idName, id)
		e.AddText(ns, "Status", text(code))
		return e
	}
	var trash *store.Folder
	if deletesAsMoves && folder.Role != store.RoleTrash {
		t, err := s.store.FolderByRole(ctx, folder.Account, store.RoleTrash)
		switch {
		case err == nil:
			trash = &t
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("deleted items folder: %w", err)
		}
	}
	for _, cmd := range cmds.Children {
		if cmd.Space != ns {
			continue
		}
		sid := cmd.ChildText(ns, "ServerId")
		f, uid, ok := parseItemID(sid)
		if ok && f != folder.ID {
			ok = false
		}
		switch cmd.Name {
		case "Change":
			if !ok {
				respond("Change", "ServerId", sid, syncObjectNotFound)
				continue
			}
			code, m, err := s.applyChange(ctx, folder.ID, uid, cmd.Child(ns, "ApplicationData"))
			if err != nil {
				return nil, err
			}
			if code != syncOK {
				respond("Change", "ServerId", sid, code)
				continue
			}
			if _, has := held[uid]; has {
				held[uid] = m
			}
		case "Delete":
			if !ok {
				respond("Delete", "ServerId", sid, syncObjectNotFound)
				continue
			}
			var err error
			if trash != nil {
				var res store.CopyResult
				res, err = s.store.Move(ctx, folder.ID, []store.UID{uid}, trash.ID)
				if err == nil && len(res.Source) == 0 {
					err = store.ErrNotFound
				}
			} else {
				var gone []store.UID
				gone, err = s.store.Expunge(ctx, folder.ID, []store.UID{uid})
				if err == nil && len(gone) == 0 {
					err = store.ErrNotFound
				}
			}
			delete(held, uid)
			switch {
			case errors.Is(err, store.ErrNotFound):
				respond("Delete", "ServerId", sid, syncObjectNotFound)
			case err != nil:
				return nil, fmt.Errorf("delete %s: %w", sid, err)
			}
		case "Add":
			// Creating mail from a device (16.0 drafts) is not offered.
			respond("Add", "ClientId", cmd.ChildText(ns, "ClientId"), syncConversionError)
		case "Fetch":
			if !ok {
				respond("Fetch", "ServerId", sid, syncObjectNotFound)
				continue
			}
			m, err := s.store.MessageByUID(ctx, folder.ID, uid)
			if errors.Is(err, store.ErrNotFound) {
				respond("Fetch", "ServerId", sid, syncObjectNotFound)
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("fetch %s: %w", sid, err)
			}
			raw, err := s.store.Raw(ctx, m.ID)
			if err != nil {
				return nil, fmt.Errorf("fetch %s: %w", sid, err)
			}
			e := respond("Fetch", "ServerId", sid, syncOK)
			renderEmail(e.Add(ns, "ApplicationData"), &m, raw, opts, opts.MIMESupport == 2, r.version)
		}
	}
	if len(responses.Children) == 0 {
		return nil, nil
	}
	return responses, nil
}

// applyChange applies a device's change to one message ([MS-ASEMAIL] 2.2.2.53 Read,
// 2.2.2.34 Flag, 2.2.2.14 Categories) and returns the message's new ModSeq.
func (s *Server) applyChange(ctx context.Context, folder store.FolderID, uid store.UID, data *wbxml.Element) (syncStatus, store.ModSeq, error) {
	m, err := s.store.MessageByUID(ctx, folder, uid)
	if errors.Is(err, store.ErrNotFound) {
		return syncObjectNotFound, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("change %d:%d: %w", folder, uid, err)
	}
	modseq := m.ModSeq
	set := func(flag string, on bool) error {
		op := store.FlagsRemove
		if on {
			op = store.FlagsAdd
		}
		res, err := s.store.StoreFlags(ctx, store.FlagUpdate{Folder: folder, UIDs: []store.UID{uid}, Op: op, Flags: []string{flag}})
		if err != nil {
			return fmt.Errorf("change %d:%d: %w", folder, uid, err)
		}
		for _, u := range res.Updated {
			modseq = max(modseq, u.ModSeq)
		}
		return nil
	}
	if read := data.Child(wbxml.NSEmail, "Read"); read != nil {
		if err := set(store.FlagSeen, read.Text == "1"); err != nil {
			return 0, 0, err
		}
	}
	if flag := data.Child(wbxml.NSEmail, "Flag"); flag != nil {
		if err := set(store.FlagFlagged, flag.ChildText(wbxml.NSEmail, "Status") == "2"); err != nil {
			return 0, 0, err
		}
	}
	if cats := data.Child(wbxml.NSEmail, "Categories"); cats != nil {
		var list []string
		for _, c := range cats.All(wbxml.NSEmail, "Category") {
			if c.Text != "" {
				list = append(list, clipText(c.Text, 255))
			}
		}
		v := ""
		if len(list) > 0 {
			b, _ := json.Marshal(list) // strings always marshal
			v = string(b)
		}
		ms, err := s.store.SetProps(ctx, m.ID, map[string]string{propCategories: v})
		if err != nil {
			return 0, 0, fmt.Errorf("change %d:%d: %w", folder, uid, err)
		}
		modseq = max(modseq, ms)
	}
	return syncOK, modseq, nil
}

// refill renders again, from the store, the item content of a replayed answer's Add,
// Change and Fetch. An item gone since is left out (Add, Change) or reported missing
// (Fetch); the device's next Sync then deletes it as usual.
func (s *Server) refill(ctx context.Context, r *request, folder store.FolderID, coll *wbxml.Element, opts itemOptions) error {
	ns := wbxml.NSAirSync
	for _, list := range []*wbxml.Element{coll.Child(ns, "Commands"), coll.Child(ns, "Responses")} {
		if list == nil {
			continue
		}
		kept := list.Children[:0]
		for _, op := range list.Children {
			var full bool // the whole item, or only the fields a Change carries
			switch {
			case list.Name == "Commands" && op.Is(ns, "Add"),
				list.Name == "Responses" && op.Is(ns, "Fetch") && op.ChildText(ns, "Status") == text(syncOK):
				full = true
			case list.Name == "Commands" && op.Is(ns, "Change"):
			default: // Delete, SoftDelete and failed operations carry no content
				kept = append(kept, op)
				continue
			}
			_, uid, _ := parseItemID(op.ChildText(ns, "ServerId"))
			m, err := s.store.MessageByUID(ctx, folder, uid)
			if errors.Is(err, store.ErrNotFound) {
				if op.Name == "Fetch" {
					op.Children = op.Children[:1]
					op.AddText(ns, "Status", text(syncObjectNotFound))
					kept = append(kept, op)
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("replay %s: %w", op.ChildText(ns, "ServerId"), err)
			}
			if !full {
				addChangedFields(op.Add(ns, "ApplicationData"), &m)
				kept = append(kept, op)
				continue
			}
			raw, err := s.store.Raw(ctx, m.ID)
			if err != nil {
				return fmt.Errorf("replay %s: %w", op.ChildText(ns, "ServerId"), err)
			}
			renderEmail(op.Add(ns, "ApplicationData"), &m, raw, opts, opts.MIMESupport == 2, r.version)
			kept = append(kept, op)
		}
		list.Children = kept
	}
	return nil
}
