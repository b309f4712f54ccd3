package msgauth

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"
)

// SPFResult is the outcome of the SPF check of one identity (RFC 7208).
type SPFResult struct {
	Status Status
	// MailFrom is the RFC5321.MailFrom address checked; empty for a null
	// reverse-path, in which case the HELO identity was checked instead
	// (RFC 7208 section 2.4).
	MailFrom string
	// Helo is the HELO/EHLO domain the client gave.
	Helo string
	// Domain is the domain whose policy was evaluated: the MAIL FROM domain,
	// or the HELO domain for a null reverse-path. DMARC aligns this domain.
	Domain string
	// Reason is a short human-readable explanation; empty on pass.
	Reason string
}

// checkSPF runs check_host() (RFC 7208 section 4) for the MAIL FROM identity,
// falling back to the HELO identity for a null reverse-path (section 2.4).
func checkSPF(ctx context.Context, r Resolver, log *slog.Logger, ip net.IP, helo, mailFrom string) SPFResult {
	res := SPFResult{MailFrom: mailFrom, Helo: helo}
	sender := mailFrom
	if sender == "" {
		// RFC 7208 section 2.4: with a null reverse-path the identity is
		// "postmaster" at the HELO domain.
		sender = "postmaster@" + helo
	}
	domain := helo
	if at := strings.LastIndexByte(sender, '@'); at >= 0 {
		domain = sender[at+1:]
	}
	res.Domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if res.Domain == "" {
		res.Status = StatusNone
		res.Reason = "no domain to check"
		return res
	}

	status, err := spf.CheckHostWithSender(ip, helo, sender,
		spf.WithContext(ctx),
		spf.WithResolver(dnsAdapter{r}),
	)
	res.Status = Status(status)
	switch {
	case status == spf.Pass:
	case errors.Is(err, spf.ErrNoResult):
		res.Reason = "no SPF record"
	case status == spf.Fail, status == spf.SoftFail, status == spf.Neutral:
		res.Reason = "sender " + ip.String() + " not permitted by " + res.Domain
	case err != nil:
		res.Reason = err.Error()
	}
	log.Debug("spf checked", "domain", res.Domain, "ip", ip.String(), "result", string(res.Status), "err", err)
	return res
}
