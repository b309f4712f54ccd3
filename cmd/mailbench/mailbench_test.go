package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLoopbackAddr(t *testing.T) {
	good := map[string]string{
		"127.0.0.1:25":   "127.0.0.1:25",
		"127.8.9.10:587": "127.8.9.10:587",
		"[::1]:2525":     "[::1]:2525",
		"localhost:110":  "127.0.0.1:110",
	}
	for in, want := range good {
		got, err := loopbackAddr(in)
		if err != nil || got != want {
			t.Errorf("loopbackAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	refused := []string{
		"10.0.0.1:25", "192.168.1.1:25", "0.0.0.0:25", "[::]:25", ":25",
		"example.com:25", "mail.localhost:25", "127.0.0.1.nip.io:25", "[::ffff:8.8.8.8]:25",
	}
	for _, in := range refused {
		_, err := loopbackAddr(in)
		if !errors.Is(err, errNotLoopback) {
			t.Errorf("loopbackAddr(%q): err %v, want a loopback refusal", in, err)
		}
	}
	for _, in := range []string{"127.0.0.1", "127.0.0.1:0", "127.0.0.1:smtp", "127.0.0.1:70000"} {
		if _, err := loopbackAddr(in); err == nil {
			t.Errorf("loopbackAddr(%q) accepted a bad port", in)
		}
	}
}

func TestSocketCheck(t *testing.T) {
	if err := checkSocket("tcp4", "127.0.0.1:25", nil); err != nil {
		t.Errorf("loopback refused: %v", err)
	}
	if err := checkSocket("tcp4", "93.184.216.34:25", nil); !errors.Is(err, errNotLoopback) {
		t.Errorf("remote address let through: %v", err)
	}
}

func TestFlagsRefuseNonLoopback(t *testing.T) {
	base := []string{"--from", "a@sender.test", "--to", "b@bench.test"}
	cases := map[string][]string{
		"addr":   {"--addr", "192.0.2.1:25"},
		"name":   {"--addr", "mx.example.com:25"},
		"verify": {"--addr", "127.0.0.1:25", "--verify", "pop3://u:p@192.0.2.1:110"},
		"imap":   {"--addr", "127.0.0.1:25", "--verify", "imaps://u%40d:p@example.com:993"},
	}
	for name, args := range cases {
		_, err := parseSMTPFlags(append(args, base...), io.Discard)
		if !errors.Is(err, errNotLoopback) {
			t.Errorf("%s: err %v, want a loopback refusal", name, err)
		}
	}
	var stderr bytes.Buffer
	code := run(context.Background(), append([]string{"smtp", "--addr", "10.1.1.1:25"}, base...), io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "only to loopback") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestFlags(t *testing.T) {
	o, err := parseSMTPFlags([]string{"--addr", "localhost:2525", "--tls=starttls", "--auth", "u@d:pa:ss",
		"--from", "u@d", "--to", "a@d,b@d", "--to", "c@d", "--size", "100KB", "--conns", "3",
		"--messages", "10", "--duration", "5s", "--verify", "pop3://u%40d:p%3Aw@127.0.0.1:2110"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.addrs, ",") != "127.0.0.1:2525" || !o.starttls || o.user != "u@d" || o.pass != "pa:ss" ||
		strings.Join(o.to, " ") != "a@d b@d c@d" || o.size != 100000 || o.conns != 3 || o.messages != 10 {
		t.Errorf("options %+v", o)
	}
	p, ok := o.verify.(pop3Counter)
	if !ok || p.user != "u@d" || p.pass != "p:w" || p.addr != "127.0.0.1:2110" || p.implicitTLS {
		t.Errorf("verify %#v", o.verify)
	}
	bad := [][]string{
		{"--addr", "127.0.0.1:25", "--to", "a@d"},                                        // no --from
		{"--addr", "127.0.0.1:25", "--from", "a@d"},                                      // no --to
		{"--addr", "127.0.0.1:25", "--from", "a@d", "--to", "b@d", "--tls", "yes"},       // bad mode
		{"--addr", "127.0.0.1:25", "--from", "a@d", "--to", "b@d", "--messages", "0"},    // unbounded
		{"--addr", "127.0.0.1:25", "--from", "a@d", "--to", "b@d", "--duration", "0s"},   // unbounded
		{"--addr", "127.0.0.1:25", "--from", "a@d", "--to", "b@d", "--duration", "2h"},   // too long
		{"--addr", "127.0.0.1:25", "--from", "a@d", "--to", "b@d", "--size", "100"},      // too small
		{"--addr", "127.0.0.1:25", "--from", "a@d", "--to", "b@d", "--verify", "ftp://"}, // scheme
		{"--addr", "127.0.0.1:25,10.0.0.1:25", "--from", "a@d", "--to", "b@d"},           // one not loopback
	}
	for _, args := range bad {
		if _, err := parseSMTPFlags(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {1, time.Millisecond}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("p%v of 1..100 ms = %v, want %v", c.p, got, c.want)
		}
	}
	// With fewer than 100 values p99 is the largest: one slow message in ten is not
	// hidden.
	ten := []time.Duration{1, 1, 1, 1, 1, 1, 1, 1, 1, 500}
	if got := percentile(ten, 99); got != 500 {
		t.Errorf("p99 of ten = %v, want 500", got)
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %v", got)
	}
	// summarize sorts a copy: the caller's order stays.
	shuffled := []time.Duration{5, 1, 4, 2, 3}
	s := summarize(shuffled)
	if s.p50 != 3 || s.p99 != 5 || s.max != 5 || s.mean != 3 || shuffled[0] != 5 {
		t.Errorf("summarize = %+v, input now %v", s, shuffled)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"10KB": 10000, "100kb": 100000, "1KiB": 1024, "2MiB": 2 << 20, "5000": 5000, "700B": 700} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "KB", "-1KB", "1.5KB", "1GB", "10 parsecs"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func TestMessages(t *testing.T) {
	for _, size := range []int{600, 10000, 100000, 100001, 100002} {
		mk, err := newMessageMaker("a@sender.test", []string{"b@bench.test"}, size, 1)
		if err != nil {
			t.Fatal(err)
		}
		m1, err := mk.message(7)
		if err != nil {
			t.Fatal(err)
		}
		if len(m1) != size || !bytes.HasSuffix(m1, []byte("\r\n")) {
			t.Errorf("size %d: got %d bytes, ending %q", size, len(m1), m1[len(m1)-4:])
		}
		for _, line := range bytes.Split(m1[:len(m1)-2], []byte("\r\n")) {
			if bytes.HasPrefix(line, []byte(".")) || bytes.ContainsAny(line, "\r\n") || len(line) > 998 {
				t.Fatalf("size %d: bad line %q", size, line)
			}
		}
		mk2, _ := newMessageMaker("a@sender.test", []string{"b@bench.test"}, size, 1)
		if m2, _ := mk2.message(7); !bytes.Equal(m1, m2) {
			t.Errorf("size %d: not deterministic", size)
		}
	}
}

// fakeSMTP is a loopback SMTP server that records what clients send.
type fakeSMTP struct {
	ln        net.Listener
	mu        sync.Mutex
	received  int
	rsets     int
	pipelined bool           // saw MAIL and DATA arrive before replying
	rcpts     map[string]int // RCPT TO arguments accepted, by address
}

func newFakeSMTP(t *testing.T, pipelining bool) *fakeSMTP {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMTP{ln: ln, rcpts: map[string]int{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c, pipelining)
		}
	}()
	return f
}

func (f *fakeSMTP) serve(c net.Conn, pipelining bool) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	say := func(s string) { w.WriteString(s + "\r\n") }
	say("220 fake")
	w.Flush()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			if pipelining {
				say("250-fake")
				say("250 PIPELINING")
			} else {
				say("250 fake")
			}
		case cmd == "RSET":
			f.mu.Lock()
			f.rsets++
			f.mu.Unlock()
			say("250 ok")
		case strings.HasPrefix(cmd, "MAIL"):
			// With PIPELINING the whole group is in the buffer already.
			if r.Buffered() > 0 && strings.Contains(peek(r), "DATA") {
				f.mu.Lock()
				f.pipelined = true
				f.mu.Unlock()
			}
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT"):
			if strings.Contains(cmd, "NOBODY@") {
				say("550 no such user")
			} else {
				f.mu.Lock()
				f.rcpts[strings.Trim(strings.TrimPrefix(cmd, "RCPT TO:"), "<>")]++
				f.mu.Unlock()
				say("250 ok")
			}
		case cmd == "DATA":
			say("354 go on")
			w.Flush()
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			f.mu.Lock()
			f.received++
			f.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			w.Flush()
			return
		default:
			say("500 what")
		}
		if r.Buffered() == 0 {
			w.Flush()
		}
	}
}

func peek(r *bufio.Reader) string {
	b, _ := r.Peek(r.Buffered())
	return string(b)
}

func TestLoadAgainstFake(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		f := newFakeSMTP(t, pipelining)
		o, err := parseSMTPFlags([]string{"--addr", f.ln.Addr().String(), "--from", "a@sender.test",
			"--to", "b@bench.test", "--conns", "3", "--messages", "30", "--size", "2KB"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := benchSMTP(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		// Each connection that sent anything sent RSET before all but its first message;
		// on a busy machine one connection may start after the others sent everything.
		if rep.Accepted != 30 || rep.Errors != 0 || f.received != 30 || rep.PipeliningUsed != pipelining ||
			f.pipelined != pipelining || f.rsets < 30-3 || f.rsets > 30-1 {
			t.Errorf("pipelining %v: report %+v; server got %d messages, %d RSETs, pipelined %v",
				pipelining, rep, f.received, f.rsets, f.pipelined)
		}
		f.mu.Unlock()
	}

	// A refused recipient is an error, and the connection carries on.
	f := newFakeSMTP(t, true)
	o, _ := parseSMTPFlags([]string{"--addr", f.ln.Addr().String(), "--from", "a@sender.test",
		"--to", "nobody@bench.test", "--conns", "1", "--messages", "3", "--size", "1KB"}, io.Discard)
	rep, err := benchSMTP(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 0 || rep.Errors != 3 || len(rep.ErrorSamples) == 0 || !strings.Contains(rep.ErrorSamples[0].Error, "550") {
		t.Errorf("refused recipient: %+v", rep)
	}
}

// TestSeveralTargets checks that --addr takes several servers, given either way, and
// that connections take them in turn.
func TestSeveralTargets(t *testing.T) {
	o, err := parseSMTPFlags([]string{"--addr", "127.0.0.1:2525,localhost:2526", "--addr", "127.0.0.3:25",
		"--from", "u@d", "--to", "a@d"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1:2525", "127.0.0.1:2526", "127.0.0.3:25"}
	if strings.Join(o.addrs, " ") != strings.Join(want, " ") {
		t.Fatalf("addrs %q, want %q", o.addrs, want)
	}
	for i := range 7 {
		if got := target(o.addrs, i); got != want[i%3] {
			t.Errorf("connection %d goes to %s, want %s", i, got, want[i%3])
		}
	}
	many := strings.TrimSuffix(strings.Repeat("127.0.0.1:25,", maxTargets+1), ",")
	if _, err := parseSMTPFlags([]string{"--addr", many, "--from", "u@d", "--to", "a@d"}, io.Discard); err == nil {
		t.Errorf("%d addresses accepted", maxTargets+1)
	}
}

// TestSpreadAgainstFake sends over two servers (--addr twice) with each message to one
// of three recipients (--spread-to): both servers get connections, and each recipient
// a third of the messages.
func TestSpreadAgainstFake(t *testing.T) {
	a, b := newFakeSMTP(t, true), newFakeSMTP(t, true)
	o, err := parseSMTPFlags([]string{"--addr", a.ln.Addr().String() + "," + b.ln.Addr().String(),
		"--from", "a@sender.test", "--to", "r0@bench.test,r1@bench.test,r2@bench.test", "--spread-to",
		"--conns", "2", "--messages", "30", "--size", "2KB"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := benchSMTP(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 30 || rep.Errors != 0 {
		t.Fatalf("report %+v", rep)
	}
	got := map[string]int{}
	for _, f := range []*fakeSMTP{a, b} {
		f.mu.Lock()
		if f.received == 0 {
			t.Errorf("server %s got no message", f.ln.Addr())
		}
		for r, n := range f.rcpts {
			got[r] += n
		}
		f.mu.Unlock()
	}
	for _, r := range []string{"R0@BENCH.TEST", "R1@BENCH.TEST", "R2@BENCH.TEST"} {
		if got[r] != 10 {
			t.Errorf("%s got %d messages, want 10 (all: %v)", r, got[r], got)
		}
	}
	if _, err := parseSMTPFlags([]string{"--addr", "127.0.0.1:25", "--from", "a@d", "--to", "b@d,c@d", "--spread-to",
		"--verify", "pop3://u:p@127.0.0.1:110"}, io.Discard); err == nil {
		t.Error("--verify with --spread-to over two recipients accepted")
	}
}
