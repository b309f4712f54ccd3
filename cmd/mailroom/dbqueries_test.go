package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/pgtest"
)

// TestDBQueriesPerMessage counts, through the server's mailroom_db_queries_total
// metric, the SQL statements (BEGIN and COMMIT included: on PostgreSQL each statement
// is a round trip) that one delivery over SMTP, one IMAP APPEND, one STORE of a flag
// and one FETCH of a whole message cost, on SQLite and on PostgreSQL. The bounds are
// today's figures with headroom: a change that adds round trips to these paths fails
// here, and one that removes some should lower the bound.
func TestDBQueriesPerMessage(t *testing.T) {
	// Statements per operation at most, by dialect: the figures measured (SQLite 11-12,
	// 15, 15, 9; PostgreSQL 12, 16, 16, 9; one client at a time, so no group commit) with
	// about a quarter of headroom. A delivery cost 28-29 (SQLite) and 26 (PostgreSQL)
	// before the recipient cache, folded account and folder updates and one statement
	// for all header fields. docs/benchmarks.md ("PostgreSQL: one node versus two", and
	// the SMTP section) says where they go.
	type bounds struct{ deliver, appendMsg, store, fetch float64 }
	for _, tc := range []struct {
		name  string
		init  func(t *testing.T) string
		bound bounds
	}{
		{"sqlite", newData, bounds{deliver: 14, appendMsg: 19, store: 19, fetch: 11}},
		{"postgres", func(t *testing.T) string {
			data := filepath.Join(t.TempDir(), "data")
			ok(t, "", "init", "--data", data, "--hostname", "mail.example.test", "--domain", "example.test",
				"--store", "postgres", "--dsn", pgtest.Start(t))
			return data
		}, bounds{deliver: 15, appendMsg: 20, store: 20, fetch: 12}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.init(t)
			ok(t, goodPassword+"\n", "user", "add", "--data", data, "--password-stdin", "alice@example.test")
			cfg := loopbackConfig(t, data)
			srv := startServe(t, data)
			srv.waitLog(t, "mailroom serving")
			q := &queryMeter{t: t, url: "http://" + cfg.HTTP.Listen[0] + "/metrics", dialect: tc.name}

			const n = 40
			q.idle()
			deliver := q.measure(func() { deliverOverSMTP(t, cfg.SMTP.Listen[0], n) }) / n
			c := dialIMAPTest(t, cfg)
			c.ok("LOGIN alice@example.test " + strconv.Quote(goodPassword))
			c.ok("SELECT INBOX")
			appendMsg := q.measure(func() {
				for i := range n {
					c.appendMsg("INBOX", fmt.Sprintf("From: a@remote.test\r\nTo: alice@example.test\r\nSubject: appended %d\r\n\r\n%s\r\n", i, countedBody))
				}
			}) / n
			c.ok("NOOP")
			store := q.measure(func() {
				for uid := 1; uid <= n; uid++ {
					c.ok(fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Flagged)`, uid))
				}
			}) / n
			fetch := q.measure(func() {
				for uid := 1; uid <= n; uid++ {
					c.ok(fmt.Sprintf("UID FETCH %d (UID FLAGS BODY.PEEK[])", uid))
				}
			}) / n
			c.ok("LOGOUT")

			t.Logf("%s: statements per SMTP delivery %.1f, per IMAP APPEND %.1f, per UID STORE %.1f, per UID FETCH of one message %.1f (background, subtracted: %.1f/s)",
				tc.name, deliver, appendMsg, store, fetch, q.idlePerS)
			for _, c := range []struct {
				what      string
				got, most float64
			}{
				{"SMTP delivery", deliver, tc.bound.deliver},
				{"IMAP APPEND", appendMsg, tc.bound.appendMsg},
				{"UID STORE", store, tc.bound.store},
				{"UID FETCH", fetch, tc.bound.fetch},
			} {
				if c.got > c.most {
					t.Errorf("%s costs %.1f SQL statements, more than the %.0f allowed", c.what, c.got, c.most)
				}
				if c.got < 1 {
					t.Errorf("%s costs %.1f SQL statements: the counter is not counting", c.what, c.got)
				}
			}
		})
	}
}

// queryMeter reads mailroom_db_queries_total from a server's /metrics.
type queryMeter struct {
	t        *testing.T
	url      string
	dialect  string
	idlePerS float64 // statements per second with no client (watchers, the queue)
}

// idle measures the statements the server sends on its own.
func (q *queryMeter) idle() {
	const d = 2 * time.Second
	before := q.read()
	time.Sleep(d)
	q.idlePerS = (q.read() - before) / d.Seconds()
}

// measure returns how many statements the server sent for fn: those sent while fn
// ran less the background rate.
func (q *queryMeter) measure(fn func()) float64 {
	before := q.read()
	start := time.Now()
	fn()
	elapsed := time.Since(start)
	return max(0, q.read()-before-q.idlePerS*elapsed.Seconds())
}

func (q *queryMeter) read() float64 {
	q.t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(q.url)
	if err != nil {
		q.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		q.t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^mailroom_db_queries_total\{dialect="` + q.dialect + `"\} (\S+)$`)
	m := re.FindSubmatch(body)
	if m == nil {
		q.t.Fatalf("no mailroom_db_queries_total for %s in /metrics:\n%s", q.dialect, body)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		q.t.Fatal(err)
	}
	return v
}

// countedBody is the text of the test messages: 4 KB in lines of 80 characters.
var countedBody = strings.Repeat(strings.Repeat("payload ", 10)+"\r\n", 50)

// deliverOverSMTP sends n messages to alice over one connection to the MX.
func deliverOverSMTP(t *testing.T, addr string, n int) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := c.Mail("sender@remote.test"); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("alice@example.test"); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "From: sender@remote.test\r\nTo: alice@example.test\r\nSubject: counted %d\r\nMessage-ID: <counted.%d@remote.test>\r\n\r\n%s\r\n",
			i, i, countedBody)
		if err := w.Close(); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// imapTestConn is a minimal IMAP client over implicit TLS: tagged commands, answers
// read to the tagged status with literals (RFC 9051 section 4.3) consumed whole.
type imapTestConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	tag  int
}

func dialIMAPTest(t *testing.T, cfg config.Config) *imapTestConn {
	t.Helper()
	conn, err := tls.Dial("tcp", cfg.IMAP.TLSListen[0], &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &imapTestConn{t: t, conn: conn, r: bufio.NewReader(conn)}
	if greeting := c.line(); !strings.HasPrefix(greeting, "* OK") {
		t.Fatalf("IMAP greeting %q", greeting)
	}
	return c
}

var literalAtEnd = regexp.MustCompile(`\{(\d+)\+?\}\r\n$`)

// line reads one response line, with the contents of any literals it carries.
func (c *imapTestConn) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	var b strings.Builder
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("IMAP read: %v", err)
		}
		b.WriteString(l)
		m := literalAtEnd.FindStringSubmatch(l)
		if m == nil {
			return b.String()
		}
		size, _ := strconv.Atoi(m[1])
		if _, err := io.CopyN(&b, c.r, int64(size)); err != nil {
			c.t.Fatalf("IMAP literal: %v", err)
		}
	}
}

