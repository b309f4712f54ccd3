// Package scep is the certificate enrolment face of the built-in CA over HTTP: SCEP
// (RFC 8894) for devices that make their own key pair, with one-time challenge
// passwords bound to a user, and the CA's revocation status as a CRL (RFC 5280) and
// through OCSP (RFC 6960).
//
// It serves plain HTTP and HTTPS alike: SCEP messages are signed and encrypted end to
// end (RFC 8894 §3), so the challenge password inside never travels in the clear, and
// CRLs and OCSP responses are signed by the CA; devices and relying parties commonly
// fetch all three over http. Profiles name the HTTPS address nevertheless, so the CA
// certificate a device trusts arrives over the server's TLS.
//
// The package must never issue a certificate without consuming a challenge, never let
// a request choose whom a certificate names (that is the challenge's user), and never
// answer from a cached status: every CRL and OCSP answer is made from the database.
package scep

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
	"golang.org/x/crypto/ocsp"

	"mailroom/internal/directory"
	"mailroom/internal/pki"
)

// The paths the server answers on; Register adds them to a mux.
const (
	Path     = "/scep"     // SCEP, operation in the query (RFC 8894 §4.1)
	CRLPath  = "/pki/crl"  // the CA's CRL, DER
	OCSPPath = "/pki/ocsp" // OCSP by POST, or GET with the request appended (RFC 6960 Appendix A.1)
)

// maxMessage bounds a PKIOperation or OCSP request body; a CSR in its envelopes is a
// few kilobytes.
const maxMessage = 64 << 10

// caps is the GetCACaps answer (RFC 8894 §3.5.2). No Renewal: a renewal request is
// refused; a device enrols again with a new challenge.
const caps = "POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\n"

// Authority is the CA the server issues with; *pki.CA has it.
type Authority interface {
	Certificate() *x509.Certificate
	RA() (*x509.Certificate, *rsa.PrivateKey)
	IssueForKey(ctx context.Context, s pki.Subject, p pki.Purpose, pub crypto.PublicKey) (pki.Issued, *x509.Certificate, error)
	CRL(ctx context.Context) ([]byte, error)
	OCSP(ctx context.Context, der []byte) ([]byte, error)
}

// Users tells whether a challenge's user may still get a certificate;
// *directory.Directory has it.
type Users interface {
	UserByID(ctx context.Context, id int64) (directory.User, error)
}

// Options are what New needs; all are required but Logger.
type Options struct {
	CA         Authority
	Challenges *Challenges
	Users      Users
	Logger     *slog.Logger
}

// Server answers SCEP, CRL and OCSP requests. It is safe for concurrent use.
type Server struct {
	o   Options
	log *slog.Logger
}

// New returns the server.
func New(o Options) (*Server, error) {
	if o.CA == nil || o.Challenges == nil || o.Users == nil {
		return nil, errors.New("scep: a CA, challenges and users are required")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{o: o, log: log}, nil
}

// Register adds the server's routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+Path, s.serveSCEP)
	mux.HandleFunc("POST "+Path, s.serveSCEP)
	mux.HandleFunc("GET "+CRLPath, s.serveCRL)
	mux.HandleFunc("POST "+OCSPPath, s.serveOCSP)
	mux.HandleFunc("GET "+OCSPPath+"/{request...}", s.serveOCSP)
}

// serveSCEP dispatches on the operation parameter (RFC 8894 §4.1).
func (s *Server) serveSCEP(w http.ResponseWriter, r *http.Request) {
	switch op := r.URL.Query().Get("operation"); op {
	case "GetCACaps": // §4.6
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, caps)
	case "GetCACert": // §4.2
		ra, _ := s.o.CA.RA()
		// §4.2.1.2: with an RA, a certs-only SignedData holding the RA and the CA.
		body, err := scep.DegenerateCertificates([]*x509.Certificate{ra, s.o.CA.Certificate()})
		if err != nil {
			s.fail(w, r, "GetCACert", err)
			return
		}
		w.Header().Set("Content-Type", "application/x-x509-ca-ra-cert")
		w.Write(body)
	case "PKIOperation": // §4.3
		msg, err := readMessage(r)
		if err != nil {
			s.log.Info("SCEP request refused", "remote", r.RemoteAddr, "err", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		reply, err := s.pkiOperation(r.Context(), r.RemoteAddr, msg)
		var bad *httpError
		switch {
		case errors.As(err, &bad):
			s.log.Info("SCEP request refused", "remote", r.RemoteAddr, "err", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		case err != nil:
			s.fail(w, r, "PKIOperation", err)
			return
		}
		w.Header().Set("Content-Type", "application/x-pki-message")
		w.Write(reply)
	case "":
		http.Error(w, "no SCEP operation given", http.StatusBadRequest)
	default:
		http.Error(w, fmt.Sprintf("SCEP operation %q is not supported", op), http.StatusBadRequest)
	}
}

// readMessage takes a PKIOperation's message: the body of a POST, or the message
// parameter of a GET, base64 (§4.3).
func readMessage(r *http.Request) ([]byte, error) {
	if r.Method == http.MethodPost {
		b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxMessage))
		if err != nil {
			return nil, fmt.Errorf("read PKIOperation body: %w", err)
		}
		return b, nil
	}
	m := r.URL.Query().Get("message")
	if len(m) > maxMessage*4/3+4 {
		return nil, errors.New("PKIOperation message too long")
	}
	b, err := base64.StdEncoding.DecodeString(m)
	if err != nil {
		return nil, fmt.Errorf("PKIOperation message is not base64: %w", err)
	}
	return b, nil
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.log.Error("SCEP "+what, "remote", r.RemoteAddr, "err", err)
	http.Error(w, "internal server error", http.StatusInternalServerError)
}

