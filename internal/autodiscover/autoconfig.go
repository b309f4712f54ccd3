package autodiscover

import (
	"encoding/xml"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mailroom/internal/directory"
)

// Mozilla autoconfig (wiki.mozilla.org Thunderbird:Autoconfiguration:ConfigFileFormat,
// draft-bucksch-autoconfig): Thunderbird, Evolution, KMail and others GET
// config-v1.1.xml from autoconfig.DOMAIN or DOMAIN/.well-known/autoconfig/, without
// credentials, and get every server of the provider. The file names no user, only
// placeholders, so it is the same for every address.

// clientConfig is the config-v1.1.xml document.
type clientConfig struct {
	XMLName  xml.Name      `xml:"clientConfig"`
	Version  string        `xml:"version,attr"`
	Provider emailProvider `xml:"emailProvider"`
	// addressBook and calendar are siblings of emailProvider.
	AddressBooks []davService `xml:"addressBook"`
	Calendars    []davService `xml:"calendar"`
}

type emailProvider struct {
	ID               string           `xml:"id,attr"`
	Domains          []string         `xml:"domain"`
	DisplayName      string           `xml:"displayName"`
	DisplayShortName string           `xml:"displayShortName"`
	Incoming         []autoconfServer `xml:"incomingServer"`
	Outgoing         []autoconfServer `xml:"outgoingServer"`
}

// autoconfServer is an incomingServer or outgoingServer. Several of one type are
// listed in order of preference; the client takes the first and keeps the others as
// alternatives.
type autoconfServer struct {
	Type     string `xml:"type,attr"`
	Hostname string `xml:"hostname"`
	Port     int    `xml:"port"`
	// SocketType is "SSL" for implicit TLS or "STARTTLS"; Mailroom offers no "plain".
	SocketType     string `xml:"socketType"`
	Authentication string `xml:"authentication"`
	Username       string `xml:"username"`
	// EASURL is set for type "exchange", the Thunderbird extension whose reader takes
	// owaURL, exchangeURL (EWS) and easURL; Mailroom has only the last.
	EASURL string `xml:"easURL,omitempty"`
}

// davService is an addressBook (carddav) or calendar (caldav) entry.
type davService struct {
	Type           string `xml:"type,attr"`
	Username       string `xml:"username"`
	Authentication string `xml:"authentication"`
	ServerURL      string `xml:"serverURL"`
}

// Placeholders the client replaces; Mailroom logs in with the full address.
const (
	emailAddressPlaceholder = "%EMAILADDRESS%"
	passwordCleartext       = "password-cleartext" // AUTH PLAIN/LOGIN inside TLS
)

// serveAutoconfig answers config-v1.1.xml, over HTTPS and plain HTTP alike: it holds
// nothing secret, and Thunderbird asks http://autoconfig.DOMAIN too.
func (h *Handler) serveAutoconfig(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	domains, err := h.dir.Domains(r.Context())
	if err != nil {
		h.log.Error("list domains", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	names := make([]string, len(domains))
	for i, d := range domains {
		names[i] = d.Name
	}
	id := h.providerDomain(r, domains)
	if len(names) == 0 {
		names = []string{id}
	}
	writeXML(w, http.StatusOK, h.clientConfig(id, names))
}

// clientConfig builds the document for provider id serving domains.
func (h *Handler) clientConfig(id string, domains []string) clientConfig {
	short, _, _ := strings.Cut(id, ".")
	cc := clientConfig{
		Version: "1.1",
		Provider: emailProvider{
			ID: id, Domains: domains, DisplayName: id, DisplayShortName: short,
		},
	}
	for _, s := range []struct {
		typ           string
		svc           MailService
		implicitFirst bool
	}{
		{"imap", h.services.IMAP, true},
		{"pop3", h.services.POP3, true},
	} {
		for _, ep := range s.svc.endpoints(s.implicitFirst) {
			cc.Provider.Incoming = append(cc.Provider.Incoming, mailServer(s.typ, ep))
		}
	}
	if h.services.ActiveSync != "" {
		if u, err := url.Parse(h.services.ActiveSync); err == nil && u.Hostname() != "" {
			port := portHTTPS
			if p, err := strconv.Atoi(u.Port()); err == nil {
				port = p
			}
			cc.Provider.Incoming = append(cc.Provider.Incoming, autoconfServer{
				Type: "exchange", Hostname: u.Hostname(), Port: port, SocketType: "SSL",
				Authentication: passwordCleartext, Username: emailAddressPlaceholder,
				EASURL: h.services.ActiveSync,
			})
		}
	}
	// Submission on its STARTTLS port first, as for the other clients; implicit TLS
	// (RFC 8314) as the alternative.
	for _, ep := range h.services.Submission.endpoints(false) {
		cc.Provider.Outgoing = append(cc.Provider.Outgoing, mailServer("smtp", ep))
	}
	if h.services.CardDAV != "" {
		cc.AddressBooks = []davService{{Type: "carddav", Username: emailAddressPlaceholder,
			Authentication: "http-basic", ServerURL: h.services.CardDAV}}
	}
	if h.services.CalDAV != "" {
		cc.Calendars = []davService{{Type: "caldav", Username: emailAddressPlaceholder,
			Authentication: "http-basic", ServerURL: h.services.CalDAV}}
	}
	return cc
}

func mailServer(typ string, ep endpoint) autoconfServer {
	socket := "SSL"
	if ep.Security == STARTTLS {
		socket = "STARTTLS"
	}
	return autoconfServer{
		Type: typ, Hostname: ep.Host, Port: ep.Port, SocketType: socket,
		Authentication: passwordCleartext, Username: emailAddressPlaceholder,
	}
}

// providerDomain picks the emailProvider id: the domain the Host header names
// (autoconfig.DOMAIN, or DOMAIN itself for the .well-known path), else the domain of the
// emailaddress parameter, else the parent of this server's host name — each only if it
// is one of the organisation's domains; failing all, the first domain.
func (h *Handler) providerDomain(r *http.Request, domains []directory.Domain) string {
	ours := func(d string) bool {
		d = strings.TrimSuffix(strings.ToLower(d), ".")
		for _, dom := range domains {
			if dom.Name == d {
				return true
			}
		}
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	_, emailDomain, _ := strings.Cut(queryValue(r, "emailaddress"), "@")
	_, parent, _ := strings.Cut(h.hostname, ".")
	for _, c := range []string{strings.TrimPrefix(host, "autoconfig."), emailDomain, parent} {
		if c != "" && ours(c) {
			return strings.TrimSuffix(strings.ToLower(c), ".")
		}
	}
	if len(domains) > 0 {
		return domains[0].Name
	}
	if parent != "" {
		return parent
	}
	return h.hostname
}
