package scep

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"mailroom/internal/scep/sceptest"
)

// FuzzParseRequest drives the PKIOperation parser, and for what parses the envelope
// decryption and CSR parsing behind it, with arbitrary bytes: nothing may panic, and a
// parsed request always has a requester certificate to answer to.
func FuzzParseRequest(f *testing.F) {
	raKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz RA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, raKey.Public(), raKey)
	if err != nil {
		f.Fatal(err)
	}
	ra, err := x509.ParseCertificate(der)
	if err != nil {
		f.Fatal(err)
	}
	msg, err := sceptest.NewMessage(sceptest.Request{Challenge: "seed", Subject: pkix.Name{CommonName: "seed@contoso.test"}},
		[]*x509.Certificate{ra})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg.Raw)
	f.Add(msg.Raw[:len(msg.Raw)/2])
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x00, 0x00})
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := parseRequest(b)
		if err != nil {
			return
		}
		if req.requester == nil || req.msg == nil {
			t.Fatal("parsed request without a requester")
		}
		if req.msg.DecryptPKIEnvelope(ra, raKey) == nil && req.msg.CSRReqMessage != nil && req.msg.CSR == nil {
			t.Fatal("decrypted request without a CSR")
		}
	})
}
