package activesync

// Settings follows [MS-ASCMD] 2.2.1.18: DeviceInformation Set and UserInformation Get.
// Out of office and device password recovery are not offered and answer status 2.

import (
	"context"
	"net/http"

	"mailroom/internal/wbxml"
)

func (s *Server) settings(ctx context.Context, w http.ResponseWriter, r *request) error {
	req, err := decodeBody(r)
	if err != nil {
		return err
	}
	resp := wbxml.New(wbxml.NSSettings, "Settings")
	resp.AddText(wbxml.NSSettings, "Status", text(settingsOK))
	for _, c := range req.Children {
		if c.Space != wbxml.NSSettings {
			continue
		}
		switch c.Name {
		case "DeviceInformation":
			if err := s.saveDeviceInformation(ctx, r, c.Child(wbxml.NSSettings, "Set")); err != nil {
				return err
			}
			resp.Add(wbxml.NSSettings, "DeviceInformation").AddText(wbxml.NSSettings, "Status", text(settingsOK))
		case "UserInformation":
			ui := resp.Add(wbxml.NSSettings, "UserInformation")
			ui.AddText(wbxml.NSSettings, "Status", text(settingsOK))
			get := ui.Add(wbxml.NSSettings, "Get")
			addrs := append([]string{r.user.Address}, r.user.Aliases...)
			if r.version >= 141 {
				acc := get.Add(wbxml.NSSettings, "Accounts").Add(wbxml.NSSettings, "Account")
				acc.AddText(wbxml.NSSettings, "UserDisplayName", r.user.DisplayName)
				ea := acc.Add(wbxml.NSSettings, "EmailAddresses")
				ea.AddText(wbxml.NSSettings, "PrimarySmtpAddress", r.user.Address)
				for _, a := range addrs {
					ea.AddText(wbxml.NSSettings, "SMTPAddress", a)
				}
			} else {
				ea := get.Add(wbxml.NSSettings, "EmailAddresses")
				for _, a := range addrs {
					ea.AddText(wbxml.NSSettings, "SMTPAddress", a)
				}
			}
		case "Oof", "DevicePassword":
			resp.Add(wbxml.NSSettings, c.Name).AddText(wbxml.NSSettings, "Status", text(settingsProtocolError))
		}
	}
	return s.writeWBXML(w, resp)
}
