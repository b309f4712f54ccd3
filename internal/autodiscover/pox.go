package autodiscover

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/directory"
)

// POX Autodiscover ([MS-OXDSCLI] for the outlook schema, [MS-ASCMD] §2.2.1.1 for the
// mobilesync one): the client POSTs an XML request naming an address and the response
// schema it accepts, authenticated with HTTP Basic; the answer is in that schema.
// Namespaces are compared as exact strings, with http:// as the XSDs and clients have
// them.
const (
	nsOutlookRequest  = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
	nsOutlookResponse = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
	nsMobileRequest   = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
	nsMobileResponse  = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
	nsResponse        = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
)

// Error codes of the Error element ([MS-OXDSCLI] 2.2.4.1.1.3.2, [MS-ASCMD] 2.2.3.64).
const (
	codeInvalidRequest = 600 // not a well-formed request in a known schema
	codeNoProvider     = 601 // no provider for the AcceptableResponseSchema
	codeInternal       = 603 // the server failed
)

// poxRequest is a parsed Autodiscover request.
type poxRequest struct {
	// Mobile is set when the request is in the mobilesync request schema, so errors
	// are answered in the mobilesync response schema.
	Mobile                   bool
	EMailAddress             string
	LegacyDN                 string
	AcceptableResponseSchema string
}

// errInvalidRequest is wrapped by every parse failure; the answer is ErrorCode 600.
var errInvalidRequest = errors.New("invalid autodiscover request")

// parseRequest parses a POX request body. Both request schemas have the same shape:
// Autodiscover/Request/{EMailAddress, LegacyDN, AcceptableResponseSchema}. More or
// fewer than one Request is invalid ([MS-ASCMD] 2.2.3.150.1). Even when it fails it
// tells, in Mobile, which schema the request was in if the root element said so.
func parseRequest(body []byte) (poxRequest, error) {
	var doc struct {
		XMLName  xml.Name
		Requests []struct {
			EMailAddress             string `xml:"EMailAddress"`
			LegacyDN                 string `xml:"LegacyDN"`
			AcceptableResponseSchema string `xml:"AcceptableResponseSchema"`
		} `xml:"Request"`
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = true
	// encoding/xml reads UTF-8 only; it expands no external entities and fetches
	// nothing, so a hostile DOCTYPE can do no harm.
	err := dec.Decode(&doc)
	req := poxRequest{Mobile: doc.XMLName.Space == nsMobileRequest}
	if err != nil {
		return req, fmt.Errorf("%w: %w", errInvalidRequest, err)
	}
	if doc.XMLName.Local != "Autodiscover" || (doc.XMLName.Space != nsOutlookRequest && !req.Mobile) {
		return req, fmt.Errorf("%w: root element {%s}%s", errInvalidRequest, doc.XMLName.Space, doc.XMLName.Local)
	}
	if len(doc.Requests) != 1 {
		return req, fmt.Errorf("%w: %d Request elements", errInvalidRequest, len(doc.Requests))
	}
	r := doc.Requests[0]
	req.EMailAddress = strings.TrimSpace(r.EMailAddress)
	req.LegacyDN = strings.TrimSpace(r.LegacyDN)
	req.AcceptableResponseSchema = strings.TrimSpace(r.AcceptableResponseSchema)
	if req.AcceptableResponseSchema == "" {
		return req, fmt.Errorf("%w: no AcceptableResponseSchema", errInvalidRequest)
	}
	return req, nil
}

// servePOX answers POST /autodiscover/autodiscover.xml.
func (h *Handler) servePOX(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		h.redirectToHTTPS(w, r)
		return
	}
	if !allowMethods(w, r, http.MethodPost, http.MethodGet) {
		return
	}
	u, creds, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	if r.Method == http.MethodGet {
		// A GET carries no request; Exchange answers a signed-in browser with the
		// same 600 Invalid Request.
		writePOXError(w, false, http.StatusBadRequest, codeInvalidRequest, "Invalid Request")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writePOXError(w, false, http.StatusRequestEntityTooLarge, codeInvalidRequest, "Invalid Request")
			return
		}
		h.log.Info("read request", "remote", r.RemoteAddr, "err", err)
		writePOXError(w, false, http.StatusBadRequest, codeInvalidRequest, "Invalid Request")
		return
	}
	req, err := parseRequest(body)
	if err != nil {
		h.log.Info("bad request", "remote", r.RemoteAddr, "user", u.Address, "err", err)
		writePOXError(w, req.Mobile, http.StatusBadRequest, codeInvalidRequest, "Invalid Request")
		return
	}
	mobile := false
	switch req.AcceptableResponseSchema {
	case nsOutlookResponse:
	case nsMobileResponse:
		mobile = true
		if h.services.ActiveSync == "" {
			writePOXError(w, true, http.StatusOK, codeNoProvider, "Provider is not available")
			return
		}
	default:
		writePOXError(w, req.Mobile, http.StatusOK, codeNoProvider, "The requested schema is not available")
		return
	}
	// MS-OXDSCLI 3.2.5 lets LegacyDN win over EMailAddress, but Mailroom hands out no
	// LegacyDNs, so one can only name a mailbox elsewhere: the address decides.
	if req.EMailAddress == "" {
		writePOXError(w, mobile, http.StatusBadRequest, codeInvalidRequest, "Invalid Request")
		return
	}
	mine, err := h.owns(r.Context(), u, req.EMailAddress)
	if err != nil {
		h.log.Error("look up address", "address", req.EMailAddress, "err", err)
		writePOXError(w, mobile, http.StatusInternalServerError, codeInternal, "Internal Server Error")
		return
	}
	if !mine {
		// Someone else's address and no one's are refused alike, with the answer a
		// wrong password gets, so a signed-in user learns nothing about others.
		h.log.Info("address not the user's", "remote", r.RemoteAddr, "user", u.Address)
		h.unauthorized(w, creds)
		return
	}
	if mobile {
		writeXML(w, http.StatusOK, h.mobileSettings(u, req.EMailAddress))
		return
	}
	if len(h.outlookProtocols(u)) == 0 {
		writePOXError(w, false, http.StatusOK, codeNoProvider, "No mail protocol is offered")
		return
	}
	writeXML(w, http.StatusOK, h.outlookSettings(u, req.EMailAddress))
}

