package activesync

// Sync of the Calendar, Contacts, Tasks and Notes classes ([MS-ASCMD] 2.2.1.21): the
// same SyncKey discipline as mail (state.go), over the items pim keeps in the PIM
// folders, converted on the way out and in by calendar.go, contacts.go, tasks.go and
// notes.go.
//
// A PIM item is replaced, not edited, when it changes (a DAV PUT or a device's Change
// makes a new store message in one step), so its store UID does not last; what lasts is
// its resource name. A device's ServerId is therefore folder and a hash of the name
// ("12:r3f2a…"), and the collection's sync state maps each name hash to the UID and
// ModSeq the device last got. The state also remembers the names of members not yet
// sent, so that paging through a large folder reads each item's properties once.
// Deleting writes pim's tombstone, so CalDAV and CardDAV sync clients hear of it.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"

	"mailroom/internal/pim"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// pimClassNames are the airsync:Class names ([MS-ASCMD] 2.2.3.27) of the PIM roles.
var pimClassNames = map[store.Role]string{
	store.RoleCalendar: "Calendar", store.RoleContacts: "Contacts", store.RoleTasks: "Tasks", store.RoleNotes: "Notes",
}

// pimKinds are the item kinds each PIM role holds.
var pimKinds = map[store.Role]pim.Kind{
	store.RoleCalendar: pim.KindEvent, store.RoleContacts: pim.KindContact, store.RoleTasks: pim.KindTodo, store.RoleNotes: pim.KindNote,
}

// userFolderTypes are the folder types of user-created PIM folders ([MS-ASCMD]
// 2.2.3.186.3): 13 calendar, 14 contacts, 15 tasks, 17 notes.
var userFolderTypes = map[store.Role]int{
	store.RoleCalendar: 13, store.RoleContacts: 14, store.RoleTasks: 15, store.RoleNotes: 17,
}

// folderRole is the role that decides f's class: its own, or for a folder below a PIM
// folder that folder's role (pim.RoleOf).
func (s *Server) folderRole(ctx context.Context, f store.Folder) (store.Role, error) {
	if f.Parent == 0 || slices.Contains(pim.Roles, f.Role) {
		return f.Role, nil
	}
	all, err := s.store.Folders(ctx, f.Account)
	if err != nil {
		return "", fmt.Errorf("folders: %w", err)
	}
	return roleIn(all, f), nil
}

// roleIn is folderRole among the account's folders all.
func roleIn(all []store.Folder, f store.Folder) store.Role {
	if r := pim.RoleOf(all, f); r != store.RoleNone {
		return r
	}
	return f.Role
}

// knownIn is what FolderSync tells of f: a folder below a PIM folder has the
// user-created type of its class.
func knownIn(all []store.Folder, f store.Folder) knownFolder {
	k := toKnown(f)
	if r := roleIn(all, f); r != f.Role {
		k.Type = userFolderTypes[r]
	}
	return k
}

// hierarchyFolders lists the account's folders for FolderSync, creating the default
// PIM folders on first use when the device may sync any PIM class.
func (s *Server) hierarchyFolders(ctx context.Context, acct store.AccountID, classes ClassSet) ([]store.Folder, error) {
	if classes.Has(ClassCalendar) || classes.Has(ClassContacts) || classes.Has(ClassTasks) || classes.Has(ClassNotes) {
		return pim.EnsureFolders(ctx, s.store, acct)
	}
	return s.store.Folders(ctx, acct)
}

// nameKey is the lasting identity of a PIM item in a folder: a hash of its resource
// name.
func nameKey(name string) uint64 {
	sum := sha256.Sum256([]byte(name))
	return binary.BigEndian.Uint64(sum[:8])
}

func pimServerID(f store.FolderID, key uint64) string {
	return strconv.FormatInt(int64(f), 10) + ":r" + strconv.FormatUint(key, 16)
}

func parsePIMServerID(s string) (store.FolderID, uint64, bool) {
	fs, ks, ok := strings.Cut(s, ":r")
	if !ok {
		return 0, 0, false
	}
	f, ok := parseFolderID(fs)
	key, err := strconv.ParseUint(ks, 16, 64)
	return f, key, ok && err == nil
}

