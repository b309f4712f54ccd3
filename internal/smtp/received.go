package smtp

// The Received trace field every SMTP server adds (RFC 5321 4.4):
//
//	Received: from HELO (rDNS [ip])
//		by our.host.name with ESMTPSA (TLS1.3 TLS_AES_128_GCM_SHA256) id ID
//		for <rcpt>; date
//
// The protocol is ESMTP with "S" for TLS and "A" for an authenticated client (RFC 3848).
// go-smtp does not tell HELO from EHLO, so plain SMTP is never written. The for clause
// names the recipient only when there is exactly one, so that one recipient's copy does
// not list the others (RFC 5321 7.2).

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"time"
)

// rdnsTimeout bounds the reverse lookup; a slow resolver must not hold mail up.
const rdnsTimeout = 3 * time.Second

func (s *session) received(ctx context.Context, now time.Time) string {
	var b strings.Builder
	helo := traceToken(s.conn.Hostname())
	if helo == "" {
		helo = "unknown"
	}
	b.WriteString("Received: from " + helo + " (")
	if name := s.reverseName(ctx); name != "" {
		b.WriteString(name + " ")
	}
	b.WriteString(addressLiteral(s.ip) + ")\r\n\tby " + traceToken(s.srv.cfg.Hostname) + " with ESMTP")
	state, isTLS := s.conn.TLSConnectionState()
	if isTLS {
		b.WriteString("S")
	}
	if s.user != nil {
		b.WriteString("A")
	}
	if isTLS {
		b.WriteString(" (" + strings.ReplaceAll(tls.VersionName(state.Version), " ", "") + " " + tls.CipherSuiteName(state.CipherSuite) + ")")
	}
	b.WriteString(" id " + s.tx.id)
	if len(s.tx.rcpts) == 1 {
		b.WriteString("\r\n\tfor <" + traceToken(s.tx.rcpts[0].dsn.Addr) + ">")
	}
	b.WriteString(";\r\n\t" + now.Format(time.RFC1123Z) + "\r\n")
	return b.String()
}

// reverseName looks the client's address up in the DNS once per connection; "" when it
// has no name.
func (s *session) reverseName(ctx context.Context) string {
	if s.rdnsLooked || s.ip == nil {
		return s.rdns
	}
	s.rdnsLooked = true
	ctx, cancel := context.WithTimeout(ctx, rdnsTimeout)
	defer cancel()
	names, err := net.DefaultResolver.LookupAddr(ctx, s.ip.String())
	if err == nil && len(names) > 0 {
		s.rdns = traceToken(strings.TrimSuffix(names[0], "."))
	}
	return s.rdns
}

// addressLiteral writes an IP address as RFC 5321 4.1.3 does.
func addressLiteral(ip net.IP) string {
	switch {
	case ip == nil:
		return "[unknown]"
	case ip.To4() != nil:
		return "[" + ip.String() + "]"
	}
	return "[IPv6:" + ip.String() + "]"
}

// traceToken keeps what a client or the DNS tells us from breaking the field's
// syntax: anything but letters, digits and the few characters of domains, address
// literals and addresses becomes "_".
func traceToken(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case strings.ContainsRune(".-_:[]@+=", r):
			return r
		}
		return '_'
	}, s)
}
