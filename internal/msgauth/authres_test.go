package msgauth

import (
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
)

func TestHeader(t *testing.T) {
	env := newTestEnv(t)
	res := env.check(t, goodIP, "client.example", "bounce@example.com", message("alice@example.com"))
	want := "Authentication-Results: mx.mailroom.example;\r\n" +
		"\tspf=pass smtp.mailfrom=bounce@example.com;\r\n" +
		"\tdkim=none reason=\"message not signed\";\r\n" +
		"\tdmarc=pass header.from=example.com\r\n"
	if res.Header != want {
		t.Errorf("Header =\n%q\nwant\n%q", res.Header, want)
	}

	// The field parses back (RFC 8601 ABNF) with the same results.
	signed := mustSign(t, env.rsa, message("alice@example.com"))
	res = env.check(t, badIP, "client.example", "bounce@example.com", signed)
	name, value, _ := strings.Cut(strings.TrimSuffix(res.Header, "\r\n"), ":")
	if name != "Authentication-Results" {
		t.Fatalf("field name %q", name)
	}
	id, results, err := authres.Parse(strings.ReplaceAll(value, "\r\n\t", " "))
	if err != nil {
		t.Fatalf("authres.Parse(%q): %v", value, err)
	}
	if id != testHostname || len(results) != 3 {
		t.Fatalf("parsed %q with %d results", id, len(results))
	}
	if r, ok := results[0].(*authres.SPFResult); !ok || r.Value != authres.ResultFail || r.From != "bounce@example.com" {
		t.Errorf("spf result %#v", results[0])
	}
	if r, ok := results[1].(*authres.DKIMResult); !ok || r.Value != authres.ResultPass || r.Domain != "example.com" {
		t.Errorf("dkim result %#v", results[1])
	}
	if r, ok := results[2].(*authres.DMARCResult); !ok || r.Value != authres.ResultPass || r.From != "example.com" {
		t.Errorf("dmarc result %#v", results[2])
	}
	for _, line := range strings.Split(res.Header, "\r\n") {
		if len(line) > 998 {
			t.Errorf("line of %d octets", len(line))
		}
	}
}

func TestHeaderInjection(t *testing.T) {
	env := newTestEnv(t)
	// A signature whose tags carry CR/LF and a backslash must not split or
	// corrupt the header field.
	raw := []byte("DKIM-Signature: v=1; a=rsa-sha256; d=evil.example\\; s=x\r\n" +
		" \r\n\tInjected: yes; h=from; bh=AA==; b=AA==\r\n" +
		"From: alice@example.com\r\n\r\nbody\r\n")
	res := env.check(t, goodIP, "client.example", "bounce\"\r\nX-Evil: 1@example.com", raw)
	lines := strings.Split(strings.TrimSuffix(res.Header, "\r\n"), "\r\n")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "\t") {
			t.Errorf("header line %q does not continue the field:\n%s", l, res.Header)
		}
	}
	if strings.Contains(res.Header, `\;`) {
		t.Errorf("backslash passed through:\n%s", res.Header)
	}
}

func TestCheckErrors(t *testing.T) {
	env := newTestEnv(t)
	tests := []struct {
		name string
		v    *Verifier
		ip   []byte
	}{
		{"no resolver", &Verifier{Hostname: testHostname}, goodIP},
		{"no hostname", &Verifier{Resolver: env.verifier.Resolver}, goodIP},
		{"hostname with semicolon", &Verifier{Resolver: env.verifier.Resolver, Hostname: "a;b"}, goodIP},
		{"no IP", env.verifier, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.v.Check(t.Context(), tc.ip, "client.example", "a@example.com", message("alice@example.com")); err == nil {
				t.Error("Check succeeded")
			}
		})
	}
}

func TestStripOurResults(t *testing.T) {
	const id = "mx.mailroom.example"
	body := "\r\nbody with Authentication-Results: mx.mailroom.example; spf=pass\r\n"
	tests := []struct {
		name, in, want string
	}{
		{
			name: "no results fields",
			in:   "From: a@example.com\r\nSubject: x\r\n" + body,
			want: "From: a@example.com\r\nSubject: x\r\n" + body,
		},
		{
			name: "ours removed, others kept",
			in: "Authentication-Results: mx.mailroom.example; spf=pass smtp.mailfrom=a@example.com\r\n" +
				"Authentication-Results: mx.other.example; dkim=pass header.d=example.com\r\n" +
				"From: a@example.com\r\n" + body,
			want: "Authentication-Results: mx.other.example; dkim=pass header.d=example.com\r\n" +
				"From: a@example.com\r\n" + body,
		},
		{
			name: "folded, case-insensitive, with comment and version",
			in: "From: a@example.com\r\n" +
				"authentication-results: (forged) MX.Mailroom.Example. 1;\r\n\tdmarc=pass\r\n\theader.from=example.com\r\n" +
				"Subject: x\r\n" + body,
			want: "From: a@example.com\r\nSubject: x\r\n" + body,
		},
		{
			name: "quoted authserv-id",
			in:   "Authentication-Results: \"mx.mailroom.example\"; none\r\nFrom: a@example.com\r\n" + body,
			want: "From: a@example.com\r\n" + body,
		},
		{
			name: "prefix of our id is not ours",
			in:   "Authentication-Results: mx.mailroom.example.net; none\r\nAuthentication-Results: mailroom.example; none\r\n" + body,
			want: "Authentication-Results: mx.mailroom.example.net; none\r\nAuthentication-Results: mailroom.example; none\r\n" + body,
		},
		{
			name: "other field naming us is kept",
			in:   "X-Authentication-Results: mx.mailroom.example; none\r\nFrom: a@example.com\r\n" + body,
			want: "X-Authentication-Results: mx.mailroom.example; none\r\nFrom: a@example.com\r\n" + body,
		},
		{
			name: "last field, no body",
			in:   "From: a@example.com\r\nAuthentication-Results: mx.mailroom.example; none\r\n",
			want: "From: a@example.com\r\n",
		},
		{
			name: "bare LF message",
			in:   "Authentication-Results: mx.mailroom.example; none\nFrom: a@example.com\n\nbody\n",
			want: "From: a@example.com\n\nbody\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(StripOurResults([]byte(tc.in), id)); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
