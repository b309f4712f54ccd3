package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/testnet"
)

// site is one Mailroom installation in the federation test.
type site struct {
	domain, host, ip string
	data             string
	cfg              config.Config
	srv              *serveProcess
}

func newSite(t *testing.T, domain, ip string, relayPort int, resolver string) *site {
	t.Helper()
	s := &site{domain: domain, host: "mail." + domain, ip: ip, data: filepath.Join(t.TempDir(), "data")}
	ok(t, "", "init", "--data", s.data, "--hostname", s.host, "--domain", domain)
	file := filepath.Join(s.data, config.DefaultFile)
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	at := func(ip string) []string {
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return []string{ln.Addr().String()}
	}
	cfg.SMTP.Listen = []string{net.JoinHostPort(ip, strconv.Itoa(relayPort))}
	cfg.SMTP.Submission, cfg.SMTP.Submissions = at(ip), nil
	cfg.SMTP.RelayPort = relayPort
	cfg.HTTP.Listen, cfg.HTTP.TLSListen = at("127.0.0.1"), at("127.0.0.1")
	cfg.IMAP, cfg.POP3 = config.Listeners{}, config.Listeners{}
	cfg.DNS.Resolver = resolver
	cfg.Limits.ShutdownTimeout = 5 * time.Second
	if err := os.WriteFile(file, config.Render(cfg), 0o640); err != nil {
		t.Fatal(err)
	}
	s.cfg = cfg
	return s
}

// publish puts the site's records into the test DNS: MX and address, an SPF record
// that admits the loopback range (outbound connections leave from 127.0.0.1), the DKIM
// key `domain dns` prints, and a DMARC policy of reject.
func (s *site) publish(t *testing.T, d *dnsServer) {
	t.Helper()
	d.add(t,
		fmt.Sprintf("%s. 60 IN MX 10 %s.", s.domain, s.host),
		fmt.Sprintf("%s. 60 IN A %s", s.host, s.ip),
	)
	d.addTXT(s.domain, "v=spf1 ip4:127.0.0.0/8 -all")
	d.addTXT("_dmarc."+s.domain, "v=DMARC1; p=reject")
	var records []struct{ Name, Type, Value string }
	okJSON(t, &records, "domain", "dns", "--data", s.data, s.domain)
	for _, r := range records {
		if r.Type == "TXT" && strings.Contains(r.Name, "._domainkey.") {
			v, err := strconv.Unquote(r.Value)
			if err != nil {
				t.Fatalf("DKIM record value %q: %v", r.Value, err)
			}
			d.addTXT(r.Name, v)
			return
		}
	}
	t.Fatalf("domain dns printed no DKIM record: %+v", records)
}

func (s *site) start(t *testing.T) {
	t.Helper()
	s.srv = startServe(t, s.data)
	s.srv.waitLog(t, "mailroom serving")
}

func (s *site) stop(t *testing.T) {
	t.Helper()
	if err := s.srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.srv.waitLog(t, "stopped")
	s.srv.cmd.Wait()
}

// messages returns how many messages the user's mailbox holds, asked while the server runs.
func (s *site) messages(t *testing.T, user string) int {
	t.Helper()
	var u struct{ Messages int }
	okJSON(t, &u, "user", "show", "--data", s.data, user)
	return u.Messages
}

func (s *site) waitMessages(t *testing.T, user string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.messages(t, user) < n {
		if time.Now().After(deadline) {
			var q bytes.Buffer
			q.WriteString(ok(t, "", "queue", "list", "--data", s.data))
			t.Fatalf("%s did not get message %d in time; queue:\n%s", user, n, q.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// mbox exports the user's mailbox and returns it as one mbox text.
func (s *site) mbox(t *testing.T, user string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "export")
	ok(t, "", "export", "--data", s.data, "--format", "mbox", user, dir)
	b, err := os.ReadFile(filepath.Join(dir, "INBOX.mbox"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (s *site) submit(t *testing.T, from, to, subject string) {
	t.Helper()
	host, port := splitAddr(t, s.cfg.SMTP.Submission[0])
	out, err := exec.Command("swaks", "--server", host, "--port", port, "--tls", "--hide-all",
		"--auth", "PLAIN", "--auth-user", from, "--auth-password", goodPassword,
		"--from", from, "--to", to, "--header", "From: "+from, "--header", "Subject: "+subject,
		"--body", "Hello across domains").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
}

// TestFederation runs two Mailroom installations with different domains on loopback,
// finding each other through a real DNS server: mail crosses with a valid DKIM signature
// and SPF and DMARC pass; a stopped receiver makes the sender queue and retry; an unknown
// remote user produces a bounce in the sender's Inbox.
func TestFederation(t *testing.T) {
	if _, err := exec.LookPath("swaks"); err != nil {
		t.Skip("swaks is not installed (scripts/test.sh installs it)")
	}
	d := startDNS(t)
	port := testnet.Port(t, "127.0.0.2", "127.0.0.3")
	a := newSite(t, "a.test", "127.0.0.2", port, d.Addr)
	b := newSite(t, "b.test", "127.0.0.3", port, d.Addr)
	ok(t, goodPassword+"\n", "user", "add", "--data", a.data, "--password-stdin", "alice@a.test")
	ok(t, goodPassword+"\n", "user", "add", "--data", b.data, "--password-stdin", "bob@b.test")
	a.publish(t, d)
	b.publish(t, d)
	a.start(t)
	b.start(t)

	a.submit(t, "alice@a.test", "bob@b.test", "first")
	b.waitMessages(t, "bob@b.test", 1)
	got := b.mbox(t, "bob@b.test")
	for _, want := range []string{"Subject: first", "spf=pass", "dkim=pass", "header.d=a.test", "dmarc=pass"} {
		if !strings.Contains(got, want) {
			t.Errorf("received message lacks %q:\n%s", want, got)
		}
	}

	// The receiver goes away: the sender keeps the message and delivers it on retry.
	b.stop(t)
	a.submit(t, "alice@a.test", "bob@b.test", "second")
	deadline := time.Now().Add(30 * time.Second)
	for {
		var entries []struct {
			Recipients []struct {
				Attempts  int
				LastError string
			}
		}
		okJSON(t, &entries, "queue", "list", "--data", a.data)
		if len(entries) == 1 && entries[0].Recipients[0].Attempts > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt recorded: %+v", entries)
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.start(t)
	var entries []struct{ ID int64 }
	okJSON(t, &entries, "queue", "list", "--data", a.data)
	ok(t, "", "queue", "retry", "--data", a.data, strconv.FormatInt(entries[0].ID, 10))
	b.waitMessages(t, "bob@b.test", 2)

	// An unknown remote user: the receiver refuses, the sender's Inbox gets the bounce.
	a.submit(t, "alice@a.test", "nobody@b.test", "lost")
	a.waitMessages(t, "alice@a.test", 1)
	bounce := a.mbox(t, "alice@a.test")
	for _, want := range []string{"multipart/report", "report-type=delivery-status", "nobody@b.test", "Action: failed", "Status: 5.1.1"} {
		if !strings.Contains(bounce, want) {
			t.Errorf("bounce lacks %q:\n%s", want, bounce)
		}
	}
}
