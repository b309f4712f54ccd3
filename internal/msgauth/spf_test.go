package msgauth

import (
	"net"
	"strings"
	"testing"
)

func TestSPF(t *testing.T) {
	env := newTestEnv(t)
	tests := []struct {
		name     string
		ip       net.IP
		helo     string
		mailFrom string
		want     Status
	}{
		{"ip4 pass", goodIP, "client.example", "bounce@ip.example.net", StatusPass},
		{"a pass", goodIP, "client.example", "bounce@a.example.net", StatusPass},
		{"a pass over IPv6 (AAAA)", goodV6, "client.example", "bounce@a.example.net", StatusPass},
		{"mx pass", goodIP, "client.example", "bounce@mx.example.net", StatusPass},
		{"mailfrom domain case-insensitive", goodIP, "client.example", "bounce@IP.Example.NET", StatusPass},
		{"null reverse-path uses HELO", goodIP, "helo.example.net", "", StatusPass},
		{"fail", goodIP, "client.example", "bounce@fail.example.net", StatusFail},
		{"a fail from other IP", badIP, "client.example", "bounce@a.example.net", StatusFail},
		{"softfail", goodIP, "client.example", "bounce@soft.example.net", StatusSoftFail},
		{"neutral", goodIP, "client.example", "bounce@neutral.example.net", StatusNeutral},
		{"none: no SPF record", goodIP, "client.example", "bounce@none.example.net", StatusNone},
		{"none: no such domain", goodIP, "client.example", "bounce@nowhere.example.net", StatusNone},
		{"permerror: bad ip4", goodIP, "client.example", "bounce@badip.example.net", StatusPermError},
		{"permerror: unknown mechanism", goodIP, "client.example", "bounce@badmech.example.net", StatusPermError},
		{"permerror: too many lookups", goodIP, "client.example", "bounce@loop.example.net", StatusPermError},
		{"temperror: server refuses", goodIP, "client.example", "bounce@refused.example.net", StatusTempError},
		{"temperror: server fails", goodIP, "client.example", "bounce@servfail.example.net", StatusTempError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := env.check(t, tc.ip, tc.helo, tc.mailFrom, message("alice@example.com"))
			if res.SPF.Status != tc.want {
				t.Errorf("SPF = %s (%s), want %s", res.SPF.Status, res.SPF.Reason, tc.want)
			}
		})
	}
}

func TestSPFIdentityReported(t *testing.T) {
	env := newTestEnv(t)
	res := env.check(t, goodIP, "helo.example.net", "", message("alice@example.com"))
	if res.SPF.Domain != "helo.example.net" || res.SPF.MailFrom != "" {
		t.Errorf("SPF identity = %q / %q, want the HELO domain", res.SPF.Domain, res.SPF.MailFrom)
	}
	if !strings.Contains(res.Header, "spf=pass smtp.helo=helo.example.net") {
		t.Errorf("header does not report smtp.helo:\n%s", res.Header)
	}
	res = env.check(t, goodIP, "client.example", "<bounce@ip.example.net>", message("alice@example.com"))
	if res.SPF.Status != StatusPass || !strings.Contains(res.Header, "spf=pass smtp.mailfrom=bounce@ip.example.net") {
		t.Errorf("angle-bracketed MAIL FROM: %s\n%s", res.SPF.Status, res.Header)
	}
}
