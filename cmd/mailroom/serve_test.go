package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/testnet"
)

// freeAddr returns a loopback address nothing listens on right now (internal/testnet).
func freeAddr(t *testing.T) string { return testnet.Addr(t) }

// loopbackConfig rewrites the data directory's configuration to listen on free loopback
// ports and to ask a DNS "server" on a closed loopback port (so no query ever leaves the
// machine), and returns the configuration.
func loopbackConfig(t *testing.T, data string) config.Config {
	t.Helper()
	file := filepath.Join(data, config.DefaultFile)
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	one := func() []string { return []string{freeAddr(t)} }
	cfg.HTTP.Listen, cfg.HTTP.TLSListen = one(), one()
	cfg.SMTP.Listen, cfg.SMTP.Submission, cfg.SMTP.Submissions = one(), one(), one()
	cfg.IMAP = config.Listeners{Listen: one(), TLSListen: one()}
	cfg.POP3 = config.Listeners{Listen: one(), TLSListen: one()}
	cfg.DNS.Resolver = freeAddr(t)
	cfg.Limits.ShutdownTimeout = 5 * time.Second
	if err := os.WriteFile(file, config.Render(cfg), 0o640); err != nil {
		t.Fatal(err)
	}
	return cfg
}

type serveProcess struct {
	cmd  *exec.Cmd
	logs chan string
	all  strings.Builder
}

func startServe(t *testing.T, data string) *serveProcess {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--data", data)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serveProcess{cmd: cmd, logs: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.logs <- sc.Text()
		}
		close(s.logs)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return s
}

// waitLog waits for a log line containing want.
func (s *serveProcess) waitLog(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-s.logs:
			if !ok {
				t.Fatalf("server ended before logging %q; it said:\n%s", want, s.all.String())
			}
			s.all.WriteString(l + "\n")
			if strings.Contains(l, want) {
				return l
			}
		case <-deadline:
			t.Fatalf("no log line %q in time; got:\n%s", want, s.all.String())
		}
	}
}

func TestServe(t *testing.T) {
	data := newData(t)
	cfg := loopbackConfig(t, data)
	httpAddr, httpsAddr := cfg.HTTP.Listen[0], cfg.HTTP.TLSListen[0]
	ok(t, "", "domain", "add", "--data", data, "contoso.test")
	s := startServe(t, data)
	s.waitLog(t, "address="+httpAddr)
	s.waitLog(t, "address="+httpsAddr)
	s.waitLog(t, "mailroom serving")

	// The HTTPS listener presents the certificate init made for the host name.
	pemBytes, err := os.ReadFile(filepath.Join(data, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "mail.example.test"},
	}}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("https://" + httpsAddr + "/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("healthz over TLS: %d %s", code, body)
	}
	if code, body := get("http://" + httpAddr + "/healthz"); code != 200 {
		t.Fatalf("healthz over HTTP: %d %s", code, body)
	}
	if code, body := get("https://" + httpsAddr + "/metrics"); code != 200 || !strings.Contains(body, `mailroom_http_requests_total{code="200",route="GET /healthz"}`) {
		t.Fatalf("metrics: %d\n%s", code, body)
	}
	// TLS 1.1 is refused.
	old := &tls.Config{RootCAs: pool, ServerName: "mail.example.test", MaxVersion: tls.VersionTLS11}
	if c, err := tls.Dial("tcp", httpsAddr, old); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
	// Each domain's discovery names have a certificate of their own, chosen by SNI.
	for _, name := range []string{"autodiscover.example.test", "autoconfig.example.test", "autodiscover.contoso.test", "autoconfig.contoso.test"} {
		c, err := tls.Dial("tcp", httpsAddr, &tls.Config{InsecureSkipVerify: true, ServerName: name})
		if err != nil {
			t.Fatal(err)
		}
		leaf := c.ConnectionState().PeerCertificates[0]
		c.Close()
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("certificate for %s: %v", name, err)
		}
	}
	// Admin commands work while the server runs.
	ok(t, goodPassword+"\n", "user", "add", "--data", data, "--password-stdin", "live@example.test")

	// A second server on the same ports fails clearly.
	r := mailroom(t, "", "serve", "--data", data)
	if r.code != 1 || !strings.Contains(r.stderr, "address already in use") || !strings.Contains(r.stderr, httpAddr) {
		t.Fatalf("second serve: exit %d, stderr %s", r.code, r.stderr)
	}

	// SIGTERM: stop accepting, finish, exit 0.
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, "stopped")
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v\n%s", err, s.all.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	if _, err := net.DialTimeout("tcp", httpAddr, time.Second); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

func TestServeBadConfig(t *testing.T) {
	data := newData(t)
	file := filepath.Join(data, config.DefaultFile)
	cfg, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(cfg), `":2993"`, `"127.0.0.1:99999"`, 1)
	if err := os.WriteFile(file, []byte(bad), 0o640); err != nil {
		t.Fatal(err)
	}
	line := 0
	for i, l := range strings.Split(bad, "\n") {
		if strings.Contains(l, "99999") {
			line = i + 1
		}
	}
	r := mailroom(t, "", "serve", "--data", data)
	want := fmt.Sprintf("mailroom.toml:%d: imap.tls_listen", line)
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("exit %d, stderr %q, want it to contain %q", r.code, r.stderr, want)
	}
}
