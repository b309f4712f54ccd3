package profiles

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/mobileconfig"
	"mailroom/internal/mobileconfig/schematest"
	"mailroom/internal/pki"
	"mailroom/internal/tlsconf"
)

const testPassword = "correct horse battery"

// env is a directory with users and groups, a CA and a service over one database.
type env struct {
	db    *db.DB
	dir   *directory.Directory
	ca    *pki.CA
	svc   *Service
	users map[string]directory.User
	clock time.Time
}

func (e *env) now() time.Time { return e.clock }

// newEnv makes: domain contoso.test (CONTOSO); users alice, bob, carol, dave; groups
// Staff ⊃ Sales ⊃ {alice, bob}, Staff ⊃ carol, Contractors ⊃ bob, Execs ⊃ dave.
func newEnv(t *testing.T, reports DeviceReports) *env {
	t.Helper()
	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "mailroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	dir, err := directory.New(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	must(t, firstErr(dir.AddDomain(ctx, "contoso.test", "CONTOSO")))
	e := &env{db: d, dir: dir, users: map[string]directory.User{}, clock: time.Now()}
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		u, err := dir.AddUser(ctx, directory.NewUser{Address: n + "@contoso.test", Password: testPassword, DisplayName: strings.ToUpper(n[:1]) + n[1:]})
		must(t, err)
		e.users[n] = u
	}
	for _, g := range []string{"Staff", "Sales", "Contractors", "Execs"} {
		must(t, firstErr(dir.AddGroup(ctx, g, "", "")))
	}
	for _, m := range [][2]string{{"Staff", "Sales"}, {"Sales", "alice@contoso.test"}, {"Sales", "bob@contoso.test"},
		{"Staff", "carol@contoso.test"}, {"Contractors", "bob@contoso.test"}, {"Execs", "dave@contoso.test"}} {
		must(t, dir.AddMember(ctx, m[0], m[1]))
	}
	e.ca, err = pki.Open(ctx, d, pki.Options{Name: "Test CA", Now: e.now})
	must(t, err)
	certPEM, keyPEM, err := tlsconf.SelfSigned([]string{"mail.contoso.test"}, time.Now())
	must(t, err)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	must(t, err)
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	must(t, err)
	e.svc, err = New(ctx, d, Options{
		Hostname: "mail.contoso.test", Directory: dir, CA: e.ca, Reports: reports, Now: e.now,
		Signer: &mobileconfig.Signer{Cert: leaf, Key: pair.PrivateKey.(crypto.Signer)},
	})
	must(t, err)
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func firstErr[T any](_ T, err error) error { return err }

