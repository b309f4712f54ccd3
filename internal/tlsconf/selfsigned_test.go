package tlsconf

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestSelfSigned(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	certPEM, keyPEM, err := SelfSigned([]string{"mail.example.test", "192.0.2.7", "::1", "*.example.test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("certificate and key do not form a pair: %v", err)
	}
	cert := pair.Leaf
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Errorf("key is %T, want ECDSA P-256", pair.PrivateKey)
	}
	if !slices.Equal(cert.DNSNames, []string{"mail.example.test", "*.example.test"}) {
		t.Errorf("DNS names %v", cert.DNSNames)
	}
	if len(cert.IPAddresses) != 2 || !cert.IPAddresses[0].Equal(net.ParseIP("192.0.2.7")) || !cert.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IP addresses %v", cert.IPAddresses)
	}
	if want := now.Add(-time.Hour); !cert.NotBefore.Equal(want) {
		t.Errorf("NotBefore %v, want %v", cert.NotBefore, want)
	}
	if got := cert.NotAfter.Sub(cert.NotBefore); got != 825*24*time.Hour {
		t.Errorf("validity %v, want 825 days", got)
	}
	if err := cert.VerifyHostname("mail.example.test"); err != nil {
		t.Error(err)
	}
	// CheckSignatureFrom would demand a CA parent; a self-signed leaf is its own issuer.
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil || !bytes.Equal(cert.RawIssuer, cert.RawSubject) {
		t.Errorf("not self-signed: %v", err)
	}
	_, _, err = SelfSigned(nil, now)
	if !errors.Is(err, ErrNoNames) {
		t.Errorf("no names: got %v, want ErrNoNames", err)
	}
	_, _, err = SelfSigned([]string{"a.test", ""}, now)
	if !errors.Is(err, ErrNoNames) {
		t.Errorf("empty name: got %v, want ErrNoNames", err)
	}
}

func TestWriteSelfSigned(t *testing.T) {
	dir := t.TempDir()
	certPath := filepath.Join(dir, "tls", "cert.pem")
	keyPath := filepath.Join(dir, "tls", "private", "key.pem")
	if err := WriteSelfSigned(certPath, keyPath, []string{"mail.example.test"}); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("key mode %v, want 0600", mode)
	}
	if _, err := tls.LoadX509KeyPair(certPath, keyPath); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, cert, key string
	}{
		{"both exist", certPath, keyPath},
		{"certificate exists", certPath, filepath.Join(dir, "new-key.pem")},
		{"key exists", filepath.Join(dir, "new-cert.pem"), keyPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WriteSelfSigned(tt.cert, tt.key, []string{"mail.example.test"})
			if !errors.Is(err, fs.ErrExist) {
				t.Fatalf("got %v, want fs.ErrExist", err)
			}
			for _, p := range []string{tt.cert, tt.key} {
				if p != certPath && p != keyPath {
					if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s was created", p)
					}
				}
			}
		})
	}
	after, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Error("existing certificate was overwritten")
	}
}
