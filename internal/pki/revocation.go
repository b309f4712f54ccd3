package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/ocsp"
)

// statusValidity is how long a CRL or an OCSP answer says it stays current
// (nextUpdate). Relying parties that cache one learn of a revocation at most this
// late; Mailroom's own endpoints consult the database on every request instead.
const statusValidity = time.Hour

// CRL returns the CA's current certificate revocation list (RFC 5280 §5), DER, signed
// by the CA: every revoked certificate that has not expired yet (§3.3 lets expired
// ones go). It is made afresh on each call, so it is never behind the database, and
// its CRL number (§5.2.3) is the time it was made in microseconds, which grows from
// one CRL to the next on every node.
func (ca *CA) CRL(ctx context.Context) ([]byte, error) {
	now := ca.now()
	rows, err := ca.db.Read().QueryContext(ctx, `SELECT serial, revoked FROM pki_certificates
		WHERE revoked <> 0 AND not_after > $1 ORDER BY revoked, serial`, now.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("list revoked certificates: %w", err)
	}
	defer rows.Close()
	var entries []x509.RevocationListEntry
	for rows.Next() {
		var serial string
		var at int64
		if err := rows.Scan(&serial, &at); err != nil {
			return nil, fmt.Errorf("list revoked certificates: %w", err)
		}
		n, ok := new(big.Int).SetString(serial, 16)
		if !ok {
			return nil, fmt.Errorf("stored serial %q is not hex", serial)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: time.UnixMicro(at).UTC()})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revoked certificates: %w", err)
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(now.UnixMicro()),
		ThisUpdate:                now,
		NextUpdate:                now.Add(statusValidity),
		RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign CRL: %w", err)
	}
	return der, nil
}

// OCSP answers a DER OCSP request (RFC 6960 §4.1) with a response signed by the CA
// itself (§4.2.2.2): good for a certificate on record and not revoked, revoked with
// its time, unknown for anything else, including certificates of another issuer. A
// request that does not parse fails with ErrInvalid; the caller answers it with
// ocsp.MalformedRequestErrorResponse.
func (ca *CA) OCSP(ctx context.Context, der []byte) ([]byte, error) {
	req, err := ocsp.ParseRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: OCSP request: %w", ErrInvalid, err)
	}
	now := ca.now()
	tmpl := ocsp.Response{
		Status:       ocsp.Unknown,
		SerialNumber: req.SerialNumber,
		IssuerHash:   req.HashAlgorithm,
		ThisUpdate:   now,
		NextUpdate:   now.Add(statusValidity),
	}
	ours, err := ca.issuedBy(req)
	if err != nil {
		return nil, err
	}
	if ours {
		var revoked int64
		err := ca.db.Read().QueryRowContext(ctx, `SELECT revoked FROM pki_certificates WHERE serial = $1`,
			serialHex(req.SerialNumber)).Scan(&revoked)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("OCSP status of %s: %w", serialHex(req.SerialNumber), err)
		case revoked != 0:
			tmpl.Status, tmpl.RevokedAt = ocsp.Revoked, time.UnixMicro(revoked).UTC()
			tmpl.RevocationReason = ocsp.Unspecified
		default:
			tmpl.Status = ocsp.Good
		}
	}
	resp, err := ocsp.CreateResponse(ca.cert, ca.cert, tmpl, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign OCSP response: %w", err)
	}
	return resp, nil
}

// issuedBy tells whether the request's CertID names this CA as issuer: the hashes of
// its name and of its public key (RFC 6960 §4.1.1).
func (ca *CA) issuedBy(req *ocsp.Request) (bool, error) {
	h := req.HashAlgorithm
	if !h.Available() {
		return false, nil
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(ca.cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false, fmt.Errorf("CA public key: %w", err)
	}
	return bytes.Equal(digest(h, ca.cert.RawSubject), req.IssuerNameHash) &&
		bytes.Equal(digest(h, spki.PublicKey.RightAlign()), req.IssuerKeyHash), nil
}

func digest(h crypto.Hash, b []byte) []byte {
	w := h.New()
	w.Write(b)
	return w.Sum(nil)
}
