package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/scep"
	"golang.org/x/crypto/ocsp"
	"howett.net/plist"

	"mailroom/internal/scep/sceptest"
	"mailroom/internal/wbxml"
)

// scepFromProfile reads the com.apple.security.scep payload the Exchange payload names
// as its certificate, as a device does.
func scepFromProfile(t *testing.T, file string) (scepURL, challenge string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var top struct{ PayloadContent []map[string]any }
	if _, err := plist.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	byUUID := map[string]map[string]any{}
	var certUUID string
	for _, p := range top.PayloadContent {
		byUUID[p["PayloadUUID"].(string)] = p
		if p["PayloadType"] == "com.apple.eas.account" {
			certUUID, _ = p["PayloadCertificateUUID"].(string)
		}
	}
	p := byUUID[certUUID]
	if p == nil || p["PayloadType"] != "com.apple.security.scep" {
		t.Fatalf("PayloadCertificateUUID %q names no SCEP payload", certUUID)
	}
	content := p["PayloadContent"].(map[string]any)
	return content["URL"].(string), content["Challenge"].(string)
}

// TestSCEPEndToEnd: a device set up from a SCEP profile enrols with the challenge it
// carries against "mailroom serve", signs in to ActiveSync with the certificate alone
// and syncs; "mailroom cert revoke" makes the very next request fail with 401, and the
// CRL and OCSP, fetched over plain HTTP, say it is revoked. A challenge from "mailroom
// cert challenge" works once, over plain HTTP too.
func TestSCEPEndToEnd(t *testing.T) {
	ctx := context.Background()
	data := newData(t)
	d := "--data=" + data
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "alice@example.test")
	ok(t, "", "group", "add", d, "Mobile")
	ok(t, "", "group", "member", "add", d, "Mobile", "alice@example.test")
	ok(t, "", "profile", "create", d, "--host", "mail.example.test", "--account-name", "Example mail",
		"--username", "primary-smtp", "--auth", "certificate", "--client-certificate", "mailroom-scep", "SCEP")
	ok(t, "", "profile", "assign", d, "SCEP", "Mobile")
	cfg := loopbackConfig(t, data)
	file := filepath.Join(t.TempDir(), "alice.mobileconfig")
	ok(t, "", "profile", "render", d, "--user", "alice@example.test", "--unsigned", "--out", file)
	scepURL, challenge := scepFromProfile(t, file)
	s := startServe(t, data)
	s.waitLog(t, "mailroom serving")

	// The profile names the host; the device reaches it on loopback.
	u, err := url.Parse(scepURL)
	if err != nil || u.Scheme != "https" || u.Path != "/scep" {
		t.Fatalf("SCEP URL %q", scepURL)
	}
	httpsBase, httpBase := "https://"+cfg.HTTP.TLSListen[0], "http://"+cfg.HTTP.Listen[0]
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	res, err := sceptest.Enrol(ctx, hc, httpsBase+u.Path, sceptest.Request{Challenge: challenge})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != scep.SUCCESS || res.Cert == nil {
		t.Fatalf("CertRep %q %q", string(res.Status), string(res.FailInfo))
	}
	ca := res.CACerts[len(res.CACerts)-1]
	serial := res.Cert.SerialNumber.Text(16)
	if len(res.Cert.CRLDistributionPoints) != 1 || !strings.HasSuffix(res.Cert.CRLDistributionPoints[0], "/pki/crl") {
		t.Errorf("CRL distribution points %v", res.Cert.CRLDistributionPoints)
	}
	// The same challenge again: refused.
	if again, err := sceptest.Enrol(ctx, hc, httpsBase+u.Path, sceptest.Request{Challenge: challenge}); err != nil || again.Status != scep.FAILURE || again.FailInfo != scep.BadRequest {
		t.Errorf("reused challenge: %q %q, %v", string(again.Status), string(again.FailInfo), err)
	}

	identity := tls.Certificate{Certificate: [][]byte{res.Cert.Raw}, PrivateKey: res.Key, Leaf: res.Cert}
	phone := &easClient{t: t, base: httpsBase, user: "alice@example.test", device: "SCEPPHONE",
		http: &http.Client{Timeout: 30 * time.Second, Transport: withoutPassword{&http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{identity}}}}}}
	phone.provision()
	folders := phone.do("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`)
	if folders.ChildText(wbxml.NSFolderHierarchy, "Status") != "1" {
		t.Fatalf("FolderSync with the enrolled certificate: %s", folders.XML())
	}
	if ocspStatus(t, hc, httpBase, res.Cert, ca) != ocsp.Good {
		t.Error("OCSP: not good before revocation")
	}

	out := ok(t, "", "cert", "revoke", d, serial)
	if !strings.Contains(out, "Revoked client-auth certificate "+serial) {
		t.Errorf("revoke said %q", out)
	}
	// The same connection and TLS session: the next request is refused.
	if code, _ := phone.post("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`); code != http.StatusUnauthorized {
		t.Errorf("revoked certificate: HTTP %d, want 401", code)
	}
	crl, err := x509.ParseRevocationList(fetch(t, hc, http.MethodGet, httpBase+"/pki/crl", nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(ca); err != nil {
		t.Errorf("CRL signature: %v", err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(res.Cert.SerialNumber) != 0 {
		t.Errorf("CRL lists %v", crl.RevokedCertificateEntries)
	}
	if ocspStatus(t, hc, httpBase, res.Cert, ca) != ocsp.Revoked {
		t.Error("OCSP: not revoked after revocation")
	}

	// An administrator's challenge, used over plain HTTP.
	var ch struct{ Address, Challenge, URL string }
	okJSON(t, &ch, "cert", "challenge", d, "alice@example.test")
	if ch.Address != "alice@example.test" || ch.Challenge == "" || ch.URL != scepURL {
		t.Errorf("cert challenge: %+v", ch)
	}
	res2, err := sceptest.Enrol(ctx, hc, httpBase+"/scep", sceptest.Request{Challenge: ch.Challenge})
	if err != nil || res2.Status != scep.SUCCESS {
		t.Fatalf("enrol over http: %q, %v", string(res2.Status), err)
	}
	var list []struct {
		Serial, Purpose string
		Revoked         time.Time
	}
	okJSON(t, &list, "cert", "list", d, "alice@example.test")
	revoked := map[string]bool{}
	for _, c := range list {
		revoked[c.Serial] = !c.Revoked.IsZero()
	}
	if len(list) != 2 || !revoked[serial] || revoked[res2.Cert.SerialNumber.Text(16)] {
		t.Errorf("cert list: %+v", list)
	}
	if r := mailroom(t, "", "cert", "revoke", d, "abcdef"); r.code != 1 || !strings.Contains(r.stderr, "no such certificate") {
		t.Errorf("revoke unknown serial: %+v", r)
	}
}

func ocspStatus(t *testing.T, hc *http.Client, base string, cert, ca *x509.Certificate) int {
	t.Helper()
	req, err := ocsp.CreateRequest(cert, ca, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ocsp.ParseResponseForCert(fetch(t, hc, http.MethodPost, base+"/pki/ocsp", req), cert, ca)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status
}

func fetch(t *testing.T, hc *http.Client, method, url string, body []byte) []byte {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/ocsp-request")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d, %v", method, url, resp.StatusCode, err)
	}
	return b
}
