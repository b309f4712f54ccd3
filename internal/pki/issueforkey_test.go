package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
)

// TestIssueForKey: the CA certifies a key it never saw, for the subject it is told,
// keeps no key for it, and refuses weak or unusual keys.
func TestIssueForKey(t *testing.T) {
	ctx := context.Background()
	ca, _ := openCA(t, nil)
	gen := func(f func() (crypto.Signer, error)) crypto.PublicKey {
		k, err := f()
		if err != nil {
			t.Fatal(err)
		}
		return k.Public()
	}
	rsaKey := func(bits int) func() (crypto.Signer, error) {
		return func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, bits) }
	}
	ecKey := func(c elliptic.Curve) func() (crypto.Signer, error) {
		return func() (crypto.Signer, error) { return ecdsa.GenerateKey(c, rand.Reader) }
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name string
		pub  crypto.PublicKey
		ok   bool
	}{
		{"RSA 2048", gen(rsaKey(2048)), true},
		{"ECDSA P-256", gen(ecKey(elliptic.P256())), true},
		{"RSA 1024", gen(rsaKey(1024)), false},
		{"ECDSA P-521", gen(ecKey(elliptic.P521())), false},
		{"Ed25519", edKey.Public(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is, cert, err := ca.IssueForKey(ctx, alice, ClientAuth, tt.pub)
			if !tt.ok {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("got %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.pub) || is.Address != "alice@contoso.test" {
				t.Errorf("certificate for %s, key differs: %v", is.Address, cert.PublicKey)
			}
			if _, err := ca.VerifyClient(ctx, cert); err != nil {
				t.Errorf("VerifyClient: %v", err)
			}
			// Identity issues its own rather than return a certificate without a key.
			id, err := ca.Identity(ctx, alice, ClientAuth)
			if err != nil || id.Serial == is.Serial || id.Key == nil {
				t.Errorf("Identity = %s, %v", id.Serial, err)
			}
		})
	}
}
