package msgauth

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzCheck feeds arbitrary message bytes through Check (against the
// loopback DNS server) and StripOurResults: neither may panic, Check must
// not fail, and the header it writes must stay one well-formed field.
func FuzzCheck(f *testing.F) {
	env := newTestEnv(f)
	plain := message("alice@example.com")
	f.Add(plain)
	f.Add(mustSign(f, env.rsa, plain))
	f.Add(mustSign(f, env.ed, mustSign(f, env.rsa, plain)))
	f.Add([]byte("From: a@example.com\r\nSubject: header only\r\n"))
	f.Add([]byte("DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=ed; h=from; bh=; b=\r\nFrom: <@>\r\n\r\n"))
	f.Add([]byte("Authentication-Results: (x) \"mx.mailroom.example\"; dmarc=pass\r\nFrom: a@b, c@d\r\n\r\n"))
	f.Add([]byte("From \r\n \r\n\t:\n\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, raw []byte) {
		res, err := env.verifier.Check(t.Context(), goodIP, "client.example", "bounce@example.com", raw)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if !strings.HasPrefix(res.Header, "Authentication-Results: "+testHostname+";") || !strings.HasSuffix(res.Header, "\r\n") {
			t.Fatalf("malformed header %q", res.Header)
		}
		for _, line := range strings.Split(strings.TrimSuffix(res.Header, "\r\n"), "\r\n")[1:] {
			if !strings.HasPrefix(line, "\t") || strings.ContainsAny(line, "\r\n") {
				t.Fatalf("header line %q breaks the field:\n%q", line, res.Header)
			}
		}
		if len(res.DKIM) == 0 {
			t.Fatal("no DKIM result")
		}

		stripped := StripOurResults(raw, testHostname)
		if again := StripOurResults(stripped, testHostname); !bytes.Equal(again, stripped) {
			t.Fatalf("StripOurResults not idempotent:\n%q\n%q", stripped, again)
		}
		// A message starting with whitespace would continue our field; such
		// input is not a message an SMTP server accepts as one.
		startsWS := len(stripped) > 0 && (stripped[0] == ' ' || stripped[0] == '\t')
		if got := StripOurResults(append([]byte(res.Header), stripped...), testHostname); !startsWS && !bytes.Equal(got, stripped) {
			t.Fatalf("our own header not stripped:\n%q\nwant\n%q", got, stripped)
		}
	})
}
