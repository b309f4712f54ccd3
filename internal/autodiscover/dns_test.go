package autodiscover

import (
	"slices"
	"testing"
)

func TestDNSRecords(t *testing.T) {
	s := testServices()
	s.POP3.STARTTLSPort = 0 // POP3 only over TLS
	got := DNSRecords("Example.TEST", s, "mail.example.test")
	want := []Record{
		{"example.test.", "MX", "10 mail.example.test.", ""},
		{"example.test.", "TXT", "v=spf1 mx -all", ""},
		{"autodiscover.example.test.", "CNAME", "mail.example.test.", ""},
		{"autoconfig.example.test.", "CNAME", "mail.example.test.", ""},
		{"_autodiscover._tcp.example.test.", "SRV", "0 0 8443 mail.example.test.", ""},
		{"_submission._tcp.example.test.", "SRV", "0 1 2587 mail.example.test.", ""},
		{"_submissions._tcp.example.test.", "SRV", "0 1 2465 mail.example.test.", ""},
		{"_imap._tcp.example.test.", "SRV", "0 1 2143 mail.example.test.", ""},
		{"_imaps._tcp.example.test.", "SRV", "0 1 2993 mail.example.test.", ""},
		{"_pop3._tcp.example.test.", "SRV", "0 0 0 .", ""},
		{"_pop3s._tcp.example.test.", "SRV", "0 1 2995 mail.example.test.", ""},
	}
	for i := range got {
		if got[i].Note == "" {
			t.Errorf("%s %s has no note", got[i].Name, got[i].Type)
		}
		got[i].Note = ""
	}
	if !slices.Equal(got, want) {
		t.Errorf("DNSRecords:\n%v\nwant\n%v", got, want)
	}

	// Nothing offered but mail delivery: every SRV record says "not here".
	got = DNSRecords("example.test", Services{}, "mail.example.test.")
	for _, r := range got {
		if r.Type == "SRV" && r.Value != "0 0 0 ." {
			t.Errorf("%s = %q, want 0 0 0 .", r.Name, r.Value)
		}
		if r.Name == "_autodiscover._tcp.example.test." {
			t.Error("autodiscover SRV without HTTPS")
		}
	}
	if len(got) != 4+6 {
		t.Errorf("%d records, want 10", len(got))
	}
	// The standard HTTPS port.
	got = DNSRecords("example.test", Services{HTTPS: "https://mail.example.test"}, "mail.example.test")
	if i := slices.IndexFunc(got, func(r Record) bool { return r.Name == "_autodiscover._tcp.example.test." }); i < 0 || got[i].Value != "0 0 443 mail.example.test." {
		t.Errorf("autodiscover SRV with port 443: %v", got)
	}
}
