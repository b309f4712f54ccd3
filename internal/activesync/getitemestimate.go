package activesync

// GetItemEstimate follows [MS-ASCMD] 2.2.1.9: how many changes a Sync from the given
// key would bring, counted like Sync counts them (diffFolder for mail, diffPIM for
// calendars, contacts, tasks and notes), ignoring the window.

import (
	"context"
	"net/http"
	"strconv"

	"mailroom/internal/wbxml"
)

func (s *Server) getItemEstimate(ctx context.Context, w http.ResponseWriter, r *request) error {
	req, err := decodeBody(r)
	if err != nil {
		return err
	}
	ns := wbxml.NSGetItemEstimate
	resp := wbxml.New(ns, "GetItemEstimate")
	for _, c := range req.Child(ns, "Collections").All(ns, "Collection") {
		collID := c.ChildText(ns, "CollectionId")
		out := resp.Add(ns, "Response")
		status := out.AddText(ns, "Status", text(estimateOK))
		ce := out.Add(ns, "Collection")
		ce.AddText(ns, "CollectionId", collID)
		folder, ok, err := s.ownFolder(ctx, r, collID)
		if err != nil {
			return err
		}
		if !ok {
			status.Text = text(estimateInvalidCollection)
			continue
		}
		role, err := s.folderRole(ctx, folder)
		if err != nil {
			return err
		}
		kind, isPIM := pimKinds[role]
		// 12.1 carries SyncKey and FilterType directly; 14.0 and later in AirSync
		// elements with Options.
		keyText := c.ChildText(wbxml.NSAirSync, "SyncKey")
		ref := stateRef{r.account(), r.deviceID, collID}
		var opts itemOptions
		if isPIM {
			opts, err = s.pimOptions(ctx, ref, c, pimClassNames[role], false)
		} else {
			opts, err = s.syncOptions(ctx, ref, c, false, func() ([]byte, error) { return s.collectionOptions(ctx, ref) })
		}
		if err != nil {
			return err
		}
		if ft := c.ChildText(wbxml.NSAirSync, "FilterType"); ft != "" {
			opts.FilterType, _ = strconv.Atoi(ft)
		}
		key, ok := parseKey(keyText)
		if !ok {
			status.Text = text(estimateInvalidKey)
			continue
		}
		if key == 0 {
			status.Text = text(estimateNotPrimed)
			continue
		}
		st, found, err := s.loadState(ctx, ref, key)
		if err != nil {
			return err
		}
		if !found {
			status.Text = text(estimateInvalidKey)
			continue
		}
		if isPIM {
			held, err := decodePIMHeld(st.items)
			if err != nil {
				status.Text = text(estimateInvalidKey)
				continue
			}
			cur, err := s.members(ctx, folder.ID, kind, held)
			if err != nil {
				return err
			}
			d := diffPIM(cur, held, len(cur)+len(held), s.endedBefore(role, opts.FilterType))
			ce.AddText(ns, "Estimate", strconv.Itoa(len(d.deletes)+len(d.changes)+len(d.adds)))
			continue
		}
		held, err := decodeHeld(st.items)
		if err != nil {
			status.Text = text(estimateInvalidKey)
			continue
		}
		// The estimate counts what Sync would send.
		opts.FilterType = s.filterFor(r, opts.FilterType)
		d, err := s.diffFolder(ctx, folder.ID, held, opts.FilterType, maxWindowSize)
		if err != nil {
			return err
		}
		ce.AddText(ns, "Estimate", strconv.Itoa(d.pending))
	}
	return s.writeWBXML(w, resp)
}
