package main

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAdminAPI runs `mailroom serve` and uses curl against /api/v1 on its HTTPS
// listener: an administrator made with `mailroom user add --admin` lists and adds
// users, a plain user is refused, and what the API added is what the CLI shows.
func TestAdminAPI(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	data := newData(t)
	cfg := loopbackConfig(t, data)
	httpsAddr := cfg.HTTP.TLSListen[0]
	ok(t, goodPassword+"\n", "user", "add", "--data", data, "--password-stdin", "--admin", "boss@example.test")
	ok(t, goodPassword+"\n", "user", "add", "--data", data, "--password-stdin", "staff@example.test")
	s := startServe(t, data)
	s.waitLog(t, "address="+httpsAddr)
	s.waitLog(t, "mailroom serving")

	_, port, err := net.SplitHostPort(httpsAddr)
	if err != nil {
		t.Fatal(err)
	}
	base := "https://mail.example.test:" + port + "/api/v1/"
	// curl checks the certificate init made for the host name, reached on loopback.
	curl := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args = append([]string{"-sS", "--cacert", filepath.Join(data, "tls", "cert.pem"),
			"--resolve", "mail.example.test:" + port + ":127.0.0.1", "-w", "\n%{http_code}"}, args...)
		out, err := exec.CommandContext(ctx, "curl", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := curl(base + "users"); !strings.HasSuffix(out, "\n401") {
		t.Errorf("without credentials: %s", out)
	}
	if out := curl("-u", "staff@example.test:"+goodPassword, base+"users"); !strings.HasSuffix(out, "\n403") {
		t.Errorf("as a plain user: %s", out)
	}
	out := curl("-u", "boss@example.test:"+goodPassword, "-H", "Content-Type: application/json",
		"--data", `{"address":"new@example.test","password":"`+goodPassword+`","displayName":"New Person"}`, base+"users")
	if !strings.HasSuffix(out, "\n201") || !strings.Contains(out, `"address": "new@example.test"`) {
		t.Fatalf("add user: %s", out)
	}
	out = curl("-u", "boss@example.test:"+goodPassword, base+"domains/example.test")
	if !strings.HasSuffix(out, "\n200") || !strings.Contains(out, `"mailboxes": 3`) || !strings.Contains(out, "mailroom._domainkey.example.test.") {
		t.Errorf("show domain: %s", out)
	}
	if show := ok(t, "", "user", "show", "--data", data, "new@example.test"); !strings.Contains(show, "New Person") {
		t.Errorf("the CLI does not see the user the API added:\n%s", show)
	}
	s.waitLog(t, "admin change")
}