// request is a PKIOperation request parsed and checked as far as the envelope: a
// message a CertRep can answer, and the certificate to encrypt the answer to.
type request struct {
	msg       *scep.PKIMessage
	requester *x509.Certificate
}

// parseRequest parses a PKIOperation message (RFC 8894 §3.2): a SignedData whose
// signature verifies with the requester's certificate carried in it, with the SCEP
// attributes of a PKCSReq. It is the parser the fuzz target drives.
func parseRequest(der []byte) (request, error) {
	msg, err := scep.ParsePKIMessage(der)
	if err != nil {
		return request{}, fmt.Errorf("not a SCEP message: %w", err)
	}
	// ParsePKIMessage verified the signature, so the signing certificate is there.
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return request{}, fmt.Errorf("not a SCEP message: %w", err)
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return request{}, errors.New("SCEP message without exactly one signer")
	}
	if msg.TransactionID == "" {
		return request{}, errors.New("SCEP message without a transactionID")
	}
	return request{msg: msg, requester: signer}, nil
}

// failure is a request refused with a CertRep FAILURE and the failInfo the device sees
// (RFC 8894 §3.2.1.4); the error is for the log.
type failure struct {
	info scep.FailInfo
	err  error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func refuse(info scep.FailInfo, format string, args ...any) error {
	return &failure{info: info, err: fmt.Errorf(format, args...)}
}

// pkiOperation answers one PKIOperation: a CertRep, signed, whether SUCCESS or
// FAILURE. A message that cannot be answered with a CertRep (it does not parse or its
// signature does not verify) is refused with HTTP 400 instead, as nothing in it can be
// trusted to address a reply.
func (s *Server) pkiOperation(ctx context.Context, remote string, der []byte) ([]byte, error) {
	req, err := parseRequest(der)
	if err != nil {
		return nil, &httpError{err}
	}
	ra, raKey := s.o.CA.RA()
	issued, err := s.enrol(ctx, req, ra, raKey)
	var f *failure
	switch {
	case errors.As(err, &f):
		s.log.Info("SCEP enrolment refused", "remote", remote, "transaction", req.msg.TransactionID, "failInfo", f.info.String(), "err", f.err)
		return certRep(req.msg, req.requester, ra, raKey, scep.FAILURE, f.info, nil)
	case err != nil:
		return nil, err
	}
	s.log.Info("SCEP certificate issued", "remote", remote, "transaction", req.msg.TransactionID,
		"serial", issued.SerialNumber.Text(16), "address", issued.EmailAddresses)
	return certRep(req.msg, req.requester, ra, raKey, scep.SUCCESS, "", issued)
}

// httpError is a request answered with HTTP 400 rather than a CertRep.
type httpError struct{ err error }

func (e *httpError) Error() string { return e.err.Error() }

// enrol handles a PKCSReq (RFC 8894 §3.3.1): decrypt the CSR, check its signature,
// consume the challenge, check the CSR names no one but the challenge's user, and
// issue a client-authentication certificate for its key.
func (s *Server) enrol(ctx context.Context, req request, ra *x509.Certificate, raKey *rsa.PrivateKey) (*x509.Certificate, error) {
	if req.msg.MessageType != scep.PKCSReq {
		return nil, refuse(scep.BadRequest, "message type %s is not offered (no Renewal capability)", req.msg.MessageType)
	}
	if _, ok := req.requester.PublicKey.(*rsa.PublicKey); !ok {
		return nil, refuse(scep.BadAlg, "requester key is %T; the reply can only be encrypted to RSA", req.requester.PublicKey)
	}
	if err := req.msg.DecryptPKIEnvelope(ra, raKey); err != nil {
		return nil, refuse(scep.BadMessageCheck, "decrypt the request: %w", err)
	}
	csr := req.msg.CSR
	if err := csr.CheckSignature(); err != nil {
		return nil, refuse(scep.BadMessageCheck, "CSR signature: %w", err)
	}
	// §2.5: the self-signed requester certificate carries the key being certified.
	if !publicKeysEqual(req.requester.PublicKey, csr.PublicKey) {
		return nil, refuse(scep.BadRequest, "the message is signed with another key than the CSR's")
	}
	if req.msg.ChallengePassword == "" {
		return nil, refuse(scep.BadRequest, "CSR without a challenge password")
	}
	subj, err := s.o.Challenges.consume(ctx, req.msg.ChallengePassword)
	switch {
	case errors.Is(err, ErrChallengeUnknown), errors.Is(err, ErrChallengeUsed), errors.Is(err, ErrChallengeExpired):
		return nil, refuse(scep.BadRequest, "%w", err)
	case err != nil:
		return nil, err
	}
	if err := s.checkUser(ctx, subj); err != nil {
		return nil, err
	}
	if err := namesOnly(csr, subj.Address); err != nil {
		return nil, err
	}
	_, cert, err := s.o.CA.IssueForKey(ctx, subj, pki.ClientAuth, csr.PublicKey)
	if errors.Is(err, pki.ErrInvalid) {
		return nil, refuse(scep.BadRequest, "%w", err)
	}
	return cert, err
}

// checkUser refuses a challenge whose user was removed, disabled or given another
// address after the challenge was made.
func (s *Server) checkUser(ctx context.Context, subj pki.Subject) error {
	u, err := s.o.Users.UserByID(ctx, subj.UserID)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return refuse(scep.BadRequest, "user %d of the challenge no longer exists", subj.UserID)
	case err != nil:
		return fmt.Errorf("user of SCEP challenge: %w", err)
	case !u.Enabled || u.Kind != directory.KindUser:
		return refuse(scep.BadRequest, "%s may not sign in", u.Address)
	case !strings.EqualFold(u.Address, subj.Address):
		return refuse(scep.BadRequest, "the challenge was made for %s, the user is now %s", subj.Address, u.Address)
	}
	return nil
}

