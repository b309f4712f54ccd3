package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleSecurityAndImport drives the console of a running `mailroom serve` in
// headless Chromium: the administrator requires two-step sign-in of alice and
// uploads an mbox file for her, watching the import's progress page until it is
// done; alice then enrols TOTP at her sign-in, as required, creates an app password
// (shown once), signs in with it over IMAP (Python imaplib) and finds the imported
// messages, and revokes it.
func TestConsoleSecurityAndImport(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("the console end-to-end test needs Chromium at %s: %v", chromium, err)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed (scripts/test.sh installs it)")
	}
	data := newData(t)
	d := "--data=" + data
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "--admin", "admin@example.test")
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "alice@example.test")
	cfg := loopbackConfig(t, data)
	s := startServe(t, data)
	s.waitLog(t, "mailroom serving")
	base := "https://" + cfg.HTTP.TLSListen[0]
	shots := artefacts(t)
	var mbox strings.Builder
	for i := range 40 {
		mbox.WriteString("From old@example.test Mon Jan  5 09:00:00 2015\nFrom: old@example.test\nSubject: archived " + string(rune('A'+i%26)) + "\n\nOld mail.\n\n")
	}
	mboxFile := filepath.Join(t.TempDir(), "archive.mbox")
	if err := os.WriteFile(mboxFile, []byte(mbox.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.IgnoreCertErrors, chromedp.DisableGPU, chromedp.WindowSize(1280, 1000), chromedp.UserDataDir(t.TempDir()))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	shoot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signIn := func(login, landing string) {
		t.Helper()
		step(t, ctx, "sign in as "+login,
			chromedp.Navigate(base+landing),
			chromedp.WaitVisible(chromedp.ID("login")),
			chromedp.SendKeys(chromedp.ID("login"), login),
			chromedp.SendKeys(chromedp.ID("password"), goodPassword),
			chromedp.Click(chromedp.ID("signin")),
			chromedp.WaitVisible(chromedp.ID("signout")))
	}

	// The administrator requires two-step sign-in of alice.
	signIn("admin@example.test", "/admin/")
	step(t, ctx, "require MFA",
		chromedp.Navigate(base+"/admin/users/alice@example.test"),
		chromedp.Click(chromedp.ID("mfa-require")),
		chromedp.WaitVisible(chromedp.ID("mfa-unrequire")))
	if st := textOf(t, ctx, "mfa-status"); !strings.Contains(st, "Required for this user") {
		t.Errorf("user page after require: %q", st)
	}
	shoot("security-01-admin-mfa")

	// ...and imports an mbox file for her, watching it finish.
	step(t, ctx, "upload an mbox file",
		chromedp.Navigate(base+"/admin/import"),
		chromedp.WaitVisible(chromedp.ID("import-form")),
		chromedp.SendKeys(chromedp.ID("import-user"), "alice@example.test"),
		chromedp.SendKeys(chromedp.ID("import-folder"), "Archive/2015"),
		chromedp.SetUploadFiles(chromedp.ID("import-file"), []string{mboxFile}),
		chromedp.Click(chromedp.ID("start-import")),
		chromedp.WaitVisible(chromedp.ID("import-job")))
	shoot("security-02-import-progress")
	// The page reloads itself every few seconds until the import is done.
	step(t, ctx, "wait for the import", chromedp.WaitVisible(chromedp.ID("import-counts")))
	if st := textOf(t, ctx, "import-state"); !strings.Contains(st, "Done: 40 messages") {
		t.Fatalf("import page: %q", st)
	}
	shoot("security-03-import-done")
	step(t, ctx, "sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("login")))

	// Alice, required to, sets up two-step verification at her sign-in, sees it on,
	// and makes an app password for her old client.
	step(t, ctx, "sign in as alice",
		chromedp.Navigate(base+"/me/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), "alice@example.test"),
		chromedp.SendKeys(chromedp.ID("password"), goodPassword),
		chromedp.Click(chromedp.ID("signin")))
	totpSecret := textOf(t, ctx, "secret")
	shoot("security-04a-enrol")
	step(t, ctx, "enrol", chromedp.SendKeys(chromedp.ID("code"), totpAt(t, totpSecret, 0)), chromedp.Click(chromedp.ID("verify")))
	if codes := strings.Fields(textOf(t, ctx, "codes")); len(codes) != 10 {
		t.Errorf("recovery codes %q", codes)
	}
	step(t, ctx, "continue", chromedp.Click(chromedp.ID("continue")), chromedp.WaitVisible(chromedp.ID("signout")))
	if st := textOf(t, ctx, "mfa-status"); !strings.Contains(st, "On: an authenticator app") {
		t.Errorf("self-service MFA status: %q", st)
	}
	step(t, ctx, "create an app password",
		chromedp.SendKeys(chromedp.ID("app-password-name"), "Old laptop"),
		chromedp.Click(chromedp.ID("add-app-password")))
	secret := textOf(t, ctx, "new-app-password")
	if !regexp.MustCompile(`^[a-z]{4}(-[a-z]{4}){3}$`).MatchString(secret) {
		t.Fatalf("app password %q", secret)
	}
	shoot("security-04-app-password")

	_, imapPort := splitAddr(t, cfg.IMAP.TLSListen[0])
	imap := func(password string) (string, error) {
		out, err := exec.Command("python3", "-c", `
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
m.login("alice@example.test", sys.argv[2])
typ, data = m.select("Archive/2015")
print("messages", data[0].decode())
m.logout()
`, imapPort, password).CombinedOutput()
		return string(out), err
	}
	if out, err := imap(secret); err != nil || !strings.Contains(out, "messages 40") {
		t.Fatalf("IMAP with the app password: %v\n%s", err, out)
	}

	// Revoked, it stops working; the page no longer shows the secret.
	step(t, ctx, "revoke the app password",
		chromedp.Navigate(base+"/me/"),
		chromedp.WaitVisible(chromedp.CSS(`#app-password-list button`)),
		chromedp.Click(chromedp.CSS(`#app-password-list button`)),
		// The list of the page before the click is visible too: wait for the new page.
		chromedp.WaitNotPresent(chromedp.CSS(`#app-password-list button`)),
		chromedp.WaitVisible(chromedp.ID("app-password-list")))
	if list := textOf(t, ctx, "app-password-list"); !strings.Contains(list, "no app passwords") {
		t.Errorf("after revoking: %q", list)
	}
	if out, err := imap(secret); err == nil {
		t.Errorf("IMAP with a revoked app password succeeded:\n%s", out)
	}
}
