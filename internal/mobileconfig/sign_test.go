package mobileconfig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
)

// testCert issues a certificate for key, signed by parent/parentKey, or self-signed if
// parent is nil.
func testCert(t *testing.T, name string, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer, ca bool) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Mailroom test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  ca,
	}
	if ca {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSign(t *testing.T) {
	unsigned, err := profile(account()).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := testCert(t, "Test CA", caKey, nil, nil, true)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		key   crypto.Signer
		chain bool
	}{
		{"rsa leaf with chain", rsaKey, true},
		{"ecdsa leaf with chain", ecKey, true},
		{"self-signed rsa", rsaKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cert *x509.Certificate
			var chain []*x509.Certificate
			if tt.chain {
				cert = testCert(t, "profiles.example.test", tt.key, ca, caKey, false)
				chain = []*x509.Certificate{ca}
			} else {
				cert = testCert(t, "profiles.example.test", tt.key, nil, nil, false)
			}
			signed, err := Sign(unsigned, cert, tt.key, chain)
			if err != nil {
				t.Fatal(err)
			}
			p7, err := pkcs7.Parse(signed)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p7.Content, unsigned) {
				t.Error("signed content differs from the profile")
			}
			if err := p7.Verify(); err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
			if len(p7.Signers) != 1 || !p7.Signers[0].DigestAlgorithm.Algorithm.Equal(pkcs7.OIDDigestAlgorithmSHA256) {
				t.Errorf("digest algorithm is not SHA-256: %+v", p7.Signers)
			}
			if want := 1 + len(chain); len(p7.Certificates) != want {
				t.Errorf("%d certificates included, want %d", len(p7.Certificates), want)
			}
			if tt.chain {
				pool := x509.NewCertPool()
				pool.AddCert(ca)
				if err := p7.VerifyWithChain(pool); err != nil {
					t.Errorf("chain does not verify: %v", err)
				}
			}
			verifyWithOpenSSL(t, signed, unsigned)
		})
	}
}

// verifyWithOpenSSL checks the signature as a tool outside Go sees it:
// openssl cms -verify -noverify checks the signature (not the chain) and prints the
// content, which must be the unsigned profile byte for byte.
func verifyWithOpenSSL(t *testing.T, signed, unsigned []byte) {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	in := filepath.Join(t.TempDir(), "profile.mobileconfig")
	if err := os.WriteFile(in, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(openssl, "cms", "-verify", "-inform", "DER", "-noverify", "-in", in, "-binary")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl cms -verify: %v\n%s", err, stderr.Bytes())
	}
	if !bytes.Equal(stdout.Bytes(), unsigned) {
		t.Errorf("openssl's content differs from the profile:\n%s", stdout.Bytes())
	}
	if !bytes.Contains(stderr.Bytes(), []byte("Verification successful")) {
		t.Errorf("openssl did not report success: %s", stderr.Bytes())
	}
}

func TestSignRejectsMissingKey(t *testing.T) {
	if _, err := Sign([]byte("x"), nil, nil, nil); err == nil {
		t.Error("Sign without certificate succeeded")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := testCert(t, "CA", key, nil, nil, true)
	leaf := testCert(t, "leaf", other, nil, nil, false)
	// A chain whose first certificate did not issue the signer is refused.
	if _, err := Sign([]byte("x"), leaf, other, []*x509.Certificate{ca}); err == nil {
		t.Error("Sign with an unrelated chain succeeded")
	}
}
