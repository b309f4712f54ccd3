package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mailroom/internal/pgtest"
)

// TestTwoNodesOneDatabase runs two `mailroom serve` processes, each with its own data
// directory and loopback ports, on one PostgreSQL database: mail delivered through
// node A's SMTP is read through node B's POP3.
func TestTwoNodesOneDatabase(t *testing.T) {
	for _, tool := range []string{"swaks", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/test.sh installs it)", tool)
		}
	}
	dsn := pgtest.Start(t)
	nodeA := filepath.Join(t.TempDir(), "a")
	nodeB := filepath.Join(t.TempDir(), "b")
	ok(t, "", "init", "--data", nodeA, "--hostname", "mail.example.test", "--domain", "example.test", "--store", "postgres", "--dsn", dsn)
	// The second node joins the installation: same database, no new domain.
	ok(t, "", "init", "--data", nodeB, "--hostname", "mail.example.test", "--store", "postgres", "--dsn", dsn)
	if out := ok(t, "", "db", "migrate", "--data", nodeB); !strings.Contains(out, "store") || !strings.Contains(out, "directory") {
		t.Fatalf("db migrate = %s", out)
	}
	// A user added through one node exists for both.
	ok(t, goodPassword+"\n", "user", "add", "--data", nodeA, "--password-stdin", "alice@example.test")
	if out := ok(t, "", "user", "show", "--data", nodeB, "alice@example.test"); !strings.Contains(out, "alice@example.test") {
		t.Fatalf("user show on node B = %s", out)
	}

	cfgA, cfgB := loopbackConfig(t, nodeA), loopbackConfig(t, nodeB)
	a, b := startServe(t, nodeA), startServe(t, nodeB)
	a.waitLog(t, "mailroom serving")
	b.waitLog(t, "mailroom serving")

	host, port := splitAddr(t, cfgA.SMTP.Listen[0])
	out, err := exec.Command("swaks", "--server", host, "--port", port, "--hide-all", "--from", "someone@remote.test",
		"--to", "alice@example.test", "--header", "Subject: through node A", "--body", "Hello from node A").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s\nnode A said:\n%s", err, out, a.all.String())
	}

	_, popPort := splitAddr(t, cfgB.POP3.TLSListen[0])
	script := `
import poplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False  # the certificate names mail.example.test; the chain is still verified
p = poplib.POP3_SSL("127.0.0.1", int(sys.argv[1]), context=ctx)
p.user("alice@example.test"); p.pass_(sys.argv[3])
count, _ = p.stat()
print("COUNT", count)
print(b"\n".join(p.retr(1)[1]).decode())
p.quit()
`
	out, err = exec.Command("python3", "-c", script, popPort, filepath.Join(nodeB, "tls", "cert.pem"), goodPassword).CombinedOutput()
	if err != nil {
		t.Fatalf("poplib on node B: %v\n%s\nnode B said:\n%s", err, out, b.all.String())
	}
	for _, want := range []string{"COUNT 1", "Subject: through node A", "Hello from node A"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("node B's POP3 lacks %q:\n%s", want, out)
		}
	}
}
