package activesync

// FolderSync, FolderCreate, FolderUpdate and FolderDelete follow [MS-ASCMD] 2.2.1.5,
// 2.2.1.2, 2.2.1.4 and 2.2.1.3, with folder types from 2.2.3.186.3. The hierarchy's
// SyncKey names a recorded list of the folders the device knows; the difference to the
// store's folders is what FolderSync sends.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// Folder types of [MS-ASCMD] 2.2.3.186.3.
const (
	folderTypeGeneric  = 1
	folderTypeInbox    = 2
	folderTypeDrafts   = 3
	folderTypeDeleted  = 4
	folderTypeSent     = 5
	folderTypeOutbox   = 6
	folderTypeTasks    = 7
	folderTypeCalendar = 8
	folderTypeContacts = 9
	folderTypeNotes    = 10
	folderTypeUserMail = 12
)

func folderType(r store.Role) int {
	switch r {
	case store.RoleInbox:
		return folderTypeInbox
	case store.RoleDrafts:
		return folderTypeDrafts
	case store.RoleTrash:
		return folderTypeDeleted
	case store.RoleSent:
		return folderTypeSent
	case store.RoleOutbox:
		return folderTypeOutbox
	case store.RoleTasks:
		return folderTypeTasks
	case store.RoleCalendar:
		return folderTypeCalendar
	case store.RoleContacts:
		return folderTypeContacts
	case store.RoleNotes:
		return folderTypeNotes
	}
	return folderTypeUserMail
}

// knownFolder is what the device was told of one folder.
type knownFolder struct {
	Parent store.FolderID `json:"p"`
	Name   string         `json:"n"`
	Type   int            `json:"t"`
	Depth  int            `json:"d"`
}

type knownFolders map[store.FolderID]knownFolder

func (k knownFolders) encode() []byte {
	b, _ := json.Marshal(k) // a map of plain values always marshals
	return b
}

func decodeKnownFolders(b []byte) (knownFolders, error) {
	k := knownFolders{}
	if len(b) == 0 {
		return k, nil
	}
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("corrupt folder state: %w", err)
	}
	return k, nil
}

func toKnown(f store.Folder) knownFolder {
	return knownFolder{Parent: f.Parent, Name: f.Name, Type: folderType(f.Role), Depth: len(f.Path)}
}

func folderServerID(id store.FolderID) string { return strconv.FormatInt(int64(id), 10) }

func parseFolderID(s string) (store.FolderID, bool) {
	v, err := strconv.ParseInt(s, 10, 64)
	return store.FolderID(v), err == nil && v > 0
}

// currentFolders lists the account's folders as the device should know them (those of
// the data classes the user's profile syncs, [MS-ASCMD] 2.2.1.5), and the change log
// position the list reflects.
func (s *Server) currentFolders(ctx context.Context, acct store.AccountID, classes ClassSet) (knownFolders, store.ModSeq, error) {
	_, modseq, err := s.store.Changes(ctx, acct, 0, 1)
	if err != nil {
		return nil, 0, fmt.Errorf("folders: %w", err)
	}
	fs, err := s.hierarchyFolders(ctx, acct, classes)
	if err != nil {
		return nil, 0, fmt.Errorf("folders: %w", err)
	}
	k := knownFolders{}
	for _, f := range fs {
		if classes.Has(classOf(roleIn(fs, f))) {
			k[f.ID] = knownIn(fs, f)
		}
	}
	return k, modseq, nil
}

