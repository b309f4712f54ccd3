package msgauth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os/exec"
	"testing"
)

// dkimpyScript drives dkimpy (Debian package python3-dkim, with
// python3-nacl for Ed25519): "verify NAME TXT" verifies stdin with the key
// record TXT published at NAME; "sign ALG DOMAIN SELECTOR KEY" signs stdin.
const dkimpyScript = `
import sys, dkim
msg = sys.stdin.buffer.read()
if sys.argv[1] == "verify":
    name, txt = sys.argv[2].encode(), sys.argv[3].encode()
    def lookup(q, timeout=5):
        return txt if q.rstrip(b".") == name else None
    sys.exit(0 if dkim.verify(msg, dnsfunc=lookup) else 1)
alg, domain, selector, key = (a.encode() for a in sys.argv[2:6])
sig = dkim.sign(msg, selector, domain, key, signature_algorithm=alg,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[b"from", b"to", b"subject", b"date"])
sys.stdout.buffer.write(sig + msg)
`

// TestDKIMPy cross-checks RSA and Ed25519 signatures in both directions
// with dkimpy, a second independent DKIM implementation (opendkim-testmsg
// cannot sign with sha256 or Ed25519).
func TestDKIMPy(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import dkim, nacl").Run(); err != nil {
		t.Skip("dkimpy not installed (apt-get install python3-dkim python3-nacl)")
	}
	env := newTestEnv(t)
	run := func(t *testing.T, msg []byte, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(t.Context(), python, append([]string{"-c", dkimpyScript}, args...)...)
		cmd.Stdin = bytes.NewReader(msg)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if stderr.Len() > 0 {
			t.Logf("dkimpy: %s", stderr.String())
		}
		return out, err
	}
	msg := message("alice@example.com")

	for _, alg := range []string{KeyRSA2048, KeyEd25519} {
		t.Run(alg, func(t *testing.T) {
			priv, txt, err := GenerateKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			selector := "py-" + alg
			signer, err := NewSigner("example.com", selector, priv)
			if err != nil {
				t.Fatal(err)
			}
			name := selector + "._domainkey.example.com"
			env.dns.addTXT(name, txt)

			t.Run("dkimpy verifies Signer", func(t *testing.T) {
				signed := mustSign(t, signer, msg)
				if _, err := run(t, signed, "verify", name, txt); err != nil {
					t.Errorf("dkimpy rejected our signature: %v", err)
				}
				if _, err := run(t, replace(signed, "Hello", "Goodbye"), "verify", name, txt); err == nil {
					t.Error("dkimpy accepted a changed body")
				}
			})

			t.Run("Verifier verifies dkimpy", func(t *testing.T) {
				key, sigAlg := dkimpyKey(t, priv)
				signed, err := run(t, msg, "sign", sigAlg, "example.com", selector, key)
				if err != nil {
					t.Fatalf("dkimpy sign: %v", err)
				}
				res := env.check(t, goodIP, "client.example", "bounce@example.com", signed)
				if d := res.DKIM[0]; d.Status != StatusPass || d.Algorithm != sigAlg || d.Selector != selector {
					t.Errorf("DKIM = %+v, want pass", d)
				}
				res = env.check(t, goodIP, "client.example", "bounce@example.com", replace(signed, "Subject: Quarterly", "Subject: Urgent"))
				if d := res.DKIM[0]; d.Status != StatusFail {
					t.Errorf("changed Subject: DKIM = %+v, want fail", d)
				}
			})
		})
	}
}

// dkimpyKey converts a GenerateKey private key to the form dkimpy reads: a
// PKCS #1 PEM for RSA, the base64 seed for Ed25519.
func dkimpyKey(t *testing.T, privatePEM []byte) (key, alg string) {
	t.Helper()
	k, err := parsePrivateKey(privatePEM)
	if err != nil {
		t.Fatal(err)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})), "rsa-sha256"
	case ed25519.PrivateKey:
		return base64.StdEncoding.EncodeToString(k.Seed()), "ed25519-sha256"
	}
	t.Fatalf("unexpected key type %T", k)
	return "", ""
}
