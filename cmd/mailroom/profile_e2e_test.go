package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"howett.net/plist"
	"software.sslmate.com/src/go-pkcs12"

	"mailroom/internal/wbxml"
)

// withoutPassword is a device that signs in by client certificate alone: it sends no
// Authorization header, and the server takes the user from the query's User.
type withoutPassword struct{ base http.RoundTripper }

func (w withoutPassword) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Del("Authorization")
	return w.base.RoundTrip(r)
}

// easAccount is what a device takes from the e-mail profile it installed.
type easAccount struct {
	host, userName, email string
	identity              *tls.Certificate // the client certificate, for certificate sign-in
}

// accountFromProfile reads the rendered (unsigned) profile as a device would: the
// com.apple.eas.account payload and, when it names one, the PKCS #12 identity.
func accountFromProfile(t *testing.T, file string) easAccount {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var top struct {
		PayloadContent []map[string]any
	}
	if _, err := plist.Unmarshal(raw, &top); err != nil {
		t.Fatalf("profile plist: %v", err)
	}
	byUUID := map[string]map[string]any{}
	var eas map[string]any
	for _, p := range top.PayloadContent {
		byUUID[fmt.Sprint(p["PayloadUUID"])] = p
		if p["PayloadType"] == "com.apple.eas.account" {
			eas = p
		}
	}
	if eas == nil {
		t.Fatalf("no com.apple.eas.account payload in\n%s", raw)
	}
	a := easAccount{host: fmt.Sprint(eas["Host"]), userName: fmt.Sprint(eas["UserName"]), email: fmt.Sprint(eas["EmailAddress"])}
	if uuid, ok := eas["PayloadCertificateUUID"].(string); ok {
		p := byUUID[uuid]
		if p == nil || p["PayloadType"] != "com.apple.security.pkcs12" {
			t.Fatalf("PayloadCertificateUUID %s names no pkcs12 payload", uuid)
		}
		data, _ := p["PayloadContent"].([]byte)
		key, cert, _, err := pkcs12.DecodeChain(data, fmt.Sprint(p["Password"]))
		if err != nil {
			t.Fatalf("client identity: %v", err)
		}
		a.identity = &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	}
	return a
}

// TestProfileEnforcedEndToEnd: an administrator gives a group an "Email only, 7 days,
// S/MIME signing required" profile; a member's device, set up from the profile alone,
// gets a policy requiring signed mail, only mail folders, no mail older than a week
// although it asks for all, and the profile's status turns to succeeded. With
// certificate sign-in the device needs no password, and a revoked certificate is
// refused at the next request.
func TestProfileEnforcedEndToEnd(t *testing.T) {
	for _, variant := range []string{"password", "certificate"} {
		t.Run(variant, func(t *testing.T) { profileEndToEnd(t, variant == "certificate") })
	}
}

