package msgauth

import (
	"context"
	"errors"
	"net"
	"strings"
)

// Resolver is the DNS the checks use. A *net.Resolver satisfies it.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// dnsAdapter sits between the checks and the caller's Resolver. It does two
// things the RFCs require but a plain *net.Resolver does not give:
//
//   - names are queried as absolute names, so a resolv.conf search list can
//     never turn "_dmarc.example.com" into "_dmarc.example.com.corp.local";
//   - every failure other than "no such name / no data" is reported as a
//     temporary DNS error. RFC 7208 section 4.4 and RFC 7489 section 6.6.3
//     treat any RCODE other than 0 (NOERROR) or 3 (NXDOMAIN) as a temporary
//     error, while the Go resolver marks only SERVFAIL and timeouts as
//     temporary (REFUSED, for instance, would otherwise become a permerror).
type dnsAdapter struct {
	r Resolver
}

func (a dnsAdapter) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txt, err := a.r.LookupTXT(ctx, absolute(name))
	return txt, classify(name, err)
}

func (a dnsAdapter) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, err := a.r.LookupIPAddr(ctx, absolute(host))
	return ips, classify(host, err)
}

func (a dnsAdapter) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mx, err := a.r.LookupMX(ctx, absolute(name))
	return mx, classify(name, err)
}

func (a dnsAdapter) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	names, err := a.r.LookupAddr(ctx, addr)
	return names, classify(addr, err)
}

// absolute returns name with a trailing dot, so that it is not subject to
// resolver search lists.
func absolute(name string) string {
	if name == "" || strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}

// classify turns err into a *net.DNSError that is either "not found" or
// temporary; see dnsAdapter.
func classify(name string, err error) error {
	if err == nil {
		return nil
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		c := *dnsErr
		// The resolver's own address must not end up in reasons written
		// into Authentication-Results (RFC 8601 section 7: results must
		// not reveal internal infrastructure).
		c.Server = ""
		if !c.IsNotFound {
			c.IsTemporary = true
		}
		return &c
	}
	return &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true, UnwrapErr: err}
}

// isNotFound reports whether err means the name or the record type does not
// exist (NXDOMAIN or NODATA).
func isNotFound(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}
