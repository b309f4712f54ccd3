package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/pgtest"
	"mailroom/internal/wbxml"
)

// concurrentAppends has threads, spread over the IMAP ports given, APPEND messages to
// one folder at once, and prints each answer's UID in the order that thread got them.
const concurrentAppends = `
import imaplib, ssl, sys, re, threading
password, per_thread, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ports = [int(p) for p in sys.argv[4:]]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
results, errors = {}, []
def work(n, port):
    try:
        m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx, timeout=60)
        m.login("alice@example.test", password)
        uids = []
        for i in range(per_thread):
            msg = ("From: t%d@example.test\r\nSubject: append %d.%d\r\n\r\nbody\r\n" % (n, n, i)).encode()
            typ, dat = m.append("INBOX", None, None, msg)
            assert typ == "OK", dat
            uids.append(int(re.search(rb"APPENDUID \d+ (\d+)", dat[0]).group(1)))
        m.logout()
        results[n] = uids
    except Exception as e:
        errors.append("thread %d: %r" % (n, e))
ts = [threading.Thread(target=work, args=(n, ports[n % len(ports)])) for n in range(threads)]
for t in ts: t.start()
for t in ts: t.join(120)
for e in errors: print("ERROR", e)
for n in sorted(results):
    print("THREAD", n, " ".join(str(u) for u in results[n]))
m = imaplib.IMAP4_SSL("127.0.0.1", ports[0], ssl_context=ctx, timeout=60)
m.login("alice@example.test", password)
m.select("INBOX", readonly=True)
print("ALL", m.uid("SEARCH", "ALL")[1][0].decode())
m.logout()
`