func profileEndToEnd(t *testing.T, certificate bool) {
	data := newData(t)
	d := "--data=" + data
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "alice@example.test")
	ok(t, "", "group", "add", d, "Mobile")
	ok(t, "", "group", "member", "add", d, "Mobile", "alice@example.test")
	// A recent message and one of a month ago, with the arrival dates of their From_ lines.
	mbox := filepath.Join(t.TempDir(), "old.mbox")
	from := func(at time.Time, subject string) string {
		return "From bob@example.org " + at.UTC().Format("Mon Jan _2 15:04:05 2006") + "\nFrom: bob@example.org\nTo: alice@example.test\nSubject: " +
			subject + "\nDate: " + at.Format(time.RFC1123Z) + "\n\nbody\n\n"
	}
	now := time.Now()
	if err := os.WriteFile(mbox, []byte(from(now.Add(-30*24*time.Hour), "a month ago")+from(now.Add(-2*24*time.Hour), "two days ago")), 0o600); err != nil {
		t.Fatal(err)
	}
	ok(t, "", "import", d, "alice@example.test", mbox)

	args := []string{"profile", "create", d, "--from-json", "-", "--host", "mail.example.test", "--account-name", "Example mail",
		"--sync", "email", "--mail-days", "7"}
	if certificate {
		args = append(args, "--auth", "certificate", "--client-certificate", "mailroom-ca")
	}
	ok(t, `{"smime": true, "smimeSigning": true}`, append(args, "Email only")...)
	ok(t, "", "profile", "assign", d, "Email only", "Mobile")
	file := filepath.Join(t.TempDir(), "alice.mobileconfig")
	ok(t, "", "profile", "render", d, "--user", "alice@example.test", "--unsigned", "--out", file)
	acct := accountFromProfile(t, file)
	if acct.host != "mail.example.test" || acct.email != "alice@example.test" || acct.userName == "" || (acct.identity == nil) == certificate {
		t.Fatalf("account from the profile: %+v", acct)
	}

	cfg := loopbackConfig(t, data)
	s := startServe(t, data)
	s.waitLog(t, "mailroom serving")
	tlsConfig := &tls.Config{InsecureSkipVerify: true}
	var transport http.RoundTripper = &http.Transport{TLSClientConfig: tlsConfig}
	if certificate {
		tlsConfig.Certificates = []tls.Certificate{*acct.identity}
		transport = withoutPassword{transport}
	}
	// The device downloads the profile (which counts as the delivery status needs) and
	// reaches the host it names, here on loopback.
	get, _ := http.NewRequest(http.MethodGet, "https://"+cfg.HTTP.TLSListen[0]+"/profiles/email.mobileconfig", nil)
	get.SetBasicAuth(acct.email, goodPassword)
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}).Do(get)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("profile download: HTTP %d", resp.StatusCode)
	}
	statusOf := func() string {
		t.Helper()
		var status []struct{ User, State, Reason string }
		okJSON(t, &status, "profile", "status", d, "Email only")
		for _, st := range status {
			if st.User == "alice@example.test" {
				return st.State + ": " + st.Reason
			}
		}
		return ""
	}
	if st := statusOf(); !strings.HasPrefix(st, "pending: delivered") {
		t.Errorf("status after the download: %s", st)
	}

	phone := &easClient{t: t, base: "https://" + cfg.HTTP.TLSListen[0], user: acct.userName, device: "PHONE" + fmt.Sprint(certificate),
		http: &http.Client{Timeout: 30 * time.Second, Transport: transport}}
	policy := phone.do("Provision", `<Provision xmlns="Provision:"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>`)
	doc := policy.Child(wbxml.NSProvision, "Policies").Child(wbxml.NSProvision, "Policy").Child(wbxml.NSProvision, "Data").Child(wbxml.NSProvision, "EASProvisionDoc")
	if doc.ChildText(wbxml.NSProvision, "RequireSignedSMIMEMessages") != "1" || doc.ChildText(wbxml.NSProvision, "MaxEmailAgeFilter") != "3" {
		t.Errorf("policy without the profile's requirements: %s", policy.XML())
	}
	phone.provision()

	folders := phone.do("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`)
	inbox := ""
	for _, add := range folders.Child(wbxml.NSFolderHierarchy, "Changes").All(wbxml.NSFolderHierarchy, "Add") {
		switch typ := add.ChildText(wbxml.NSFolderHierarchy, "Type"); typ {
		case "2":
			inbox = add.ChildText(wbxml.NSFolderHierarchy, "ServerId")
		case "1", "3", "4", "5", "6", "12":
		default:
			t.Errorf("FolderSync offers a folder of type %s to an e-mail-only device", typ)
		}
	}
	if inbox == "" {
		t.Fatalf("no Inbox: %s", folders.XML())
	}
	key := collectionOf(phone.do("Sync", syncRequest(inbox, "0", ""))).ChildText(wbxml.NSAirSync, "SyncKey")
	got := collectionOf(phone.do("Sync", syncRequest(inbox, key, "<Options><FilterType>0</FilterType></Options>")))
	var subjects []string
	for _, add := range got.Child(wbxml.NSAirSync, "Commands").All(wbxml.NSAirSync, "Add") {
		subjects = append(subjects, add.Child(wbxml.NSAirSync, "ApplicationData").ChildText(wbxml.NSEmail, "Subject"))
	}
	if strings.Join(subjects, ",") != "two days ago" {
		t.Errorf("Sync with FilterType 0 under a 7-day profile sent %q", subjects)
	}
	if st := statusOf(); !strings.HasPrefix(st, "succeeded") {
		t.Errorf("status after the device synced: %s", st)
	}

	if !certificate {
		return
	}
	ok(t, "", "profile", "cert", "revoke", d, acct.identity.Leaf.SerialNumber.Text(16))
	if code, _ := phone.post("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`); code != http.StatusUnauthorized {
		t.Errorf("revoked certificate: HTTP %d, want 401", code)
	}
}
