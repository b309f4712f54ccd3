package autodiscover

import (
	"net/url"
	"strconv"
	"strings"
)

// Record is one DNS record a domain needs so clients find this server, for
// `mailroom domain dns` to print. Names and host targets are absolute, with the final
// dot.
type Record struct {
	Name  string // owner name, e.g. "_imaps._tcp.example.com."
	Type  string // MX, CNAME, SRV, TXT
	Value string // RDATA in zone-file form
	Note  string // why the record is there
}

// DNSRecords lists the records for domain: MX, an SPF suggestion, the autodiscover and
// autoconfig names, the Autodiscover SRV record, and the RFC 6186 / RFC 8314 SRV
// records for every mail service, with "0 0 0 ." for services not offered (RFC 6186
// §3.4: the service is decidedly not available). Ports are the configured ones.
func DNSRecords(domain string, s Services, hostname string) []Record {
	d := fqdn(domain)
	host := fqdn(hostname)
	recs := []Record{
		{d, "MX", "10 " + host, "mail for the domain is delivered to this server"},
		{d, "TXT", "v=spf1 mx -all", "SPF suggestion: only the MX hosts send for the domain; add other senders before -all"},
		{"autodiscover." + d, "CNAME", host, "Outlook and Exchange ActiveSync clients try https://autodiscover.DOMAIN/autodiscover/autodiscover.xml ([MS-OXDISCO] 3.1.5)"},
		{"autoconfig." + d, "CNAME", host, "Thunderbird and other clients fetch https://autoconfig.DOMAIN/mail/config-v1.1.xml (Mozilla autoconfig)"},
	}
	if port := httpsPort(s.HTTPS); port != 0 {
		recs = append(recs, Record{"_autodiscover._tcp." + d, "SRV", "0 0 " + strconv.Itoa(port) + " " + host,
			"Autodiscover service location ([MS-OXDISCO] 3.1.5)"})
	}
	for _, svc := range []struct {
		name   string
		port   int
		host   string
		detail string
	}{
		{"_submission._tcp.", s.Submission.STARTTLSPort, s.Submission.Host, "mail submission with STARTTLS (RFC 6186)"},
		{"_submissions._tcp.", s.Submission.ImplicitTLSPort, s.Submission.Host, "mail submission over TLS (RFC 8314 §5.1)"},
		{"_imap._tcp.", s.IMAP.STARTTLSPort, s.IMAP.Host, "IMAP with STARTTLS (RFC 6186)"},
		{"_imaps._tcp.", s.IMAP.ImplicitTLSPort, s.IMAP.Host, "IMAP over TLS (RFC 6186, RFC 8314)"},
		{"_pop3._tcp.", s.POP3.STARTTLSPort, s.POP3.Host, "POP3 with STLS (RFC 6186)"},
		{"_pop3s._tcp.", s.POP3.ImplicitTLSPort, s.POP3.Host, "POP3 over TLS (RFC 6186, RFC 8314)"},
	} {
		target := host
		if svc.host != "" {
			target = fqdn(svc.host)
		}
		if svc.port == 0 || svc.host == "" {
			recs = append(recs, Record{svc.name + d, "SRV", "0 0 0 .", svc.detail + ": not offered"})
			continue
		}
		recs = append(recs, Record{svc.name + d, "SRV", "0 1 " + strconv.Itoa(svc.port) + " " + target, svc.detail})
	}
	return recs
}

// fqdn returns name in lower case with one final dot.
func fqdn(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".") + "."
}

// httpsPort returns the port of an https base URL, 0 if there is none.
func httpsPort(base string) int {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return 0
	}
	if u.Port() == "" {
		return portHTTPS
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		return 0
	}
	return p
}
