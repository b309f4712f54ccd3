package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/pgtest"
	"mailroom/internal/testnet"
)

// slowSink is a remote mail server on loopback for queue tests: it takes messages and
// counts them by Message-ID, but holds the first connection's DATA command unanswered,
// so the node delivering through it can be killed mid-conversation. A message counts as
// delivered only once its final 250 went out.
type slowSink struct {
	port      int
	held      chan struct{}
	mu        sync.Mutex
	delivered map[string]int
	conns     int
}

func startSlowSink(t *testing.T, ip string, port int) *slowSink {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	s := &slowSink{port: port, held: make(chan struct{}, 1), delivered: map[string]int{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			hold := s.conns == 1
			s.mu.Unlock()
			go s.serve(c, hold)
		}
	}()
	return s
}

func (s *slowSink) serve(c net.Conn, hold bool) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	r := bufio.NewReader(c)
	reply := func(line string) bool {
		_, err := fmt.Fprintf(c, "%s\r\n", line)
		return err == nil
	}
	reply("220 mx.remote.test ESMTP sink")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			reply("250 mx.remote.test")
		case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"), strings.HasPrefix(cmd, "RSET"), strings.HasPrefix(cmd, "NOOP"):
			reply("250 OK")
		case cmd == "DATA":
			if hold {
				// Keep the delivering node waiting until it is killed; the connection
				// then breaks and nothing is delivered on it.
				s.held <- struct{}{}
				io := make([]byte, 1)
				c.SetReadDeadline(time.Now().Add(time.Minute))
				r.Read(io)
				return
			}
			reply("354 go ahead")
			id := ""
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				if len(l) > 11 && strings.EqualFold(l[:11], "message-id:") {
					id = strings.Trim(strings.TrimSpace(l[11:]), "<>")
				}
			}
			if reply("250 queued") {
				s.mu.Lock()
				s.delivered[id]++
				s.mu.Unlock()
			}
		case cmd == "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 unknown")
		}
	}
}

func (s *slowSink) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.delivered {
		out[k] = v
	}
	return out
}

// TestNodeKilledMidQueue kills the node that is delivering a queued message, mid
// conversation; another node sharing the database takes the recipient over once the
// lease expires and delivers it, and every message reaches the remote server exactly once.
func TestNodeKilledMidQueue(t *testing.T) {
	if _, err := os.Stat("/usr/bin/swaks"); err != nil {
		t.Skip("swaks is not installed (scripts/test.sh installs it)")
	}
	dsn := pgtest.Start(t)
	d := startDNS(t)
	port := testnet.Port(t, "127.0.0.5")
	sink := startSlowSink(t, "127.0.0.5", port)
	d.add(t, "remote.test. 60 IN MX 10 mx.remote.test.", "mx.remote.test. 60 IN A 127.0.0.5")

	var data [2]string
	var cfgs [2]config.Config
	for i := range data {
		data[i] = filepath.Join(t.TempDir(), fmt.Sprintf("node%d", i+1))
		args := []string{"init", "--data", data[i], "--hostname", "mail.example.test", "--store", "postgres", "--dsn", dsn}
		if i == 0 {
			args = append(args, "--domain", "example.test")
		}
		ok(t, "", args...)
		cfgs[i] = loopbackConfig(t, data[i])
		cfgs[i].SMTP.RelayPort = port
		cfgs[i].DNS.Resolver = d.Addr
		cfgs[i].Queue.Timeout = 2 * time.Second
		if err := os.WriteFile(filepath.Join(data[i], config.DefaultFile), config.Render(cfgs[i]), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	ok(t, goodPassword+"\n", "user", "add", "--data", data[0], "--password-stdin", "alice@example.test")

	// Node A alone takes the messages and starts delivering; the sink holds it.
	a := &site{data: data[0], cfg: cfgs[0]}
	a.start(t)
	const n = 3
	for i := range n {
		a.submit(t, "alice@example.test", "carol@remote.test", fmt.Sprintf("kill %d", i))
	}
	select {
	case <-sink.held:
	case <-time.After(30 * time.Second):
		t.Fatal("node A never started delivering")
	}
	// Node B joins, then A dies without warning in the middle of a conversation.
	b := &site{data: data[1], cfg: cfgs[1]}
	b.start(t)
	if err := a.srv.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.srv.cmd.Wait()

	deadline := time.Now().Add(60 * time.Second)
	for {
		got := sink.counts()
		if len(got) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d messages delivered after node A died: %v\n%s", len(got), n, got, ok(t, "", "queue", "list", "--data", data[1]))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Give a duplicate the chance to show up, then check each arrived once.
	time.Sleep(2 * time.Second)
	for id, c := range sink.counts() {
		if c != 1 {
			t.Errorf("message %s delivered %d times", id, c)
		}
	}
	var entries []struct{ ID int64 }
	okJSON(t, &entries, "queue", "list", "--data", data[1])
	if len(entries) != 0 {
		t.Errorf("queue not empty after delivery: %+v", entries)
	}
}