// pimEntry is one member of a PIM collection as its sync state knows it: the UID it
// has, the ModSeq the device got it at (0: not on the device yet), and for an event
// not yet sent the end of its last instance (Unix seconds, pim.PropEnd; 0: open or
// unknown), which a calendar's FilterType compares.
type pimEntry struct {
	uid    store.UID
	modseq store.ModSeq
	end    int64
}

// pimHeld maps name keys to entries.
type pimHeld map[uint64]pimEntry

// encode writes the entries in key order: 8 bytes of key, then UID, ModSeq and end
// as varints.
func (h pimHeld) encode() []byte {
	keys := make([]uint64, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := make([]byte, 0, len(h)*14)
	for _, k := range keys {
		b = binary.BigEndian.AppendUint64(b, k)
		b = binary.AppendUvarint(b, uint64(h[k].uid))
		b = binary.AppendUvarint(b, uint64(h[k].modseq))
		b = binary.AppendUvarint(b, uint64(max(h[k].end, 0)))
	}
	return b
}

func decodePIMHeld(b []byte) (pimHeld, error) {
	h := pimHeld{}
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, errors.New("corrupt PIM sync state")
		}
		k := binary.BigEndian.Uint64(b)
		b = b[8:]
		u, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("corrupt PIM sync state")
		}
		b = b[n:]
		m, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("corrupt PIM sync state")
		}
		b = b[n:]
		end, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("corrupt PIM sync state")
		}
		b = b[n:]
		h[k] = pimEntry{uid: store.UID(u), modseq: store.ModSeq(m), end: int64(end)}
	}
	return h, nil
}

// members lists the live items of kind in folder by name key, and brings the names in
// held up to date: items held knows by UID are not read again.
func (s *Server) members(ctx context.Context, folder store.FolderID, kind pim.Kind, held pimHeld) (map[uint64]store.MessageInfo, error) {
	infos, err := s.store.List(ctx, folder)
	if err != nil {
		return nil, fmt.Errorf("list folder %d: %w", folder, err)
	}
	byUID := make(map[store.UID]uint64, len(held))
	for k, e := range held {
		byUID[e.uid] = k
	}
	out := make(map[uint64]store.MessageInfo, len(infos))
	var unknown []store.UID
	infoOf := map[store.UID]store.MessageInfo{}
	for _, m := range infos {
		if hasFlag(m.Flags, store.FlagDeleted) { // tombstones
			continue
		}
		if k, ok := byUID[m.UID]; ok {
			out[k] = m
			continue
		}
		unknown = append(unknown, m.UID)
		infoOf[m.UID] = m
	}
	for batch := range slices.Chunk(unknown, 500) {
		msgs, err := s.store.Messages(ctx, folder, batch)
		if err != nil {
			return nil, fmt.Errorf("messages of folder %d: %w", folder, err)
		}
		for _, m := range msgs {
			name := m.Props[pim.PropName]
			if name == "" || pim.Kind(m.Props[pim.PropKind]) != kind {
				continue
			}
			k := nameKey(name)
			if _, dup := out[k]; dup {
				continue
			}
			out[k] = infoOf[m.UID]
			e := held[k] // present when replaced since: the device has the older version
			e.uid = m.UID
			e.end, _ = strconv.ParseInt(m.Props[pim.PropEnd], 10, 64)
			held[k] = e
		}
	}
	for k, e := range held {
		if _, ok := out[k]; !ok && e.modseq == 0 {
			delete(held, k) // gone before it was ever sent
		}
	}
	return out, nil
}

// members is what held knows of the folder, as members returns it: right as long as
// the change log shows no change to the folder since held was brought up to date.
func (h pimHeld) members() map[uint64]store.MessageInfo {
	out := make(map[uint64]store.MessageInfo, len(h))
	for k, e := range h {
		out[k] = store.MessageInfo{UID: e.uid, ModSeq: e.modseq}
	}
	return out
}

// pimDiff is what a device lacks of a PIM folder, within one window.
type pimDiff struct {
	deletes, changes, adds []uint64
	more                   bool
}

