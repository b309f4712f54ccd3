package main

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// dnsServer is a real authoritative DNS server on loopback (UDP and TCP) that the
// Mailroom instances under test are configured to ask, so that MX, SPF, DKIM and DMARC
// lookups exercise the DNS protocol without leaving the machine.
type dnsServer struct {
	Addr string
	mu   sync.Mutex
	rrs  []dns.RR
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	d := &dnsServer{}
	// The UDP port the system picks may be taken for TCP: try a few.
	var pc net.PacketConn
	var ln net.Listener
	for attempt := 0; ln == nil; attempt++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err != nil {
			pc.Close()
			if attempt == 20 {
				t.Fatal(err)
			}
		}
	}
	d.Addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: d}
	tcp := &dns.Server{Listener: ln, Handler: d}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	return d
}

// add adds records in zone-file form.
func (d *dnsServer) add(t *testing.T, records ...string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatalf("record %q: %v", r, err)
		}
		d.rrs = append(d.rrs, rr)
	}
}

// addTXT adds a TXT record, split into the 255-byte strings DNS requires.
func (d *dnsServer) addTXT(name, value string) {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, value[:255])
		value = value[255:]
	}
	parts = append(parts, value)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rrs = append(d.rrs, &dns.TXT{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: parts})
}

func (d *dnsServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) == 1 {
		q := r.Question[0]
		known := false
		d.mu.Lock()
		for _, rr := range d.rrs {
			if !strings.EqualFold(rr.Header().Name, q.Name) {
				continue
			}
			known = true
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
		d.mu.Unlock()
		if !known {
			m.Rcode = dns.RcodeNameError
		}
	}
	w.WriteMsg(m)
}
