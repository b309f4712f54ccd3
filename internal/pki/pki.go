// Package pki is Mailroom's built-in certificate authority: it makes one CA per
// installation, issues each user a client-authentication certificate (for ActiveSync
// sign-in without a password) and an S/MIME certificate, delivers them as PKCS #12 or
// certifies a key a device made itself (SCEP enrolment, internal/scep), lists and
// revokes them, publishes their status as a CRL and through OCSP, and checks a client
// certificate presented at sign-in.
//
// The CA's key, the SCEP registration authority's key and the keys the CA made live in
// the database (see migrations/*/0001_pki.sql for why). The package must never issue a
// certificate for a purpose other than the two it names, never let a request choose a
// certificate's subject, never hand out a CA key, and never accept a client
// certificate it has no record of or has revoked.
package pki

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"embed"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"mailroom/internal/db"
)

//go:embed migrations/*/*.sql
var migrationFiles embed.FS

// Errors callers can match with errors.Is.
var (
	ErrNotFound  = errors.New("no such certificate")
	ErrRevoked   = errors.New("certificate revoked")
	ErrUntrusted = errors.New("certificate not issued by this CA")
	ErrInvalid   = errors.New("invalid")
)

// Purpose is what an issued certificate is for.
type Purpose string

// The purposes the CA issues for.
const (
	// ClientAuth certificates (EKU clientAuth) sign a user in to ActiveSync.
	ClientAuth Purpose = "client-auth"
	// SMIME certificates (EKU emailProtection) sign and decrypt a user's mail.
	SMIME Purpose = "smime"
)

// Validity periods. A leaf is renewed when less than renewBefore of it is left, so a
// device re-downloading its profile never gets one about to expire.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
	// backdate covers devices whose clock is a few minutes behind.
	backdate = 5 * time.Minute
)

// Options configure Open.
type Options struct {
	// Name is the CA's common name when Open creates it, e.g. "Mailroom CA
	// mail.example.test". An existing CA keeps its name.
	Name string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CRLURL and OCSPURL, when set, are named in every certificate issued from then
	// on: as its CRL distribution point (RFC 5280 §4.2.1.13) and its OCSP responder
	// (authority information access, §4.2.2.1). The server serves both (internal/scep).
	CRLURL, OCSPURL string
}

// CA is the installation's certificate authority. It is safe for concurrent use.
type CA struct {
	db   *db.DB
	now  func() time.Time
	cert *x509.Certificate
	key  crypto.Signer
	// crlURL and ocspURL are Options.CRLURL and Options.OCSPURL.
	crlURL, ocspURL string
	// ra is the RSA certificate and key SCEP encrypts requests to (ra.go).
	raCert *x509.Certificate
	raKey  *rsa.PrivateKey
}

// Open applies the package's migrations and loads the CA from d, creating it (ECDSA
// P-256, ten years) the first time.
func Open(ctx context.Context, d *db.DB, o Options) (*CA, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("pki migrations: %w", err)
	}
	if err := d.Migrate(ctx, "pki", sub); err != nil {
		return nil, err
	}
	ca := &CA{db: d, now: o.Now, crlURL: o.CRLURL, ocspURL: o.OCSPURL}
	if ca.now == nil {
		ca.now = time.Now
	}
	certPEM, keyPEM, err := ca.read(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		certPEM, keyPEM, err = ca.create(ctx, o.Name)
	}
	if err != nil {
		return nil, err
	}
	if ca.cert, err = parseCert(certPEM); err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if ca.key, err = parseKey(keyPEM); err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	if err := ca.loadRA(ctx); err != nil {
		return nil, err
	}
	return ca, nil
}

func (ca *CA) read(ctx context.Context) (certPEM, keyPEM string, err error) {
	err = ca.db.Read().QueryRowContext(ctx, `SELECT cert_pem, key_pem FROM pki_ca WHERE id = 1`).Scan(&certPEM, &keyPEM)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		err = fmt.Errorf("read CA: %w", err)
	}
	return certPEM, keyPEM, err
}

