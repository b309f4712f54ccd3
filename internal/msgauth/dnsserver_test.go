package msgauth

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testDNS is a small authoritative DNS server on loopback, serving zones
// built by the test over UDP and TCP.
type testDNS struct {
	mu      sync.RWMutex
	rrs     map[string][]dns.RR // by lower-case FQDN
	refused []string            // FQDN suffixes answered with REFUSED
	failed  []string            // FQDN suffixes answered with SERVFAIL

	udpAddr, tcpAddr string
}

// startDNS starts a server on host (an address such as "127.0.0.1"), port
// port ("0" for any free one), for the duration of the test.
func startDNS(t testing.TB, host, port string) *testDNS {
	t.Helper()
	z, err := listenDNS(t, host, port)
	if err != nil {
		t.Fatalf("start DNS server: %v", err)
	}
	return z
}

func listenDNS(t testing.TB, host, port string) (*testDNS, error) {
	z := &testDNS{rrs: map[string][]dns.RR{}}
	pc, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	// Prefer TCP on the same port, as resolvers expect; any port will do
	// for the Go resolver, which is told both addresses.
	_, udpPort, _ := net.SplitHostPort(pc.LocalAddr().String())
	ln, err := net.Listen("tcp", net.JoinHostPort(host, udpPort))
	if err != nil && port == "0" {
		ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	if err != nil {
		pc.Close()
		return nil, err
	}
	z.udpAddr, z.tcpAddr = pc.LocalAddr().String(), ln.Addr().String()
	udp := &dns.Server{PacketConn: pc, Handler: z}
	tcp := &dns.Server{Listener: ln, Handler: z}
	for _, s := range []*dns.Server{udp, tcp} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
	}
	t.Cleanup(func() {
		udp.Shutdown()
		tcp.Shutdown()
	})
	return z, nil
}

// ServeDNS answers from the zone data: NXDOMAIN for unknown names, NODATA
// for known names without records of the asked type.
func (z *testDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	z.mu.RLock()
	defer z.mu.RUnlock()
	switch {
	case hasSuffix(name, z.refused):
		m.SetRcode(req, dns.RcodeRefused)
	case hasSuffix(name, z.failed):
		m.SetRcode(req, dns.RcodeServerFailure)
	default:
		rrs, exists := z.rrs[name]
		if !exists {
			m.SetRcode(req, dns.RcodeNameError)
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	if _, isUDP := w.LocalAddr().(*net.UDPAddr); isUDP {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

func hasSuffix(name string, suffixes []string) bool {
	for _, s := range suffixes {
		if name == s || strings.HasSuffix(name, "."+s) {
			return true
		}
	}
	return false
}

// add adds records in zone-file syntax, such as
// "example.com. MX 10 mx.example.com.". Names are FQDNs.
func (z *testDNS) add(t testing.TB, records ...string) {
	t.Helper()
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("bad test record %q: %v", s, err)
		}
		z.addRR(rr)
	}
}

// addTXT adds a TXT record holding value, split into 255-octet strings
// (RFC 1035 section 3.3.14) as DKIM keys need.
func (z *testDNS) addTXT(name, value string) {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, value[:255])
		value = value[255:]
	}
	parts = append(parts, value)
	z.addRR(&dns.TXT{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: parts})
}

func (z *testDNS) addRR(rr dns.RR) {
	z.mu.Lock()
	defer z.mu.Unlock()
	name := strings.ToLower(rr.Header().Name)
	z.rrs[name] = append(z.rrs[name], rr)
	// Parent names exist too (empty non-terminals answer NODATA, not
	// NXDOMAIN: RFC 8020).
	for labels := dns.SplitDomainName(name); len(labels) > 1; labels = labels[1:] {
		parent := dns.Fqdn(strings.Join(labels[1:], "."))
		if _, ok := z.rrs[parent]; !ok {
			z.rrs[parent] = nil
		}
	}
}

// refuse makes the server answer REFUSED for suffix and all names below it.
func (z *testDNS) refuse(suffix string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.refused = append(z.refused, dns.Fqdn(strings.ToLower(suffix)))
}

// fail makes the server answer SERVFAIL for suffix and all names below it.
func (z *testDNS) fail(suffix string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.failed = append(z.failed, dns.Fqdn(strings.ToLower(suffix)))
}

// resolver returns a Go resolver that sends every query to this server.
func (z *testDNS) resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: 2 * time.Second}
			if strings.HasPrefix(network, "tcp") {
				return d.DialContext(ctx, "tcp", z.tcpAddr)
			}
			return d.DialContext(ctx, "udp", z.udpAddr)
		},
	}
}
