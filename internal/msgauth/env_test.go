package msgauth

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// Addresses used as the connecting client's IP. They are only compared
// with SPF records; no traffic goes to them.
var (
	goodIP = net.ParseIP("192.0.2.10")
	goodV6 = net.ParseIP("2001:db8::10")
	badIP  = net.ParseIP("198.51.100.7")
)

const testHostname = "mx.mailroom.example"

// testEnv is a loopback DNS server with the zones every test uses, a
// Verifier pointed at it, and two signers whose keys are published in it.
type testEnv struct {
	dns      *testDNS
	verifier *Verifier
	rsa, ed  *Signer
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	z := startDNS(t, "127.0.0.1", "0")
	env := &testEnv{dns: z, verifier: &Verifier{Resolver: z.resolver(), Hostname: testHostname}}
	env.rsa = newPublishedSigner(t, z, KeyRSA2048, "example.com", "rsa")
	env.ed = newPublishedSigner(t, z, KeyEd25519, "example.com", "ed")

	// SPF (RFC 7208) test domains.
	z.add(t,
		`example.com. TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
		`mail.example.com. TXT "v=spf1 a:mx1.example.com -all"`,
		`mx1.example.com. A 192.0.2.10`,
		`ip.example.net. TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
		`a.example.net. TXT "v=spf1 a:host.example.net -all"`,
		`host.example.net. A 192.0.2.10`,
		`host.example.net. AAAA 2001:db8::10`,
		`mx.example.net. TXT "v=spf1 mx -all"`,
		`mx.example.net. MX 10 host.example.net.`,
		`fail.example.net. TXT "v=spf1 ip4:203.0.113.0/24 -all"`,
		`soft.example.net. TXT "v=spf1 ip4:203.0.113.0/24 ~all"`,
		`neutral.example.net. TXT "v=spf1 ?all"`,
		`none.example.net. A 192.0.2.1`,
		`badip.example.net. TXT "v=spf1 ip4:300.1.2.3 -all"`,
		`badmech.example.net. TXT "v=spf1 frobnicate -all"`,
		`helo.example.net. TXT "v=spf1 ip4:192.0.2.10 -all"`,
	)
	// RFC 7208 section 4.6.4: more than 10 DNS-querying mechanisms.
	var mechs []string
	for i := 1; i <= 11; i++ {
		host := fmt.Sprintf("h%d.example.net", i)
		mechs = append(mechs, "a:"+host)
		z.add(t, fmt.Sprintf("%s. A 203.0.113.%d", host, i))
	}
	z.add(t, `loop.example.net. TXT "v=spf1 `+strings.Join(mechs, " ")+` -all"`)
	z.refuse("refused.example.net")
	z.fail("servfail.example.net")

	// DMARC (RFC 7489) records.
	z.add(t,
		`_dmarc.example.com. TXT "v=DMARC1; p=reject"`,
		`_dmarc.r.example.com. TXT "v=DMARC1; p=reject; aspf=r; adkim=r"`,
		`_dmarc.s.example.com. TXT "v=DMARC1; p=reject; aspf=s; adkim=s"`,
		`_dmarc.pct.example.com. TXT "v=DMARC1; p=reject; pct=0"`,
		`_dmarc.q.example.com. TXT "v=DMARC1; p=quarantine; sp=reject"`,
		`_dmarc.bad.example.com. TXT "v=DMARC1; p=maybe"`,
		`_dmarc.two.example.com. TXT "v=DMARC1; p=reject"`,
		`_dmarc.two.example.com. TXT "v=DMARC1; p=none"`,
		`_dmarc.other.example.com. TXT "some unrelated text"`,
		`_dmarc.example.org. TXT "v=DMARC1; p=quarantine; sp=reject"`,
		`example.org. TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
	)
	return env
}

// newPublishedSigner generates a key and publishes it at
// selector._domainkey.domain.
func newPublishedSigner(t testing.TB, z *testDNS, alg, domain, selector string) *Signer {
	t.Helper()
	priv, txt, err := GenerateKey(alg)
	if err != nil {
		t.Fatalf("GenerateKey(%s): %v", alg, err)
	}
	s, err := NewSigner(domain, selector, priv)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	z.addTXT(selector+"._domainkey."+domain, txt)
	return s
}

// message builds a small CRLF message from header lines and a body.
func message(from string, extra ...string) []byte {
	h := []string{
		"From: Alice <" + from + ">",
		"To: Bob <bob@mailroom.example>",
		"Subject: Quarterly numbers",
		"Date: Mon, 23 Nov 2026 10:00:00 +0000",
		"Message-ID: <1@example.com>",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
	}
	h = append(h, extra...)
	return []byte(strings.Join(h, "\r\n") + "\r\n\r\nHello Bob,\r\n\r\nthe numbers are attached.\r\n")
}

func mustSign(t testing.TB, s *Signer, raw []byte) []byte {
	t.Helper()
	out, err := s.Sign(raw)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return out
}

func (env *testEnv) check(t testing.TB, ip net.IP, helo, mailFrom string, raw []byte) Result {
	t.Helper()
	res, err := env.verifier.Check(t.Context(), ip, helo, mailFrom, raw)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return res
}
