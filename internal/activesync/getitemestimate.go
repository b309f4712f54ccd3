package activesync

// GetItemEstimate follows [MS-ASCMD] 2.2.1.9: how many changes a Sync from the given
// key would bring, counted like Sync counts them (diffFolder), ignoring the window.

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
		// 12.1 carries SyncKey and FilterType directly; 14.0 and later in AirSync
		// elements with Options.
		keyText := c.ChildText(wbxml.NSAirSync, "SyncKey")
		ref := stateRef{r.account(), r.deviceID, collID}
		opts, err := s.syncOptions(ctx, ref, c, false, func() ([]byte, error) { return s.collectionOptions(ctx, ref) })
		if err != nil {
			return err
		}
		if ft := c.ChildText(wbxml.NSAirSync, "FilterType"); ft != "" {
			opts.FilterType, _ = strconv.Atoi(ft)
		}
		// The estimate counts what Sync would send.
		opts.FilterType = s.filterFor(r, opts.FilterType)
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
		held, err := decodeHeld(st.items)
		if err != nil {
			status.Text = text(estimateInvalidKey)
			continue
		}
		d, err := s.diffFolder(ctx, folder.ID, held, opts.FilterType, maxWindowSize)
		if err != nil {
			return err
		}
		ce.AddText(ns, "Estimate", strconv.Itoa(d.pending))
	}
	return s.writeWBXML(w, resp)
}
