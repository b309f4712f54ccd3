package msgauth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// Key algorithms accepted by GenerateKey.
const (
	KeyRSA2048 = "rsa2048"
	KeyEd25519 = "ed25519"
)

// minRSABits is the smallest RSA key accepted for signing: RFC 8301 section
// 3.2 says signers MUST use at least 1024 bits (and SHOULD use 2048).
const minRSABits = 1024

// GenerateKey creates a DKIM signing key. alg is KeyRSA2048 or KeyEd25519.
// It returns the private key as a PKCS #8 PEM block and the TXT record value
// to publish at SELECTOR._domainkey.DOMAIN (RFC 6376 section 3.6.1; for
// Ed25519 the raw 32-byte public key, RFC 8463 section 4.2).
func GenerateKey(alg string) (privatePEM []byte, dnsTXT string, err error) {
	var priv crypto.Signer
	switch alg {
	case KeyRSA2048:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case KeyEd25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, "", fmt.Errorf("msgauth: unknown key algorithm %q (want %q or %q)", alg, KeyRSA2048, KeyEd25519)
	}
	if err != nil {
		return nil, "", fmt.Errorf("msgauth: generate %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, "", fmt.Errorf("msgauth: encode %s key: %w", alg, err)
	}
	txt, err := publicKeyRecord(priv.Public())
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), txt, nil
}

// publicKeyRecord formats the DKIM key record (RFC 6376 section 3.6.1) for pub.
func publicKeyRecord(pub crypto.PublicKey) (string, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("msgauth: encode RSA public key: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	default:
		return "", fmt.Errorf("msgauth: unsupported public key type %T", pub)
	}
}

// parsePrivateKey reads an RSA or Ed25519 private key from a PEM block in
// PKCS #8 ("PRIVATE KEY") or PKCS #1 ("RSA PRIVATE KEY") form.
func parsePrivateKey(privatePEM []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(privatePEM)
	if block == nil {
		return nil, errors.New("msgauth: no PEM block in private key")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("msgauth: unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("msgauth: parse private key: %w", err)
	}
	switch key := key.(type) {
	case *rsa.PrivateKey:
		if bits := key.N.BitLen(); bits < minRSABits {
			return nil, fmt.Errorf("msgauth: RSA key of %d bits is too short (RFC 8301 requires at least %d)", bits, minRSABits)
		}
		return key, nil
	case ed25519.PrivateKey:
		return key, nil
	default:
		return nil, fmt.Errorf("msgauth: unsupported private key type %T", key)
	}
}
