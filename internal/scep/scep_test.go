package scep

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smallstep/scep"
	"golang.org/x/crypto/ocsp"

	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/pgtest"
	"mailroom/internal/pki"
	"mailroom/internal/scep/sceptest"
)

// TestMain runs the suite on SQLite, then again on PostgreSQL when it is installed.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type env struct {
	ctx        context.Context
	db         *db.DB
	ca         *pki.CA
	dir        *directory.Directory
	challenges *Challenges
	clock      *clock
	url        string // the SCEP URL, https on loopback
	base       string // scheme and host
	http       *http.Client
	alice, bob directory.User
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	var d *db.DB
	var err error
	if pgtest.Enabled() {
		d, err = db.OpenPostgres(ctx, pgtest.Start(t))
	} else {
		d, err = db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "mailroom.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	dir, err := directory.New(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddDomain(ctx, "contoso.test", "CONTOSO"); err != nil {
		t.Fatal(err)
	}
	e := &env{ctx: ctx, db: d, dir: dir, clock: &clock{t: time.Now()}}
	for _, u := range []struct {
		to   *directory.User
		addr string
	}{{&e.alice, "alice@contoso.test"}, {&e.bob, "bob@contoso.test"}} {
		if *u.to, err = dir.AddUser(ctx, directory.NewUser{Address: u.addr, Password: "a long test password 1"}); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	ts := httptest.NewUnstartedServer(mux)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	e.base = ts.URL
	e.url = ts.URL + Path
	e.http = ts.Client()
	if e.ca, err = pki.Open(ctx, d, pki.Options{Name: "Test CA", Now: e.clock.now, CRLURL: ts.URL + CRLPath, OCSPURL: ts.URL + OCSPPath}); err != nil {
		t.Fatal(err)
	}
	if e.challenges, err = OpenChallenges(ctx, d, 0, e.clock.now); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{CA: e.ca, Challenges: e.challenges, Users: dir})
	if err != nil {
		t.Fatal(err)
	}
	srv.Register(mux)
	return e
}

func (e *env) challenge(t *testing.T, u directory.User) string {
	t.Helper()
	pw, exp, err := e.challenges.NewChallenge(e.ctx, pki.Subject{UserID: u.ID, Address: u.Address})
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(e.clock.now().Add(DefaultChallengeTTL)) {
		t.Errorf("challenge expires %v", exp)
	}
	return pw
}

