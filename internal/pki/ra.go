package pki

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// loadRA loads the registration authority certificate and key, creating them the
// first time (migrations/*/0002_ra.sql says why there is one).
func (ca *CA) loadRA(ctx context.Context) error {
	certPEM, keyPEM, err := ca.readRA(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		certPEM, keyPEM, err = ca.createRA(ctx)
	}
	if err != nil {
		return err
	}
	if ca.raCert, err = parseCert(certPEM); err != nil {
		return fmt.Errorf("RA certificate: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return fmt.Errorf("RA key: %w", err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return fmt.Errorf("RA key is a %T, not RSA", key)
	}
	ca.raKey = rsaKey
	return nil
}

func (ca *CA) readRA(ctx context.Context) (certPEM, keyPEM string, err error) {
	err = ca.db.Read().QueryRowContext(ctx, `SELECT cert_pem, key_pem FROM pki_ra WHERE id = 1`).Scan(&certPEM, &keyPEM)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		err = fmt.Errorf("read RA: %w", err)
	}
	return certPEM, keyPEM, err
}

// createRA makes an RSA 2048 key and a certificate for it from the CA, valid as long
// as the CA, and stores them unless another process stored its own first.
func (ca *CA) createRA(ctx context.Context) (certPEM, keyPEM string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", fmt.Errorf("RA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return "", "", err
	}
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{CommonName: ca.cert.Subject.CommonName + " SCEP RA",
			Organization: ca.cert.Subject.Organization},
		NotBefore: now.Add(-backdate),
		NotAfter:  ca.cert.NotAfter,
		// RFC 8894 §2.2: keyEncipherment is what clients pick the RA by (they encrypt
		// to it), digitalSignature signs the CertRep.
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return "", "", fmt.Errorf("RA certificate: %w", err)
	}
	if err := ca.saveKeyPair(ctx, "pki_ra", "RA", der, key, now); err != nil {
		return "", "", err
	}
	return ca.readRA(ctx)
}

// RA returns the SCEP registration authority: an RSA certificate issued by the CA,
// which devices encrypt their requests to and whose key signs the replies. Its key is
// for SCEP alone; it cannot issue certificates.
func (ca *CA) RA() (*x509.Certificate, *rsa.PrivateKey) { return ca.raCert, ca.raKey }

// saveKeyPair stores a certificate and its key as the one row of table (pki_ca,
// pki_ra), unless another process stored one first; what names it in errors. The
// caller reads the row back, so every process ends up with the same pair.
func (ca *CA) saveKeyPair(ctx context.Context, table, what string, der []byte, key any, now time.Time) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("%s key: %w", what, err)
	}
	err = ca.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (id, cert_pem, key_pem, created) VALUES (1, $1, $2, $3)
			ON CONFLICT (id) DO NOTHING`, pemString("CERTIFICATE", der), pemString("PRIVATE KEY", keyDER), now.UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("store %s: %w", what, err)
	}
	return nil
}
