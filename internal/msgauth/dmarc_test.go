package msgauth

import (
	"net"
	"testing"

	"github.com/emersion/go-msgauth/dmarc"
)

func TestDMARC(t *testing.T) {
	env := newTestEnv(t)
	sign := func(raw []byte) []byte { return mustSign(t, env.rsa, raw) }

	tests := []struct {
		name       string
		ip         net.IP
		mailFrom   string
		raw        []byte
		want       Status
		policy     string // Result.DMARCPolicy
		spfAligned bool
		dkimAlign  bool
		recordAt   string
	}{
		{
			name: "pass via SPF alignment", ip: goodIP, mailFrom: "bounce@example.com",
			raw: message("alice@example.com"), want: StatusPass, spfAligned: true, recordAt: "example.com",
		},
		{
			name: "pass via DKIM alignment", ip: badIP, mailFrom: "bounce@fail.example.net",
			raw: sign(message("alice@example.com")), want: StatusPass, dkimAlign: true, recordAt: "example.com",
		},
		{
			name: "fail with p=reject", ip: goodIP, mailFrom: "bounce@ip.example.net",
			raw: message("alice@example.com"), want: StatusFail, policy: "reject", recordAt: "example.com",
		},
		{
			name: "fail: SPF fails for the From domain", ip: badIP, mailFrom: "bounce@example.com",
			raw: message("alice@example.com"), want: StatusFail, policy: "reject", recordAt: "example.com",
		},
		{
			name: "fail: DKIM signature broken", ip: badIP, mailFrom: "bounce@fail.example.net",
			raw: replace(sign(message("alice@example.com")), "Hello", "Goodbye"), want: StatusFail, policy: "reject", recordAt: "example.com",
		},
		{
			name: "relaxed SPF alignment: subdomain MAIL FROM", ip: goodIP, mailFrom: "bounce@mail.example.com",
			raw: message("alice@r.example.com"), want: StatusPass, spfAligned: true, recordAt: "r.example.com",
		},
		{
			name: "strict SPF alignment: subdomain MAIL FROM fails", ip: goodIP, mailFrom: "bounce@mail.example.com",
			raw: message("alice@s.example.com"), want: StatusFail, policy: "reject", recordAt: "s.example.com",
		},
		{
			name: "relaxed DKIM alignment: parent d=", ip: badIP, mailFrom: "bounce@fail.example.net",
			raw: sign(message("alice@r.example.com")), want: StatusPass, dkimAlign: true, recordAt: "r.example.com",
		},
		{
			name: "strict DKIM alignment: parent d= fails", ip: badIP, mailFrom: "bounce@fail.example.net",
			raw: sign(message("alice@s.example.com")), want: StatusFail, policy: "reject", recordAt: "s.example.com",
		},
		{
			name: "organizational domain fallback uses sp", ip: goodIP, mailFrom: "bounce@ip.example.net",
			raw: message("alice@news.example.org"), want: StatusFail, policy: "reject", recordAt: "example.org",
		},
		{
			name: "organizational domain itself uses p", ip: goodIP, mailFrom: "bounce@ip.example.net",
			raw: message("alice@example.org"), want: StatusFail, policy: "quarantine", recordAt: "example.org",
		},
		{
			name: "fallback record, relaxed SPF pass", ip: goodIP, mailFrom: "bounce@example.org",
			raw: message("alice@news.example.org"), want: StatusPass, spfAligned: true, recordAt: "example.org",
		},
		{
			name: "subdomain with own record does not inherit sp", ip: goodIP, mailFrom: "bounce@ip.example.net",
			raw: message("alice@q.example.com"), want: StatusFail, policy: "quarantine", recordAt: "q.example.com",
		},
		{
			name: "pct=0 downgrades reject to quarantine", ip: goodIP, mailFrom: "bounce@ip.example.net",
			raw: message("alice@pct.example.com"), want: StatusFail, policy: "quarantine", recordAt: "pct.example.com",
		},
		{
			name: "none without a record", ip: goodIP, mailFrom: "bounce@ip.example.net",
			raw: message("alice@ip.example.net"), want: StatusNone,
		},
		{
			name: "non-DMARC TXT is discarded, org record used", ip: goodIP, mailFrom: "bounce@ip.example.net",
			raw: message("alice@other.example.com"), want: StatusFail, policy: "reject", recordAt: "example.com",
		},
		{
			name: "none: two records end discovery", ip: goodIP, mailFrom: "bounce@ip.example.net",
			raw: message("alice@two.example.com"), want: StatusNone,
		},
		{
			name: "permerror: bad record", ip: goodIP, mailFrom: "bounce@ip.example.net",
			raw: message("alice@bad.example.com"), want: StatusPermError,
		},
		{
			name: "temperror: lookup refused", ip: goodIP, mailFrom: "bounce@ip.example.net",
			raw: message("alice@refused.example.net"), want: StatusTempError,
		},
		{
			name: "permerror: two From fields", ip: goodIP, mailFrom: "bounce@example.com",
			raw: addField(message("alice@example.com"), "From: eve@example.net"), want: StatusPermError,
		},
		{
			name: "permerror: From with two domains", ip: goodIP, mailFrom: "bounce@example.com",
			raw: []byte("From: a@example.com, b@example.net\r\n\r\nhi\r\n"), want: StatusPermError,
		},
		{
			name: "malformed From read leniently", ip: goodIP, mailFrom: "bounce@ip.example.net",
			raw: []byte("From: \"Alice <alice@example.com>\r\n\r\nhi\r\n"), want: StatusFail, policy: "reject", recordAt: "example.com",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := env.check(t, tc.ip, "client.example", tc.mailFrom, tc.raw)
			d := res.DMARC
			if d.Status != tc.want || res.DMARCPolicy != tc.policy {
				t.Fatalf("DMARC = %s policy %q (%s), want %s policy %q\n%s", d.Status, res.DMARCPolicy, d.Reason, tc.want, tc.policy, res.Header)
			}
			if d.SPFAligned != tc.spfAligned || d.DKIMAligned != tc.dkimAlign {
				t.Errorf("aligned spf=%v dkim=%v, want spf=%v dkim=%v", d.SPFAligned, d.DKIMAligned, tc.spfAligned, tc.dkimAlign)
			}
			if d.RecordDomain != tc.recordAt {
				t.Errorf("record found at %q, want %q", d.RecordDomain, tc.recordAt)
			}
		})
	}
}

