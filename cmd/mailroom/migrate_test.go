package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailroom/internal/pgtest"
)

// imapSnapshot prints, for each folder named on the command line, its UIDVALIDITY and
// UIDNEXT and every message's UID, sorted flags and the SHA-256 of its bytes: the same
// output from two servers means a client sees the same mailbox.
const imapSnapshot = `
import imaplib, ssl, sys, hashlib, re
port, cafile, user, password = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False  # the certificate names mail.example.test; the chain is still verified
m = imaplib.IMAP4_SSL("127.0.0.1", int(port), ssl_context=ctx, timeout=60)
m.login(user, password)
for folder in sys.argv[5:]:
    typ, data = m.select('"%s"' % folder, readonly=True)
    assert typ == "OK", (folder, data)
    count = int(data[0])
    uv = m.response("UIDVALIDITY")[1][0].decode()
    typ, st = m.status('"%s"' % folder, "(UIDNEXT)")
    print("FOLDER", folder, "UIDVALIDITY", uv, st[0].decode().split("(")[1].rstrip(")"), "COUNT", count)
    if count == 0:
        continue
    typ, data = m.fetch("1:*", "(UID FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    for item in data:
        if not isinstance(item, tuple):
            continue
        head = item[0].decode()
        uid = re.search(r"UID (\d+)", head).group(1)
        flags = " ".join(sorted(re.search(r"FLAGS \(([^)]*)\)", head).group(1).split()))
        print(uid, "[" + flags + "]", hashlib.sha256(item[1]).hexdigest())
m.logout()
`

// sendRaw sends argv[5] (a whole message) from argv[3] to argv[4] through the SMTP
// server at argv[1]:argv[2].
const sendRaw = `
import smtplib, sys
host, port, sender, rcpt, msg = sys.argv[1:6]
with smtplib.SMTP(host, int(port), timeout=60) as s:
    s.sendmail(sender, [rcpt], msg.encode())
`

// searchBody prints the UIDs in the INBOX of argv[3] whose text contains argv[5].
const searchBody = `
import imaplib, ssl, sys
port, cafile, user, password, text = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False
m = imaplib.IMAP4_SSL("127.0.0.1", int(port), ssl_context=ctx, timeout=60)
m.login(user, password)
m.select("INBOX", readonly=True)
typ, data = m.uid("SEARCH", "BODY", '"%s"' % text)
assert typ == "OK", data
print(data[0].decode())
m.logout()
`

// generatedMbox writes n messages in mbox form with a spread of flags and keywords.
func generatedMbox(t *testing.T, n int, to string) string {
	t.Helper()
	var b strings.Builder
	for i := 1; i <= n; i++ {
		date := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		fmt.Fprintf(&b, "From sender%d@example.net %s\n", i%17, date.Format("Mon Jan _2 15:04:05 2006"))
		fmt.Fprintf(&b, "From: Sender %d <sender%d@example.net>\nTo: %s\n", i%17, i%17, to)
		fmt.Fprintf(&b, "Subject: generated message %d\nDate: %s\nMessage-ID: <%d.%s@gen.test>\n", i, date.Format(time.RFC1123Z), i, strings.ReplaceAll(to, "@", "."))
		if i%3 == 0 {
			b.WriteString("Status: RO\n")
		}
		if i%5 == 0 {
			b.WriteString("X-Status: F\n")
		}
		if i%7 == 0 {
			b.WriteString("X-Keywords: $Work\n")
		}
		fmt.Fprintf(&b, "\nBody of message %d, with the word quokka%d for search.\n\n", i, i%10)
	}
	return writeFile(t, "gen-"+to+".mbox", b.String())
}