// diffPIM compares the folder's members cur with what the device holds. An item
// not yet sent that ended before after (Unix seconds; 0: no limit) is left out.
func diffPIM(cur map[uint64]store.MessageInfo, held pimHeld, window int, after int64) pimDiff {
	var d pimDiff
	for k, m := range cur {
		e := held[k]
		switch {
		case e.modseq == 0 && after != 0 && e.end != 0 && e.end < after:
		case e.modseq == 0:
			d.adds = append(d.adds, k)
		case e.uid != m.UID || m.ModSeq > e.modseq:
			d.changes = append(d.changes, k)
		}
	}
	for k, e := range held {
		if _, ok := cur[k]; !ok && e.modseq != 0 {
			d.deletes = append(d.deletes, k)
		}
	}
	slices.Sort(d.deletes)
	slices.Sort(d.changes)
	// Newest first, as for mail: a device with a small window sees recent items at once.
	slices.SortFunc(d.adds, func(a, b uint64) int { return int(cur[b].UID) - int(cur[a].UID) })
	total := len(d.deletes) + len(d.changes) + len(d.adds)
	room := window
	take := func(l []uint64) []uint64 {
		n := min(len(l), room)
		room -= n
		return l[:n]
	}
	d.deletes, d.changes, d.adds = take(d.deletes), take(d.changes), take(d.adds)
	d.more = total > window
	return d
}

// endedBefore is diffPIM's after for a folder of role synced with filterType: for a
// calendar, the start of the window, since events that ended before it ([MS-ASCMD]
// 2.2.3.73.2) are not sent; 0 (no limit) otherwise.
func (s *Server) endedBefore(role store.Role, filterType int) int64 {
	if role != store.RoleCalendar {
		return 0
	}
	if start := windowStart(filterType, s.now()); !start.IsZero() {
		return start.Unix()
	}
	return 0
}

// pimOptions returns the collection's options, as syncOptions does for mail: those of
// the request (an Options of the folder's class or of none), which are remembered, or
// those last sent.
func (s *Server) pimOptions(ctx context.Context, ref stateRef, c *wbxml.Element, class string, save bool) (itemOptions, error) {
	for _, x := range c.All(wbxml.NSAirSync, "Options") {
		if cls := x.ChildText(wbxml.NSAirSync, "Class"); cls != "" && cls != class {
			continue
		}
		opts := parseOptions(x)
		if !save {
			return opts, nil
		}
		b, _ := json.Marshal(opts) // plain values always marshal
		return opts, s.saveCollectionOptions(ctx, ref, b)
	}
	var opts itemOptions
	b, err := s.collectionOptions(ctx, ref)
	if err != nil || len(b) == 0 {
		return opts, err
	}
	_ = json.Unmarshal(b, &opts) // unreadable options read as the defaults
	return opts, nil
}

