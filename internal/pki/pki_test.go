package pki

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"mailroom/internal/db"
)

func openCA(t *testing.T, now func() time.Time) (*CA, *db.DB) {
	t.Helper()
	d, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "mailroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ca, err := Open(context.Background(), d, Options{Name: "Test CA", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return ca, d
}

var alice = Subject{UserID: 7, Address: "Alice@Contoso.test", Name: "Alice Archer"}

func TestCAPersistsAndIssues(t *testing.T) {
	ctx := context.Background()
	ca, d := openCA(t, nil)
	again, err := Open(ctx, d, Options{Name: "Another name"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Certificate().Equal(ca.Certificate()) {
		t.Fatal("a second Open made another CA")
	}
	c := ca.Certificate()
	if !c.IsCA || c.Subject.CommonName != "Test CA" || c.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA %v %s %v", c.IsCA, c.Subject, c.PublicKeyAlgorithm)
	}
	tests := []struct {
		purpose  Purpose
		eku      x509.ExtKeyUsage
		usage    x509.KeyUsage
		verifies bool
	}{
		{ClientAuth, x509.ExtKeyUsageClientAuth, x509.KeyUsageDigitalSignature, true},
		{SMIME, x509.ExtKeyUsageEmailProtection, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.purpose), func(t *testing.T) {
			id, err := ca.Issue(ctx, alice, tt.purpose)
			if err != nil {
				t.Fatal(err)
			}
			cert := id.Cert
			if !slices.Equal(cert.EmailAddresses, []string{"alice@contoso.test"}) || cert.Subject.CommonName != "Alice Archer" {
				t.Errorf("subject %s, SAN %v", cert.Subject, cert.EmailAddresses)
			}
			if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{tt.eku}) || cert.KeyUsage != tt.usage || cert.IsCA {
				t.Errorf("EKU %v, key usage %v, CA %v", cert.ExtKeyUsage, cert.KeyUsage, cert.IsCA)
			}
			roots := x509.NewCertPool()
			roots.AddCert(c)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{tt.eku}}); err != nil {
				t.Errorf("does not chain to the CA: %v", err)
			}
			addr, err := ca.VerifyClient(ctx, cert)
			if tt.verifies && (err != nil || addr != "alice@contoso.test") {
				t.Errorf("VerifyClient = %q, %v", addr, err)
			}
			if !tt.verifies && !errors.Is(err, ErrUntrusted) {
				t.Errorf("VerifyClient accepted a %s certificate: %q, %v", tt.purpose, addr, err)
			}
			// The PKCS #12 decodes with its password to the same identity.
			p12, err := ca.PKCS12(id, "secret")
			if err != nil {
				t.Fatal(err)
			}
			key, leaf, chain, err := pkcs12.DecodeChain(p12, "secret")
			if err != nil {
				t.Fatal(err)
			}
			if !leaf.Equal(cert) || len(chain) != 1 || !chain[0].Equal(c) || key == nil {
				t.Error("PKCS #12 content differs")
			}
			if openssl, err := exec.LookPath("openssl"); err == nil {
				file := filepath.Join(t.TempDir(), "id.p12")
				if err := os.WriteFile(file, p12, 0o600); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(openssl, "pkcs12", "-info", "-nokeys", "-in", file, "-passin", "pass:secret").CombinedOutput()
				if err != nil || !strings.Contains(string(out), "CN = Alice Archer") {
					t.Errorf("openssl pkcs12 -info: %v\n%s", err, out)
				}
			}
		})
	}
	if _, err := ca.Issue(ctx, Subject{UserID: 7, Address: "not an address"}, ClientAuth); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad address: %v", err)
	}
	if _, err := ca.Issue(ctx, alice, "codeSigning"); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad purpose: %v", err)
	}
	if _, err := ca.PKCS12(Identity{}, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("PKCS #12 without password: %v", err)
	}
}

func TestIdentityReuseRenewRevoke(t *testing.T) {
	ctx := context.Background()
	clock := time.Now()
	ca, _ := openCA(t, func() time.Time { return clock })
	first, err := ca.Identity(ctx, alice, SMIME)
	if err != nil {
		t.Fatal(err)
	}
	same, err := ca.Identity(ctx, alice, SMIME)
	if err != nil {
		t.Fatal(err)
	}
	if same.Serial != first.Serial || !same.Cert.Equal(first.Cert) {
		t.Error("a second Identity issued a new certificate")
	}
	// Within 30 days of expiry, a new one.
	clock = clock.Add(340 * 24 * time.Hour)
	renewed, err := ca.Identity(ctx, alice, SMIME)
	if err != nil {
		t.Fatal(err)
	}
	if renewed.Serial == first.Serial {
		t.Error("not renewed near expiry")
	}
	client, err := ca.Identity(ctx, alice, ClientAuth)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.VerifyClient(ctx, client.Cert); err != nil {
		t.Fatal(err)
	}
	// Revoke by the serial as openssl prints it.
	var printed []string
	for i := len(client.Serial); i > 0; i -= 2 {
		printed = append([]string{client.Serial[max(0, i-2):i]}, printed...)
	}
	is, err := ca.Revoke(ctx, strings.ToUpper(strings.Join(printed, ":")))
	if err != nil {
		t.Fatal(err)
	}
	if is.Revoked.IsZero() || is.Serial != client.Serial {
		t.Errorf("revoked %+v", is)
	}
	if _, err := ca.VerifyClient(ctx, client.Cert); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked certificate: %v", err)
	}
	next, err := ca.Identity(ctx, alice, ClientAuth)
	if err != nil || next.Serial == client.Serial {
		t.Errorf("after revocation Identity gave %s, %v", next.Serial, err)
	}
	if _, err := ca.Revoke(ctx, "abcdef"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown serial: %v", err)
	}
	all, err := ca.List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, err := ca.List(ctx, alice.UserID)
	if err != nil {
		t.Fatal(err)
	}
	none, err := ca.List(ctx, 99)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 || len(mine) != 4 || len(none) != 0 {
		t.Errorf("listed %d, %d, %d", len(all), len(mine), len(none))
	}
	// Expired: refused.
	clock = clock.Add(366 * 24 * time.Hour)
	if _, err := ca.VerifyClient(ctx, next.Cert); !errors.Is(err, ErrUntrusted) {
		t.Errorf("expired certificate: %v", err)
	}
}

func TestVerifyClientRefusesForeignCertificates(t *testing.T) {
	ctx := context.Background()
	ca, _ := openCA(t, nil)
	other, _ := openCA(t, nil)
	foreign, err := other.Issue(ctx, alice, ClientAuth)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.VerifyClient(ctx, foreign.Cert); !errors.Is(err, ErrUntrusted) {
		t.Errorf("another CA's certificate: %v", err)
	}
	// Self-signed with the same serial as one on record: still refused.
	mine, err := ca.Issue(ctx, alice, ClientAuth)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: new(big.Int).Set(mine.Cert.SerialNumber), Subject: pkix.Name{CommonName: "x"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), EmailAddresses: []string{"alice@contoso.test"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	forged, _ := x509.ParseCertificate(der)
	if _, err := ca.VerifyClient(ctx, forged); !errors.Is(err, ErrUntrusted) {
		t.Errorf("forged certificate: %v", err)
	}
	if _, err := ca.VerifyClient(ctx, nil); !errors.Is(err, ErrUntrusted) {
		t.Errorf("no certificate: %v", err)
	}
}
