package mobileconfig

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/smallstep/pkcs7"
)

// Sign wraps a marshalled profile in a CMS SignedData (RFC 5652) that contains the
// profile, signed by cert's key with SHA-256, with cert and chain (its issuers, nearest
// first) included so the device can show who signed it. Devices install the result as
// they install the plain profile, and mark it verified when they trust the chain.
func Sign(profile []byte, cert *x509.Certificate, key crypto.Signer, chain []*x509.Certificate) ([]byte, error) {
	if cert == nil || key == nil {
		return nil, errors.New("sign profile: no certificate or key")
	}
	sd, err := pkcs7.NewSignedData(profile)
	if err != nil {
		return nil, fmt.Errorf("sign profile: %w", err)
	}
	// The library's default digest is SHA-1, which current devices distrust.
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(cert, key, chain, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("sign profile as %s: %w", cert.Subject, err)
	}
	out, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("sign profile: %w", err)
	}
	return out, nil
}

// Signer is the certificate and key that sign profiles — normally the server's TLS
// certificate — with the issuers sent along so devices can build the path to a root
// they trust, nearest first.
type Signer struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// Sign signs a marshalled profile; see the package function Sign.
func (s *Signer) Sign(profile []byte) ([]byte, error) {
	return Sign(profile, s.Cert, s.Key, s.Chain)
}
