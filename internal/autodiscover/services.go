package autodiscover

import (
	"net"
	"strconv"

	"mailroom/internal/config"
)

// Services is what this server offers clients, as they must reach it: host names and
// the ports seen from outside. A zero field is a service not offered.
type Services struct {
	IMAP MailService
	POP3 MailService
	// Submission is SMTP for users sending mail (RFC 6409, RFC 8314), never the MX.
	Submission MailService
	// HTTPS is the base URL of the HTTPS listener, "https://mail.example.test" or with
	// a port; Autodiscover answers there and plain-HTTP requests are sent there.
	HTTPS string
	// ActiveSync is the Exchange ActiveSync URL,
	// "https://mail.example.test/Microsoft-Server-ActiveSync".
	ActiveSync string
	// CalDAV and CardDAV are the URLs clients start discovery at (RFC 6764 §5).
	CalDAV  string
	CardDAV string
}

// MailService is one mail protocol's listeners: a port with TLS from the first byte
// (RFC 8314) and a port where the client upgrades with STARTTLS or STLS. Zero ports are
// listeners not configured.
type MailService struct {
	Host            string
	ImplicitTLSPort int
	STARTTLSPort    int
}

// Security is how a client secures a connection.
type Security int

// The two ways Mailroom's mail listeners use TLS; there is no plain-text option.
const (
	ImplicitTLS Security = iota // TLS from the first byte (RFC 8314 §3)
	STARTTLS                    // plain connection upgraded before authentication
)

// endpoint is one port of a MailService as a client is told to use it.
type endpoint struct {
	Host     string
	Port     int
	Security Security
}

// preferred returns the port clients should be given, implicit TLS first if
// implicitFirst, and false if the service is not offered.
func (m MailService) preferred(implicitFirst bool) (endpoint, bool) {
	eps := m.endpoints(implicitFirst)
	if len(eps) == 0 {
		return endpoint{}, false
	}
	return eps[0], true
}

// endpoints lists the service's ports in order of preference.
func (m MailService) endpoints(implicitFirst bool) []endpoint {
	if m.Host == "" {
		return nil
	}
	var tls, starttls []endpoint
	if m.ImplicitTLSPort != 0 {
		tls = []endpoint{{m.Host, m.ImplicitTLSPort, ImplicitTLS}}
	}
	if m.STARTTLSPort != 0 {
		starttls = []endpoint{{m.Host, m.STARTTLSPort, STARTTLS}}
	}
	if implicitFirst {
		return append(tls, starttls...)
	}
	return append(starttls, tls...)
}

// Standard ports, preferred when a protocol listens on several.
const (
	portIMAP        = 143
	portIMAPS       = 993
	portPOP3        = 110
	portPOP3S       = 995
	portSubmission  = 587
	portSubmissions = 465
	portHTTPS       = 443
)

// ServicesFromConfig derives what clients are told from the configured listeners: a
// listener ":2993" is port 2993 on cfg.Hostname. When a protocol has several
// listeners, its standard port wins, otherwise the first. ActiveSync and the DAV
// discovery URLs live on the HTTPS listener.
//
// Clients are told the host name, never a listener's bind address, so the server
// must be reachable under cfg.Hostname at these ports (directly or by port
// forwarding of the same numbers).
func ServicesFromConfig(cfg config.Config) Services {
	host := cfg.Hostname
	s := Services{
		IMAP: MailService{
			ImplicitTLSPort: pickPort(cfg.IMAP.TLSListen, portIMAPS),
			STARTTLSPort:    pickPort(cfg.IMAP.Listen, portIMAP),
		},
		POP3: MailService{
			ImplicitTLSPort: pickPort(cfg.POP3.TLSListen, portPOP3S),
			STARTTLSPort:    pickPort(cfg.POP3.Listen, portPOP3),
		},
		Submission: MailService{
			ImplicitTLSPort: pickPort(cfg.SMTP.Submissions, portSubmissions),
			STARTTLSPort:    pickPort(cfg.SMTP.Submission, portSubmission),
		},
	}
	for _, m := range []*MailService{&s.IMAP, &s.POP3, &s.Submission} {
		if m.ImplicitTLSPort != 0 || m.STARTTLSPort != 0 {
			m.Host = host
		}
	}
	if port := pickPort(cfg.HTTP.TLSListen, portHTTPS); port != 0 && host != "" {
		s.HTTPS = "https://" + hostPort(host, port, portHTTPS)
		s.ActiveSync = s.HTTPS + "/Microsoft-Server-ActiveSync"
		s.CalDAV = s.HTTPS + "/.well-known/caldav"
		s.CardDAV = s.HTTPS + "/.well-known/carddav"
	}
	return s
}

// pickPort returns the port of the listener on standard, else of the first listener
// with a usable port, else 0.
func pickPort(listeners []string, standard int) int {
	first := 0
	for _, l := range listeners {
		_, p, err := net.SplitHostPort(l)
		if err != nil {
			continue
		}
		port, err := strconv.Atoi(p)
		if err != nil || port <= 0 || port > 65535 {
			continue
		}
		if port == standard {
			return port
		}
		if first == 0 {
			first = port
		}
	}
	return first
}

// hostPort joins host and port, leaving out the scheme's default port.
func hostPort(host string, port, dflt int) string {
	if port == dflt {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