func TestAligned(t *testing.T) {
	tests := []struct {
		auth, from string
		mode       dmarc.AlignmentMode
		want       bool
	}{
		{"example.com", "example.com", dmarc.AlignmentStrict, true},
		{"mail.example.com", "example.com", dmarc.AlignmentStrict, false},
		{"mail.example.com", "example.com", dmarc.AlignmentRelaxed, true},
		{"example.com", "news.example.com", dmarc.AlignmentRelaxed, true},
		{"a.example.co.uk", "b.example.co.uk", dmarc.AlignmentRelaxed, true},
		{"example.co.uk", "other.co.uk", dmarc.AlignmentRelaxed, false},
		{"co.uk", "example.co.uk", dmarc.AlignmentRelaxed, false},
		{"example.net", "example.com", dmarc.AlignmentRelaxed, false},
		{"", "example.com", dmarc.AlignmentRelaxed, false},
	}
	for _, tc := range tests {
		if got := aligned(tc.auth, tc.from, tc.mode); got != tc.want {
			t.Errorf("aligned(%q, %q, %s) = %v, want %v", tc.auth, tc.from, tc.mode, got, tc.want)
		}
	}
}

func TestSampledPolicy(t *testing.T) {
	pct := func(n int) *int { return &n }
	tests := []struct {
		policy string
		pct    *int
		want   string
	}{
		{PolicyReject, nil, PolicyReject},
		{PolicyReject, pct(100), PolicyReject},
		{PolicyReject, pct(0), PolicyQuarantine},
		{PolicyQuarantine, pct(0), PolicyNone},
		{PolicyNone, pct(0), PolicyNone},
	}
	for _, tc := range tests {
		if got := sampledPolicy(tc.policy, tc.pct); got != tc.want {
			t.Errorf("sampledPolicy(%s, %v) = %s, want %s", tc.policy, tc.pct, got, tc.want)
		}
	}
}
