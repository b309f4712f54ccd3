package autodiscover

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"howett.net/plist"

	"mailroom/internal/mobileconfig"
	"mailroom/internal/mobileconfig/schematest"
)

func decodeProfile(t *testing.T, b []byte) (top, payload map[string]any) {
	t.Helper()
	if _, err := plist.Unmarshal(b, &top); err != nil {
		t.Fatalf("re-parse profile: %v\n%s", err, b)
	}
	content, _ := top["PayloadContent"].([]any)
	if len(content) != 1 {
		t.Fatalf("%d payloads, want 1", len(content))
	}
	payload, _ = content[0].(map[string]any)
	return top, payload
}

func TestAppleProfile(t *testing.T) {
	e := newTestEnv(t, nil)
	var first []byte
	for _, path := range []string{
		"/autodiscover/mail.mobileconfig?emailaddress=" + alice,
		"/autodiscover/mail.mobileconfig?emailaddress=" + aliceAl,
		"/autodiscover/mail.mobileconfig",
		"/Autodiscover/Mail.mobileconfig?EmailAddress=ALICE@example.test",
	} {
		r := e.do(t, false, "GET", path, alice, testPassword, nil)
		if r.status != 200 {
			t.Fatalf("%s: status %d %s", path, r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/x-apple-aspen-config" {
			t.Errorf("Content-Type %q", ct)
		}
		if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="example.test.mobileconfig"` {
			t.Errorf("Content-Disposition %q", cd)
		}
		// The same user gets the same bytes every time: same identifiers and UUIDs, so
		// the device replaces the profile instead of adding a second one.
		if first == nil {
			first = r.body
		} else if !bytes.Equal(r.body, first) {
			t.Errorf("%s: profile differs from the first download", path)
		}
	}
	// Every key, type and value against Apple's schemas.
	_, problems, err := schematest.CheckProfile(first)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	top, pl := decodeProfile(t, first)
	id, _ := top["PayloadIdentifier"].(string)
	if !strings.HasPrefix(id, "test.example.mail.mailroom.mail.") {
		t.Errorf("PayloadIdentifier %q", id)
	}
	if top["PayloadUUID"] != mobileconfig.DeriveUUID(id, alice) || top["PayloadType"] != "Configuration" {
		t.Errorf("profile UUID/type %v %v", top["PayloadUUID"], top["PayloadType"])
	}
	want := map[string]any{
		"PayloadType":                            "com.apple.mail.managed",
		"PayloadIdentifier":                      id + ".account",
		"PayloadUUID":                            mobileconfig.DeriveUUID(id+".account", alice),
		"EmailAccountType":                       "EmailTypeIMAP",
		"EmailAddress":                           alice,
		"EmailAccountName":                       "Alice Example",
		"IncomingMailServerHostName":             "mail.example.test",
		"IncomingMailServerPortNumber":           uint64(2993),
		"IncomingMailServerUseSSL":               true,
		"IncomingMailServerUsername":             alice,
		"IncomingMailServerAuthentication":       "EmailAuthPassword",
		"OutgoingMailServerHostName":             "mail.example.test",
		"OutgoingMailServerPortNumber":           uint64(2587),
		"OutgoingMailServerUseSSL":               true,
		"OutgoingMailServerUsername":             alice,
		"OutgoingMailServerAuthentication":       "EmailAuthPassword",
		"OutgoingPasswordSameAsIncomingPassword": true,
	}
	for k, v := range want {
		if pl[k] != v {
			t.Errorf("%s = %#v, want %#v", k, pl[k], v)
		}
	}
	if bytes.Contains(first, []byte(testPassword)) || pl["IncomingPassword"] != nil {
		t.Error("the profile carries the password")
	}

	// Bob's profile is another one.
	r := e.do(t, false, "GET", "/autodiscover/mail.mobileconfig", bob, testPassword, nil)
	bobTop, _ := decodeProfile(t, r.body)
	if bobTop["PayloadIdentifier"] == id || bobTop["PayloadUUID"] == top["PayloadUUID"] {
		t.Error("two users got the same profile identity")
	}
}

func TestAppleProfileRefusals(t *testing.T) {
	e := newTestEnv(t, nil)
	wrong := e.do(t, false, "GET", "/autodiscover/mail.mobileconfig?emailaddress="+alice, alice, "wrong password here", nil)
	if wrong.status != 401 || wrong.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("wrong password: %d", wrong.status)
	}
	for _, c := range []struct{ login, addr string }{
		{nobody, nobody},
		{"", alice},
		{bob, alice},    // someone else's address
		{alice, nobody}, // no one's
	} {
		r := e.do(t, false, "GET", "/autodiscover/mail.mobileconfig?emailaddress="+c.addr, c.login, testPassword, nil)
		if r.status != 401 || !bytes.Equal(r.body, wrong.body) || r.header.Get("WWW-Authenticate") != wrong.header.Get("WWW-Authenticate") {
			t.Errorf("%s asking for %s: %d %q, want the wrong-password answer", c.login, c.addr, r.status, r.body)
		}
	}
	if r := e.do(t, true, "GET", "/autodiscover/mail.mobileconfig?emailaddress="+alice, "", "", nil); r.status != 302 ||
		r.header.Get("Location") != "https://mail.example.test:8443/autodiscover/mail.mobileconfig?emailaddress="+alice {
		t.Errorf("plain HTTP: %d %q", r.status, r.header.Get("Location"))
	}
	noMail := newTestEnv(t, func(c *Config) { c.Services.Submission = MailService{} })
	if r := noMail.do(t, false, "GET", "/autodiscover/mail.mobileconfig", alice, testPassword, nil); r.status != 404 {
		t.Errorf("without submission: status %d", r.status)
	}
	popOnly := newTestEnv(t, func(c *Config) { c.Services.IMAP = MailService{} })
	r := popOnly.do(t, false, "GET", "/autodiscover/mail.mobileconfig", alice, testPassword, nil)
	if _, pl := decodeProfile(t, r.body); pl["EmailAccountType"] != "EmailTypePOP" || pl["IncomingMailServerPortNumber"] != uint64(2995) {
		t.Errorf("POP-only profile: %v %v", pl["EmailAccountType"], pl["IncomingMailServerPortNumber"])
	}
}

func TestAppleProfileSigned(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.example.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	dir := newTestDirectory(t)
	plainEnv := newTestEnv(t, func(c *Config) { c.Directory = dir })
	signedEnv := newTestEnv(t, func(c *Config) { c.Directory = dir; c.Signer = &mobileconfig.Signer{Cert: cert, Key: key} })
	unsigned := plainEnv.do(t, false, "GET", "/autodiscover/mail.mobileconfig", alice, testPassword, nil)
	signed := signedEnv.do(t, false, "GET", "/autodiscover/mail.mobileconfig", alice, testPassword, nil)
	if signed.status != 200 || signed.header.Get("Content-Type") != "application/x-apple-aspen-config" {
		t.Fatalf("signed: %d %q", signed.status, signed.header.Get("Content-Type"))
	}
	if bytes.Equal(signed.body, unsigned.body) {
		t.Fatal("profile was not signed")
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	in := filepath.Join(t.TempDir(), "signed.mobileconfig")
	if err := os.WriteFile(in, signed.body, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(openssl, "cms", "-verify", "-inform", "DER", "-noverify", "-binary", "-in", in)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl cms -verify: %v\n%s", err, stderr.Bytes())
	}
	if !bytes.Equal(stdout.Bytes(), unsigned.body) {
		t.Errorf("signed content differs from the unsigned profile:\n%s\n---\n%s", stdout.Bytes(), unsigned.body)
	}
}