func TestVersionsAndAssignments(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	s := base()
	p, err := e.svc.Create(ctx, "Corp", s)
	must(t, err)
	if p.Version != 1 || p.Settings != s {
		t.Fatalf("created %+v", p)
	}
	if _, err := e.svc.Create(ctx, "corp", s); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate name: %v", err)
	}
	// An update that changes nothing makes no version.
	p, err = e.svc.Update(ctx, "CORP", s)
	must(t, err)
	if p.Version != 1 {
		t.Errorf("unchanged update made version %d", p.Version)
	}
	s2 := s
	s2.MailDays = Days14
	p, err = e.svc.Update(ctx, "corp", s2)
	must(t, err)
	if p.Version != 2 || p.Settings.MailDays != Days14 {
		t.Fatalf("updated %+v", p)
	}
	bad := s2
	bad.Host = ""
	if _, err := e.svc.Update(ctx, "corp", bad); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), SettingHost) {
		t.Errorf("invalid update: %v", err)
	}
	vs, err := e.svc.Versions(ctx, "corp")
	must(t, err)
	if len(vs) != 2 || vs[0].Settings.MailDays != DaysUserDefined || vs[1].Settings.MailDays != Days14 {
		t.Errorf("versions %+v", vs)
	}

	_, err = e.svc.Create(ctx, "Sales mail", s)
	must(t, err)
	resolve := func(user string) Resolution {
		t.Helper()
		r, err := e.svc.Resolve(ctx, e.users[user].ID)
		must(t, err)
		return r
	}
	if r := resolve("alice"); r.Profile != "" || r.Conflict != nil {
		t.Fatalf("before assignment: %+v", r)
	}
	must(t, e.svc.Assign(ctx, "Corp", "Staff", Include))
	// Nested: alice and bob are in Staff through Sales.
	for _, u := range []string{"alice", "bob", "carol"} {
		if r := resolve(u); r.Profile != "Corp" {
			t.Errorf("%s: %+v", u, r)
		}
	}
	if r := resolve("dave"); r.Profile != "" {
		t.Errorf("dave: %+v", r)
	}
	must(t, e.svc.Assign(ctx, "Corp", "Contractors", Exclude))
	if r := resolve("bob"); r.Profile != "" {
		t.Errorf("excluded bob: %+v", r)
	}
	must(t, e.svc.Assign(ctx, "Sales mail", "Sales", Include))
	if r := resolve("alice"); r.Profile != "" || strings.Join(r.Conflict, ",") != "Corp,Sales mail" {
		t.Errorf("alice in two: %+v", r)
	}
	if _, err := e.svc.Build(ctx, e.users["alice"].ID, true); !errors.Is(err, ErrConflict) ||
		!strings.Contains(err.Error(), "Corp and Sales mail") {
		t.Errorf("build in conflict: %v", err)
	}
	if r := resolve("carol"); r.Profile != "Corp" {
		t.Errorf("carol: %+v", r)
	}
	// Re-assigning a group changes its mode.
	must(t, e.svc.Assign(ctx, "Sales mail", "Sales", Exclude))
	if r := resolve("alice"); r.Profile != "Corp" {
		t.Errorf("alice after exclude: %+v", r)
	}
	must(t, e.svc.Unassign(ctx, "Corp", "Contractors"))
	if err := e.svc.Unassign(ctx, "Corp", "Contractors"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second unassign: %v", err)
	}
	p, err = e.svc.Profile(ctx, "corp")
	must(t, err)
	if len(p.Assignments) != 1 || p.Assignments[0] != (Assignment{Group: "Staff", GroupID: p.Assignments[0].GroupID, Mode: Include}) {
		t.Errorf("assignments %+v", p.Assignments)
	}
	// Removing a group removes its assignments.
	must(t, e.dir.RemoveGroup(ctx, "Staff"))
	if r := resolve("carol"); r.Profile != "" {
		t.Errorf("carol after group removal: %+v", r)
	}
	must(t, e.svc.Remove(ctx, "corp"))
	if _, err := e.svc.Profile(ctx, "corp"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after remove: %v", err)
	}
}

const vpnPlist = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>PayloadType</key><string>Configuration</string>
<key>PayloadContent</key><array><dict>
	<key>PayloadType</key><string>com.apple.vpn.managed.applayer</string>
	<key>PayloadUUID</key><string>11111111-2222-3333-4444-555555555555</string>
	<key>VPNUUID</key><string>` + testVPNUUID + `</string>
