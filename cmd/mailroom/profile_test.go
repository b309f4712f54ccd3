package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mailroom/internal/mobileconfig/schematest"
)

// TestProfileCommands drives create → assign → render → status as an administrator
// would, with flags and with JSON.
func TestProfileCommands(t *testing.T) {
	data := newData(t)
	d := "--data=" + data
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "alice@example.test")
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "bob@example.test")
	ok(t, "", "group", "add", d, "Staff")
	ok(t, "", "group", "add", d, "Sales")
	ok(t, "", "group", "member", "add", d, "Staff", "Sales")
	ok(t, "", "group", "member", "add", d, "Sales", "alice@example.test")

	// Every bad setting is named.
	r := mailroom(t, "", "profile", "create", d, "--account-name", "Mail", "--auth", "certificate", "--oauth", "Corp")
	if r.code != 1 || !strings.Contains(r.stderr, "Email server (host): is empty") ||
		!strings.Contains(r.stderr, "Client certificate (clientCertificate): is missing") || !strings.Contains(r.stderr, "OAuth (oauth)") {
		t.Fatalf("invalid create: %+v", r)
	}
	ok(t, "", "profile", "create", d, "--host", "mail.example.test", "--account-name", "Example mail",
		"--auth", "certificate", "--client-certificate", "mailroom-ca", "--sync", "email", "--allow-sync-changes=false",
		"--mail-days", "14", "--username", "sam", "--user-domain", "netbios", "Corp")
	var p struct {
		Name     string
		Version  int
		Settings map[string]any
	}
	// JSON on standard input, a flag overriding it.
	out := ok(t, `{"smime": true, "smimeSigning": true, "smimeSigningCertificateType": "certificate", "smimeSigningCertificate": "mailroom-ca"}`,
		"profile", "update", d, "--from-json", "-", "--mail-days", "31", "--json", "Corp")
	if !strings.Contains(out, `"version": 2`) || !strings.Contains(out, `"mailDays": "31"`) || !strings.Contains(out, `"smimeSigning": true`) {
		t.Fatalf("update:\n%s", out)
	}
	if r := mailroom(t, `{"smimeSigningg": true}`, "profile", "update", d, "--from-json", "-", "Corp"); r.code == 0 || !strings.Contains(r.stderr, "smimeSigningg") {
		t.Errorf("unknown JSON key: %+v", r)
	}
	okJSON(t, &p, "profile", "show", d, "corp")
	if p.Version != 2 || p.Settings["usernameSource"] != "sam" || p.Settings["dataToSync"] != "email" {
		t.Errorf("show: %+v", p)
	}
	var versions []struct{ Version int }
	okJSON(t, &versions, "profile", "show", d, "--versions", "Corp")
	if len(versions) != 2 {
		t.Errorf("versions: %+v", versions)
	}

	ok(t, "", "profile", "assign", d, "Corp", "Staff")
	ok(t, "", "profile", "assign", d, "--exclude", "Corp", "Sales")
	if r := mailroom(t, "", "profile", "render", d, "--user", "alice@example.test", "--out", "-"); r.code != 1 ||
		!strings.Contains(r.stderr, "no e-mail profile is assigned") {
		t.Errorf("render for an excluded user: %+v", r)
	}
	ok(t, "", "profile", "unassign", d, "Corp", "Sales")
	out = ok(t, "", "profile", "list", d)
	if !strings.Contains(out, "Corp") || !strings.Contains(out, "include Staff") {
		t.Errorf("list:\n%s", out)
	}

	file := filepath.Join(t.TempDir(), "alice.mobileconfig")
	ok(t, "", "profile", "render", d, "--user", "alice@example.test", "--out", file)
	signed, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if openssl, err := exec.LookPath("openssl"); err == nil {
		plain, err := exec.Command(openssl, "cms", "-verify", "-inform", "DER", "-noverify", "-in", file).Output()
		if err != nil {
			t.Fatalf("openssl cms -verify: %v", err)
		}
		top, problems, err := schematest.CheckProfile(plain)
		if err != nil || len(problems) > 0 {
			t.Fatalf("rendered profile: %v %v", err, problems)
		}
		eas := top["PayloadContent"].([]any)[0].(map[string]any)
		if eas["UserName"] != `EXAMPLE\alice` || eas["MailNumberOfPastDaysToSync"] != uint64(31) || eas["EnableContacts"] != false {
			t.Errorf("EAS payload %v", eas)
		}
	} else if len(signed) == 0 {
		t.Fatal("empty profile")
	}
	unsigned := ok(t, "", "profile", "render", d, "--user", "alice@example.test", "--out", "-", "--unsigned")
	if !strings.HasPrefix(unsigned, "<?xml") || !strings.Contains(unsigned, "com.apple.eas.account") {
		t.Errorf("unsigned render:\n%.300s", unsigned)
	}

	var certs []struct{ Serial, Address, Purpose string }
	okJSON(t, &certs, "profile", "cert", "list", d, "--user", "alice@example.test")
	if len(certs) != 2 {
		t.Fatalf("certificates: %+v", certs)
	}

	var status []struct{ User, State, Reason string }
	okJSON(t, &status, "profile", "status", d, "Corp")
	got := map[string]string{}
	for _, s := range status {
		got[s.User] = s.State + ": " + s.Reason
	}
	// Rendering by the administrator is not a delivery.
	if got["alice@example.test"] != "pending: not downloaded yet" || got["bob@example.test"] != "not applicable: not in a group the profile includes" {
		t.Errorf("status %v", got)
	}
	out = ok(t, "", "profile", "cert", "revoke", d, certs[0].Serial)
	if !strings.Contains(out, "Revoked") {
		t.Errorf("revoke: %s", out)
	}
	ok(t, "", "profile", "remove", d, "Corp")
	if r := mailroom(t, "", "profile", "show", d, "Corp"); r.code != 1 || !strings.Contains(r.stderr, "no e-mail profile named") {
		t.Errorf("show removed: %+v", r)
	}
}

func TestProfileVPNCommands(t *testing.T) {
	data := newData(t)
	d := "--data=" + data
	vpn := filepath.Join(t.TempDir(), "vpn.mobileconfig")
	err := os.WriteFile(vpn, []byte(`<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>PayloadType</key><string>com.apple.vpn.managed.applayer</string>
<key>PayloadUUID</key><string>11111111-2222-3333-4444-555555555555</string>
<key>VPNUUID</key><string>corp-vpn-1</string></dict></plist>`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if r := mailroom(t, "", "profile", "create", d, "--host", "mail.example.test", "--account-name", "Mail", "--vpn", "Corp VPN", "Corp"); r.code != 1 ||
		!strings.Contains(r.stderr, "VPN profile for per-account VPN (vpnProfile): no VPN profile named") {
		t.Fatalf("unknown VPN: %+v", r)
	}
	ok(t, "", "profile", "vpn", "add", d, "Corp VPN", vpn)
	ok(t, "", "profile", "create", d, "--host", "mail.example.test", "--account-name", "Mail", "--vpn", "Corp VPN", "Corp")
	var vpns []struct{ Name, VPNUUID string }
	okJSON(t, &vpns, "profile", "vpn", "list", d)
	if len(vpns) != 1 || vpns[0].VPNUUID != "corp-vpn-1" {
		t.Errorf("vpn list: %+v", vpns)
	}
	if r := mailroom(t, "", "profile", "vpn", "remove", d, "Corp VPN"); r.code != 1 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("remove VPN in use: %+v", r)
	}
}
