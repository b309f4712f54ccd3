package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/smallstep/pkcs7"

	"mailroom/internal/mobileconfig/schematest"
	"mailroom/internal/wbxml"
)

const chromium = "/usr/bin/chromium"

// artefacts is where the screenshots go: $MAILROOM_ARTIFACTS if set, else a
// directory of the test.
func artefacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MAILROOM_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestConsoleEndToEnd drives the admin console and the self-service page of a
// running `mailroom serve` in headless Chromium: an administrator creates a user and
// a group, an e-mail profile with S/MIME and certificate sign-in, assigns it and sees
// the user pending; the user downloads the profile (which passes Apple's schema), a
// device set up from it syncs, and the status turns to succeeded. Finally the user
// wipes the phone from the self-service page and sees the wipe waiting for it.
func TestConsoleEndToEnd(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("the console end-to-end test needs Chromium at %s: %v", chromium, err)
	}
	data := newData(t)
	d := "--data=" + data
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "--admin", "admin@example.test")
	cfg := loopbackConfig(t, data)
	s := startServe(t, data)
	s.waitLog(t, "mailroom serving")
	base := "https://" + cfg.HTTP.TLSListen[0]
	shots := artefacts(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.IgnoreCertErrors, chromedp.DisableGPU, chromedp.WindowSize(1280, 1000), chromedp.UserDataDir(t.TempDir()))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	shoot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		file := filepath.Join(shots, name+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", file)
	}
	signIn := func(login string, landing string) {
		t.Helper()
		run("sign in as "+login,
			chromedp.Navigate(base+landing),
			chromedp.WaitVisible(chromedp.ID("login")),
			chromedp.SendKeys(chromedp.ID("login"), login),
			chromedp.SendKeys(chromedp.ID("password"), goodPassword),
			chromedp.Click(chromedp.ID("signin")),
			chromedp.WaitVisible(chromedp.ID("signout")),
		)
	}

	// The administrator signs in and creates a user; a bad address first is refused
	// with the message next to the field.
	signIn("admin@example.test", "/admin/")
	shoot("01-dashboard")
	run("refused user",
		chromedp.Navigate(base+"/admin/users"),
		chromedp.SendKeys(chromedp.ID("user-address"), "not an address"),
		chromedp.SendKeys(chromedp.ID("user-password"), goodPassword),
		chromedp.Click(chromedp.ID("add-user")),
		chromedp.WaitVisible(chromedp.ID("address-error")),
	)
	shoot("02-user-refused")
	run("add user",
		chromedp.Navigate(base+"/admin/users"),
		chromedp.SendKeys(chromedp.ID("user-address"), "alice@example.test"),
		chromedp.SendKeys(chromedp.ID("user-display-name"), "Alice Archer"),
		chromedp.SendKeys(chromedp.ID("user-password"), goodPassword),
		chromedp.Click(chromedp.ID("add-user")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/users/alice@example.test"]`)),
	)
	shoot("03-users")
	run("add group",
		chromedp.Navigate(base+"/admin/groups"),
		chromedp.SendKeys(chromedp.ID("group-name"), "Mobile"),
		chromedp.Click(chromedp.ID("add-group")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/groups/Mobile"]`)),
		chromedp.Navigate(base+"/admin/groups/Mobile"),
		chromedp.SendKeys(chromedp.ID("member"), "alice@example.test"),
		chromedp.Click(chromedp.ID("add-member")),
		chromedp.WaitReady(chromedp.CSS(`input[name="member"][value="alice@example.test"]`)),
	)
	shoot("04-group")

	// An e-mail profile with certificate sign-in and S/MIME signing from the built-in CA.
	run("create profile",
		chromedp.Navigate(base+"/admin/profiles/new"),
		chromedp.SendKeys(chromedp.ID("profile-name"), "Secure mail"),
		chromedp.SendKeys(chromedp.ID("accountName"), "Example mail"),
		chromedp.SetValue(chromedp.ID("authenticationMethod"), "certificate"),
		chromedp.SetValue(chromedp.ID("clientCertificate"), "mailroom-ca"),
		chromedp.Click(chromedp.ID("smime")),
		chromedp.Click(chromedp.ID("smimeSigning")),
		chromedp.SetValue(chromedp.ID("smimeSigningCertificateType"), "certificate"),
		chromedp.SetValue(chromedp.ID("smimeSigningCertificate"), "mailroom-ca"),
	)
	shoot("05-profile-form")
	run("save profile and assign it",
		chromedp.Click(chromedp.ID("save-profile")),
		chromedp.WaitVisible(chromedp.ID("assign")),
		chromedp.SetValue(chromedp.ID("assign-group"), "Mobile"),
		chromedp.Click(chromedp.ID("assign")),
		chromedp.WaitReady(chromedp.CSS(`input[name="group"][value="Mobile"]`)),
	)
	shoot("06-profile")
	run("status", chromedp.Click(chromedp.ID("status-link")), chromedp.WaitVisible(chromedp.ID("status")))
	if st := text("#status"); !strings.Contains(st, "alice@example.test") || !strings.Contains(st, "pending") {
		t.Fatalf("status table before the download:\n%s", st)
	}
	shoot("07-status-pending")
	run("sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("login")))

	// The user signs in to the self-service page and downloads the profile.
	signIn("alice@example.test", "/me/")
	run("self-service", chromedp.WaitVisible(chromedp.ID("download-profile")))
	shoot("08-self-service")
	b64, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.getElementById("download-profile").href).then(r => {
		if (!r.ok) throw new Error("HTTP " + r.status);
		return r.arrayBuffer();
	}).then(buf => {
		let s = ""; const b = new Uint8Array(buf);
		for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
		return btoa(s);
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("download the profile: %v", err)
	}
	signed, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	p7, err := pkcs7.Parse(signed)
	if err != nil {
		t.Fatalf("the profile is not CMS signed data: %v", err)
	}
	if err := p7.Verify(); err != nil {
		t.Fatalf("profile signature: %v", err)
	}
	if _, problems, err := schematest.CheckProfile(p7.Content); err != nil || len(problems) > 0 {
		t.Fatalf("downloaded profile: %v %v", err, problems)
	}
	file := filepath.Join(t.TempDir(), "alice.mobileconfig")
	if err := os.WriteFile(file, p7.Content, 0o600); err != nil {
		t.Fatal(err)
	}
	acct := accountFromProfile(t, file)
	if acct.identity == nil || acct.email != "alice@example.test" {
		t.Fatalf("account from the downloaded profile: %+v", acct)
	}

	// A phone set up from the profile signs in with its certificate and syncs.
	transport := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{*acct.identity}}}
	phone := &easClient{t: t, base: base, user: acct.userName, device: "ALICEPHONE",
		http: &http.Client{Timeout: 30 * time.Second, Transport: withoutPassword{transport}}}
	phone.provision()
	folders := phone.do("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`)
	inbox := ""
	for _, add := range folders.Child(wbxml.NSFolderHierarchy, "Changes").All(wbxml.NSFolderHierarchy, "Add") {
		if add.ChildText(wbxml.NSFolderHierarchy, "Type") == "2" {
			inbox = add.ChildText(wbxml.NSFolderHierarchy, "ServerId")
		}
	}
	if inbox == "" {
		t.Fatalf("no Inbox: %s", folders.XML())
	}
	phone.do("Sync", syncRequest(inbox, "0", ""))
	run("own devices", chromedp.Navigate(base+"/me/"), chromedp.WaitVisible(chromedp.CSS(`a[href="/me/devices/ALICEPHONE"]`)))
	shoot("09-self-service-device")
	run("sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("login")))

	// The administrator sees the user succeeded, filtered by state.
	signIn("admin@example.test", "/admin/")
	run("status succeeded",
		chromedp.Navigate(base+"/admin/profiles/"+strings.ReplaceAll("Secure mail", " ", "%20")+"/status?state=succeeded"),
		chromedp.WaitVisible(chromedp.ID("status")))
	if st := text("#status"); !strings.Contains(st, "alice@example.test") || !strings.Contains(st, "succeeded") || !strings.Contains(st, "ALICEPHONE") {
		t.Fatalf("status table after the sync:\n%s", st)
	}
	shoot("10-status-succeeded")
	run("devices", chromedp.Navigate(base+"/admin/devices"), chromedp.WaitVisible(chromedp.ID("devices")))
	shoot("11-devices")
	run("certificates", chromedp.Navigate(base+"/admin/certificates"), chromedp.WaitVisible(chromedp.CSS("table")))
	shoot("12-certificates")
	run("domain", chromedp.Navigate(base+"/admin/domains/example.test"), chromedp.WaitVisible(chromedp.CSS("table")))
	shoot("13-domain-dns")
	run("sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("login")))

	// The user wipes the phone; the page waits for the device.
	signIn("alice@example.test", "/me/devices/ALICEPHONE")
	run("wipe", chromedp.Click(chromedp.ID("wipe")), chromedp.WaitVisible(chromedp.ID("wipe-progress")))
	if st := text("#wipe-state"); !strings.Contains(st, "pending") {
		t.Fatalf("wipe state: %s", st)
	}
	shoot("14-wipe-pending")

	// The phone connects, is told to wipe itself and acknowledges; the page, reloading
	// itself, shows the acknowledgement without anyone touching it.
	if r := phone.do("Provision", `<Provision xmlns="Provision:"/>`); r.Child(wbxml.NSProvision, "RemoteWipe") == nil {
		t.Fatalf("Provision with a wipe pending: %s", r.XML())
	}
	phone.do("Provision", `<Provision xmlns="Provision:"><RemoteWipe><Status>1</Status></RemoteWipe></Provision>`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		// A read can fail while the page reloads; only the deadline ends the wait.
		st, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("wipe-state")))
		if err == nil && strings.Contains(st, "acknowledged") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the device page did not show the acknowledged wipe: %q %v", st, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	shoot("15-wipe-acknowledged")
}
