package activesync

// MoveItems follows [MS-ASCMD] 2.2.1.12: each Move names a message and two folders; the
// answer gives the message's new ServerId. The device already shows the message in
// its new place, so its sync states are updated to hold it there and not there.

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

func (s *Server) moveItems(ctx context.Context, w http.ResponseWriter, r *request) error {
	req, err := decodeBody(r)
	if err != nil {
		return err
	}
	ns := wbxml.NSMove
	resp := wbxml.New(ns, "MoveItems")
	for _, mv := range req.All(ns, "Move") {
		src := mv.ChildText(ns, "SrcMsgId")
		out := resp.Add(ns, "Response")
		out.AddText(ns, "SrcMsgId", src)
		status := out.AddText(ns, "Status", text(moveOK))
		from, ok, err := s.ownFolder(ctx, r, mv.ChildText(ns, "SrcFldId"))
		if err != nil {
			return err
		}
		f, uid, idOK := parseItemID(src)
		if !ok || !idOK || f != from.ID {
			status.Text = text(moveBadSource)
			continue
		}
		to, ok, err := s.ownFolder(ctx, r, mv.ChildText(ns, "DstFldId"))
		if err != nil {
			return err
		}
		switch {
		case !ok:
			status.Text = text(moveBadDest)
			continue
		case to.ID == from.ID:
			status.Text = text(moveSameFolder)
			continue
		}
		res, err := s.store.Move(ctx, from.ID, []store.UID{uid}, to.ID)
		switch {
		case errors.Is(err, store.ErrNotFound), err == nil && len(res.Dest) == 0:
			status.Text = text(moveBadSource)
			continue
		case err != nil:
			s.log.Error("move", "user", r.user.Address, "item", src, "err", err)
			status.Text = text(moveServerError)
			continue
		}
		newUID := res.Dest[0]
		out.AddText(ns, "DstMsgId", itemServerID(to.ID, newUID))
		if err := s.noteMove(ctx, r, from.ID, uid, to.ID, newUID); err != nil {
			return err
		}
	}
	return s.writeWBXML(w, resp)
}

// noteMove updates the device's newest sync states of both folders: the message left
// the one and is held in the other, so neither Sync reports the move back.
func (s *Server) noteMove(ctx context.Context, r *request, from store.FolderID, uid store.UID, to store.FolderID, newUID store.UID) error {
	err := s.editNewestState(ctx, stateRef{r.account(), r.deviceID, folderServerID(from)}, func(held heldItems) error {
		delete(held, uid)
		return nil
	})
	if err != nil {
		return err
	}
	return s.editNewestState(ctx, stateRef{r.account(), r.deviceID, folderServerID(to)}, func(held heldItems) error {
		infos, err := s.store.Infos(ctx, to, []store.UID{newUID})
		if err != nil {
			return fmt.Errorf("message %d:%d: %w", to, newUID, err)
		}
		for _, m := range infos {
			held[m.UID] = m.ModSeq
		}
		return nil
	})
}

// editNewestState changes what the newest state of a collection says the device
// holds. A collection the device never synced, or whose state cannot be read (the
// device will start it over), is left alone.
func (s *Server) editNewestState(ctx context.Context, ref stateRef, edit func(heldItems) error) error {
	defer s.lockState(ref)()
	st, found, err := s.newestState(ctx, ref)
	if err != nil || !found {
		return err
	}
	held, err := decodeHeld(st.items)
	if err != nil {
		return nil
	}
	if err := edit(held); err != nil {
		return err
	}
	st.items = held.encode()
	return s.updateState(ctx, ref, st)
}