// outlookDoc is the outlook-schema response ([MS-OXDSCLI] 2.2.4.1).
type outlookDoc struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response outlookResponse
}

type outlookResponse struct {
	XMLName xml.Name        `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Response"`
	User    *outlookUser    `xml:"User,omitempty"`
	Account *outlookAccount `xml:"Account,omitempty"`
	Error   *poxError       `xml:"Error,omitempty"`
}

type outlookUser struct {
	DisplayName             string `xml:"DisplayName"`
	AutoDiscoverSMTPAddress string `xml:"AutoDiscoverSMTPAddress"`
}

type outlookAccount struct {
	AccountType  string            `xml:"AccountType"`
	Action       string            `xml:"Action"`
	RedirectAddr string            `xml:"RedirectAddr,omitempty"`
	Protocols    []outlookProtocol `xml:"Protocol"`
}

// outlookProtocol is one POP3, IMAP or SMTP Protocol element, children in the order of
// Microsoft's Protocol (POX) reference, with Encryption after SSL, which it refines.
type outlookProtocol struct {
	Type           string `xml:"Type"`
	Server         string `xml:"Server"`
	Port           int    `xml:"Port"`
	LoginName      string `xml:"LoginName"`
	DomainRequired string `xml:"DomainRequired"`
	SPA            string `xml:"SPA"`
	SSL            string `xml:"SSL"`
	Encryption     string `xml:"Encryption"`
	AuthRequired   string `xml:"AuthRequired"`
}

// poxError is the Error element both schemas share ([MS-OXDSCLI] 2.2.4.1.1.3,
// [MS-ASCMD] 4.2.4).
type poxError struct {
	Time      string `xml:"Time,attr"`
	ID        string `xml:"Id,attr"`
	ErrorCode int    `xml:"ErrorCode"`
	Message   string `xml:"Message"`
	DebugData string `xml:"DebugData"`
}

// outlookSettings answers an outlook-schema request for address, which is u's. An
// alias or UPN gets redirectAddr to the primary address, and the client starts over
// with it ([MS-OXDSCLI] 3.2.5).
func (h *Handler) outlookSettings(u directory.User, address string) outlookDoc {
	doc := outlookDoc{Response: outlookResponse{
		User: &outlookUser{DisplayName: u.DisplayName, AutoDiscoverSMTPAddress: u.Address},
	}}
	if !strings.EqualFold(address, u.Address) {
		doc.Response.Account = &outlookAccount{AccountType: "email", Action: "redirectAddr", RedirectAddr: u.Address}
		return doc
	}
	doc.Response.Account = &outlookAccount{AccountType: "email", Action: "settings", Protocols: h.outlookProtocols(u)}
	return doc
}

// outlookProtocols lists the offered mail protocols, IMAP first so clients prefer it.
// IMAP and POP3 get their implicit-TLS port and submission its STARTTLS port when both
// exist, as Outlook's own settings do.
func (h *Handler) outlookProtocols(u directory.User) []outlookProtocol {
	var out []outlookProtocol
	for _, s := range []struct {
		typ           string
		svc           MailService
		implicitFirst bool
	}{
		{"IMAP", h.services.IMAP, true},
		{"SMTP", h.services.Submission, false},
		{"POP3", h.services.POP3, true},
	} {
		ep, ok := s.svc.preferred(s.implicitFirst)
		if !ok {
			continue
		}
		// Encryption "SSL" is TLS from the start, "TLS" is STARTTLS; SSL on says the
		// connection is secured either way.
		enc := "SSL"
		if ep.Security == STARTTLS {
			enc = "TLS"
		}
		out = append(out, outlookProtocol{
			Type: s.typ, Server: ep.Host, Port: ep.Port, LoginName: u.Address,
			DomainRequired: "off", SPA: "off", SSL: "on", Encryption: enc, AuthRequired: "on",
		})
	}
	return out
}

// writePOXError writes an Error response in the outlook schema or, if mobile, the
// mobilesync schema.
func writePOXError(w http.ResponseWriter, mobile bool, status, code int, message string) {
	e := &poxError{
		// Time of day and an id, as Exchange sends, so a report from a user can be
		// matched with the log.
		Time:      time.Now().UTC().Format("15:04:05.0000000"),
		ID:        strconv.FormatUint(uint64(rand.Uint32()), 10),
		ErrorCode: code,
		Message:   message,
	}
	if mobile {
		writeXML(w, status, mobileDoc{Response: mobileResponse{Error: e}})
		return
	}
	writeXML(w, status, outlookDoc{Response: outlookResponse{Error: e}})
}

// writeXML writes v as an XML document.
func writeXML(w http.ResponseWriter, status int, v any) {
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		// Only a programming error makes the fixed response types fail to encode.
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(out)
	w.Write([]byte("\n"))
}
