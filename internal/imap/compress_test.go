package imap

import (
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// TestInflate checks the inflater against compress/flate at every level, with
// flushes between chunks, and on stored, fixed and dynamic blocks.
func TestInflate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 200000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := []byte(strings.Repeat("a1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])\r\n", 3000))
	for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
		for name, data := range map[string][]byte{"random": random, "text": text, "empty": nil, "short": []byte("x")} {
			var z bytes.Buffer
			w, err := flate.NewWriter(&z, level)
			if err != nil {
				t.Fatal(err)
			}
			for rest := data; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(50000))
				w.Write(rest[:n])
				w.Flush()
				rest = rest[n:]
			}
			w.Close()
			got, err := io.ReadAll(newInflater(&z))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("level %d, %s: %d bytes, %v", level, name, len(got), err)
			}
		}
	}
}

// TestInflateNoWait checks that each flushed command is read whole without more
// input: the writer side of a pipe is never closed.
func TestInflateNoWait(t *testing.T) {
	// An OS pipe buffers like a socket: writes complete before they are read.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	fw, _ := flate.NewWriter(pw, flate.BestSpeed)
	br := bufio.NewReader(newInflater(pr))
	for i := range 50 {
		cmd := fmt.Sprintf("a%d NOOP %s\r\n", i, strings.Repeat("x", i*97))
		fw.Write([]byte(cmd))
		fw.Flush()
		got := make(chan string, 1)
		go func() {
			line, _ := br.ReadString('\n')
			got <- line
		}()
		select {
		case line := <-got:
			if line != cmd {
				t.Fatalf("read %q, want %q", line, cmd)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("command %d not read after its flush", i)
		}
	}
}

// TestInflateCorrupt checks that garbage is an error, never a panic or a hang.
func TestInflateCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		b := make([]byte, rng.IntN(200))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		io.Copy(io.Discard, io.LimitReader(newInflater(bytes.NewReader(b)), 1<<20))
	}
}

// TestCompressGo talks to the server through COMPRESS=DEFLATE with compress/flate
// as the client, which ends each command with a sync flush.
func TestCompressGo(t *testing.T) {
	e := newSrvEnv(t)
	for i := 1; i <= 3; i++ {
		e.deliver(t, e.alice.ID, 0, srvMsg(i, "compressed"))
	}
	c := e.loginRaw(t)
	c.send("z1 COMPRESS DEFLATE")
	c.expect("z1 OK DEFLATE active")
	fw, _ := flate.NewWriter(c.conn, flate.DefaultCompression)
	r := bufio.NewReader(flate.NewReader(c.conn))
	send := func(line string) {
		fw.Write([]byte(line + "\r\n"))
		fw.Flush()
	}
	read := func() string {
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return strings.TrimSuffix(line, "\r\n")
	}
	send("z2 SELECT INBOX")
	for line := read(); !strings.HasPrefix(line, "z2 "); line = read() {
	}
	send("z3 UID FETCH 1:* (FLAGS)")
	for _, want := range []string{"* 1 FETCH (UID 1 FLAGS ())", "* 2 FETCH (UID 2 FLAGS ())", "* 3 FETCH (UID 3 FLAGS ())", "z3 OK UID FETCH completed"} {
		if got := read(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	send("z4 COMPRESS DEFLATE")
	if got := read(); got != "z4 NO [COMPRESSIONACTIVE] compression is already active" {
		t.Fatalf("second COMPRESS: %q", got)
	}
	send("z5 LOGOUT")
	if got := read(); got != "* BYE logging out" {
		t.Fatalf("LOGOUT: %q", got)
	}
}
