package msgauth

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestDKIM(t *testing.T) {
	env := newTestEnv(t)
	other := newPublishedSigner(t, env.dns, KeyEd25519, "refused.example.net", "sel")
	unpublished, err := NewSigner("example.com", "missing", mustKey(t, KeyEd25519))
	if err != nil {
		t.Fatal(err)
	}
	plain := message("alice@example.com")

	tests := []struct {
		name string
		raw  []byte
		want []Status
	}{
		{"rsa pass", mustSign(t, env.rsa, plain), []Status{StatusPass}},
		{"ed25519 pass", mustSign(t, env.ed, plain), []Status{StatusPass}},
		{"two signatures", mustSign(t, env.ed, mustSign(t, env.rsa, plain)), []Status{StatusPass, StatusPass}},
		{"unsigned", plain, []Status{StatusNone}},
		{"body changed", replace(mustSign(t, env.rsa, plain), "numbers are", "numbers were"), []Status{StatusFail}},
		{"body changed ed25519", replace(mustSign(t, env.ed, plain), "Hello Bob", "Hello Eve"), []Status{StatusFail}},
		{"subject changed", replace(mustSign(t, env.rsa, plain), "Subject: Quarterly", "Subject: Urgent"), []Status{StatusFail}},
		{"From added after signing (oversigned)", addField(mustSign(t, env.rsa, plain), "From: mallory@example.com"), []Status{StatusFail}},
		{"unsigned field added is fine", addField(mustSign(t, env.rsa, plain), "X-Spam-Score: 0"), []Status{StatusPass}},
		{"relaxed: whitespace changes survive", replace(mustSign(t, env.rsa, plain), "Subject: Quarterly numbers", "Subject:   Quarterly \t numbers"), []Status{StatusPass}},
		{"no key published", mustSign(t, unpublished, plain), []Status{StatusPermError}},
		{"key lookup refused", mustSign(t, other, plain), []Status{StatusTempError}},
		{"mangled signature tags", replace(mustSign(t, env.rsa, plain), "v=1;", "v=9;"), []Status{StatusPermError}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := env.check(t, goodIP, "client.example", "bounce@example.com", tc.raw)
			var got []Status
			for _, d := range res.DKIM {
				got = append(got, d.Status)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("DKIM = %v, want %v\n%s", got, tc.want, res.Header)
			}
		})
	}
}

func TestDKIMReport(t *testing.T) {
	env := newTestEnv(t)
	signed := mustSign(t, env.ed, message("alice@example.com"))
	res := env.check(t, goodIP, "client.example", "bounce@example.com", signed)
	d := res.DKIM[0]
	if d.Domain != "example.com" || d.Selector != "ed" || d.Algorithm != "ed25519-sha256" || d.Identifier != "@example.com" || len(d.SignaturePrefix) != 8 {
		t.Errorf("DKIM result = %+v", d)
	}
	want := "dkim=pass header.b=" + d.SignaturePrefix + " header.d=example.com header.i=@example.com header.s=ed"
	if !strings.Contains(res.Header, want) {
		t.Errorf("header lacks %q:\n%s", want, res.Header)
	}
}

func TestSign(t *testing.T) {
	env := newTestEnv(t)
	raw := message("alice@example.com", "Cc: carol@example.com", "X-Mailer: test", "Reply-To: <alice@example.com>")
	signed := mustSign(t, env.rsa, raw)
	if !bytes.HasSuffix(signed, raw) || !bytes.HasPrefix(signed, []byte("DKIM-Signature: ")) {
		t.Fatalf("Sign did not prepend a DKIM-Signature field:\n%s", signed)
	}
	fields, _, _ := splitHeader(signed)
	tags := fields[0].value()
	for _, want := range []string{"c=relaxed/relaxed", "a=rsa-sha256", "d=example.com", "s=rsa"} {
		if !strings.Contains(tags, want) {
			t.Errorf("signature lacks %s: %s", want, tags)
		}
	}
	var h string
	for _, spec := range strings.Split(tags, ";") {
		if name, val, _ := strings.Cut(spec, "="); strings.TrimSpace(name) == "h" {
			h = strings.ToLower(stripFWS(val))
		}
	}
	// Present recommended fields once each, From twice, nothing else.
	want := "from:from:reply-to:subject:date:to:cc:message-id:mime-version:content-type"
	if h != want {
		t.Errorf("h=%s\nwant %s", h, want)
	}

	t.Run("header-only message", func(t *testing.T) {
		signed := mustSign(t, env.ed, []byte("From: alice@example.com\r\nSubject: hi\r\n"))
		res := env.check(t, goodIP, "client.example", "bounce@example.com", signed)
		if res.DKIM[0].Status != StatusPass {
			t.Errorf("DKIM = %s (%s)", res.DKIM[0].Status, res.DKIM[0].Reason)
		}
	})
	t.Run("no From", func(t *testing.T) {
		if _, err := env.ed.Sign([]byte("Subject: hi\r\n\r\nbody\r\n")); err == nil {
			t.Error("Sign accepted a message without From")
		}
	})
}

func TestNewSigner(t *testing.T) {
	ed := mustKey(t, KeyEd25519)
	tests := []struct {
		name, domain, selector string
		key                    []byte
		ok                     bool
	}{
		{"ok", "Example.COM.", "mail-2026", ed, true},
		{"empty domain", "", "sel", ed, false},
		{"domain with tag separator", "example.com;x=1", "sel", ed, false},
		{"selector with space", "example.com", "a b", ed, false},
		{"not PEM", "example.com", "sel", []byte("not a key"), false},
		{"wrong PEM type", "example.com", "sel", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSigner(tc.domain, tc.selector, tc.key)
			if (err == nil) != tc.ok {
				t.Fatalf("NewSigner error = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && s.Domain() != "example.com" {
				t.Errorf("Domain() = %q", s.Domain())
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	for _, tc := range []struct{ alg, prefix string }{
		{KeyRSA2048, "v=DKIM1; k=rsa; p=MIIBIjAN"},
		{KeyEd25519, "v=DKIM1; k=ed25519; p="},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			priv, txt, err := GenerateKey(tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(txt, tc.prefix) {
				t.Errorf("TXT = %q", txt)
			}
			s, err := NewSigner("example.com", "sel", priv)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := s.TXTRecord(); again != txt {
				t.Errorf("TXTRecord() = %q, GenerateKey gave %q", again, txt)
			}
		})
	}
	if _, _, err := GenerateKey("dsa"); err == nil {
		t.Error("GenerateKey accepted an unknown algorithm")
	}
}

func mustKey(t testing.TB, alg string) []byte {
	t.Helper()
	priv, _, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func replace(raw []byte, old, new string) []byte {
	if !bytes.Contains(raw, []byte(old)) {
		panic("test message lacks " + old)
	}
	return bytes.Replace(raw, []byte(old), []byte(new), 1)
}

// addField inserts a header field just before the header/body separator.
func addField(raw []byte, f string) []byte {
	_, body, _ := splitHeader(raw)
	out := append([]byte{}, raw[:body-2]...)
	out = append(out, f+"\r\n"...)
	return append(out, raw[body-2:]...)
}
