package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMailEndToEnd runs the whole server and moves mail with real clients: swaks into the
// MX and through authenticated submission, Python's poplib out again.
func TestMailEndToEnd(t *testing.T) {
	for _, tool := range []string{"swaks", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/test.sh installs it)", tool)
		}
	}
	data := newData(t)
	ok(t, goodPassword+"\n", "user", "add", "--data", data, "--password-stdin", "alice@example.test")
	ok(t, goodPassword+"\n", "user", "add", "--data", data, "--password-stdin", "bob@example.test")
	cfg := loopbackConfig(t, data)
	s := startServe(t, data)
	s.waitLog(t, "mailroom serving")

	host, port := splitAddr(t, cfg.SMTP.Listen[0])
	swaks := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("swaks", append([]string{"--server", host, "--hide-all"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("swaks %v: %v\n%s\nserver said:\n%s", args, err, out, s.all.String())
		}
		return string(out)
	}
	swaks("--port", port, "--from", "someone@remote.test", "--to", "alice@example.test",
		"--header", "Subject: from outside", "--body", "Hello from the MX")
	_, subPort := splitAddr(t, cfg.SMTP.Submission[0])
	swaks("--port", subPort, "--tls", "--auth", "LOGIN", "--auth-user", "bob@example.test", "--auth-password", goodPassword,
		"--from", "bob@example.test", "--to", "alice@example.test", "--header", "From: bob@example.test",
		"--header", "Subject: from bob", "--body", "Hello from submission")

	// Mail for a remote address waits in the outbound queue (its DNS is unreachable here,
	// so the first attempt fails for now), where the admin commands see and act on it.
	swaks("--port", subPort, "--tls", "--auth", "PLAIN", "--auth-user", "bob@example.test", "--auth-password", goodPassword,
		"--from", "bob@example.test", "--to", "carol@remote.test", "--header", "From: bob@example.test", "--body", "Hello Carol")
	var entries []struct {
		ID         int64
		From       string
		Recipients []struct{ Address, Status string }
	}
	okJSON(t, &entries, "queue", "list", "--data", data)
	if len(entries) != 1 || entries[0].From != "bob@example.test" || len(entries[0].Recipients) != 1 ||
		entries[0].Recipients[0].Address != "carol@remote.test" || entries[0].Recipients[0].Status != "queued" {
		t.Fatalf("queue = %+v", entries)
	}
	id := strconv.FormatInt(entries[0].ID, 10)
	if out := ok(t, "", "queue", "show", "--data", data, id); !strings.Contains(out, "carol@remote.test") {
		t.Fatalf("queue show = %s", out)
	}
	ok(t, "", "queue", "retry", "--data", data, id)
	if r := mailroom(t, "", "queue", "drop", "--data", data, "x"); r.code != 2 {
		t.Fatalf("drop of a bad id: %+v", r)
	}
	if r := mailroom(t, "", "queue", "show", "--data", data, "999"); r.code != 1 || !strings.Contains(r.stderr, "999") {
		t.Fatalf("show of a missing id: %+v", r)
	}
	ok(t, "", "queue", "drop", "--data", data, id)
	okJSON(t, &entries, "queue", "list", "--data", data)
	if len(entries) != 0 {
		t.Fatalf("queue after drop = %+v", entries)
	}

	// Autodiscover, as Outlook asks it, points at the services this server runs.
	request := `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@example.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`
	curl, err := exec.Command("curl", "-sS", "-k", "--user", "alice@example.test:"+goodPassword, "-H", "Content-Type: text/xml",
		"--data-binary", request, "https://"+cfg.HTTP.TLSListen[0]+"/autodiscover/autodiscover.xml").CombinedOutput()
	if err != nil {
		t.Fatalf("curl autodiscover: %v\n%s", err, curl)
	}
	_, popTLS := splitAddr(t, cfg.POP3.TLSListen[0])
	for _, want := range []string{"<Type>POP3</Type>", "<Port>" + popTLS + "</Port>", "<Type>SMTP</Type>", "<Port>" + subPort + "</Port>", "<Server>mail.example.test</Server>"} {
		if !strings.Contains(string(curl), want) {
			t.Errorf("autodiscover answer lacks %q:\n%s", want, curl)
		}
	}
	_, imapTLS := splitAddr(t, cfg.IMAP.TLSListen[0])
	if !strings.Contains(string(curl), "<Type>IMAP</Type>") || !strings.Contains(string(curl), "<Port>"+imapTLS+"</Port>") {
		t.Errorf("autodiscover answer lacks IMAP on %s:\n%s", imapTLS, curl)
	}
	if strings.Contains(string(curl), "MobileSync") {
		t.Errorf("autodiscover offers ActiveSync, which this build does not serve yet:\n%s", curl)
	}

	// IMAP sees the same mailbox (the POP3 check below reads it too).
	imapScript := `
import imaplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
m.login("alice@example.test", sys.argv[3])
typ, data = m.select("INBOX")
print("EXISTS", data[0].decode())
typ, data = m.uid("SEARCH", None, "SUBJECT", "bob")
print("FOUND", data[0].decode())
m.logout()
`
	imapOut, err := exec.Command("python3", "-c", imapScript, imapTLS, filepath.Join(data, "tls", "cert.pem"), goodPassword).CombinedOutput()
	if err != nil || !strings.Contains(string(imapOut), "EXISTS 2") || !strings.Contains(string(imapOut), "FOUND 2") {
		t.Fatalf("imaplib: %v\n%s", err, imapOut)
	}

	_, popPort := splitAddr(t, cfg.POP3.TLSListen[0])
	script := `
import poplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False  # the certificate names mail.example.test; the chain is still verified
p = poplib.POP3_SSL("127.0.0.1", int(sys.argv[1]), context=ctx)
p.user("alice@example.test"); p.pass_(sys.argv[3])
count, _ = p.stat()
print("COUNT", count)
for i in range(1, count + 1):
    print("MESSAGE")
    print(b"\n".join(p.retr(i)[1]).decode())
p.quit()
`
	out, err := exec.Command("python3", "-c", script, popPort, filepath.Join(data, "tls", "cert.pem"), goodPassword).CombinedOutput()
	if err != nil {
		t.Fatalf("poplib: %v\n%s", err, out)
	}
	got := string(out)
	if !strings.Contains(got, "COUNT 2") {
		t.Fatalf("alice's mailbox:\n%s", got)
	}
	parts := strings.Split(got, "MESSAGE")
	if len(parts) != 3 {
		t.Fatalf("messages:\n%s", got)
	}
	mx, sub := parts[1], parts[2]
	for _, want := range []string{"Subject: from outside", "Authentication-Results: mail.example.test;", "Received: from", "Hello from the MX"} {
		if !strings.Contains(mx, want) {
			t.Errorf("MX message lacks %q:\n%s", want, mx)
		}
	}
	for _, want := range []string{"Subject: from bob", "DKIM-Signature:", "d=example.test", "s=mailroom", "Hello from submission"} {
		if !strings.Contains(sub, want) {
			t.Errorf("submitted message lacks %q:\n%s", want, sub)
		}
	}
}

func splitAddr(t *testing.T, addr string) (string, string) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		t.Fatalf("address %q has no port", addr)
	}
	return addr[:i], addr[i+1:]
}
