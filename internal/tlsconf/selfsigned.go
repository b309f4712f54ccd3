package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Validity is how long a self-signed certificate lasts. 825 days is the most
// Apple platforms accept for a TLS server certificate
// (https://support.apple.com/en-us/103769).
const Validity = 825 * 24 * time.Hour

// ErrNoNames is returned when a certificate would name nothing.
var ErrNoNames = errors.New("tlsconf: a certificate needs at least one name")

// SelfSigned makes an ECDSA P-256 key and a self-signed certificate for the
// given DNS names (names that parse as IP addresses become IP SANs), valid
// from an hour before now — to tolerate clients whose clocks run behind —
// for Validity. Both are returned PEM-encoded; the key is PKCS #8.
func SelfSigned(names []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	if len(names) == 0 {
		return nil, nil, ErrNoNames
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: names[0]},
		NotBefore:             now.Add(-time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	tmpl.NotAfter = tmpl.NotBefore.Add(Validity)
	for _, n := range names {
		if n == "" {
			return nil, nil, fmt.Errorf("%w: empty name in %q", ErrNoNames, names)
		}
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	// RFC 5280 section 4.1.2.2: a positive serial of at most 20 octets;
	// 128 random bits make collisions between reinstalls negligible.
	tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: serial number: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: generate key: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: encode key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// WriteSelfSigned makes a self-signed pair for names (see SelfSigned) and
// writes it to certPath and keyPath, creating their directories. The key
// file is mode 0600. If either file already exists nothing is written and
// the error wraps fs.ErrExist: a certificate someone installed must never
// be replaced by a self-signed one.
func WriteSelfSigned(certPath, keyPath string, names []string) error {
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("tlsconf: %s: %w", p, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("tlsconf: %w", err)
		}
	}
	certPEM, keyPEM, err := SelfSigned(names, time.Now())
	if err != nil {
		return err
	}
	// The key goes first so that a failure never leaves a certificate
	// without its key; the key is removed again if the certificate fails.
	if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(certPath, certPEM, 0o644); err != nil {
		_ = os.Remove(keyPath)
		return err
	}
	return nil
}

// writeNew creates path, which must not exist, with data and mode. O_EXCL
// closes the race between the existence check and the write.
func writeNew(path string, data []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("tlsconf: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("tlsconf: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("tlsconf: %w", err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("tlsconf: %w", err)
	}
	return nil
}