// oidEmailAddress is PKCS #9 emailAddress, the legacy subject attribute (RFC 5280
// §4.1.2.6).
var oidEmailAddress = []int{1, 2, 840, 113549, 1, 9, 1}

// namesOnly refuses a CSR that names anyone but addr: an rfc822Name, an emailAddress
// attribute or an address-like common name. The certificate takes its subject from
// the challenge either way; a CSR asking for another user's identity is refused
// outright rather than silently given its own.
func namesOnly(csr *x509.CertificateRequest, addr string) error {
	names := append([]string(nil), csr.EmailAddresses...)
	for _, n := range csr.Subject.Names {
		if v, ok := n.Value.(string); ok && n.Type.Equal(oidEmailAddress) {
			names = append(names, v)
		}
	}
	if cn := csr.Subject.CommonName; strings.Contains(cn, "@") {
		names = append(names, cn)
	}
	for _, n := range names {
		if !strings.EqualFold(strings.TrimSpace(n), addr) {
			return refuse(scep.BadRequest, "CSR names %q, the challenge is for %s", n, addr)
		}
	}
	return nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// serveCRL sends the current CRL (RFC 5280 §5; media type of RFC 2585 §4.2).
func (s *Server) serveCRL(w http.ResponseWriter, r *http.Request) {
	crl, err := s.o.CA.CRL(r.Context())
	if err != nil {
		s.fail(w, r, "CRL", err)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(crl)
}

// serveOCSP answers an OCSP request sent by POST or, base64 in the path, by GET
// (RFC 6960 Appendix A.1).
func (s *Server) serveOCSP(w http.ResponseWriter, r *http.Request) {
	var der []byte
	var err error
	if r.Method == http.MethodPost {
		der, err = io.ReadAll(http.MaxBytesReader(nil, r.Body, maxMessage))
	} else {
		der, err = base64.StdEncoding.DecodeString(r.PathValue("request"))
	}
	resp := ocsp.MalformedRequestErrorResponse
	if err == nil {
		resp, err = s.o.CA.OCSP(r.Context(), der)
		switch {
		case errors.Is(err, pki.ErrInvalid):
			resp = ocsp.MalformedRequestErrorResponse
		case err != nil:
			s.log.Error("OCSP", "remote", r.RemoteAddr, "err", err)
			resp = ocsp.InternalErrorErrorResponse
		}
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(resp)
}