// ok sends a command and reads to its tagged answer, which must be OK.
func (c *imapTestConn) ok(cmd string) {
	c.t.Helper()
	tag := c.send(cmd)
	c.wait(tag, cmd)
}

func (c *imapTestConn) send(cmd string) string {
	c.t.Helper()
	c.tag++
	tag := "t" + strconv.Itoa(c.tag)
	c.conn.SetWriteDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(c.conn, tag+" "+cmd+"\r\n"); err != nil {
		c.t.Fatalf("IMAP write: %v", err)
	}
	return tag
}

func (c *imapTestConn) wait(tag, cmd string) {
	c.t.Helper()
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				c.t.Fatalf("%s: %s", cmd, l)
			}
			return
		}
	}
}

// appendMsg APPENDs msg with a synchronising literal.
func (c *imapTestConn) appendMsg(mailbox, msg string) {
	c.t.Helper()
	cmd := fmt.Sprintf("APPEND %s {%d}", mailbox, len(msg))
	tag := c.send(cmd)
	if l := c.line(); !strings.HasPrefix(l, "+") {
		c.t.Fatalf("APPEND: no continuation: %s", l)
	}
	if _, err := io.WriteString(c.conn, msg+"\r\n"); err != nil {
		c.t.Fatalf("IMAP write: %v", err)
	}
	c.wait(tag, cmd)
}
