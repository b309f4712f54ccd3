package activesync

// ItemOperations follows [MS-ASCMD] 2.2.1.10: Fetch of a message (body in the preferred
// form, or MIME) or of an attachment by FileReference ([MS-ASAIRS] 2.2.2.24), with an
// optional byte Range, and EmptyFolderContents. Results are inline; the multipart form
// (MS-ASAcceptMultiPart) is not offered, which the spec allows.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/mime"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

func (s *Server) itemOperations(ctx context.Context, w http.ResponseWriter, r *request) error {
	req, err := decodeBody(r)
	if err != nil {
		return err
	}
	ns := wbxml.NSItemOperations
	resp := wbxml.New(ns, "ItemOperations")
	resp.AddText(ns, "Status", text(itemOpOK))
	out := resp.Add(ns, "Response")
	for _, op := range req.Children {
		if op.Space != ns {
			continue
		}
		switch op.Name {
		case "Fetch":
			e, err := s.fetch(ctx, r, op)
			if err != nil {
				return err
			}
			out.Children = append(out.Children, e)
		case "EmptyFolderContents":
			e, err := s.emptyFolder(ctx, r, op)
			if err != nil {
				return err
			}
			out.Children = append(out.Children, e)
		default:
			resp.Children[0].Text = text(itemOpProtocolError)
		}
	}
	return s.writeWBXML(w, resp)
}

// fetch answers one Fetch.
func (s *Server) fetch(ctx context.Context, r *request, op *wbxml.Element) (*wbxml.Element, error) {
	ns := wbxml.NSItemOperations
	e := wbxml.New(ns, "Fetch")
	status := e.AddText(ns, "Status", text(itemOpOK))
	if st := op.ChildText(ns, "Store"); !strings.EqualFold(st, "Mailbox") {
		status.Text = text(itemOpBadStore)
		return e, nil
	}
	opts := parseOptions(op.Child(ns, "Options"))
	if ref := op.ChildText(wbxml.NSAirSyncBase, "FileReference"); ref != "" {
		e.AddText(wbxml.NSAirSyncBase, "FileReference", ref)
		code, err := s.fetchAttachment(ctx, r, ref, op.Child(ns, "Options").ChildText(ns, "Range"), e)
		status.Text = text(code)
		return e, err
	}
	collID, sid := op.ChildText(wbxml.NSAirSync, "CollectionId"), op.ChildText(wbxml.NSAirSync, "ServerId")
	if long := op.ChildText(wbxml.NSSearch, "LongId"); sid == "" && long != "" {
		// A Search result: its LongId is the message's ServerId.
		sid = long
		e.AddText(wbxml.NSSearch, "LongId", long)
	} else {
		if collID != "" {
			e.AddText(wbxml.NSAirSync, "CollectionId", collID)
		}
		e.AddText(wbxml.NSAirSync, "ServerId", sid)
	}
	m, found, err := s.ownMessage(ctx, r, sid)
	if err != nil || !found {
		status.Text = text(itemOpNotFound)
		return e, err
	}
	raw, err := s.store.Raw(ctx, m.ID)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", sid, err)
	}
	e.AddText(wbxml.NSAirSync, "Class", "Email")
	renderEmail(e.Add(ns, "Properties"), &m, raw, opts, true, r.version)
	return e, nil
}

// ownMessage finds the account's message named by a ServerId.
func (s *Server) ownMessage(ctx context.Context, r *request, sid string) (store.Message, bool, error) {
	f, uid, ok := parseItemID(sid)
	if !ok {
		return store.Message{}, false, nil
	}
	if _, mine, err := s.ownFolder(ctx, r, folderServerID(f)); err != nil || !mine {
		return store.Message{}, false, err
	}
	m, err := s.store.MessageByUID(ctx, f, uid)
	if errors.Is(err, store.ErrNotFound) {
		return store.Message{}, false, nil
	}
	if err != nil {
		return store.Message{}, false, fmt.Errorf("message %s: %w", sid, err)
	}
	return m, true, nil
}