</dict></array></dict></plist>`

func TestVPNProfiles(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	s := base()
	s.VPN = "Corp VPN"
	if _, err := e.svc.Create(ctx, "Corp", s); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), SettingVPN) {
		t.Fatalf("unknown VPN: %v", err)
	}
	for _, bad := range []string{"not a plist", strings.ReplaceAll(vpnPlist, "VPNUUID", "Other")} {
		if _, err := e.svc.AddVPN(ctx, "Corp VPN", []byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad VPN plist accepted: %v", err)
		}
	}
	v, err := e.svc.AddVPN(ctx, "Corp VPN", []byte(vpnPlist))
	must(t, err)
	if v.VPNUUID != testVPNUUID || v.PayloadUUID != "11111111-2222-3333-4444-555555555555" {
		t.Errorf("VPN %+v", v)
	}
	_, err = e.svc.Create(ctx, "Corp", s)
	must(t, err)
	must(t, e.svc.Assign(ctx, "Corp", "Staff", Include))
	d, err := e.svc.Build(ctx, e.users["carol"].ID, true)
	must(t, err)
	top, problems, err := schematest.CheckProfile(d.Data)
	must(t, err)
	if eas := top["PayloadContent"].([]any)[0].(map[string]any); eas["VPNUUID"] != testVPNUUID || len(problems) > 0 {
		t.Errorf("VPNUUID %v, problems %v", eas["VPNUUID"], problems)
	}
	if err := e.svc.RemoveVPN(ctx, "corp vpn"); !errors.Is(err, ErrInUse) {
		t.Errorf("remove VPN in use: %v", err)
	}
	s.VPN = ""
	_, err = e.svc.Update(ctx, "Corp", s)
	must(t, err)
	must(t, e.svc.RemoveVPN(ctx, "corp vpn"))
}

func TestBuildWithCertificatesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	ctx := context.Background()
	e := newEnv(t, nil)
	s := base()
	s.Auth, s.ClientCertificate = AuthCertificate, SourceMailroomCA
	s.SMIME, s.SigningEnabled = true, true
	s.SigningCertType, s.SigningCertificate = CertProfile, SourceMailroomCA
	s.EncryptionCertType, s.EncryptionCertificate = CertProfile, SourceMailroomCA
	_, err = e.svc.Create(ctx, "Corp", s)
	must(t, err)
	must(t, e.svc.Assign(ctx, "Corp", "Staff", Include))
	carol := e.users["carol"]

	unsigned, err := e.svc.Build(ctx, carol.ID, true)
	must(t, err)
	top, problems, err := schematest.CheckProfile(unsigned.Data)
	must(t, err)
	for _, p := range problems {
		t.Error(p)
	}
	content := top["PayloadContent"].([]any)
	if len(content) != 3 {
		t.Fatalf("%d payloads", len(content))
	}
	dir := t.TempDir()
	for _, c := range content[1:] {
		pk := c.(map[string]any)
		file := filepath.Join(dir, pk["PayloadCertificateFileName"].(string))
		must(t, os.WriteFile(file, pk["PayloadContent"].([]byte), 0o600))
		out, err := exec.Command(openssl, "pkcs12", "-info", "-nokeys", "-in", file, "-passin", "pass:"+pk["Password"].(string)).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl pkcs12 %s: %v\n%s", file, err, out)
		}
		if !strings.Contains(string(out), "Test CA") || !strings.Contains(string(out), "BEGIN CERTIFICATE") {
			t.Errorf("openssl pkcs12 %s:\n%s", file, out)
		}
	}
	// The same identities on the next download, so S/MIME keeps decrypting.
	issued, err := e.ca.List(ctx, carol.ID)
	must(t, err)
	if _, err := e.svc.Build(ctx, carol.ID, true); err != nil {
		t.Fatal(err)
	}
	again, err := e.ca.List(ctx, carol.ID)
	must(t, err)
	if len(issued) != 2 || len(again) != 2 {
		t.Errorf("issued %d then %d certificates, want 2 and 2", len(issued), len(again))
	}

	signed, err := e.svc.Build(ctx, carol.ID, false)
	must(t, err)
	if !signed.Signed {
		t.Fatal("not signed")
	}
	file := filepath.Join(dir, "signed.mobileconfig")
	must(t, os.WriteFile(file, signed.Data, 0o600))
	for _, args := range [][]string{
		{"cms", "-verify", "-inform", "DER", "-noverify", "-in", file},
		{"smime", "-verify", "-inform", "DER", "-noverify", "-in", file},
	} {
		out, err := exec.Command(openssl, args...).Output()
		if err != nil {
			t.Fatalf("openssl %s: %v", strings.Join(args, " "), err)
		}
		if _, problems, err := schematest.CheckProfile(out); err != nil || len(problems) > 0 {
			t.Errorf("openssl %s: content %v %v", args[0], err, problems)
		}
	}
}

// fakeReports is a DeviceReports with fixed answers.
type fakeReports map[int64]struct {
	at     time.Time
	policy string
}

func (f fakeReports) LastSync(_ context.Context, userID int64) (time.Time, string, bool, error) {
	r, ok := f[userID]
	return r.at, r.policy, ok, nil
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	reports := fakeReports{}
	e := newEnv(t, reports)
	s := base()
	s.UsernameSource, s.DomainSource = UsernameSAM, DomainNetBIOS
	_, err := e.svc.Create(ctx, "Corp", s)
	must(t, err)
	_, err = e.svc.Create(ctx, "Other", base())
	must(t, err)
	must(t, e.svc.Assign(ctx, "Corp", "Staff", Include))
	must(t, e.svc.Assign(ctx, "Corp", "Contractors", Exclude))
	must(t, e.svc.Assign(ctx, "Other", "Execs", Include))
	must(t, e.svc.Assign(ctx, "Corp", "Execs", Include))
	status := func() map[string]UserStatus {
		t.Helper()
		st, err := e.svc.Status(ctx, "corp")
		must(t, err)
		out := map[string]UserStatus{}
		for _, s := range st {
			out[strings.TrimSuffix(s.User, "@contoso.test")] = s
		}
		return out
	}
	st := status()
	for user, want := range map[string]struct {
		state  State
		reason string
	}{
		"alice": {Pending, "not downloaded yet"},
		"bob":   {NotApplicable, "excluded by group Contractors"},
		"carol": {Pending, "not downloaded yet"},
		"dave":  {Conflict, "Corp and Other"},
	} {
		if st[user].State != want.state || !strings.Contains(st[user].Reason, want.reason) {
			t.Errorf("%s: %+v, want %s (%s)", user, st[user], want.state, want.reason)
		}
	}

	must(t, e.svc.RecordDownload(ctx, "Corp", 1, e.users["alice"].ID))
	must(t, e.svc.RecordDownload(ctx, "Corp", 1, e.users["carol"].ID))
	e.clock = e.clock.Add(time.Minute)
	reports[e.users["alice"].ID] = struct {
		at     time.Time
		policy string
	}{e.clock, PolicyVersion("Corp", 1)}
	st = status()
	if st["alice"].State != Succeeded || st["carol"].State != Pending ||
		!strings.Contains(st["carol"].Reason, "no device has synced under it yet") {
		t.Errorf("after download: alice %+v, carol %+v", st["alice"], st["carol"])
	}
	// A new version sends everyone back to pending.
	s.MailDays = Days31
	_, err = e.svc.Update(ctx, "Corp", s)
	must(t, err)
	if a := status()["alice"]; a.State != Pending || a.Downloaded != 1 || !strings.Contains(a.Reason, "version 2 not downloaded") {
		t.Errorf("after update: %+v", a)
	}
	// A user who cannot get the profile is an error, not a broken profile.
	must(t, e.dir.SetEnabled(ctx, "carol@contoso.test", false))
	if c := status()["carol"]; c.State != Error || !strings.Contains(c.Reason, "disabled") {
		t.Errorf("disabled carol: %+v", c)
	}
}

func TestStatusWithoutReports(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	_, err := e.svc.Create(ctx, "Corp", base())
	must(t, err)
	must(t, e.svc.Assign(ctx, "Corp", "Staff", Include))
	must(t, e.svc.RecordDownload(ctx, "Corp", 1, e.users["carol"].ID))
	st, err := e.svc.Status(ctx, "Corp")
	must(t, err)
	for _, s := range st {
		if s.User == "carol@contoso.test" && (s.State != Pending || s.Reason != "delivered, no device has synced under it yet") {
			t.Errorf("carol: %+v", s)
		}
		if s.User == "dave@contoso.test" && s.State != NotApplicable {
			t.Errorf("dave: %+v", s)
		}
	}
}