// fileDigest hashes every regular file under dir (name and bytes), so a test can tell
// whether anything in it changed.
func fileDigest(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestMigrateSQLiteToPostgres fills an SQLite installation (users, an alias, a group, a
// shared mailbox with a grant, a few thousand imported messages with flags, a queued
// outbound message), copies it with `mailroom migrate`, and reads the same mail over
// IMAP from a node on the PostgreSQL database: same UIDVALIDITY, UIDs, flags and bytes.
func TestMigrateSQLiteToPostgres(t *testing.T) {
	for _, tool := range []string{"swaks", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/test.sh installs it)", tool)
		}
	}
	dsn := pgtest.Start(t)
	src := newData(t)
	d := "--data=" + src
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "alice@example.test")
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "bob@example.test")
	ok(t, "", "user", "add", d, "--shared", "--display-name", "Sales", "sales@example.test")
	ok(t, "", "alias", "add", d, "alice@example.test", "a.archer@example.test")
	ok(t, "", "group", "add", d, "--address", "team@example.test", "Team")
	ok(t, "", "group", "member", "add", d, "Team", "alice@example.test")
	ok(t, "", "group", "member", "add", d, "Team", "bob@example.test")
	ok(t, "", "shared", "grant", d, "sales@example.test", "alice@example.test", "FullAccess")
	ok(t, "", "import", d, "alice@example.test", generatedMbox(t, 2500, "alice@example.test"))
	ok(t, "", "import", d, "--folder", "Archive/2025", "alice@example.test", generatedMbox(t, 500, "a.archer@example.test"))
	ok(t, "", "import", d, "sales@example.test", generatedMbox(t, 200, "sales@example.test"))

	// Serve the source once: flags changed over IMAP, a folder deleted (its id must not
	// come back as a UIDVALIDITY), and a message queued for a domain nobody can reach.
	cfg := loopbackConfig(t, src)
	s := startServe(t, src)
	s.waitLog(t, "mailroom serving")
	_, imapPort := splitAddr(t, cfg.IMAP.TLSListen[0])
	change := `
import imaplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2]); ctx.check_hostname = False
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx, timeout=60)
m.login("alice@example.test", sys.argv[3])
m.select("INBOX")
assert m.store("1:40", "+FLAGS", "(\\Answered $Label1)")[0] == "OK"
assert m.store("41:50", "-FLAGS", "(\\Seen \\Flagged)")[0] == "OK"
assert m.create("Scratch")[0] == "OK"
assert m.delete("Scratch")[0] == "OK"
m.logout()
`
	if out, err := exec.Command("python3", "-c", change, imapPort, filepath.Join(src, "tls", "cert.pem"), goodPassword).CombinedOutput(); err != nil {
		t.Fatalf("imaplib on the source: %v\n%s", err, out)
	}
	host, subPort := splitAddr(t, cfg.SMTP.Submission[0])
	if out, err := exec.Command("swaks", "--server", host, "--port", subPort, "--tls", "--hide-all",
		"--auth", "PLAIN", "--auth-user", "bob@example.test", "--auth-password", goodPassword,
		"--from", "bob@example.test", "--to", "someone@unreachable.test", "--header", "Subject: stays queued",
		"--body", "Nobody can take this.").CombinedOutput(); err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	// A long plain-text message: SQLite keeps its text's tail only in the message
	// itself (store migration 0006), and the copy must give PostgreSQL the whole text.
	mxHost, mxPort := splitAddr(t, cfg.SMTP.Listen[0])
	long := "Subject: long plain text\r\n\r\n" + strings.Repeat("Filler line of the long message.\r\n", 1000) + "The Long Tail WOMBAT sits at the end.\r\n"
	if out, err := exec.Command("python3", "-c", sendRaw, mxHost, mxPort, "x@remote.test", "bob@example.test", long).CombinedOutput(); err != nil {
		t.Fatalf("smtplib: %v\n%s", err, out)
	}
	searchBob := func(port, cert string) {
		t.Helper()
		out, err := exec.Command("python3", "-c", searchBody, port, cert, "bob@example.test", goodPassword, "long tail wombat").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "1" {
			t.Fatalf("SEARCH BODY in bob's INBOX: %v\n%s", err, out)
		}
	}
	searchBob(imapPort, filepath.Join(src, "tls", "cert.pem"))
	folders := []string{"INBOX", "Archive/2025"}
	snapshot := func(port, cert string) string {
		t.Helper()
		out, err := exec.Command("python3", append([]string{"-c", imapSnapshot, port, cert, "alice@example.test", goodPassword}, folders...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("imaplib snapshot: %v\n%s", err, out)
		}
		return string(out)
	}
	before := snapshot(imapPort, filepath.Join(src, "tls", "cert.pem"))
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
	var queued []struct{ ID int64 }
	okJSON(t, &queued, "queue", "list", d)
	if len(queued) != 1 {
		t.Fatalf("source queue = %+v", queued)
	}

	// The copy: nothing in the source data directory changes.
	digest := fileDigest(t, src)
	out := ok(t, "", "migrate", "--from", "sqlite:"+src, "--to", "postgres:"+dsn)
	for _, want := range []string{"messages", "blob_data", "principals", "queue_messages", "activesync_devices", "pki_ca", "Copied and verified", `backend = "postgres"`} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate output lacks %q:\n%s", want, out)
		}
	}
	if fileDigest(t, src) != digest {
		t.Error("migrate changed a file in the source data directory")
	}
	// A second run refuses the now non-empty target.
	if r := mailroom(t, "", "migrate", "--from", "sqlite:"+src, "--to", "postgres:"+dsn); r.code != 1 || !strings.Contains(r.stderr, "not empty") {
		t.Fatalf("second migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	node := filepath.Join(t.TempDir(), "pg")
	ok(t, "", "init", "--data", node, "--hostname", "mail.example.test", "--store", "postgres", "--dsn", dsn)
	n := "--data=" + node
	okJSON(t, &queued, "queue", "list", n)
	if len(queued) != 1 {
		t.Fatalf("queue after migration = %+v", queued)
	}
	var sales struct {
		Messages int
		Grants   []struct{ Rights []string }
	}
	okJSON(t, &sales, "user", "show", n, "sales@example.test")
	if sales.Messages != 200 {
		t.Errorf("shared mailbox after migration = %+v", sales)
	}
	var team struct{ Members []struct{ Name string } }
	okJSON(t, &team, "group", "show", n, "team@example.test")
	if len(team.Members) != 2 {
		t.Errorf("group after migration = %+v", team)
	}
	pgCfg := loopbackConfig(t, node)
	p := startServe(t, node)
	p.waitLog(t, "mailroom serving")
	_, pgIMAP := splitAddr(t, pgCfg.IMAP.TLSListen[0])
	after := snapshot(pgIMAP, filepath.Join(node, "tls", "cert.pem"))
	searchBob(pgIMAP, filepath.Join(node, "tls", "cert.pem"))
	if before != after {
		t.Fatalf("IMAP view differs after migration:\nbefore (first lines):\n%s\nafter (first lines):\n%s", head(before, 6), head(after, 6))
	}
	if !strings.Contains(before, "COUNT 2500") || !strings.Contains(before, "$Label1") || !strings.Contains(before, "$Work") {
		t.Fatalf("the snapshot does not show the imported mail:\n%s", head(before, 6))
	}
	// The alias still reaches alice (its address row came along), and new mail gets
	// the next UID rather than a reused one.
	mx, mxPort := splitAddr(t, pgCfg.SMTP.Listen[0])
	if out, err := exec.Command("swaks", "--server", mx, "--port", mxPort, "--hide-all", "--from", "x@remote.test",
		"--to", "a.archer@example.test", "--header", "Subject: after the move", "--body", "hello").CombinedOutput(); err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	var alice struct{ Messages int }
	okJSON(t, &alice, "user", "show", n, "alice@example.test")
	if alice.Messages != 3001 {
		t.Errorf("alice has %d messages after one more, want 3001", alice.Messages)
	}
}

func head(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