// TestThreeNodes runs three `mailroom serve` processes on one PostgreSQL database: mail
// taken in by node 1's SMTP wakes an IMAP IDLE on node 2 and an ActiveSync Ping on node
// 3 within two seconds, and APPENDs to one folder through all three nodes at once get
// unique UIDs, increasing per connection, with none lost.
func TestThreeNodes(t *testing.T) {
	for _, tool := range []string{"swaks", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/test.sh installs it)", tool)
		}
	}
	dsn := pgtest.Start(t)
	var nodes [3]string
	var cfgs [3]config.Config
	for i := range nodes {
		nodes[i] = filepath.Join(t.TempDir(), fmt.Sprintf("node%d", i+1))
		args := []string{"init", "--data", nodes[i], "--hostname", "mail.example.test", "--store", "postgres", "--dsn", dsn}
		if i == 0 {
			args = append(args, "--domain", "example.test")
		}
		ok(t, "", args...)
	}
	ok(t, goodPassword+"\n", "user", "add", "--data", nodes[0], "--password-stdin", "alice@example.test")
	var procs [3]*serveProcess
	for i := range nodes {
		cfgs[i] = loopbackConfig(t, nodes[i])
		procs[i] = startServe(t, nodes[i])
	}
	for _, p := range procs {
		p.waitLog(t, "mailroom serving")
	}

	// Node 3: a phone with its Inbox synced, then waiting in Ping.
	httpClient := &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	phone := &easClient{t: t, base: "https://" + cfgs[2].HTTP.TLSListen[0], user: "alice@example.test", device: "PHONE3", http: httpClient}
	phone.provision()
	folders := phone.do("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`)
	inbox := ""
	for _, add := range folders.Child(wbxml.NSFolderHierarchy, "Changes").All(wbxml.NSFolderHierarchy, "Add") {
		if add.ChildText(wbxml.NSFolderHierarchy, "Type") == "2" {
			inbox = add.ChildText(wbxml.NSFolderHierarchy, "ServerId")
		}
	}
	if inbox == "" {
		t.Fatalf("no Inbox in FolderSync: %s", folders.XML())
	}
	key := collectionOf(phone.do("Sync", syncRequest(inbox, "0", ""))).ChildText(wbxml.NSAirSync, "SyncKey")
	phone.do("Sync", syncRequest(inbox, key, "<GetChanges>1</GetChanges>"))
	pinged := make(chan time.Time, 1)
	go func() {
		_, el := phone.post("Ping", `<Ping xmlns="Ping:"><HeartbeatInterval>120</HeartbeatInterval><Folders><Folder><Id>`+inbox+`</Id><Class>Email</Class></Folder></Folders></Ping>`)
		if el != nil && el.ChildText(wbxml.NSPing, "Status") == "2" {
			pinged <- time.Now()
		}
		close(pinged)
	}()

	// Node 2: an IMAP client in IDLE.
	_, imap2 := splitAddr(t, cfgs[1].IMAP.TLSListen[0])
	idle := exec.Command("python3", "-u", "-c", `
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
s.settimeout(30)
f = s.makefile("rwb")
def send(line): f.write(line.encode() + b"\r\n"); f.flush()
f.readline()
send("a LOGIN alice@example.test \"" + sys.argv[2] + "\"")
while not f.readline().startswith(b"a "): pass
send("b SELECT INBOX")
while not f.readline().startswith(b"b "): pass
send("c IDLE")
print(f.readline().decode().strip(), flush=True)
print(f.readline().decode().strip(), flush=True)
`, imap2, goodPassword)
	stdout, err := idle.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := idle.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { idle.Process.Kill(); idle.Wait() }()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "+") {
		t.Fatalf("IDLE not accepted: %q", lines.Text())
	}
	idled := make(chan string, 1)
	go func() {
		lines.Scan()
		idled <- lines.Text()
	}()
	time.Sleep(500 * time.Millisecond) // the Ping is held by now

	// Node 1: the MX takes the message.
	host, port := splitAddr(t, cfgs[0].SMTP.Listen[0])
	out, err := exec.Command("swaks", "--server", host, "--port", port, "--hide-all", "--from", "someone@remote.test",
		"--to", "alice@example.test", "--header", "Subject: three nodes", "--body", "into node 1").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	sent := time.Now()
	const within = 2 * time.Second
	select {
	case line := <-idled:
		if line != "* 1 EXISTS" {
			t.Errorf("IDLE on node 2 saw %q, want * 1 EXISTS", line)
		}
		if d := time.Since(sent); d > within {
			t.Errorf("IDLE on node 2 saw the message %v after node 1 took it", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("IDLE on node 2 not woken by delivery on node 1")
	}
	select {
	case at, open := <-pinged:
		if !open {
			t.Fatal("Ping on node 3 ended without reporting changes")
		}
		if d := at.Sub(sent); d > within {
			t.Errorf("Ping on node 3 answered %v after node 1 took the message", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Ping on node 3 not woken by delivery on node 1")
	}

	// Concurrent APPENDs through all three nodes.
	const threads, perThread = 6, 15
	args := []string{"-c", concurrentAppends, goodPassword, strconv.Itoa(perThread), strconv.Itoa(threads)}
	for _, c := range cfgs {
		_, p := splitAddr(t, c.IMAP.TLSListen[0])
		args = append(args, p)
	}
	out, err = exec.Command("python3", args...).CombinedOutput()
	if err != nil || strings.Contains(string(out), "ERROR") {
		t.Fatalf("concurrent APPENDs: %v\n%s", err, out)
	}
	seen := map[int]bool{}
	var all []int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		switch fields[0] {
		case "THREAD":
			prev := 0
			for _, f := range fields[2:] {
				uid, _ := strconv.Atoi(f)
				if uid <= prev {
					t.Errorf("thread %s got UID %d after %d", fields[1], uid, prev)
				}
				if seen[uid] {
					t.Errorf("UID %d given twice", uid)
				}
				seen[uid], prev = true, uid
			}
		case "ALL":
			for _, f := range fields[1:] {
				uid, _ := strconv.Atoi(f)
				all = append(all, uid)
			}
		}
	}
	if len(seen) != threads*perThread {
		t.Fatalf("%d APPENDs answered with a UID, want %d:\n%s", len(seen), threads*perThread, out)
	}
	// The delivered message is UID 1; the appends fill 2..91 with no UID lost or skipped.
	sort.Ints(all)
	if len(all) != 1+threads*perThread || all[0] != 1 || all[len(all)-1] != len(all) {
		t.Fatalf("UIDs in the folder: %v", all)
	}
}
