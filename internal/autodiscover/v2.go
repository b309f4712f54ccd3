package autodiscover

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Autodiscover v2: an unauthenticated GET, used by Outlook for iOS and Android and
// newer Outlook, that returns one URL for one protocol as JSON. Two forms:
//
//	/autodiscover/autodiscover.json?Email=user@example.com&Protocol=ActiveSync
//	/autodiscover/autodiscover.json/v1.0/user@example.com?Protocol=ActiveSync
//
// The answer depends only on the protocol, never on whether the address exists.

// v2Response is the success body: {"Protocol":"ActiveSync","Url":"https://…"}.
type v2Response struct {
	Protocol string `json:"Protocol"`
	URL      string `json:"Url"`
}

// v2Error is the error body: {"ErrorCode":"InvalidProtocol","ErrorMessage":"…"}.
type v2Error struct {
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

// serveV2 answers both forms of Autodiscover v2.
func (h *Handler) serveV2(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	email := queryValue(r, "Email")
	if strings.HasPrefix(lowerASCII(r.URL.Path), pathV2Prefix) {
		email = r.URL.Path[len(pathV2Prefix):]
	}
	// Protocol names are matched case-insensitively: "Autodiscoverv1" and "rest"
	// occur in the wild. Only the protocols Mailroom offers are answered.
	offered := h.v2Protocols()
	protocol := queryValue(r, "Protocol")
	var match *v2Response
	for i := range offered {
		if strings.EqualFold(offered[i].Protocol, protocol) {
			match = &offered[i]
		}
	}
	if match == nil {
		names := make([]string, len(offered))
		for i, o := range offered {
			names[i] = o.Protocol
		}
		writeJSON(w, http.StatusBadRequest, v2Error{
			ErrorCode: "InvalidProtocol",
			ErrorMessage: "The given protocol value '" + protocol + "' is invalid. Supported values are '" +
				strings.Join(names, ",") + "'",
		})
		return
	}
	local, domain, ok := strings.Cut(strings.TrimSpace(email), "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		writeJSON(w, http.StatusBadRequest, v2Error{
			ErrorCode:    "InvalidUser",
			ErrorMessage: "The given email address '" + email + "' is invalid.",
		})
		return
	}
	writeJSON(w, http.StatusOK, match)
}

// v2Protocols lists the protocols v2 answers, with their URLs. Ews is not among them:
// Mailroom has no EWS endpoint yet.
func (h *Handler) v2Protocols() []v2Response {
	var out []v2Response
	if h.services.ActiveSync != "" {
		out = append(out, v2Response{Protocol: "ActiveSync", URL: h.services.ActiveSync})
	}
	if h.services.HTTPS != "" {
		out = append(out, v2Response{Protocol: "AutodiscoverV1", URL: h.services.HTTPS + pathPOX})
	}
	return out
}

// writeJSON writes v as a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	out, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(out)
}
