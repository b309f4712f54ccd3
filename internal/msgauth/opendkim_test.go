package msgauth

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenDKIMVerifiesSigner has OpenDKIM (Debian package opendkim-tools)
// verify messages signed by Signer, fetching the key from the loopback DNS
// server. opendkim-testmsg uses the system resolver, which only talks to
// port 53 of the servers in /etc/resolv.conf, so the test runs it in a
// private mount namespace where /etc/resolv.conf names the test server; the
// machine's own resolver configuration is untouched.
func TestOpenDKIMVerifiesSigner(t *testing.T) {
	tool, err := exec.LookPath("opendkim-testmsg")
	if err != nil {
		t.Skip("opendkim-testmsg not installed (apt-get install opendkim-tools)")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and unshare(1) to give opendkim-testmsg its own resolv.conf")
	}
	// A loopback address of our own, so port 53 is free for the test.
	pid := os.Getpid()
	host := fmt.Sprintf("127.53.%d.%d", (pid>>8)%250+1, pid%250+1)
	z, err := listenDNS(t, host, "53")
	if err != nil {
		t.Skipf("cannot serve DNS on %s:53: %v", host, err)
	}
	dir := t.TempDir()
	resolvConf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolvConf, []byte("nameserver "+host+"\noptions edns0 attempts:1 timeout:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	signer := newPublishedSigner(t, z, KeyRSA2048, "example.com", "odk")

	verify := func(t *testing.T, msg []byte) (bool, string) {
		cmd := exec.CommandContext(t.Context(), unshare, "--mount", "sh", "-c",
			`mount --bind "$1" /etc/resolv.conf && exec "$2" -C`, "sh", resolvConf, tool)
		cmd.Stdin = bytes.NewReader(msg)
		out, err := cmd.CombinedOutput()
		return err == nil, string(out)
	}

	signed := mustSign(t, signer, message("alice@example.com", "Cc: carol@example.com"))
	tests := []struct {
		name string
		msg  []byte
		ok   bool
	}{
		{"signed by Signer", signed, true},
		{"folded and re-spaced in transit (relaxed)", replace(signed, "Subject: Quarterly numbers", "Subject: Quarterly\r\n numbers"), true},
		{"body changed", replace(signed, "numbers are", "numbers were"), false},
		{"Subject changed", replace(signed, "Subject: Quarterly", "Subject: Urgent"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, out := verify(t, tc.msg)
			if ok != tc.ok {
				t.Errorf("opendkim-testmsg verified=%v, want %v: %s", ok, tc.ok, out)
			}
			if !tc.ok && !strings.Contains(out, "Bad signature") {
				t.Errorf("opendkim-testmsg failed for another reason than the signature: %s", out)
			}
		})
	}
}

// TestOpenDKIMSignatureVerified verifies a signature made by OpenDKIM with a
// key from GenerateKey. opendkim-testmsg signs with rsa-sha1 and cannot be
// told otherwise, and RFC 8301 section 3.1 forbids verifiers to accept
// rsa-sha1, so the expected result is permerror for exactly that reason;
// the case shows that key, canonicalization and tag parsing interoperate
// up to the hash algorithm check.
func TestOpenDKIMSignatureVerified(t *testing.T) {
	tool, err := exec.LookPath("opendkim-testmsg")
	if err != nil {
		t.Skip("opendkim-testmsg not installed (apt-get install opendkim-tools)")
	}
	env := newTestEnv(t)
	priv, txt, err := GenerateKey(KeyRSA2048)
	if err != nil {
		t.Fatal(err)
	}
	env.dns.addTXT("odk._domainkey.example.com", txt)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), tool, "-C", "-d", "example.com", "-s", "odk", "-k", keyFile)
	cmd.Stdin = bytes.NewReader(message("alice@example.com"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	signed, err := cmd.Output()
	if err != nil {
		t.Fatalf("opendkim-testmsg sign: %v: %s", err, stderr.String())
	}
	res := env.check(t, goodIP, "client.example", "bounce@example.com", signed)
	d := res.DKIM[0]
	if d.Status != StatusPermError || d.Algorithm != "rsa-sha1" || d.Domain != "example.com" || d.Selector != "odk" {
		t.Errorf("DKIM = %+v, want permerror for rsa-sha1", d)
	}
}