// create makes a CA and stores it unless another process stored one first, and
// returns the stored one.
func (ca *CA) create(ctx context.Context, name string) (certPEM, keyPEM string, err error) {
	if name == "" {
		name = "Mailroom CA"
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return "", "", err
	}
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Mailroom"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Only leaves below: the CA never signs another CA.
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return "", "", fmt.Errorf("CA certificate: %w", err)
	}
	if err := ca.saveKeyPair(ctx, "pki_ca", "CA", der, key, now); err != nil {
		return "", "", err
	}
	return ca.read(ctx)
}

// Certificate returns the CA certificate, for trust stores and profile chains.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Subject is whom a certificate is issued to.
type Subject struct {
	UserID  int64
	Address string // the primary address: the certificate's rfc822Name
	Name    string // display name for the common name; empty uses Address
}

// Issued describes one issued certificate.
type Issued struct {
	Serial    string    `json:"serial"`
	UserID    int64     `json:"userId"`
	Address   string    `json:"address"`
	Purpose   Purpose   `json:"purpose"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	// Revoked is when it was revoked; zero while valid.
	Revoked time.Time `json:"revoked,omitzero"`
}

// Identity is an issued certificate with its private key.
type Identity struct {
	Issued
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Issue makes a new certificate for s and p: RSA 2048, which every S/MIME client can
// encrypt to, valid for a year, with the address as rfc822Name.
func (ca *CA) Issue(ctx context.Context, s Subject, p Purpose) (Identity, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Identity{}, fmt.Errorf("issue %s certificate for %s: %w", p, s.Address, err)
	}
	is, cert, err := ca.issue(ctx, s, p, key.Public(), key)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Issued: is, Cert: cert, Key: key}, nil
}

// IssueForKey makes a new certificate for s and p for a public key whose private key
// the CA never sees, as SCEP enrolment asks (the device keeps its key). The subject
// and extensions are the CA's, from s alone, as for Issue: nothing of the request that
// brought pub can choose them. The key must be RSA of at least 2048 bits or ECDSA
// P-256 or P-384.
func (ca *CA) IssueForKey(ctx context.Context, s Subject, p Purpose, pub crypto.PublicKey) (Issued, *x509.Certificate, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return Issued{}, nil, fmt.Errorf("%w: RSA key of %d bits for %s; at least 2048 are needed", ErrInvalid, k.N.BitLen(), s.Address)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return Issued{}, nil, fmt.Errorf("%w: ECDSA key on %s for %s; P-256 or P-384 are accepted", ErrInvalid, k.Curve.Params().Name, s.Address)
		}
	default:
		return Issued{}, nil, fmt.Errorf("%w: %T key for %s; RSA or ECDSA are accepted", ErrInvalid, pub, s.Address)
	}
	return ca.issue(ctx, s, p, pub, nil)
}

// issue signs and records a certificate for pub; key is stored with it when the CA
// made it (Issue), and stored empty when the holder keeps it (IssueForKey).
func (ca *CA) issue(ctx context.Context, s Subject, p Purpose, pub crypto.PublicKey, key crypto.Signer) (Issued, *x509.Certificate, error) {
	tmpl, err := ca.leafTemplate(s, p)
	if err != nil {
		return Issued{}, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return Issued{}, nil, fmt.Errorf("issue %s certificate for %s: %w", p, s.Address, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Issued{}, nil, fmt.Errorf("issue %s certificate for %s: %w", p, s.Address, err)
	}
	keyPEM := ""
	if key != nil {
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return Issued{}, nil, fmt.Errorf("issue %s certificate for %s: %w", p, s.Address, err)
		}
		keyPEM = pemString("PRIVATE KEY", keyDER)
	}
	is := Issued{
		Serial: serialHex(cert.SerialNumber), UserID: s.UserID, Address: tmpl.EmailAddresses[0], Purpose: p,
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
	}
	err = ca.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO pki_certificates
			(serial, user_id, address, purpose, cert_pem, key_pem, not_before, not_after)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			is.Serial, is.UserID, is.Address, string(p), pemString("CERTIFICATE", der), keyPEM,
			cert.NotBefore.UnixMicro(), cert.NotAfter.UnixMicro())
		return err
	})
	if err != nil {
		return Issued{}, nil, fmt.Errorf("store %s certificate for %s: %w", p, s.Address, err)
	}
	return is, cert, nil
}

func (ca *CA) leafTemplate(s Subject, p Purpose) (*x509.Certificate, error) {
	addr := strings.ToLower(strings.TrimSpace(s.Address))
	if local, domain, ok := strings.Cut(addr, "@"); !ok || local == "" || domain == "" || strings.ContainsAny(addr, " \t\r\n") {
		return nil, fmt.Errorf("%w: certificate subject address %q", ErrInvalid, s.Address)
	}
	if s.UserID <= 0 {
		return nil, fmt.Errorf("%w: certificate for %s without a user id", ErrInvalid, addr)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: cmp.Or(s.Name, addr), Organization: ca.cert.Subject.Organization},
		EmailAddresses:        []string{addr},
		BasicConstraintsValid: true,
	}
	switch p {
	case ClientAuth:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case SMIME:
		// RFC 8550 §4.4.2: signing needs digitalSignature; RSA key transport for
		// encryption needs keyEncipherment.
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	default:
		return nil, fmt.Errorf("%w: certificate purpose %q (want %s or %s)", ErrInvalid, p, ClientAuth, SMIME)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := ca.now()
	tmpl.SerialNumber = serial
	if ca.crlURL != "" {
		tmpl.CRLDistributionPoints = []string{ca.crlURL}
	}
	if ca.ocspURL != "" {
		tmpl.OCSPServer = []string{ca.ocspURL}
	}
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = now.Add(leafValidity)
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter // a leaf must not outlive its issuer (RFC 5280 §6.1.3)
	}
	return tmpl, nil
}

// Identity returns s's newest valid certificate for p with more than 30 days left
// and the same address, issuing a new one if there is none. Re-downloads thus carry
// the same identity, which S/MIME needs to decrypt earlier mail. Certificates whose
// key the holder keeps (IssueForKey) are never returned: there is no key to deliver.
func (ca *CA) Identity(ctx context.Context, s Subject, p Purpose) (Identity, error) {
	addr := strings.ToLower(strings.TrimSpace(s.Address))
	var certPEM, keyPEM string
	err := ca.db.Read().QueryRowContext(ctx, `SELECT cert_pem, key_pem FROM pki_certificates
		WHERE user_id = $1 AND purpose = $2 AND address = $3 AND revoked = 0 AND not_after > $4 AND key_pem <> ''
		ORDER BY not_after DESC LIMIT 1`,
		s.UserID, string(p), addr, ca.now().Add(renewBefore).UnixMicro()).Scan(&certPEM, &keyPEM)
	if errors.Is(err, sql.ErrNoRows) {
		return ca.Issue(ctx, s, p)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("look up %s certificate of %s: %w", p, addr, err)
	}
	cert, err := parseCert(certPEM)
	if err != nil {
		return Identity{}, err
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Issued: Issued{Serial: serialHex(cert.SerialNumber), UserID: s.UserID, Address: addr, Purpose: p,
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter}, Cert: cert, Key: key}, nil
}

// PKCS12 encodes id with the CA certificate as a password-protected PKCS #12 file.
//
// It uses the 3DES/SHA-1 parameters (go-pkcs12's LegacyDES, OpenSSL's -descert),
// not AES: iOS and macOS before 2023 refuse AES-encrypted PKCS #12 files. The
// weaker cipher costs nothing here, because a profile carries the password next to
// the file; the download's TLS and sign-in are what protect the key.
func (ca *CA) PKCS12(id Identity, password string) ([]byte, error) {
	if password == "" {
		return nil, fmt.Errorf("%w: PKCS #12 without a password (devices refuse them)", ErrInvalid)
	}
	out, err := pkcs12.LegacyDES.Encode(id.Key, id.Cert, []*x509.Certificate{ca.cert}, password)
	if err != nil {
		return nil, fmt.Errorf("PKCS #12 of %s: %w", id.Serial, err)
	}
	return out, nil
}

// List returns the certificates issued to userID, or to everyone if userID is 0,
// newest first.
func (ca *CA) List(ctx context.Context, userID int64) ([]Issued, error) {
	rows, err := ca.db.Read().QueryContext(ctx, `SELECT serial, user_id, address, purpose, not_before, not_after, revoked
		FROM pki_certificates WHERE CAST($1 AS BIGINT) = 0 OR user_id = $1 ORDER BY not_before DESC, serial`, userID)
	if err != nil {
		return nil, fmt.Errorf("list certificates: %w", err)
	}
	defer rows.Close()
	var out []Issued
	for rows.Next() {
		is, err := scanIssued(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, is)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list certificates: %w", err)
	}
	return out, nil
}

func scanIssued(scan func(...any) error) (Issued, error) {
	var is Issued
	var purpose string
	var nb, na, rev int64
	if err := scan(&is.Serial, &is.UserID, &is.Address, &purpose, &nb, &na, &rev); err != nil {
		return Issued{}, fmt.Errorf("read certificate: %w", err)
	}
	is.Purpose = Purpose(purpose)
	is.NotBefore, is.NotAfter = time.UnixMicro(nb).UTC(), time.UnixMicro(na).UTC()
	if rev != 0 {
		is.Revoked = time.UnixMicro(rev).UTC()
	}
	return is, nil
}

// Revoke marks the certificate with the given serial (hex, any case, colons allowed)
// revoked: VerifyClient refuses it from then on, and Identity issues a new one.
// Revoking a revoked certificate keeps the first revocation time.
func (ca *CA) Revoke(ctx context.Context, serial string) (Issued, error) {
	key := normalSerial(serial)
	var is Issued
	err := ca.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE pki_certificates SET revoked = $1 WHERE serial = $2 AND revoked = 0`,
			ca.now().UnixMicro(), key); err != nil {
			return err
		}
		var err error
		is, err = scanIssued(tx.QueryRowContext(ctx, `SELECT serial, user_id, address, purpose, not_before, not_after, revoked
			FROM pki_certificates WHERE serial = $1`, key).Scan)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Issued{}, fmt.Errorf("%w: serial %s", ErrNotFound, serial)
	}
	if err != nil {
		return Issued{}, fmt.Errorf("revoke %s: %w", serial, err)
	}
	return is, nil
}