// fetchAttachment writes an attachment's Properties: ContentType and the bytes as
// base64 Data, or the requested Range of them with Total.
func (s *Server) fetchAttachment(ctx context.Context, r *request, ref, rng string, e *wbxml.Element) (itemOpStatus, error) {
	f, uid, section, ok := parseFileReference(ref)
	if !ok {
		return itemOpNotFound, nil
	}
	m, found, err := s.ownMessage(ctx, r, itemServerID(f, uid))
	if err != nil || !found {
		return itemOpNotFound, err
	}
	raw, err := s.store.Raw(ctx, m.ID)
	if err != nil {
		return 0, fmt.Errorf("attachment %s: %w", ref, err)
	}
	msg := mime.Message{Envelope: m.Envelope, Root: m.Root}
	p, ok := msg.PartAt(section)
	if !ok {
		return itemOpNotFound, nil
	}
	data, err := p.DecodedBody(raw)
	if err != nil {
		return itemOpConversion, nil
	}
	ns := wbxml.NSItemOperations
	props := wbxml.New(ns, "Properties")
	total := len(data)
	if rng != "" {
		lo, hi, ok := parseRange(rng)
		if !ok || lo >= total {
			return itemOpBadRange, nil
		}
		data = data[lo:min(hi+1, total)]
		props.AddText(ns, "Range", fmt.Sprintf("%d-%d", lo, lo+len(data)-1))
		props.AddText(ns, "Total", strconv.Itoa(total))
	}
	props.AddText(wbxml.NSAirSyncBase, "ContentType", p.Type+"/"+p.Subtype)
	props.AddText(ns, "Data", base64.StdEncoding.EncodeToString(data))
	e.Children = append(e.Children, props)
	return itemOpOK, nil
}

// parseRange reads "first-last", both inclusive ([MS-ASCMD] 2.2.3.140.1).
func parseRange(s string) (int, int, bool) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	return lo, hi, ok && err1 == nil && err2 == nil && lo >= 0 && hi >= lo
}

// emptyFolder answers EmptyFolderContents: every message of the folder goes for good,
// and with DeleteSubFolders its user-created subfolders too.
func (s *Server) emptyFolder(ctx context.Context, r *request, op *wbxml.Element) (*wbxml.Element, error) {
	ns := wbxml.NSItemOperations
	e := wbxml.New(ns, "EmptyFolderContents")
	status := e.AddText(ns, "Status", text(itemOpOK))
	collID := op.ChildText(wbxml.NSAirSync, "CollectionId")
	e.AddText(wbxml.NSAirSync, "CollectionId", collID)
	folder, ok, err := s.ownFolder(ctx, r, collID)
	if err != nil || !ok {
		status.Text = text(itemOpNotFound)
		return e, err
	}
	infos, err := s.store.List(ctx, folder.ID)
	if err != nil {
		return nil, fmt.Errorf("list folder %d: %w", folder.ID, err)
	}
	if len(infos) > 0 {
		uids := make([]store.UID, len(infos))
		for i, m := range infos {
			uids[i] = m.UID
		}
		if _, err := s.store.Expunge(ctx, folder.ID, uids); err != nil {
			return nil, fmt.Errorf("empty folder %d: %w", folder.ID, err)
		}
	}
	if op.Child(ns, "Options").Child(ns, "DeleteSubFolders") == nil {
		return e, nil
	}
	all, err := s.store.Folders(ctx, r.account())
	if err != nil {
		return nil, fmt.Errorf("folders: %w", err)
	}
	var subs []store.Folder
	for _, g := range all {
		if len(g.Path) > len(folder.Path) && slices.Equal(g.Path[:len(folder.Path)], folder.Path) {
			subs = append(subs, g)
		}
	}
	slices.SortFunc(subs, func(a, b store.Folder) int { return len(b.Path) - len(a.Path) })
	for _, g := range subs {
		if g.Role != store.RoleNone {
			status.Text = text(itemOpPartial)
			continue
		}
		if err := s.store.DeleteFolder(ctx, g.ID); err != nil {
			if errors.Is(err, store.ErrHasChildren) || errors.Is(err, store.ErrNotFound) {
				status.Text = text(itemOpPartial)
				continue
			}
			return nil, fmt.Errorf("delete folder %d: %w", g.ID, err)
		}
	}
	return e, nil
}
