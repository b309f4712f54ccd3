package activesync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/pki"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// fakeProfiles gives every user the same requirements, which a test may change.
type fakeProfiles struct {
	mu sync.Mutex
	e  Enforced
}

func (f *fakeProfiles) ProfilePolicy(context.Context, int64) (Enforced, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.e, nil
}

func (f *fakeProfiles) set(e Enforced) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.e = e
}

func policyDoc(t *testing.T, r *wbxml.Element) *wbxml.Element {
	t.Helper()
	doc := r.Child(wbxml.NSProvision, "Policies").Child(wbxml.NSProvision, "Policy").
		Child(wbxml.NSProvision, "Data").Child(wbxml.NSProvision, "EASProvisionDoc")
	if doc == nil {
		t.Fatalf("no EASProvisionDoc in %s", r.XML())
	}
	return doc
}

// TestProfileEnforcement: an "e-mail only, a week, signing required" profile reaches the
// Provision policy, hides the calendar from FolderSync and Sync, caps the mail window
// whatever FilterType the device asks, and a new profile version changes the policy key
// (which otherwise stays put) and is reported once the device synced under it.
func TestProfileEnforcement(t *testing.T) {
	profile := &fakeProfiles{e: Enforced{
		PolicyVersion: "email-profile/corp/1", Classes: ClassSet(ClassEmail), MaxEmailAgeFilter: 3, RequireSignedSMIME: true,
	}}
	e := newEnv(t, func(c *Config) { c.Profiles = profile })
	acct := store.AccountID(e.alice.ID)
	cal, err := e.store.CreateFolder(e.ctx, acct, 0, "Calendar", store.RoleCalendar)
	must(t, err)
	now := time.Now()
	e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "recent", "new"), now.Add(-24*time.Hour))
	e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "old", "old"), now.Add(-30*24*time.Hour))

	c := e.client("dev1")
	doc := policyDoc(t, c.do("Provision", fixture(t, "provision-request.xml")))
	for name, want := range map[string]string{"RequireSignedSMIMEMessages": "1", "RequireEncryptedSMIMEMessages": "0", "MaxEmailAgeFilter": "3", "AllowSMIMESoftCerts": "1"} {
		if got := doc.ChildText(wbxml.NSProvision, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	reports, err := NewSyncReports(e.ctx, e.db)
	must(t, err)
	c.provision()
	first := c.policyKey
	if _, _, ok, err := reports.LastSync(e.ctx, e.alice.ID); err != nil || ok {
		t.Errorf("provisioned, not synced: reported %v %v", ok, err)
	}
	c.provision()
	if c.policyKey != first {
		t.Errorf("provisioning again under the same profile changed the key %s to %s", first, c.policyKey)
	}

	folders := c.do("FolderSync", folderSyncZero)
	for _, add := range folders.Child(wbxml.NSFolderHierarchy, "Changes").All(wbxml.NSFolderHierarchy, "Add") {
		if typ := add.ChildText(wbxml.NSFolderHierarchy, "Type"); typ == strconv.Itoa(folderTypeCalendar) {
			t.Errorf("FolderSync offers the calendar to an e-mail-only device: %s", add.XML())
		}
	}
	if s := status(collection(c.do("Sync", syncXML(folderServerID(cal.ID), "0", ""))), wbxml.NSAirSync); s != "12" {
		t.Errorf("Sync of the calendar: status %s, want 12", s)
	}

	inbox := folderServerID(e.folder(e.alice, store.RoleInbox).ID)
	key := collection(c.do("Sync", syncXML(inbox, "0", ""))).ChildText(wbxml.NSAirSync, "SyncKey")
	all := `<Options><FilterType>0</FilterType></Options>`
	got := collection(c.do("Sync", syncXML(inbox, key, all)))
	adds := got.Child(wbxml.NSAirSync, "Commands").All(wbxml.NSAirSync, "Add")
	if len(adds) != 1 || adds[0].Child(wbxml.NSAirSync, "ApplicationData").ChildText(wbxml.NSEmail, "Subject") != "recent" {
		t.Fatalf("FilterType 0 under a one-week profile: %s", got.XML())
	}
	at, version, ok, err := reports.LastSync(e.ctx, e.alice.ID)
	if err != nil || !ok || version != "email-profile/corp/1" || time.Since(at) > time.Minute {
		t.Errorf("LastSync = %v %q %v %v", at, version, ok, err)
	}

	// Version 2 sends the device back to Provision, with a new key.
	profile.set(Enforced{PolicyVersion: "email-profile/corp/2", Classes: ClassSet(ClassEmail), MaxEmailAgeFilter: 3})
	if s := status(c.do("FolderSync", folderSyncZero), wbxml.NSFolderHierarchy); s != "143" {
		t.Errorf("after a new profile version: FolderSync status %s, want 143", s)
	}
	if _, version, _, _ := reports.LastSync(e.ctx, e.alice.ID); version != "email-profile/corp/1" {
		t.Errorf("before provisioning again the report says %q", version)
	}
	c.provision()
	if c.policyKey == first {
		t.Error("a new profile version kept the policy key")
	}
	if _, _, ok, _ := reports.LastSync(e.ctx, e.alice.ID); ok {
		t.Error("provisioned under version 2 and not synced, yet reported")
	}
	c.do("FolderSync", folderSyncZero)
	if _, version, ok, _ := reports.LastSync(e.ctx, e.alice.ID); !ok || version != "email-profile/corp/2" {
		t.Errorf("synced under version 2: reported %q %v", version, ok)
	}

	// Without a profile every class is back, and mail is not limited.
	profile.set(Enforced{})
	c.provision()
	if !strings.Contains(string(c.do("FolderSync", folderSyncZero).XML()), "<Type>8</Type>") {
		t.Error("without a profile FolderSync leaves the calendar out")
	}
}

func TestClampFilter(t *testing.T) {
	for _, tc := range []struct{ asked, max, want int }{
		{0, 0, 0}, {5, 0, 5}, {0, 3, 3}, {1, 3, 1}, {3, 3, 3}, {5, 3, 3}, {7, 3, 3}, {6, 5, 5},
	} {
		if got := clampFilter(tc.asked, tc.max); got != tc.want {
			t.Errorf("clampFilter(%d, %d) = %d, want %d", tc.asked, tc.max, got, tc.want)
		}
	}
}

// TestCertificateSignIn: a client certificate the CA issued signs its user in without a
// password, not another user, and not once revoked.
func TestCertificateSignIn(t *testing.T) {
	var ca *pki.CA
	e := newEnv(t, func(c *Config) {
		var err error
		ca, err = pki.Open(context.Background(), c.DB, pki.Options{Name: "Test CA"})
		must(t, err)
		c.Certificates = ca
	})
	// A listener that asks for client certificates, as the server's HTTPS one does.
	e.ts.Close()
	mux := http.NewServeMux()
	mux.Handle("/Microsoft-Server-ActiveSync", e.srv)
	e.ts = httptest.NewUnstartedServer(mux)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	e.ts.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	e.ts.StartTLS()

	id, err := ca.Identity(e.ctx, pki.Subject{UserID: e.alice.ID, Address: e.alice.Address}, pki.ClientAuth)
	must(t, err)
	tr := e.ts.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{id.Cert.Raw}, PrivateKey: id.Key}}
	withCert := &http.Client{Transport: tr}

	c := e.client("certdev")
	c.http, c.password = withCert, ""
	c.provision()
	if s := status(c.do("FolderSync", folderSyncZero), wbxml.NSFolderHierarchy); s != "1" {
		t.Fatalf("FolderSync signed in by certificate: status %s", s)
	}

	other := e.client("certdev")
	other.http, other.password, other.login = withCert, "", "bob@example.com"
	if resp, _ := other.send("FolderSync", folderSyncZero); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("alice's certificate for bob: HTTP %d", resp.StatusCode)
	}
	plain := e.client("nocert")
	plain.password = ""
	if resp, _ := plain.send("FolderSync", folderSyncZero); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no certificate, no password: HTTP %d", resp.StatusCode)
	}
	if s := status(e.client("pwdev").do("Provision", fixture(t, "provision-request.xml")), wbxml.NSProvision); s != "1" {
		t.Errorf("password sign-in next to certificates: status %s", s)
	}

	_, err = ca.Revoke(e.ctx, id.Serial)
	must(t, err)
	if resp, _ := c.send("FolderSync", folderSyncZero); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked certificate: HTTP %d", resp.StatusCode)
	}
}
