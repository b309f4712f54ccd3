package tlsconf

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Pair is a certificate file (PEM, leaf first, then any intermediates) and
// its private key file (PEM, PKCS #8, PKCS #1 or SEC 1).
type Pair struct{ Cert, Key string }

// Errors callers can match with errors.Is; each is wrapped with the file at fault.
var (
	ErrNoPairs       = errors.New("tlsconf: no certificate configured")
	ErrNoCertificate = errors.New("no CERTIFICATE block")
	ErrNoKey         = errors.New("no PRIVATE KEY block")
	ErrKeyMismatch   = errors.New("private key does not match the certificate")
)

// Server builds the server-side TLS configuration: TLS 1.2 or later; under
// TLS 1.2 only ECDHE key exchange with AEAD ciphers (TLS 1.3 suites are
// all AEAD and not configurable); X25519 and P-256 key exchange. The
// certificate is picked by the client's SNI name: an exact name first, then
// a wildcard one level up ("*.example.test"), then the first pair.
func Server(pairs []Pair) (*tls.Config, error) {
	if len(pairs) == 0 {
		return nil, ErrNoPairs
	}
	certs := make([]*tls.Certificate, 0, len(pairs))
	for _, p := range pairs {
		c, err := loadPair(p)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	byName := map[string]*tls.Certificate{}
	for _, c := range certs {
		for _, name := range c.Leaf.DNSNames {
			// Earlier pairs win, so the order in the configuration decides.
			if n := strings.ToLower(name); byName[n] == nil {
				byName[n] = c
			}
		}
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return choose(byName, certs[0], hello.ServerName), nil
		},
	}, nil
}

// choose picks the certificate for an SNI name. Clients send no name when
// they connect by IP address, which gets the default.
func choose(byName map[string]*tls.Certificate, def *tls.Certificate, serverName string) *tls.Certificate {
	name := strings.ToLower(strings.TrimSuffix(serverName, "."))
	if c := byName[name]; c != nil {
		return c
	}
	// A wildcard covers exactly one label (RFC 6125 section 6.4.3).
	if _, parent, ok := strings.Cut(name, "."); ok {
		if c := byName["*."+parent]; c != nil {
			return c
		}
	}
	return def
}

// loadPair reads and checks one pair, so that an error names the file at
// fault rather than only saying the pair failed.
func loadPair(p Pair) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(p.Cert)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: certificate: %w", err)
	}
	chain, leaf, err := parseChain(certPEM)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: certificate %s: %w", p.Cert, err)
	}

	keyPEM, err := os.ReadFile(p.Key)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: key: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: key %s: %w", p.Key, err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return nil, fmt.Errorf("tlsconf: key %s and certificate %s: %w", p.Key, p.Cert, ErrKeyMismatch)
	}
	return &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// parseChain reads the CERTIFICATE blocks of a PEM file, leaf first, and
// parses the leaf; other blocks (a key kept in the same file) are skipped.
func parseChain(data []byte) (chain [][]byte, leaf *x509.Certificate, err error) {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			chain = append(chain, block.Bytes)
		}
	}
	if len(chain) == 0 {
		return nil, nil, ErrNoCertificate
	}
	leaf, err = x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, nil, err
	}
	return chain, leaf, nil
}

// parseKey reads the first private key block, in any of the encodings
// OpenSSL and certificate tools commonly write.
func parseKey(data []byte) (crypto.Signer, error) {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, ErrNoKey
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue // e.g. EC PARAMETERS before the key
		}
		if err != nil {
			return nil, err
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: unsupported key type %T", ErrNoKey, key)
		}
		return signer, nil
	}
}