// VerifyClient checks a client certificate presented at sign-in (the leaf of the TLS
// peer chain) and returns the address it was issued to: it must chain to this CA, be
// within its validity, carry EKU clientAuth, and be one this CA has on record and has
// not revoked. The ActiveSync endpoint treats the address as the signed-in user.
func (ca *CA) VerifyClient(ctx context.Context, cert *x509.Certificate) (string, error) {
	if cert == nil {
		return "", fmt.Errorf("%w: no certificate", ErrUntrusted)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots: roots, CurrentTime: ca.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return "", fmt.Errorf("%w: %w", ErrUntrusted, err)
	}
	var certPEM, addr string
	var revoked int64
	err := ca.db.Read().QueryRowContext(ctx, `SELECT cert_pem, address, revoked FROM pki_certificates
		WHERE serial = $1 AND purpose = $2`, serialHex(cert.SerialNumber), string(ClientAuth)).Scan(&certPEM, &addr, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: serial %s is not a client certificate on record", ErrUntrusted, serialHex(cert.SerialNumber))
	}
	if err != nil {
		return "", fmt.Errorf("look up client certificate: %w", err)
	}
	stored, err := parseCert(certPEM)
	if err != nil {
		return "", err
	}
	// A serial is random and the CA key private, so a mismatch means a forged or
	// corrupted record; refuse rather than trust the serial alone.
	if !stored.Equal(cert) {
		return "", fmt.Errorf("%w: serial %s differs from the certificate on record", ErrUntrusted, serialHex(cert.SerialNumber))
	}
	if revoked != 0 {
		return "", fmt.Errorf("%w: serial %s of %s, at %s", ErrRevoked, serialHex(cert.SerialNumber), addr,
			time.UnixMicro(revoked).UTC().Format(time.RFC3339))
	}
	return addr, nil
}

// newSerial returns a random positive 128-bit serial (RFC 5280 §4.1.2.2 allows up to
// 20 octets; CA/Browser practice asks for at least 64 random bits).
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func serialHex(n *big.Int) string { return n.Text(16) }

// normalSerial accepts a serial as openssl prints it (upper case, colons) too.
func normalSerial(s string) string {
	s = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	return strings.TrimLeft(s, "0")
}

func pemString(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func parseCert(s string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("stored certificate is not PEM")
	}
	return x509.ParseCertificate(b.Bytes)
}

func parseKey(s string) (crypto.Signer, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, errors.New("stored key is not PKCS #8 PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("stored key is a %T, not a signer", k)
	}
	return signer, nil
}
