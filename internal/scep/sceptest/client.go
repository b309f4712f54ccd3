// Package sceptest is a SCEP client (RFC 8894) for tests: it enrols the way a device
// does, over HTTP with net/http — GetCACaps, GetCACert, then a PKCSReq it builds with
// smallstep/scep's client side — and decrypts the CertRep. It is test support:
// production code must never import it.
package sceptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/smallstep/scep"
	"github.com/smallstep/scep/x509util"
)

// Request is what the device asks for.
type Request struct {
	Challenge string
	Subject   pkix.Name
	Emails    []string // rfc822Name subject alternative names
	KeyBits   int      // RSA key size; 0 means 2048
	// Key, when set, is used instead of a new key of KeyBits.
	Key *rsa.PrivateKey
}

// Result is the CertRep: Status SUCCESS with Cert, or FAILURE with FailInfo.
type Result struct {
	Caps     []string
	CACerts  []*x509.Certificate // GetCACert's answer: the RA and the CA
	Status   scep.PKIStatus
	FailInfo scep.FailInfo
	Cert     *x509.Certificate
	Key      *rsa.PrivateKey
}

// Enrol runs one enrolment against the SCEP URL base (e.g. https://host/scep).
func Enrol(ctx context.Context, hc *http.Client, base string, r Request) (Result, error) {
	var res Result
	caps, err := get(ctx, hc, base, "GetCACaps")
	if err != nil {
		return res, err
	}
	res.Caps = strings.Fields(string(caps))
	raw, err := get(ctx, hc, base, "GetCACert")
	if err != nil {
		return res, err
	}
	if res.CACerts, err = scep.CACerts(raw); err != nil {
		return res, fmt.Errorf("GetCACert: %w", err)
	}
	msg, err := NewMessage(r, res.CACerts)
	if err != nil {
		return res, err
	}
	res.Key = msg.Key
	reply, err := Post(ctx, hc, base, msg.Raw)
	if err != nil {
		return res, err
	}
	rep, err := scep.ParsePKIMessage(reply, scep.WithCACerts(res.CACerts))
	if err != nil {
		return res, fmt.Errorf("CertRep: %w", err)
	}
	if rep.MessageType != scep.CertRep || rep.CertRepMessage == nil {
		return res, fmt.Errorf("reply is a %s, not a CertRep", rep.MessageType)
	}
	if rep.TransactionID != msg.TransactionID || !bytes.Equal(rep.RecipientNonce, msg.SenderNonce) {
		return res, errors.New("CertRep answers another transaction")
	}
	res.Status, res.FailInfo = rep.PKIStatus, rep.FailInfo
	if rep.PKIStatus != scep.SUCCESS {
		return res, nil
	}
	if err := rep.DecryptPKIEnvelope(msg.Self, res.Key); err != nil {
		return res, fmt.Errorf("decrypt CertRep: %w", err)
	}
	res.Cert = rep.Certificate
	return res, nil
}

// Message is a PKCSReq as a device sends it, with what it needs to read the reply.
type Message struct {
	*scep.PKIMessage
	Self *x509.Certificate // the self-signed certificate that signed it
	Key  *rsa.PrivateKey
}

// NewMessage builds a PKCSReq for r, encrypted to the one of recipients (GetCACert's
// answer) whose key usage allows encipherment, as RFC 8894 §2.2 has devices choose.
func NewMessage(r Request, recipients []*x509.Certificate) (Message, error) {
	key := r.Key
	if key == nil {
		bits := r.KeyBits
		if bits == 0 {
			bits = 2048
		}
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, bits); err != nil {
			return Message{}, err
		}
	}
	csrDER, err := x509util.CreateCertificateRequest(rand.Reader, &x509util.CertificateRequest{
		CertificateRequest: x509.CertificateRequest{Subject: r.Subject, EmailAddresses: r.Emails,
			SignatureAlgorithm: x509.SHA256WithRSA},
		ChallengePassword: r.Challenge,
	}, key)
	if err != nil {
		return Message{}, err
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return Message{}, err
	}
	// RFC 8894 §2.3: before it has a certificate, the device signs with a self-signed
	// one for its new key.
	self, err := selfSigned(key, r.Subject)
	if err != nil {
		return Message{}, err
	}
	msg, err := scep.NewCSRRequest(csr, &scep.PKIMessage{MessageType: scep.PKCSReq, Recipients: recipients,
		SignerKey: key, SignerCert: self}, scep.WithCertsSelector(scep.EnciphermentCertsSelector()))
	if err != nil {
		return Message{}, err
	}
	return Message{PKIMessage: msg, Self: self, Key: key}, nil
}

func get(ctx context.Context, hc *http.Client, base, op string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"?operation="+op, nil)
	if err != nil {
		return nil, err
	}
	return do(hc, req)
}

// Post sends a PKIOperation by POST (the POSTPKIOperation capability) and returns the
// reply's body; an HTTP status other than 200 is an *HTTPError.
func Post(ctx context.Context, hc *http.Client, base string, message []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"?operation=PKIOperation", bytes.NewReader(message))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-pki-message")
	return do(hc, req)
}

// HTTPError is a reply with another status than 200.
type HTTPError struct {
	Code int
	Body string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body) }

func do(hc *http.Client, req *http.Request) ([]byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{Code: resp.StatusCode, Body: string(body)}
	}
	return body, nil
}

// GetMessage sends a PKIOperation by GET, base64 in the message parameter (RFC 8894
// §4.3), for servers or tests that want the GET form.
func GetMessage(ctx context.Context, hc *http.Client, base string, message []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"?operation=PKIOperation&message="+
		url.QueryEscape(base64.StdEncoding.EncodeToString(message)), nil)
	if err != nil {
		return nil, err
	}
	return do(hc, req)
}

func selfSigned(key *rsa.PrivateKey, subject pkix.Name) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: subject, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
