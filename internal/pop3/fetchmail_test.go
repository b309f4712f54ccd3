package pop3

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFetchmail fetches the Inbox with Debian's fetchmail over STLS, keeping the mail
// on the server, twice: the first run delivers every message to an MDA, the second
// none, as the unique ids are the same. Then over implicit TLS with deletion.
func TestFetchmail(t *testing.T) {
	fetchmail, err := exec.LookPath("fetchmail")
	if err != nil {
		t.Skip("fetchmail not installed (apt-get install fetchmail)")
	}
	e := newEnv(t)
	home := t.TempDir()
	out := filepath.Join(home, "delivered")
	_, port, _ := strings.Cut(e.plain, ":")
	_, tlsPort, _ := strings.Cut(e.implicit, ":")

	run := func(name, rc string) (string, int) {
		t.Helper()
		rcFile := filepath.Join(home, name)
		if err := os.WriteFile(rcFile, []byte(rc), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(fetchmail, "--fetchmailrc", rcFile, "--idfile", filepath.Join(home, "fetchids"),
			"--pidfile", filepath.Join(home, "pid"), "--nosyslog", "--verbose")
		cmd.Env = append(os.Environ(), "HOME="+home, "FETCHMAILHOME="+home)
		b, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		t.Logf("fetchmail exited %d:\n%s", code, b)
		return string(b), code
	}
	// "sslproto TLS1.2+" without "ssl" makes fetchmail require STLS.
	rc := func(port, extra string) string {
		return fmt.Sprintf(`poll localhost via 127.0.0.1 service %s protocol pop3 uidl
  user "alice@example.com" there with password "%s" is "alice" here
  sslcertck sslcertfile "%s" sslcommonname localhost %s
  mda "cat >> %s"
`, port, testPassword, e.caFile, extra, out)
	}

	output, code := run("keep", rc(port, "sslproto TLS1.2+ keep"))
	if code != 0 {
		t.Fatalf("fetchmail exited %d", code)
	}
	if !strings.Contains(output, "STLS") {
		t.Error("fetchmail did not use STLS")
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{"Subject: first", "Subject: second", "Subject: third", "\n.leading dot\n"} {
		if n := strings.Count(strings.ReplaceAll(string(got), "\r\n", "\n"), subject); n != 1 {
			t.Errorf("%q delivered %d times, want once:\n%s", subject, n, got)
		}
	}
	if ids := e.inboxIDs(t); !slices.Equal(ids, e.ids) {
		t.Errorf("Inbox holds %v after fetching with keep, want %v", ids, e.ids)
	}

	// Exit code 1: no new mail.
	if _, code := run("again", rc(port, "sslproto TLS1.2+ keep")); code != 1 {
		t.Errorf("second fetch exited %d, want 1 (no new mail)", code)
	}

	// Over implicit TLS, without keep: fetchmail deletes what it fetched, and only
	// "fetchall" makes it fetch what it saw before.
	if _, code := run("delete", rc(tlsPort, "ssl fetchall")); code != 0 {
		t.Fatalf("fetch with delete exited %d", code)
	}
	if ids := e.inboxIDs(t); len(ids) != 0 {
		t.Errorf("Inbox holds %v after fetching without keep, want nothing", ids)
	}
}
