package smtp

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func hostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	must(t, err)
	return h, p
}

func swaks(t *testing.T, addr string, args ...string) (string, int) {
	t.Helper()
	h, p := hostPort(t, addr)
	return run(t, nil, need(t, "swaks"), append([]string{"--server", h, "--port", p, "--ehlo", "client.example",
		"--timeout", "20"}, args...)...)
}

func wantOK(t *testing.T, out string, code int) {
	t.Helper()
	if code != 0 {
		t.Fatalf("client failed with %d:\n%s", code, out)
	}
}

func wantRefused(t *testing.T, out string, code int, reply string) {
	t.Helper()
	if code == 0 || !strings.Contains(out, reply) {
		t.Fatalf("want refusal %q, got exit %d:\n%s", reply, code, out)
	}
}

var receivedMX = regexp.MustCompile(`^Received: from client\.example \(([a-z0-9.-]+ )?\[127\.0\.0\.1\]\)\r\n` +
	`\tby mail\.example\.test with ESMTP id [A-Z2-7]{26}\r\n\tfor <alice@example\.test>;\r\n\t[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n`)

func TestSwaksMX(t *testing.T) {
	checker := &fixedChecker{}
	e := newEnv(t, withChecker(checker))

	t.Run("local user", func(t *testing.T) {
		out, code := swaks(t, e.mx, "--from", "sender@remote.test", "--to", "alice@example.test",
			"--add-header", "Authentication-Results: mail.example.test; dkim=pass (forged)",
			"--add-header", "Authentication-Results: other.example; spf=pass",
			"--header", "Subject: to alice", "--body", "hello alice")
		wantOK(t, out, code)
		raw := string(e.wantInbox("alice", 1)[0])
		received := receivedMX.FindString(raw)
		if received == "" || !strings.HasPrefix(raw, received) {
			t.Fatalf("the message does not start with our Received field:\n%s", raw)
		}
		if want := "Authentication-Results: mail.example.test;\r\n\tspf=pass smtp.mailfrom=sender@remote.test\r\n"; !strings.HasPrefix(raw[len(received):], want) {
			t.Errorf("no Authentication-Results field after Received:\n%s", raw)
		}
		if strings.Contains(raw, "forged") {
			t.Error("a forged Authentication-Results field with our authserv-id was kept")
		}
		if !strings.Contains(raw, "Authentication-Results: other.example; spf=pass") {
			t.Error("another host's Authentication-Results field was removed")
		}
		if checker.mailFrom != "sender@remote.test" || checker.helo != "client.example" || !checker.ip.IsLoopback() {
			t.Errorf("checker got ip %v helo %q mail from %q", checker.ip, checker.helo, checker.mailFrom)
		}
	})
	t.Run("group and its member", func(t *testing.T) {
		out, code := swaks(t, e.mx, "--from", "sender@remote.test", "--to", "team@example.test,alice@example.test,TEAM@example.test",
			"--header", "Subject: to the team")
		wantOK(t, out, code)
		for _, u := range []string{"alice", "bob"} {
			msgs := e.inbox(u)
			n := 0
			for _, m := range msgs {
				if strings.Contains(string(m), "Subject: to the team") {
					n++
					if strings.Contains(string(m), "\tfor <") {
						t.Errorf("%s's copy names a recipient though there were several", u)
					}
				}
			}
			if n != 1 {
				t.Errorf("%s got %d copies, want 1", u, n)
			}
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		out, code := swaks(t, e.mx, "--from", "sender@remote.test", "--to", "nobody@example.test")
		wantRefused(t, out, code, "550 5.1.1 <nobody@example.test>: no such user")
	})
	t.Run("relay", func(t *testing.T) {
		out, code := swaks(t, e.mx, "--from", "sender@remote.test", "--to", "victim@elsewhere.test")
		wantRefused(t, out, code, "550 5.7.1 relaying denied")
		if len(e.out.messages()) != 0 {
			t.Error("MX handed mail to the outbound queue")
		}
	})
	t.Run("oversize", func(t *testing.T) {
		out, code := swaks(t, e.mx, "--from", "sender@remote.test", "--to", "bob@example.test",
			"--body", strings.Repeat(strings.Repeat("z", 99)+"\n", testMaxSize/100+10))
		wantRefused(t, out, code, "552 5.3.4")
		e.wantInbox("bob", 1) // the team message only
	})
	t.Run("over quota", func(t *testing.T) {
		out, code := swaks(t, e.mx, "--from", "sender@remote.test", "--to", "full@example.test")
		wantRefused(t, out, code, "452 4.2.2 <full@example.test>: mailbox full")
	})
	t.Run("quota exceeded at DATA", func(t *testing.T) {
		out, code := swaks(t, e.mx, "--from", "sender@remote.test", "--to", "small@example.test",
			"--body", strings.Repeat(strings.Repeat("q", 99)+"\n", 2*smallQuota/100))
		wantRefused(t, out, code, "552 5.2.2")
		e.wantInbox("small", 0)
	})
}

func TestSwaksSubmission(t *testing.T) {
	e := newEnv(t, withSigner(stampSigner{}))
	auth := func(mech string) []string {
		return []string{"--auth", mech, "--auth-user", "alice@example.test", "--auth-password", testPassword}
	}
	t.Run("STARTTLS and AUTH LOGIN", func(t *testing.T) {
		out, code := swaks(t, e.sub, append(auth("LOGIN"), "--tls", "--from", "alice@example.test",
			"--to", "bob@example.test", "--header", "Subject: login")...)
		wantOK(t, out, code)
		raw := string(e.wantInbox("bob", 1)[0])
		if !strings.Contains(raw, " with ESMTPSA (TLS1.3 ") {
			t.Errorf("Received does not say ESMTPSA over TLS 1.3:\n%s", raw)
		}
		if !strings.Contains(raw, "DKIM-Signature: v=1; d=example.test;") {
			t.Errorf("message not signed for example.test:\n%s", raw)
		}
	})
	t.Run("STARTTLS and AUTH PLAIN", func(t *testing.T) {
		out, code := swaks(t, e.sub, append(auth("PLAIN"), "--tls", "--from", "alice@example.test",
			"--to", "bob@example.test", "--header", "Subject: plain")...)
		wantOK(t, out, code)
		e.wantInbox("bob", 2)
	})
	t.Run("implicit TLS", func(t *testing.T) {
		out, code := swaks(t, e.subTLS, append(auth("PLAIN"), "--tlsc", "--from", "alice@example.test",
			"--to", "bob@example.test", "--header", "Subject: implicit")...)
		wantOK(t, out, code)
		e.wantInbox("bob", 3)
	})
	t.Run("AUTH without TLS", func(t *testing.T) {
		out, code := swaks(t, e.sub, append(auth("LOGIN"), "--from", "alice@example.test", "--to", "bob@example.test")...)
		if code == 0 || strings.Contains(out, "AUTH PLAIN") || strings.Contains(out, "235 ") {
			t.Fatalf("AUTH was offered or accepted in clear (exit %d):\n%s", code, out)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		out, code := swaks(t, e.sub, "--tls", "--auth", "LOGIN", "--auth-user", "alice@example.test",
			"--auth-password", "not the password", "--from", "alice@example.test", "--to", "bob@example.test")
		wantRefused(t, out, code, "535 5.7.8")
		if strings.Contains(e.logs.String(), "not the password") {
			t.Error("the wrong password was logged")
		}
	})
	t.Run("From spoofing", func(t *testing.T) {
		out, code := swaks(t, e.sub, append(auth("LOGIN"), "--tls", "--from", "alice@example.test",
			"--to", "bob@example.test", "--header", "From: Bob <bob@example.test>")...)
		wantRefused(t, out, code, "550 5.7.1 From: <bob@example.test> is not an address alice@example.test may send as")
		out, code = swaks(t, e.sub, append(auth("LOGIN"), "--tls", "--from", "support@example.test", "--to", "bob@example.test")...)
		wantRefused(t, out, code, "550 5.7.1 <support@example.test>")
		e.wantInbox("bob", 3)
	})
	t.Run("SendAs", func(t *testing.T) {
		out, code := swaks(t, e.sub, append(auth("LOGIN"), "--tls", "--from", "sales@example.test",
			"--to", "bob@example.test", "--header", "From: Sales <sales@example.test>", "--header", "Subject: from sales")...)
		wantOK(t, out, code)
		e.wantInbox("bob", 4)
	})
	t.Run("remote recipient", func(t *testing.T) {
		out, code := swaks(t, e.sub, append(auth("PLAIN"), "--tls", "--from", "al@example.test",
			"--to", "someone@remote.test", "--header", "From: al@example.test", "--header", "Subject: outbound")...)
		wantOK(t, out, code)
		sent := e.out.messages()
		if len(sent) != 1 || sent[0].env.From != "al@example.test" || len(sent[0].env.To) != 1 ||
			sent[0].env.To[0].Addr != "someone@remote.test" {
			t.Fatalf("outbound got %+v", sent)
		}
		if raw := string(sent[0].raw); !strings.Contains(raw, "Subject: outbound") || !strings.HasPrefix(raw, "Received: ") {
			t.Errorf("queued message:\n%s", raw)
		}
		e.wantInbox("bob", 4)
	})
}

func python(t *testing.T, e *env, mode, addr string, args ...string) map[string]any {
	t.Helper()
	h, p := hostPort(t, addr)
	out, code := run(t, nil, need(t, "python3"), append([]string{"testdata/client.py", mode, h, p, e.certFile}, args...)...)
	if code != 0 {
		t.Fatalf("python %s failed (%d):\n%s", mode, code, out)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("python %s printed %q: %v", mode, out, err)
	}
	return res
}

func TestPython(t *testing.T) {
	e := newEnv(t)
	t.Run("starttls with DSN parameters", func(t *testing.T) {
		python(t, e, "starttls", e.sub)
		e.wantInbox("bob", 1)
		sent := e.out.messages()
		if len(sent) != 1 {
			t.Fatalf("outbound got %d messages", len(sent))
		}
		want := Envelope{From: "alice@example.test", Ret: "HDRS", EnvID: "env+42", To: []Recipient{
			{Addr: "carol@remote.test", Notify: []string{"SUCCESS", "FAILURE"}, ORcpt: "RFC822;carol@remote.test"}}}
		got := sent[0].env
		if got.From != want.From || got.Ret != want.Ret || got.EnvID != want.EnvID || len(got.To) != 1 ||
			got.To[0].Addr != want.To[0].Addr || !slices.Equal(got.To[0].Notify, want.To[0].Notify) || got.To[0].ORcpt != want.To[0].ORcpt {
			t.Errorf("envelope %+v, want %+v", got, want)
		}
	})
	t.Run("send_message", func(t *testing.T) {
		res := python(t, e, "send_message", e.sub)
		if r := res["refused"].([]any); len(r) != 0 {
			t.Errorf("refused %v", r)
		}
		e.wantInbox("bob", 2)
		if n := len(e.out.messages()); n != 2 {
			t.Errorf("outbound has %d messages, want 2", n)
		}
	})
	t.Run("SMTP_SSL", func(t *testing.T) {
		python(t, e, "ssl", e.subTLS)
		e.wantInbox("bob", 3)
	})
	t.Run("pipelining", func(t *testing.T) {
		res := python(t, e, "pipeline", e.mx)
		want := []any{
			"250 2.0.0 Roger, accepting mail from <sender@remote.test>",
			"250 2.0.0 I'll make sure <alice@example.test> gets this",
			"550 5.1.1 <nobody@example.test>: no such user",
			"250 2.0.0 I'll make sure <bob@example.test> gets this",
			"354 Go ahead. End your data with <CR><LF>.<CR><LF>",
		}
		if got := res["pipelined"].([]any); !slices.Equal(got, want) {
			t.Errorf("pipelined replies %q, want %q", got, want)
		}
		if res["data"] != "250 2.0.0 OK: queued" || res["quit"] != "221 2.0.0 Bye" {
			t.Errorf("replies %v", res)
		}
		e.wantInbox("alice", 1)
		e.wantInbox("bob", 4)
	})
}

func TestMsmtp(t *testing.T) {
	bin := need(t, "msmtp")
	e := newEnv(t)
	h, p := hostPort(t, e.sub)
	for i, auth := range []string{"on", "login", "plain"} {
		cfg := filepath.Join(t.TempDir(), "msmtprc")
		must(t, os.WriteFile(cfg, []byte(`defaults
tls on
tls_starttls on
tls_trust_file `+e.certFile+`
account default
host `+h+`
port `+p+`
domain client.example
auth `+auth+`
user alice@example.test
password `+testPassword+`
from alice@example.test
`), 0o600))
		out, code := run(t, message("alice@example.test", "bob@example.test", "msmtp-"+auth, "hello from msmtp"),
			bin, "-C", cfg, "bob@example.test")
		wantOK(t, out, code)
		e.wantInbox("bob", i+1)
	}
}
