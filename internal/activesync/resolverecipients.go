package activesync

// ResolveRecipients follows [MS-ASCMD] 2.2.1.15: each To is resolved against the
// directory (the GAL) by address or name prefix. Certificates, availability and
// pictures are not offered; a request for them gets the recipients without them.

import (
	"context"
	"net/http"
	"strconv"

	"mailroom/internal/wbxml"
)

// defaultAmbiguous is how many suggestions an ambiguous name gets unless the device
// asks otherwise.
const defaultAmbiguous = 20

func (s *Server) resolveRecipients(ctx context.Context, w http.ResponseWriter, r *request) error {
	req, err := decodeBody(r)
	if err != nil {
		return err
	}
	ns := wbxml.NSResolveRecipients
	resp := wbxml.New(ns, "ResolveRecipients")
	top := resp.AddText(ns, "Status", text(resolveOK))
	limit := defaultAmbiguous
	if v := req.Child(ns, "Options").ChildText(ns, "MaxAmbiguousRecipients"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			top.Text = text(resolveProtocolError)
			return s.writeWBXML(w, resp)
		}
		limit = min(n, 100)
	}
	tos := req.All(ns, "To")
	if len(tos) == 0 || len(tos) > 100 {
		top.Text = text(resolveProtocolError)
		return s.writeWBXML(w, resp)
	}
	for _, to := range tos {
		out := resp.Add(ns, "Response")
		out.AddText(ns, "To", to.Text)
		status := out.AddText(ns, "Status", text(resolveOK))
		matches, err := s.galMatches(ctx, to.Text)
		if err != nil {
			return err
		}
		// An exact address is unambiguous even if it is also a prefix of others.
		for _, u := range matches {
			if u.Address == to.Text {
				matches = matches[:0]
				matches = append(matches, u)
				break
			}
		}
		switch {
		case len(matches) == 0:
			status.Text = text(resolveNotFound)
		case len(matches) > 1 && len(matches) <= limit:
			status.Text = text(resolveAmbiguous)
		case len(matches) > 1:
			status.Text = text(resolveAmbiguousSome)
		}
		shown := matches
		if len(shown) > 1 {
			shown = shown[:min(len(shown), limit)]
		}
		out.AddText(ns, "RecipientCount", strconv.Itoa(len(shown)))
		for _, u := range shown {
			rc := out.Add(ns, "Recipient")
			rc.AddText(ns, "Type", "1") // from the GAL
			rc.AddText(ns, "DisplayName", cleanText(u.DisplayName))
			rc.AddText(ns, "EmailAddress", u.Address)
		}
	}
	return s.writeWBXML(w, resp)
}
