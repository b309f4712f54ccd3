package autodiscover

import (
	"encoding/xml"
	"strings"

	"mailroom/internal/directory"
)

// The mobilesync schema ([MS-ASCMD] §2.2.1.1, XSD §6.2, example §4.2.4): Exchange
// ActiveSync clients learn the URL of the ActiveSync endpoint.

// mobileDoc is the mobilesync-schema response.
type mobileDoc struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response mobileResponse
}

type mobileResponse struct {
	XMLName xml.Name      `xml:"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006 Response"`
	Culture string        `xml:"Culture,omitempty"`
	User    *mobileUser   `xml:"User,omitempty"`
	Action  *mobileAction `xml:"Action,omitempty"`
	Error   *poxError     `xml:"Error,omitempty"`
}

type mobileUser struct {
	DisplayName  string `xml:"DisplayName,omitempty"`
	EMailAddress string `xml:"EMailAddress"`
}

type mobileAction struct {
	// Redirect is an address to start over with ([MS-ASCMD] 2.2.3.135.1).
	Redirect string          `xml:"Redirect,omitempty"`
	Settings *mobileSettings `xml:"Settings,omitempty"`
}

type mobileSettings struct {
	Servers []mobileServer `xml:"Server"`
}

// mobileServer is a Server element; for Type MobileSync, Name repeats the URL
// ([MS-ASCMD] 2.2.3.120.1).
type mobileServer struct {
	Type string `xml:"Type"`
	URL  string `xml:"Url"`
	Name string `xml:"Name"`
}

// mobileSettings answers a mobilesync request for address, which is u's: the
// ActiveSync URL, or a Redirect to the primary address for an alias or UPN.
func (h *Handler) mobileSettings(u directory.User, address string) mobileDoc {
	resp := mobileResponse{
		// "en:us" is the form of the MS-ASCMD example; Mailroom is not localised.
		Culture: "en:us",
		User:    &mobileUser{DisplayName: u.DisplayName, EMailAddress: u.Address},
	}
	if !strings.EqualFold(address, u.Address) {
		resp.Action = &mobileAction{Redirect: u.Address}
		return mobileDoc{Response: resp}
	}
	url := h.services.ActiveSync
	resp.Action = &mobileAction{Settings: &mobileSettings{Servers: []mobileServer{{Type: "MobileSync", URL: url, Name: url}}}}
	return mobileDoc{Response: resp}
}
