package queue

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const smtpSink = "/usr/sbin/smtp-sink"

// startSink runs Postfix's smtp-sink (Debian package postfix) on a loopback port with
// the extra arguments, capturing each transaction into a file of the returned directory.
func startSink(t *testing.T, args ...string) (port int, dump string) {
	t.Helper()
	if _, err := os.Stat(smtpSink); err != nil {
		t.Skipf("%s not installed (apt-get install postfix)", smtpSink)
	}
	if os.Geteuid() != 0 {
		t.Skip("smtp-sink runs here as root dropping to nobody")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	// smtp-sink writes as nobody: the capture directory must be reachable by it.
	dump, err = os.MkdirTemp("", "queue-sink-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dump) })
	if err := os.Chmod(dump, 0o777); err != nil {
		t.Fatal(err)
	}
	args = append([]string{"-u", "nobody", "-h", "sink.mx.test", "-d", filepath.Join(dump, "%M.")}, args...)
	args = append(args, "127.0.0.1:"+strconv.Itoa(port), "10")
	cmd := exec.Command(smtpSink, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtp-sink does not listen: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return port, dump
}

func TestSMTPSink(t *testing.T) {
	res := startDNS(t)
	tests := []struct {
		name   string
		args   []string
		bounce bool
	}{
		{name: "accepts", args: nil},
		{name: "hard-rejects RCPT", args: []string{"-f", "RCPT"}, bounce: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port, dump := startSink(t, tc.args...)
			e := newEnv(t, res, port, nil)
			raw := testMessage("sink")
			e.enqueue(Message{From: "alice@example.org", To: []string{"bob@mx.test"}, Raw: raw})
			e.flush()
			if l := e.list(); len(l) != 0 {
				t.Fatalf("queue still holds %+v", l)
			}
			dsns := e.dsn.all()
			if tc.bounce {
				if len(dsns) != 1 {
					t.Fatalf("%d notifications, want 1", len(dsns))
				}
				r := parseDSN(t, dsns[0], "alice@example.org")
				r.want(t, "Action: failed", "Status: 5.3.0", "Remote-MTA: dns; mx2.mx.test")
				return
			}
			if len(dsns) != 0 {
				t.Fatalf("%d notifications for a delivered message", len(dsns))
			}
			var files []string
			for deadline := time.Now().Add(5 * time.Second); len(files) == 0 && time.Now().Before(deadline); {
				files, _ = filepath.Glob(filepath.Join(dump, "*"))
				time.Sleep(20 * time.Millisecond)
			}
			if len(files) != 1 {
				t.Fatalf("smtp-sink captured %d transactions, want 1", len(files))
			}
			got, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			s := strings.ReplaceAll(string(got), "\r\n", "\n")
			for _, want := range []string{"bob@mx.test", "Subject: sink", "\n.leading dot line\n"} {
				if !strings.Contains(s, want) {
					t.Errorf("capture lacks %q:\n%s", want, s)
				}
			}
		})
	}
}