// syncPIM runs one Collection of a Sync request over a PIM folder of role.
func (s *Server) syncPIM(ctx context.Context, r *request, c *wbxml.Element, folder store.Folder, role store.Role,
	globalWindow int, withCommands bool) (syncResult, error) {
	ns := wbxml.NSAirSync
	collID := c.ChildText(ns, "CollectionId")
	keyText := c.ChildText(ns, "SyncKey")
	head := collectionHead(c, collID)
	ref := stateRef{r.account(), r.deviceID, collID}
	defer s.lockState(ref)()
	opts, err := s.pimOptions(ctx, ref, c, pimClassNames[role], withCommands)
	if err != nil {
		return syncResult{}, err
	}
	key, ok := parseKey(keyText)
	if !ok {
		return syncResult{elem: head("0", syncInvalidKey), output: true}, nil
	}
	if key == 0 {
		newKey, err := s.resetState(ctx, ref, syncState{backlog: true})
		if err != nil {
			return syncResult{}, err
		}
		return syncResult{elem: head(strconv.FormatInt(newKey, 10), syncOK), output: true}, nil
	}
	st, found, err := s.loadState(ctx, ref, key)
	if err != nil {
		return syncResult{}, err
	}
	if !found {
		return syncResult{elem: head("0", syncInvalidKey), output: true}, nil
	}
	if child, found, err := s.childState(ctx, ref, key); err != nil {
		return syncResult{}, err
	} else if found && len(child.response) > 0 {
		if e, err := wbxml.Decode(child.response); err == nil && e.Is(ns, "Collection") {
			if err := s.refillPIM(ctx, r, folder.ID, role, e, child.items, opts); err != nil {
				return syncResult{}, err
			}
			return syncResult{elem: e, output: true}, nil
		}
	}
	held, err := decodePIMHeld(st.items)
	if err != nil {
		s.log.Error("corrupt sync state", "user", r.user.Address, "device", r.deviceID, "collection", collID, "err", err)
		return syncResult{elem: head("0", syncInvalidKey), output: true}, nil
	}
	var responses *wbxml.Element
	applied := false
	if cmds := c.Child(ns, "Commands"); cmds != nil && withCommands {
		if responses, err = s.applyPIMCommands(ctx, r, folder, role, cmds, held, opts); err != nil {
			return syncResult{}, err
		}
		applied = true
	}
	window, _ := strconv.Atoi(c.ChildText(ns, "WindowSize"))
	if window <= 0 {
		window = globalWindow
	}
	if window <= 0 {
		window = defaultWindowSize
	}
	window = min(window, maxWindowSize)

	var commands *wbxml.Element
	more := false
	newModSeq := st.modseq
	if c.ChildText(ns, "GetChanges") != "0" {
		changes, newest, err := s.store.Changes(ctx, r.account(), st.modseq, changeScan)
		if err != nil {
			return syncResult{}, fmt.Errorf("changes: %w", err)
		}
		changed := applied || len(changes) >= changeScan
		for _, ch := range changes {
			changed = changed || ch.Folder == folder.ID
		}
		newModSeq = newest
		if changed || st.backlog {
			cur := held.members()
			if changed || len(held) == 0 {
				// Only a folder unchanged since the last window may be paged from
				// the state alone.
				if cur, err = s.members(ctx, folder.ID, pimKinds[role], held); err != nil {
					return syncResult{}, err
				}
			}
			d := diffPIM(cur, held, window, s.endedBefore(role, opts.FilterType))
			more = d.more
			if commands, err = s.renderPIMChanges(ctx, r, folder.ID, role, d, cur, held, opts); err != nil {
				return syncResult{}, err
			}
		}
	}
	next := syncState{modseq: newModSeq, items: held.encode(), backlog: more}
	res := syncResult{folder: folder.ID, modseq: newModSeq}
	if commands == nil && responses == nil && !applied {
		if st.modseq != newModSeq || st.backlog {
			st.modseq, st.backlog = newModSeq, false
			st.items = next.items // names learnt stay learnt
			if err := s.updateState(ctx, ref, st); err != nil {
				return syncResult{}, err
			}
		}
		res.modseq = st.modseq
		res.elem = head(keyText, syncOK)
		return res, nil
	}
	res.output = true
	res.elem, err = s.advanceState(ctx, ref, key, next, func(newKey int64) *wbxml.Element {
		e := head(strconv.FormatInt(newKey, 10), syncOK)
		if more {
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

// renderPIMChanges writes the Commands for d and records in held what the device now
// has; nil when there is nothing to send.
func (s *Server) renderPIMChanges(ctx context.Context, r *request, folder store.FolderID, role store.Role, d pimDiff,
	cur map[uint64]store.MessageInfo, held pimHeld, opts itemOptions) (*wbxml.Element, error) {
	ns := wbxml.NSAirSync
	cmds := wbxml.New(ns, "Commands")
	for _, k := range d.deletes {
		cmds.Add(ns, "Delete").AddText(ns, "ServerId", pimServerID(folder, k))
		delete(held, k)
	}
	send := func(op string, keys []uint64) error {
		if len(keys) == 0 {
			return nil
		}
		uids := make([]store.UID, len(keys))
		for i, k := range keys {
			uids[i] = cur[k].UID
		}
		msgs, err := s.store.Messages(ctx, folder, uids)
		if err != nil {
			return fmt.Errorf("messages of folder %d: %w", folder, err)
		}
		byUID := make(map[store.UID]*store.Message, len(msgs))
		for i := range msgs {
			byUID[msgs[i].UID] = &msgs[i]
		}
		for _, k := range keys {
			m := byUID[cur[k].UID]
			if m == nil {
				continue // replaced meanwhile: the next Sync sends the newer one
			}
			app := wbxml.New(ns, "ApplicationData")
			ok, err := s.renderPIM(ctx, r, role, m, app, opts)
			if err != nil {
				return err
			}
			held[k] = pimEntry{uid: m.UID, modseq: m.ModSeq}
			if !ok {
				continue
			}
			e := cmds.Add(ns, op)
			e.AddText(ns, "ServerId", pimServerID(folder, k))
			e.Children = append(e.Children, app)
		}
		return nil
	}
	if err := send("Change", d.changes); err != nil {
		return nil, err
	}
	if err := send("Add", d.adds); err != nil {
		return nil, err
	}
	if len(cmds.Children) == 0 {
		return nil, nil
	}
	return cmds, nil
}

// renderPIM fills app with the item's fields in its class. An item that cannot be read
// (stored before validation was as strict, or damaged) is logged and reported !ok: the
// device is not sent it.
func (s *Server) renderPIM(ctx context.Context, r *request, role store.Role, m *store.Message, app *wbxml.Element, opts itemOptions) (bool, error) {
	raw, err := s.store.Raw(ctx, m.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("item %d: %w", m.ID, err)
	}
	if err := renderItem(app, role, m, raw, opts, r.version, r.user.Address); err != nil {
		s.log.Warn("PIM item not sent to the device", "user", r.user.Address, "item", m.ID, "err", err)
		return false, nil
	}
	return true, nil
}

// renderItem converts one stored item to its class's ApplicationData.
func renderItem(app *wbxml.Element, role store.Role, m *store.Message, raw []byte, opts itemOptions, version int, self string) error {
	data, err := pim.Body(raw)
	if err != nil {
		return err
	}
	switch role {
	case store.RoleCalendar, store.RoleTasks:
		cal, err := pim.DecodeCalendar(data)
		if err != nil {
			return err
		}
		if role == store.RoleTasks {
			return renderTask(app, cal, opts, version)
		}
		return renderEvent(app, cal, opts, version, self)
	case store.RoleContacts:
		card, err := pim.DecodeCard(data)
		if err != nil {
			return err
		}
		renderContact(app, card, opts)
		return nil
	}
	renderNote(app, m, data, opts)
	return nil
}

// refillPIM renders again the item content of a replayed answer, from the state the
// answer produced (items). An item gone since is left out.
func (s *Server) refillPIM(ctx context.Context, r *request, folder store.FolderID, role store.Role, coll *wbxml.Element, items []byte, opts itemOptions) error {
	ns := wbxml.NSAirSync
	held, err := decodePIMHeld(items)
	if err != nil {
		return err
	}
	for _, list := range []*wbxml.Element{coll.Child(ns, "Commands"), coll.Child(ns, "Responses")} {
		if list == nil {
			continue
		}
		kept := list.Children[:0]
		for _, op := range list.Children {
			content := op.Is(ns, "Add") && list.Name == "Commands" || op.Is(ns, "Change") && list.Name == "Commands" ||
				op.Is(ns, "Fetch") && op.ChildText(ns, "Status") == text(syncOK)
			if !content {
				kept = append(kept, op)
				continue
			}
			_, k, _ := parsePIMServerID(op.ChildText(ns, "ServerId"))
			m, err := s.store.MessageByUID(ctx, folder, held[k].uid)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("replay %s: %w", op.ChildText(ns, "ServerId"), err)
			}
			app := wbxml.New(ns, "ApplicationData")
			if ok, err := s.renderPIM(ctx, r, role, &m, app, opts); err != nil {
				return err
			} else if ok {
				op.Children = append(op.Children, app)
				kept = append(kept, op)
			}
		}
		list.Children = kept
	}
	return nil
}

// current returns the message a device's ServerId names in folder, or false.
func (s *Server) current(ctx context.Context, folder store.FolderID, kind pim.Kind, held pimHeld, sid string) (store.Message, uint64, bool, error) {
	f, k, ok := parsePIMServerID(sid)
	e, has := held[k]
	if !ok || f != folder || !has {
		return store.Message{}, 0, false, nil
	}
	m, err := s.store.MessageByUID(ctx, folder, e.uid)
	if errors.Is(err, store.ErrNotFound) {
		// Replaced since the device last heard: learn the new UID.
		cur, err := s.members(ctx, folder, kind, held)
		if err != nil {
			return store.Message{}, 0, false, err
		}
		info, ok := cur[k]
		if !ok {
			return store.Message{}, 0, false, nil
		}
		m, err = s.store.MessageByUID(ctx, folder, info.UID)
		if errors.Is(err, store.ErrNotFound) {
			return store.Message{}, 0, false, nil
		}
		if err != nil {
			return store.Message{}, 0, false, fmt.Errorf("item %s: %w", sid, err)
		}
		return m, k, true, nil
	}
	if err != nil {
		return store.Message{}, 0, false, fmt.Errorf("item %s: %w", sid, err)
	}
	return m, k, true, nil
}

// errConversion marks a device's item that cannot become a valid stored object; the
// device is answered status 6 ([MS-ASCMD] 2.2.3.177.17) and nothing is stored.
var errConversion = errors.New("conversion failed")

// applyPIMCommands applies a device's Add, Change, Delete and Fetch to the folder and
// updates held to match; it returns the Responses element, or nil.
func (s *Server) applyPIMCommands(ctx context.Context, r *request, folder store.Folder, role store.Role, cmds *wbxml.Element,
	held pimHeld, opts itemOptions) (*wbxml.Element, error) {
	ns := wbxml.NSAirSync
	kind := pimKinds[role]
	responses := wbxml.New(ns, "Responses")
	respond := func(op, idName, id string, code syncStatus) *wbxml.Element {
		e := responses.Add(ns, op)
		e.AddText(ns, idName, id)
		e.AddText(ns, "Status", text(code))
		return e
	}
	failed := func(op string, cmd *wbxml.Element, err error) error {
		if !errors.Is(err, errConversion) {
			return err
		}
		s.log.Info("device item refused", "user", r.user.Address, "device", r.deviceID, "op", op, "err", err)
		id, idName := cmd.ChildText(ns, "ServerId"), "ServerId"
		if op == "Add" {
			id, idName = cmd.ChildText(ns, "ClientId"), "ClientId"
		}
		e := respond(op, idName, id, syncConversionError)
		if inst := cmd.ChildText(wbxml.NSAirSyncBase, "InstanceId"); inst != "" {
			e.AddText(wbxml.NSAirSyncBase, "InstanceId", inst)
		}
		return nil
	}
	for _, cmd := range cmds.Children {
		if cmd.Space != ns {
			continue
		}
		sid := cmd.ChildText(ns, "ServerId")
		switch cmd.Name {
		case "Add":
			name := newResourceName(role)
			item, err := s.itemFromDevice(role, cmd.Child(ns, "ApplicationData"), nil, name, r.user.Address)
			if err != nil {
				if err := failed("Add", cmd, err); err != nil {
					return nil, err
				}
				continue
			}
			ds, err := s.store.Deliver(ctx, item, []store.Placement{{Account: folder.Account, Folder: folder.ID}})
			if err != nil {
				return nil, fmt.Errorf("add to folder %d: %w", folder.ID, err)
			}
			s.organize(ctx, r, role, nil, item)
			k := nameKey(name)
			held[k] = pimEntry{uid: ds[0].UID, modseq: ds[0].ModSeq}
			e := respond("Add", "ClientId", cmd.ChildText(ns, "ClientId"), syncOK)
			e.Children = slices.Insert(e.Children, 1, &wbxml.Element{Space: ns, Name: "ServerId", Text: pimServerID(folder.ID, k)})
		case "Change", "Delete":
			m, k, ok, err := s.current(ctx, folder.ID, kind, held, sid)
			if err != nil {
				return nil, err
			}
			if !ok {
				respond(cmd.Name, "ServerId", sid, syncObjectNotFound)
				continue
			}
			raw, err := s.store.Raw(ctx, m.ID)
			if err != nil {
				return nil, fmt.Errorf("item %s: %w", sid, err)
			}
			var item store.NewMessage
			switch {
			case cmd.Name == "Delete" && cmd.Child(wbxml.NSAirSyncBase, "InstanceId") == nil:
				item = pim.Tombstone(m.Props[pim.PropName], m.Props[pim.PropUID])
			default:
				item, err = s.changedItem(role, cmd, raw, m.Props[pim.PropName])
			}
			if err != nil {
				if err := failed(cmd.Name, cmd, err); err != nil {
					return nil, err
				}
				continue
			}
			d, err := s.store.Replace(ctx, m.ID, item)
			if errors.Is(err, store.ErrNotFound) {
				respond(cmd.Name, "ServerId", sid, syncObjectNotFound)
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", cmd.Name, sid, err)
			}
			s.organize(ctx, r, role, raw, item)
			if item.Props[pim.PropKind] == string(pim.KindTombstone) {
				delete(held, k)
			} else {
				held[k] = pimEntry{uid: d.UID, modseq: d.ModSeq} // the device has its own change already
			}
		case "Fetch":
			m, _, ok, err := s.current(ctx, folder.ID, kind, held, sid)
			if err != nil {
				return nil, err
			}
			if !ok {
				respond("Fetch", "ServerId", sid, syncObjectNotFound)
				continue
			}
			app := wbxml.New(ns, "ApplicationData")
			if ok, err := s.renderPIM(ctx, r, role, &m, app, opts); err != nil {
				return nil, err
			} else if !ok {
				respond("Fetch", "ServerId", sid, syncConversionError)
				continue
			}
			e := respond("Fetch", "ServerId", sid, syncOK)
			e.Children = append(e.Children, app)
		}
	}
	if len(responses.Children) == 0 {
		return nil, nil
	}
	return responses, nil
}

// changedItem builds the replacement for a stored item from a device's Change, or
// from an instance-level Change or Delete of a recurring event (16.x).
func (s *Server) changedItem(role store.Role, cmd *wbxml.Element, raw []byte, name string) (store.NewMessage, error) {
	app := cmd.Child(wbxml.NSAirSync, "ApplicationData")
	inst := cmd.ChildText(wbxml.NSAirSyncBase, "InstanceId")
	if inst == "" {
		return s.itemFromDevice(role, app, raw, name, "")
	}
	if role != store.RoleCalendar {
		return store.NewMessage{}, fmt.Errorf("%w: InstanceId on a %s item", errConversion, pimClassNames[role])
	}
	t, err := parseEASTime(inst)
	if err != nil {
		return store.NewMessage{}, fmt.Errorf("%w: InstanceId: %v", errConversion, err)
	}
	data, err := pim.Body(raw)
	if err != nil {
		return store.NewMessage{}, err
	}
	cal, err := pim.DecodeCalendar(data)
	if err != nil {
		return store.NewMessage{}, fmt.Errorf("%w: the stored event: %v", errConversion, err)
	}
	if cmd.Name == "Delete" {
		app = nil
	} else if app == nil {
		app = wbxml.New(wbxml.NSAirSync, "ApplicationData")
	}
	if err := eventInstanceChange(cal, t, app, s.now()); err != nil {
		return store.NewMessage{}, fmt.Errorf("%w: %v", errConversion, err)
	}
	return calendarItem(cal, pim.KindEvent, name)
}

// itemFromDevice converts a device's ApplicationData to the store item under name;
// prevRaw is the stored item a Change replaces (nil for Add). Any error wraps
// errConversion.
//
// self is the address of the user adding a new item: a meeting a device adds with
// attendees but no organiser is the user's own (devices often leave OrganizerEmail
// out), so that its invitations go out.
func (s *Server) itemFromDevice(role store.Role, app *wbxml.Element, prevRaw []byte, name, self string) (store.NewMessage, error) {
	if app == nil {
		return store.NewMessage{}, fmt.Errorf("%w: no ApplicationData", errConversion)
	}
	var prev []byte
	if prevRaw != nil {
		var err error
		if prev, err = pim.Body(prevRaw); err != nil {
			return store.NewMessage{}, fmt.Errorf("%w: the stored item: %v", errConversion, err)
		}
	}
	now := s.now()
	uid := newUID()
	conv := func(err error) error { return fmt.Errorf("%w: %v", errConversion, err) }
	switch role {
	case store.RoleCalendar, store.RoleTasks:
		var prevCal *ical.Calendar
		if prev != nil {
			var err error
			if prevCal, err = pim.DecodeCalendar(prev); err != nil {
				return store.NewMessage{}, conv(err)
			}
		}
		var cal *ical.Calendar
		var err error
		if role == store.RoleTasks {
			cal, err = todoFromDevice(app, prevCal, uid, now)
			if err != nil {
				return store.NewMessage{}, conv(err)
			}
			return calendarItem(cal, pim.KindTodo, name)
		}
		for _, id := range []string{app.ChildText(wbxml.NSCalendar, "UID"), app.ChildText(wbxml.NSCalendar, "ClientUid")} {
			if id = strings.TrimSpace(id); id != "" && len(id) <= 255 {
				uid = id
				break
			}
		}
		if cal, err = eventFromDevice(app, prevCal, uid, pim.Limits{}, now); err != nil {
			return store.NewMessage{}, conv(err)
		}
		if prevCal == nil && self != "" {
			for _, ev := range cal.Children {
				if ev.Name == ical.CompEvent && len(ev.Props.Values(ical.PropAttendee)) > 0 && ev.Props.Get(ical.PropOrganizer) == nil {
					ev.Props.Set(&ical.Prop{Name: ical.PropOrganizer, Params: ical.Params{}, Value: "mailto:" + self})
				}
			}
		}
		return calendarItem(cal, pim.KindEvent, name)
	case store.RoleContacts:
		var prevCard vcard.Card
		if prev != nil {
			card, err := pim.DecodeCard(prev)
			if err != nil {
				return store.NewMessage{}, conv(err)
			}
			prevCard = card
		}
		data, err := contactFromDevice(app, prevCard, uid, now)
		if err != nil {
			return store.NewMessage{}, conv(err)
		}
		obj, err := pim.ParseContact(data, pim.Limits{})
		if err != nil {
			return store.NewMessage{}, conv(err)
		}
		return obj.Item(name), nil
	}
	item, err := noteFromDevice(app, name)
	if err != nil {
		return store.NewMessage{}, conv(err)
	}
	return item, nil
}

// calendarItem encodes cal and validates it as pim does for CalDAV.
func calendarItem(cal *ical.Calendar, kind pim.Kind, name string) (store.NewMessage, error) {
	var buf bytes.Buffer
	if err := encodeCalendar(&buf, cal); err != nil {
		return store.NewMessage{}, fmt.Errorf("%w: %v", errConversion, err)
	}
	obj, err := pim.ParseCalendar(buf.Bytes(), pim.Limits{})
	if err != nil {
		return store.NewMessage{}, fmt.Errorf("%w: %v", errConversion, err)
	}
	if obj.Kind != kind {
		return store.NewMessage{}, fmt.Errorf("%w: a %s where a %s belongs", errConversion, obj.Kind, kind)
	}
	return obj.Item(name), nil
}

// encodeCalendar writes cal; the encoder panics on some malformed values, which is
// reported as an error like any other.
func encodeCalendar(buf *bytes.Buffer, cal *ical.Calendar) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cannot write the calendar object: %v", p)
		}
	}()
	return ical.NewEncoder(buf).Encode(cal)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// newUID is a UID for an object a device creates without one (RFC 5545 3.8.4.7 asks
// for a globally unique value).
func newUID() string { return randomHex(16) + "@mailroom" }

// newResourceName is the DAV resource name of an item a device creates.
func newResourceName(role store.Role) string {
	switch role {
	case store.RoleCalendar, store.RoleTasks:
		return randomHex(12) + ".ics"
	case store.RoleContacts:
		return randomHex(12) + ".vcf"
	}
	return randomHex(12)
}

// addTextBody writes airsyncbase:Body ([MS-ASAIRS] 2.2.2.9) for a plain-text field,
// truncated as the device's BodyPreference asks.
func addTextBody(parent *wbxml.Element, s string, opts itemOptions) {
	pref := opts.choose(false)
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
	body := parent.Add(wbxml.NSAirSyncBase, "Body")
	body.AddText(wbxml.NSAirSyncBase, "Type", strconv.Itoa(bodyPlain))
	body.AddText(wbxml.NSAirSyncBase, "EstimatedDataSize", strconv.Itoa(len(s)))
	if pref.TruncationSize > 0 && int64(len(s)) > pref.TruncationSize {
		body.AddText(wbxml.NSAirSyncBase, "Truncated", "1")
		if pref.AllOrNone {
			return
		}
		s = clipText(s, int(pref.TruncationSize))
	}
	body.AddText(wbxml.NSAirSyncBase, "Data", s)
}

// bodyText reads the text of a device's airsyncbase:Body: HTML becomes plain text.
func bodyText(b *wbxml.Element) string {
	s := b.ChildText(wbxml.NSAirSyncBase, "Data")
	if b.ChildText(wbxml.NSAirSyncBase, "Type") == strconv.Itoa(bodyHTML) {
		s = htmlToText(s)
	}
	return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}

// dateTimeFormat is the dateTime form of [MS-ASDTYPE] 2.3 that tasks and contacts use.
const dateTimeFormat = "2006-01-02T15:04:05.000Z"