// TestEnrol enrols as a device does and checks what it gets: a client-authentication
// certificate for the challenge's user (whatever common name the CSR chose), chained
// to the CA, naming the CRL and OCSP URLs, on record and accepted for sign-in; then
// revokes it and sees the CRL and OCSP say so and sign-in refuse it.
func TestEnrol(t *testing.T) {
	e := newEnv(t)
	res, err := sceptest.Enrol(e.ctx, e.http, e.url, sceptest.Request{
		Challenge: e.challenge(t, e.alice), Subject: pkix.Name{CommonName: "Alice's iPhone"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Caps, []string{"POSTPKIOperation", "SHA-256", "AES", "SCEPStandard"}) {
		t.Errorf("GetCACaps = %q", res.Caps)
	}
	ra, _ := e.ca.RA()
	if len(res.CACerts) != 2 || !res.CACerts[0].Equal(ra) || !res.CACerts[1].Equal(e.ca.Certificate()) {
		t.Errorf("GetCACert gave %d certificates, want the RA and the CA", len(res.CACerts))
	}
	if res.Status != scep.SUCCESS {
		t.Fatalf("CertRep %q %q", string(res.Status), string(res.FailInfo))
	}
	cert := res.Cert
	if !cert.PublicKey.(*rsa.PublicKey).Equal(&res.Key.PublicKey) {
		t.Error("certificate for another key than the CSR's")
	}
	if !slices.Equal(cert.EmailAddresses, []string{"alice@contoso.test"}) || cert.Subject.CommonName != "alice@contoso.test" {
		t.Errorf("subject %s, SAN %v", cert.Subject, cert.EmailAddresses)
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("EKU %v", cert.ExtKeyUsage)
	}
	if !slices.Equal(cert.CRLDistributionPoints, []string{e.base + CRLPath}) || !slices.Equal(cert.OCSPServer, []string{e.base + OCSPPath}) {
		t.Errorf("CRL DP %v, OCSP %v", cert.CRLDistributionPoints, cert.OCSPServer)
	}
	if addr, err := e.ca.VerifyClient(e.ctx, cert); err != nil || addr != "alice@contoso.test" {
		t.Fatalf("VerifyClient = %q, %v", addr, err)
	}
	list, err := e.ca.List(e.ctx, e.alice.ID)
	if err != nil || len(list) != 1 || list[0].Serial != cert.SerialNumber.Text(16) || list[0].Purpose != pki.ClientAuth {
		t.Fatalf("List = %+v, %v", list, err)
	}
	// Identity never hands out a certificate whose key the device kept.
	id, err := e.ca.Identity(e.ctx, pki.Subject{UserID: e.alice.ID, Address: e.alice.Address}, pki.ClientAuth)
	if err != nil || id.Serial == list[0].Serial || id.Key == nil {
		t.Errorf("Identity = %s, %v", id.Serial, err)
	}
	if got := e.ocsp(t, cert); got.Status != ocsp.Good {
		t.Errorf("OCSP before revocation: status %d", got.Status)
	}
	if crl := e.crl(t); len(crl.RevokedCertificateEntries) != 0 {
		t.Errorf("CRL before revocation lists %d", len(crl.RevokedCertificateEntries))
	}

	if _, err := e.ca.Revoke(e.ctx, cert.SerialNumber.Text(16)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ca.VerifyClient(e.ctx, cert); !errors.Is(err, pki.ErrRevoked) {
		t.Errorf("VerifyClient after revocation: %v", err)
	}
	// Another node on the same database shares the CA and the RA, and sees the
	// revocation at once.
	node2, err := pki.Open(e.ctx, e.db, pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ra2, _ := node2.RA(); !ra2.Equal(ra) || !node2.Certificate().Equal(e.ca.Certificate()) {
		t.Error("a second node has another CA or RA")
	}
	if _, err := node2.VerifyClient(e.ctx, cert); !errors.Is(err, pki.ErrRevoked) {
		t.Errorf("VerifyClient on another node after revocation: %v", err)
	}
	crl := e.crl(t)
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(cert.SerialNumber) != 0 {
		t.Errorf("CRL after revocation: %+v", crl.RevokedCertificateEntries)
	}
	got := e.ocsp(t, cert)
	if got.Status != ocsp.Revoked || got.RevokedAt.IsZero() {
		t.Errorf("OCSP after revocation: status %d at %v", got.Status, got.RevokedAt)
	}
	// By GET, the request in the path (RFC 6960 Appendix A.1), for a certificate the CA
	// never issued: unknown.
	other := *cert
	other.SerialNumber = cert.SerialNumber.Add(cert.SerialNumber, cert.SerialNumber)
	req, err := ocsp.CreateRequest(&other, e.ca.Certificate(), nil)
	if err != nil {
		t.Fatal(err)
	}
	body := e.get(t, e.base+OCSPPath+"/"+base64Path(req))
	if r, err := ocsp.ParseResponse(body, e.ca.Certificate()); err != nil || r.Status != ocsp.Unknown {
		t.Errorf("OCSP for an unknown serial: %+v, %v", r, err)
	}
	if r, err := ocsp.ParseResponse(e.post(t, e.base+OCSPPath, "application/ocsp-request", []byte("garbage")), nil); !errors.Is(err, ocsp.ResponseError{Status: ocsp.Malformed}) {
		t.Errorf("garbage OCSP request: %+v, %v", r, err)
	}
}

// base64Path is an OCSP request as GET carries it: base64, then URL-escaped.
func base64Path(b []byte) string {
	return url.PathEscape(base64.StdEncoding.EncodeToString(b))
}

func (e *env) crl(t *testing.T) *x509.RevocationList {
	t.Helper()
	crl, err := x509.ParseRevocationList(e.get(t, e.base+CRLPath))
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(e.ca.Certificate()); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	if !crl.NextUpdate.After(crl.ThisUpdate) {
		t.Errorf("CRL valid %v to %v", crl.ThisUpdate, crl.NextUpdate)
	}
	return crl
}

func (e *env) ocsp(t *testing.T, cert *x509.Certificate) *ocsp.Response {
	t.Helper()
	req, err := ocsp.CreateRequest(cert, e.ca.Certificate(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ocsp.ParseResponseForCert(e.post(t, e.base+OCSPPath, "application/ocsp-request", req), cert, e.ca.Certificate())
	if err != nil {
		t.Fatalf("OCSP response: %v", err)
	}
	return r
}

func (e *env) get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := e.http.Get(url)
	return body(t, resp, err)
}

func (e *env) post(t *testing.T, url, typ string, b []byte) []byte {
	t.Helper()
	resp, err := e.http.Post(url, typ, bytes.NewReader(b))
	return body(t, resp, err)
}

func body(t *testing.T, resp *http.Response, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d, %v: %s", resp.Request.URL, resp.StatusCode, err, b)
	}
	return b
}

// TestEnrolRefused: every way a request can be wrong gets a signed CertRep FAILURE
// with its failInfo, and issues nothing.
func TestEnrolRefused(t *testing.T) {
	e := newEnv(t)
	used := e.challenge(t, e.alice)
	if res, err := sceptest.Enrol(e.ctx, e.http, e.url, sceptest.Request{Challenge: used}); err != nil || res.Status != scep.SUCCESS {
		t.Fatalf("first use: %q %q, %v", string(res.Status), string(res.FailInfo), err)
	}
	tests := []struct {
		name string
		req  func() sceptest.Request
		info scep.FailInfo
	}{
		{"unknown challenge", func() sceptest.Request { return sceptest.Request{Challenge: "not-a-challenge"} }, scep.BadRequest},
		{"no challenge", func() sceptest.Request { return sceptest.Request{} }, scep.BadRequest},
		{"reused challenge", func() sceptest.Request { return sceptest.Request{Challenge: used} }, scep.BadRequest},
		{"expired challenge", func() sceptest.Request {
			pw := e.challenge(t, e.alice)
			e.clock.advance(DefaultChallengeTTL + time.Second)
			return sceptest.Request{Challenge: pw}
		}, scep.BadRequest},
		{"common name of another user", func() sceptest.Request {
			return sceptest.Request{Challenge: e.challenge(t, e.alice), Subject: pkix.Name{CommonName: "bob@contoso.test"}}
		}, scep.BadRequest},
		{"rfc822Name of another user", func() sceptest.Request {
			return sceptest.Request{Challenge: e.challenge(t, e.alice), Emails: []string{"alice@contoso.test", "bob@contoso.test"}}
		}, scep.BadRequest},
		{"1024-bit key", func() sceptest.Request {
			return sceptest.Request{Challenge: e.challenge(t, e.alice), KeyBits: 1024}
		}, scep.BadRequest},
		{"user disabled since", func() sceptest.Request {
			pw := e.challenge(t, e.bob)
			if err := e.dir.SetEnabled(e.ctx, e.bob.Address, false); err != nil {
				t.Fatal(err)
			}
			return sceptest.Request{Challenge: pw}
		}, scep.BadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := e.ca.List(e.ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			res, err := sceptest.Enrol(e.ctx, e.http, e.url, tt.req())
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != scep.FAILURE || res.FailInfo != tt.info || res.Cert != nil {
				t.Errorf("CertRep %q %q, want FAILURE %q", string(res.Status), string(res.FailInfo), string(tt.info))
			}
			after, err := e.ca.List(e.ctx, 0)
			if err != nil || len(after) != len(before) {
				t.Errorf("%d certificates before, %d after (%v)", len(before), len(after), err)
			}
		})
	}
}

// TestBadMessages: what is no SCEP message at all is refused with HTTP 400.
func TestBadMessages(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		name string
		send func() ([]byte, error)
	}{
		{"garbage POST", func() ([]byte, error) { return sceptest.Post(e.ctx, e.http, e.url, []byte("garbage")) }},
		{"empty POST", func() ([]byte, error) { return sceptest.Post(e.ctx, e.http, e.url, nil) }},
		{"garbage GET", func() ([]byte, error) {
			return sceptest.GetMessage(e.ctx, e.http, e.url, []byte{0x30, 0x03, 0x02, 0x01, 0x01})
		}},
		{"unknown operation", func() ([]byte, error) {
			resp, err := e.http.Get(e.url + "?operation=GetNextCACert")
			if err != nil {
				return nil, err
			}
			resp.Body.Close()
			return nil, &sceptest.HTTPError{Code: resp.StatusCode}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.send()
			var he *sceptest.HTTPError
			if !errors.As(err, &he) || he.Code != http.StatusBadRequest {
				t.Errorf("got %v, want HTTP 400", err)
			}
		})
	}
}

// TestChallengeOnce: of several requests racing with one challenge, one gets the
// certificate.
func TestChallengeOnce(t *testing.T) {
	e := newEnv(t)
	pw := e.challenge(t, e.alice)
	const n = 4
	results := make(chan scep.PKIStatus, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			res, err := sceptest.Enrol(e.ctx, e.http, e.url, sceptest.Request{Challenge: pw})
			if err != nil {
				t.Error(err)
			}
			results <- res.Status
		})
	}
	wg.Wait()
	close(results)
	ok := 0
	for s := range results {
		if s == scep.SUCCESS {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d requests with one challenge succeeded", ok, n)
	}
}
