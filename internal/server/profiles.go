package server

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"mailroom/internal/instance"
	"mailroom/internal/mobileconfig"
	"mailroom/internal/pki"
	"mailroom/internal/profiles"
)

// Profiles opens the built-in certificate authority (made on first use) and the device
// profile service, which signs with the server's default certificate. The server's
// download page and the profile administration commands share it.
func Profiles(ctx context.Context, in *instance.Instance) (*profiles.Service, *pki.CA, error) {
	ca, err := pki.Open(ctx, in.DB, pki.Options{Name: "Mailroom CA " + in.Config.Hostname})
	if err != nil {
		return nil, nil, err
	}
	signer, err := ProfileSigner(in)
	if err != nil {
		return nil, nil, err
	}
	svc, err := profiles.New(ctx, in.DB, profiles.Options{
		Hostname: in.Config.Hostname, Directory: in.Directory, CA: ca, Signer: signer,
	})
	if err != nil {
		return nil, nil, err
	}
	return svc, ca, nil
}

// ProfileSigner loads the default TLS certificate, which signs Apple profiles.
func ProfileSigner(in *instance.Instance) (*mobileconfig.Signer, error) {
	pair := in.Config.CertPairs()[0]
	kp, err := tls.LoadX509KeyPair(pair.Cert, pair.Key)
	if err != nil {
		return nil, fmt.Errorf("certificate that signs profiles: %w", err)
	}
	var chain []*x509.Certificate
	for _, der := range kp.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", pair.Cert, err)
		}
		chain = append(chain, c)
	}
	key, ok := kp.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key %s cannot sign", pair.Key)
	}
	return &mobileconfig.Signer{Cert: chain[0], Key: key, Chain: chain[1:]}, nil
}
