package main

import (
	"fmt"
	"math/rand/v2"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSMTPKill kills the server with SIGKILL at random moments while a client submits
// messages in a bounded loop, restarts it, and checks that every message that got a 250
// is in the mailbox exactly once — a 250 means "on disk".
func TestSMTPKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills servers in a loop")
	}
	data := newData(t)
	ok(t, goodPassword+"\n", "user", "add", "--data", data, "--password-stdin", "alice@example.test")
	cfg := loopbackConfig(t, data)
	mx := cfg.SMTP.Listen[0]
	acked := map[string]bool{}
	const rounds = 6
	for round := range rounds {
		s := startServe(t, data)
		s.waitLog(t, "mailroom serving")
		stop := time.After(time.Duration(300+rand.IntN(900)) * time.Millisecond)
		results := make(chan string)
		quit := make(chan struct{})
		go func() {
			defer close(results)
			for i := 0; i < 2000; i++ {
				id := fmt.Sprintf("r%d.m%d@kill.test", round, i)
				if err := send(mx, id); err != nil {
					return // the server died under us
				}
				select {
				case results <- id:
				case <-quit:
					return
				}
			}
		}()
		killed := false
		for !killed {
			select {
			case id, more := <-results:
				if !more {
					killed = true // the client stopped (its loop bound) before the timer
					break
				}
				acked[id] = true
			case <-stop:
				if err := s.cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				s.cmd.Wait()
				killed = true
			}
		}
		close(quit)
		for id := range results {
			acked[id] = true
		}
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	if len(acked) < rounds {
		t.Fatalf("only %d messages acknowledged in %d rounds", len(acked), rounds)
	}
	dir := filepath.Join(t.TempDir(), "export")
	ok(t, "", "export", "--data", data, "--format", "mbox", "alice@example.test", dir)
	mbox, err := os.ReadFile(filepath.Join(dir, "INBOX.mbox"))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, line := range strings.Split(string(mbox), "\n") {
		if v, found := strings.CutPrefix(line, "Message-ID: <"); found {
			counts[strings.TrimSuffix(strings.TrimSpace(v), ">")]++
		}
	}
	for id := range acked {
		if counts[id] != 1 {
			t.Errorf("acknowledged message %s is in the mailbox %d times", id, counts[id])
		}
	}
	for id, n := range counts {
		if n > 1 {
			t.Errorf("message %s stored %d times", id, n)
		}
	}
	t.Logf("%d acknowledged messages over %d kills, all present once; %d stored in all", len(acked), rounds, len(counts))
}

// send submits one message to the MX with Go's SMTP client and reports whether the
// server answered 250 to its end of data.
func send(addr, id string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if err := c.Mail("sender@remote.test"); err != nil {
		return err
	}
	if err := c.Rcpt("alice@example.test"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "From: sender@remote.test\r\nTo: alice@example.test\r\nSubject: kill test\r\nMessage-ID: <%s>\r\n\r\n%s\r\n", id, strings.Repeat("payload ", 200))
	// Close reads the reply to the end of data: nil means 250. What happens after (QUIT
	// to a server that has just been killed) does not change that.
	if err := w.Close(); err != nil {
		return err
	}
	c.Quit()
	return nil
}
