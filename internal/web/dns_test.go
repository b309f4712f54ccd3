package web

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"mailroom/internal/autodiscover"
)

// zone is a DNS server on loopback answering from a fixed set of records, so the
// check speaks the DNS protocol.
type zone []dns.RR

func (z zone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	known := false
	for _, rr := range z {
		if len(r.Question) == 1 && strings.EqualFold(rr.Header().Name, r.Question[0].Name) {
			known = true
			if rr.Header().Rrtype == r.Question[0].Qtype {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
	}
	if !known {
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

func startZone(t *testing.T, records ...string) *net.Resolver {
	t.Helper()
	var z zone
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatal(err)
		}
		z = append(z, rr)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: z}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// TestCheckRecords: each record the domain page lists is looked up and marked
// published, differs (saying what was found) or missing.
func TestCheckRecords(t *testing.T) {
	res := startZone(t,
		"example.test. 60 IN MX 20 mail.example.test.",
		`example.test. 60 IN TXT "v=spf1 a -all"`,
		"_imaps._tcp.example.test. 60 IN SRV 5 1 993 mail.example.test.",
		"autoconfig.example.test. 60 IN CNAME other.example.net.",
		"_dmarc.example.test. 60 IN TXT \"v=DMARC1; p=quarantine; adkim=r; aspf=r\"",
	)
	h := &Handler{cfg: Config{Resolver: res}}
	cases := []struct {
		rec    autodiscover.Record
		state  string
		detail string
	}{
		{autodiscover.Record{Name: "example.test.", Type: "MX", Value: "10 mail.example.test."}, "published", ""},
		{autodiscover.Record{Name: "example.test.", Type: "TXT", Value: "v=spf1 mx -all"}, "differs", "v=spf1 a -all"},
		{autodiscover.Record{Name: "_imaps._tcp.example.test.", Type: "SRV", Value: "0 1 993 mail.example.test."}, "published", ""},
		{autodiscover.Record{Name: "_pop3s._tcp.example.test.", Type: "SRV", Value: "0 0 0 ."}, "missing", ""},
		{autodiscover.Record{Name: "autodiscover.example.test.", Type: "CNAME", Value: "mail.example.test."}, "missing", ""},
		{autodiscover.Record{Name: "autoconfig.example.test.", Type: "CNAME", Value: "mail.example.test."}, "differs", "other.example.net."},
		{autodiscover.Record{Name: "_dmarc.example.test.", Type: "TXT", Value: `"v=DMARC1; p=quarantine; adkim=r; aspf=r"`}, "published", ""},
	}
	var recs []autodiscover.Record
	for _, c := range cases {
		recs = append(recs, c.rec)
	}
	got := h.checkRecords(context.Background(), recs)
	for i, c := range cases {
		if got[i].State != c.state || !strings.Contains(got[i].Detail, c.detail) {
			t.Errorf("%s %s: %s (%s), want %s with %q", c.rec.Name, c.rec.Type, got[i].State, got[i].Detail, c.state, c.detail)
		}
	}
}
