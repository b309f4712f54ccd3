package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// route is where mail for a domain goes: the hosts to try, in order.
type route struct {
	hosts []string
	// implicit is set when the domain has no MX and is its own mail exchanger (RFC 5321
	// section 5.1); a domain that then has no address does not exist for mail.
	implicit bool
}

// resolveRoute looks up a domain's mail exchangers as RFC 5321 section 5.1 says: MX
// records by preference (the resolver sorts them and shuffles equal preferences, as the
// section asks); without MX records, the domain itself. A null MX (RFC 7505 section 3)
// refuses mail for good. A domain literal ("[192.0.2.1]", RFC 5321 section 4.1.3) is
// its own address.
func (q *Queue) resolveRoute(ctx context.Context, domain string) (route, *failure) {
	if strings.HasPrefix(domain, "[") {
		return route{hosts: []string{domain}}, nil
	}
	mxs, err := q.cfg.Resolver.LookupMX(ctx, domain+".")
	if err != nil && len(mxs) == 0 {
		if isNotFound(err) {
			return route{hosts: []string{domain}, implicit: true}, nil
		}
		return route{}, &failure{code: 451, status: "4.4.3", text: fmt.Sprintf("MX lookup for %s: %v", domain, err)}
	}
	if len(mxs) == 0 {
		return route{hosts: []string{domain}, implicit: true}, nil
	}
	var r route
	for _, mx := range mxs {
		host := strings.ToLower(strings.TrimSuffix(mx.Host, "."))
		if host == "" {
			continue // the null MX "." among real ones is ignored
		}
		r.hosts = append(r.hosts, host)
	}
	if len(r.hosts) == 0 {
		// RFC 7505 section 3: reply 556 with enhanced status 5.1.10.
		return route{}, &failure{code: 556, status: "5.1.10", text: fmt.Sprintf("domain %s accepts no mail (null MX)", domain)}
	}
	return r, nil
}

// addresses returns the IP addresses of one mail exchanger.
func (q *Queue) addresses(ctx context.Context, host string) ([]net.IP, error) {
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		lit := strings.TrimPrefix(host[1:len(host)-1], "IPv6:")
		ip := net.ParseIP(lit)
		if ip == nil {
			return nil, fmt.Errorf("address literal %s: %w", host, ErrInvalid)
		}
		return []net.IP{ip}, nil
	}
	addrs, err := q.cfg.Resolver.LookupIPAddr(ctx, host+".")
	if err != nil {
		return nil, fmt.Errorf("address lookup for %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("address lookup for %s: %w", host, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true})
	}
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = a.IP
	}
	return ips, nil
}

// isNotFound reports whether a lookup failed because the name or record does not
// exist, as opposed to a failure to get an answer.
func isNotFound(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}