// hierarchyResponse builds the FolderSync response that takes a device from old to cur.
func hierarchyResponse(old, cur knownFolders, key int64) (*wbxml.Element, int) {
	resp := wbxml.New(wbxml.NSFolderHierarchy, "FolderSync")
	resp.AddText(wbxml.NSFolderHierarchy, "Status", text(folderOK))
	resp.AddText(wbxml.NSFolderHierarchy, "SyncKey", strconv.FormatInt(key, 10))
	changes := resp.Add(wbxml.NSFolderHierarchy, "Changes")
	count := changes.AddText(wbxml.NSFolderHierarchy, "Count", "0")
	ids := make([]store.FolderID, 0, len(cur))
	for id := range cur {
		ids = append(ids, id)
	}
	// Parents before children, so a device can place every folder as it arrives.
	slices.SortFunc(ids, func(a, b store.FolderID) int {
		if d := cur[a].Depth - cur[b].Depth; d != 0 {
			return d
		}
		return int(a - b)
	})
	n := 0
	folder := func(op string, id store.FolderID, f knownFolder) {
		e := changes.Add(wbxml.NSFolderHierarchy, op)
		e.AddText(wbxml.NSFolderHierarchy, "ServerId", folderServerID(id))
		e.AddText(wbxml.NSFolderHierarchy, "ParentId", folderServerID(f.Parent))
		e.AddText(wbxml.NSFolderHierarchy, "DisplayName", f.Name)
		e.AddText(wbxml.NSFolderHierarchy, "Type", strconv.Itoa(f.Type))
		n++
	}
	var gone []store.FolderID
	for id := range old {
		if _, ok := cur[id]; !ok {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	for _, id := range gone {
		changes.Add(wbxml.NSFolderHierarchy, "Delete").AddText(wbxml.NSFolderHierarchy, "ServerId", folderServerID(id))
		n++
	}
	for _, id := range ids {
		was, known := old[id]
		f := cur[id]
		switch {
		case !known:
			folder("Add", id, f)
		case was.Parent != f.Parent || was.Name != f.Name || was.Type != f.Type:
			folder("Update", id, f)
		}
	}
	count.Text = strconv.Itoa(n)
	return resp, n
}

// folderSync handles FolderSync.
func (s *Server) folderSync(ctx context.Context, w http.ResponseWriter, r *request) error {
	req, err := decodeBody(r)
	if err != nil {
		return err
	}
	ref := stateRef{r.account(), r.deviceID, hierarchyCollection}
	defer s.lockState(ref)()
	fail := func(code folderStatus) error {
		resp := wbxml.New(wbxml.NSFolderHierarchy, "FolderSync")
		resp.AddText(wbxml.NSFolderHierarchy, "Status", text(code))
		return s.writeWBXML(w, resp)
	}
	keyText := req.ChildText(wbxml.NSFolderHierarchy, "SyncKey")
	key, ok := parseKey(keyText)
	if !ok {
		return fail(folderInvalidKey)
	}
	cur, modseq, err := s.currentFolders(ctx, r.account(), r.profile.Classes)
	if err != nil {
		return err
	}
	if err := s.noteSync(ctx, r); err != nil {
		return err
	}
	if key == 0 {
		newKey, err := s.resetState(ctx, ref, syncState{items: cur.encode(), modseq: modseq})
		if err != nil {
			return err
		}
		resp, _ := hierarchyResponse(knownFolders{}, cur, newKey)
		return s.writeWBXML(w, resp)
	}
	st, found, err := s.loadState(ctx, ref, key)
	if err != nil {
		return err
	}
	if !found {
		return fail(folderInvalidKey)
	}
	if replayed, err := s.replay(ctx, w, ref, key, "FolderSync"); replayed || err != nil {
		return err
	}
	old, err := decodeKnownFolders(st.items)
	if err != nil {
		return err
	}
	if resp, n := hierarchyResponse(old, cur, key); n == 0 {
		st.modseq = modseq
		if err := s.updateState(ctx, ref, st); err != nil {
			return err
		}
		return s.writeWBXML(w, resp)
	}
	return s.advanceAndWrite(ctx, w, ref, key, syncState{modseq: modseq, items: cur.encode()}, func(newKey int64) *wbxml.Element {
		resp, _ := hierarchyResponse(old, cur, newKey)
		return resp
	})
}

// replay answers a retried request: when key already produced a newer state with an
// answer to the same command, that answer is sent again unchanged.
func (s *Server) replay(ctx context.Context, w http.ResponseWriter, ref stateRef, key int64, cmd string) (bool, error) {
	child, found, err := s.childState(ctx, ref, key)
	if err != nil || !found || len(child.response) == 0 {
		return false, err
	}
	resp, err := wbxml.Decode(child.response)
	if err != nil || resp.Name != cmd {
		return false, nil
	}
	return true, s.writeWBXML(w, resp)
}

// advanceAndWrite records st as the state key produced and writes the answer build
// makes for the new key.
func (s *Server) advanceAndWrite(ctx context.Context, w http.ResponseWriter, ref stateRef, key int64, st syncState,
	build func(newKey int64) *wbxml.Element) error {
	resp, err := s.advanceState(ctx, ref, key, st, build)
	if err != nil {
		return err
	}
	return s.writeWBXML(w, resp)
}

// folderOp is the common frame of FolderCreate, FolderUpdate and FolderDelete: check
// the hierarchy key, run op, and record the device's new hierarchy state with the
// change op made (and only it, so a later FolderSync still sends everyone else's).
func (s *Server) folderOp(ctx context.Context, w http.ResponseWriter, r *request,
	op func(req *wbxml.Element, known knownFolders) (folderStatus, *wbxml.Element, error)) error {
	req, err := decodeBody(r)
	if err != nil {
		return err
	}
	ref := stateRef{r.account(), r.deviceID, hierarchyCollection}
	defer s.lockState(ref)()
	space, name := commandRoot(r.cmd)
	fail := func(code folderStatus) error {
		resp := wbxml.New(space, name)
		resp.AddText(space, "Status", text(code))
		return s.writeWBXML(w, resp)
	}
	key, ok := parseKey(req.ChildText(space, "SyncKey"))
	if !ok || key == 0 {
		return fail(folderInvalidKey)
	}
	st, found, err := s.loadState(ctx, ref, key)
	if err != nil {
		return err
	}
	if !found {
		return fail(folderInvalidKey)
	}
	known, err := decodeKnownFolders(st.items)
	if err != nil {
		return err
	}
	code, extra, err := op(req, known)
	if err != nil {
		return err
	}
	if code != folderOK {
		return fail(code)
	}
	_, modseq, err := s.store.Changes(ctx, r.account(), 0, 1)
	if err != nil {
		return fmt.Errorf("%s: %w", r.cmd, err)
	}
	// The new state keeps the old position: changes others made since are still to
	// be sent by FolderSync.
	modseq = min(modseq, st.modseq)
	return s.advanceAndWrite(ctx, w, ref, key, syncState{modseq: modseq, items: known.encode()}, func(newKey int64) *wbxml.Element {
		resp := wbxml.New(space, name)
		resp.AddText(space, "Status", text(folderOK))
		resp.AddText(space, "SyncKey", strconv.FormatInt(newKey, 10))
		if extra != nil {
			resp.Children = append(resp.Children, extra)
		}
		return resp
	})
}

// folderErrorStatus maps a store error to a folder status; other errors stay errors.
func folderErrorStatus(err error, notFound folderStatus) (folderStatus, error) {
	switch {
	case errors.Is(err, store.ErrExists):
		return folderExists, nil
	case errors.Is(err, store.ErrNotFound):
		return notFound, nil
	case errors.Is(err, store.ErrRoleFolder):
		return folderSystem, nil
	case errors.Is(err, store.ErrInvalid):
		return folderBadRequest, nil
	}
	return 0, err
}

// ownFolder returns the request's account's folder named by a ServerId. A folder of a
// data class the user's profile does not sync does not exist for the device: every
// command answers as for an unknown folder (Sync with status 12, [MS-ASCMD]
// 2.2.3.177.17, after which the device runs FolderSync, which drops the folder).
func (s *Server) ownFolder(ctx context.Context, r *request, serverID string) (store.Folder, bool, error) {
	id, ok := parseFolderID(serverID)
	if !ok {
		return store.Folder{}, false, nil
	}
	f, err := s.store.Folder(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Folder{}, false, nil
	}
	if err != nil {
		return store.Folder{}, false, fmt.Errorf("folder %d: %w", id, err)
	}
	if f.Account != r.account() {
		return f, false, nil
	}
	role, err := s.folderRole(ctx, f)
	if err != nil {
		return store.Folder{}, false, err
	}
	return f, r.profile.Classes.Has(classOf(role)), nil
}

// parentFolder resolves a ParentId: "0" is the top level.
func (s *Server) parentFolder(ctx context.Context, r *request, serverID string) (store.FolderID, bool, error) {
	if serverID == "0" || serverID == "" {
		return 0, true, nil
	}
	f, ok, err := s.ownFolder(ctx, r, serverID)
	return f.ID, ok, err
}

func (s *Server) folderCreate(ctx context.Context, w http.ResponseWriter, r *request) error {
	ns := wbxml.NSFolderHierarchy
	return s.folderOp(ctx, w, r, func(req *wbxml.Element, known knownFolders) (folderStatus, *wbxml.Element, error) {
		name := req.ChildText(ns, "DisplayName")
		typ, _ := strconv.Atoi(req.ChildText(ns, "Type"))
		if name == "" || (typ != folderTypeUserMail && typ != folderTypeGeneric) {
			return folderBadRequest, nil, nil
		}
		parent, ok, err := s.parentFolder(ctx, r, req.ChildText(ns, "ParentId"))
		if err != nil || !ok {
			return folderNoParent, nil, err
		}
		f, err := s.store.CreateFolder(ctx, r.account(), parent, name, store.RoleNone)
		if err != nil {
			code, err := folderErrorStatus(err, folderNoParent)
			return code, nil, err
		}
		known[f.ID] = toKnown(f)
		id := wbxml.New(ns, "ServerId")
		id.Text = folderServerID(f.ID)
		return folderOK, id, nil
	})
}

func (s *Server) folderUpdate(ctx context.Context, w http.ResponseWriter, r *request) error {
	ns := wbxml.NSFolderHierarchy
	return s.folderOp(ctx, w, r, func(req *wbxml.Element, known knownFolders) (folderStatus, *wbxml.Element, error) {
		f, ok, err := s.ownFolder(ctx, r, req.ChildText(ns, "ServerId"))
		if err != nil || !ok {
			return folderNotFound, nil, err
		}
		if f.Role != store.RoleNone {
			return folderSystem, nil, nil
		}
		name := req.ChildText(ns, "DisplayName")
		if name == "" {
			return folderBadRequest, nil, nil
		}
		parent, ok, err := s.parentFolder(ctx, r, req.ChildText(ns, "ParentId"))
		if err != nil || !ok {
			return folderNoParent, nil, err
		}
		nf, err := s.store.RenameFolder(ctx, f.ID, parent, name)
		if err != nil {
			code, err := folderErrorStatus(err, folderNotFound)
			return code, nil, err
		}
		known[nf.ID] = toKnown(nf)
		return folderOK, nil, nil
	})
}

func (s *Server) folderDelete(ctx context.Context, w http.ResponseWriter, r *request) error {
	ns := wbxml.NSFolderHierarchy
	return s.folderOp(ctx, w, r, func(req *wbxml.Element, known knownFolders) (folderStatus, *wbxml.Element, error) {
		f, ok, err := s.ownFolder(ctx, r, req.ChildText(ns, "ServerId"))
		if err != nil || !ok {
			return folderNotFound, nil, err
		}
		if f.Role != store.RoleNone {
			return folderSystem, nil, nil
		}
		// The device drops the folder with everything under it, as Exchange does; the
		// store deletes folders without children, so the deepest go first.
		all, err := s.store.Folders(ctx, r.account())
		if err != nil {
			return 0, nil, fmt.Errorf("folders: %w", err)
		}
		var doomed []store.Folder
		for _, g := range all {
			if len(g.Path) >= len(f.Path) && slices.Equal(g.Path[:len(f.Path)], f.Path) {
				if g.Role != store.RoleNone {
					return folderSystem, nil, nil
				}
				doomed = append(doomed, g)
			}
		}
		slices.SortFunc(doomed, func(a, b store.Folder) int { return len(b.Path) - len(a.Path) })
		for _, g := range doomed {
			if err := s.store.DeleteFolder(ctx, g.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				code, err := folderErrorStatus(err, folderNotFound)
				return code, nil, err
			}
			delete(known, g.ID)
		}
		return folderOK, nil, nil
	})
}
