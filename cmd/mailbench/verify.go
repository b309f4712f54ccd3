package main

// End-to-end checks: how many messages the recipient can see, counted over POP3, IMAP
// or straight from a Maildir on this machine.

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// counter counts the messages in the recipient's mailbox.
type counter interface {
	count(ctx context.Context) (int, error)
	String() string // for reports; never shows the password
}

// parseVerify reads a --verify value:
//
//	pop3://USER:PASS@HOST:PORT   POP3, with STLS when the server offers it
//	pop3s://USER:PASS@HOST:PORT  POP3 over implicit TLS
//	imap://USER:PASS@HOST:PORT   IMAP, with STARTTLS when the server offers it; INBOX
//	imaps://USER:PASS@HOST:PORT  IMAP over implicit TLS
//	maildir:/PATH                a Maildir (files in new/ and cur/)
//
// USER and PASS may be percent-encoded (an @ in USER as %40); the last @ ends them.
func parseVerify(s string) (counter, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("--verify %q: want a pop3, pop3s, imap, imaps or maildir URL", s)
	}
	if scheme == "maildir" {
		if rest == "" {
			return nil, fmt.Errorf("--verify %q: no Maildir path", s)
		}
		return maildirCounter{dir: rest}, nil
	}
	if scheme != "pop3" && scheme != "pop3s" && scheme != "imap" && scheme != "imaps" {
		return nil, fmt.Errorf("--verify %q: unknown scheme %q", s, scheme)
	}
	authority, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return nil, fmt.Errorf("--verify %q: want %s://USER:PASS@HOST:PORT", s, scheme)
	}
	authority = strings.TrimSuffix(authority, "/")
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return nil, fmt.Errorf("--verify %q: no USER:PASS@", s)
	}
	userinfo, hostport := authority[:at], authority[at+1:]
	user, pass, ok := strings.Cut(userinfo, ":")
	if !ok || user == "" {
		return nil, fmt.Errorf("--verify %q: want USER:PASS before the @", s)
	}
	var err error
	if user, err = url.PathUnescape(user); err != nil {
		return nil, fmt.Errorf("--verify: user name: %w", err)
	}
	if pass, err = url.PathUnescape(pass); err != nil {
		return nil, fmt.Errorf("--verify: password: %w", err)
	}
	addr, err := loopbackAddr(hostport)
	if err != nil {
		return nil, fmt.Errorf("--verify: %w", err)
	}
	implicit := strings.HasSuffix(scheme, "s")
	if strings.HasPrefix(scheme, "pop3") {
		return pop3Counter{addr: addr, user: user, pass: pass, implicitTLS: implicit}, nil
	}
	return imapCounter{addr: addr, user: user, pass: pass, implicitTLS: implicit}, nil
}

// maildirCounter counts the files in a Maildir's new/ and cur/.
type maildirCounter struct{ dir string }

func (m maildirCounter) String() string { return "maildir:" + m.dir }

func (m maildirCounter) count(context.Context) (int, error) {
	n := 0
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(m.dir, sub))
		if os.IsNotExist(err) {
			continue // not made before the first delivery
		}
		if err != nil {
			return 0, fmt.Errorf("count Maildir: %w", err)
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") && e.Type().IsRegular() {
				n++
			}
		}
	}
	return n, nil
}

// lineConn is a line-oriented text connection for the POP3 and IMAP counters.
type lineConn struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialLines(ctx context.Context, addr string, implicitTLS bool) (*lineConn, error) {
	conn, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(opTimeout))
	if implicitTLS {
		tc := tls.Client(conn, clientTLS())
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	return &lineConn{conn: conn, r: bufio.NewReader(conn)}, nil
}

func (l *lineConn) startTLS(ctx context.Context) error {
	tc := tls.Client(l.conn, clientTLS())
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	l.conn, l.r = tc, bufio.NewReader(tc)
	return nil
}

func (l *lineConn) readLine() (string, error) {
	s, err := l.r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	return strings.TrimRight(s, "\r\n"), nil
}

func (l *lineConn) write(s string) error {
	if _, err := l.conn.Write([]byte(s + "\r\n")); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// pop3Counter logs in over POP3 and asks STAT. A POP3 session sees the maildrop as
// it was at login, so each count is a new connection.
type pop3Counter struct {
	addr, user, pass string
	implicitTLS      bool
}

func (p pop3Counter) String() string {
	scheme := "pop3"
	if p.implicitTLS {
		scheme = "pop3s"
	}
	return scheme + "://" + p.user + "@" + p.addr
}

func (p pop3Counter) count(ctx context.Context) (int, error) {
	l, err := dialLines(ctx, p.addr, p.implicitTLS)
	if err != nil {
		return 0, fmt.Errorf("pop3: %w", err)
	}
	defer l.conn.Close()
	n, err := p.session(ctx, l)
	if err != nil {
		return 0, fmt.Errorf("pop3 %s: %w", p.addr, err)
	}
	return n, nil
}

func (p pop3Counter) session(ctx context.Context, l *lineConn) (int, error) {
	ok := func(cmd string) (string, error) {
		if cmd != "" {
			if err := l.write(cmd); err != nil {
				return "", err
			}
		}
		s, err := l.readLine()
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(s, "+OK") {
			if strings.HasPrefix(cmd, "PASS ") {
				cmd = "PASS ****"
			}
			return "", fmt.Errorf("%q: %s", cmd, s)
		}
		return s, nil
	}
	if _, err := ok(""); err != nil {
		return 0, err
	}
	if !p.implicitTLS {
		if _, err := ok("CAPA"); err != nil {
			return 0, err
		}
		stls := false
		for {
			s, err := l.readLine()
			if err != nil {
				return 0, err
			}
			if s == "." {
				break
			}
			stls = stls || strings.EqualFold(s, "STLS")
		}
		if stls {
			if _, err := ok("STLS"); err != nil {
				return 0, err
			}
			if err := l.startTLS(ctx); err != nil {
				return 0, err
			}
		}
	}
	if _, err := ok("USER " + p.user); err != nil {
		return 0, err
	}
	if _, err := ok("PASS " + p.pass); err != nil {
		return 0, err
	}
	s, err := ok("STAT")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0, fmt.Errorf("STAT: %q", s)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, fmt.Errorf("STAT: %q", s)
	}
	l.write("QUIT")
	l.readLine()
	return n, nil
}

// imapCounter logs in over IMAP and asks STATUS INBOX (MESSAGES).
type imapCounter struct {
	addr, user, pass string
	implicitTLS      bool
}

func (c imapCounter) String() string {
	scheme := "imap"
	if c.implicitTLS {
		scheme = "imaps"
	}
	return scheme + "://" + c.user + "@" + c.addr
}

func (c imapCounter) count(ctx context.Context) (int, error) {
	l, err := dialLines(ctx, c.addr, c.implicitTLS)
	if err != nil {
		return 0, fmt.Errorf("imap: %w", err)
	}
	defer l.conn.Close()
	n, err := c.session(ctx, l)
	if err != nil {
		return 0, fmt.Errorf("imap %s: %w", c.addr, err)
	}
	return n, nil
}

// imapQuote makes an IMAP quoted string (RFC 3501 4.3).
func imapQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func (c imapCounter) session(ctx context.Context, l *lineConn) (int, error) {
	greeting, err := l.readLine()
	if err != nil {
		return 0, err
	}
	if !strings.HasPrefix(greeting, "* OK") {
		return 0, fmt.Errorf("greeting: %q", greeting)
	}
	// run sends a tagged command and returns its untagged lines.
	tagN := 0
	run := func(cmd, shown string) ([]string, error) {
		tagN++
		tag := "m" + strconv.Itoa(tagN)
		if err := l.write(tag + " " + cmd); err != nil {
			return nil, err
		}
		var untagged []string
		for {
			s, err := l.readLine()
			if err != nil {
				return nil, err
			}
			if rest, ok := strings.CutPrefix(s, tag+" "); ok {
				if !strings.HasPrefix(strings.ToUpper(rest), "OK") {
					return nil, fmt.Errorf("%s: %s", shown, rest)
				}
				return untagged, nil
			}
			untagged = append(untagged, s)
		}
	}
	if !c.implicitTLS {
		caps, err := run("CAPABILITY", "CAPABILITY")
		if err != nil {
			return 0, err
		}
		if hasWord(strings.Join(caps, " "), "STARTTLS") {
			if _, err := run("STARTTLS", "STARTTLS"); err != nil {
				return 0, err
			}
			if err := l.startTLS(ctx); err != nil {
				return 0, err
			}
		}
	}
	if _, err := run("LOGIN "+imapQuote(c.user)+" "+imapQuote(c.pass), "LOGIN "+c.user); err != nil {
		return 0, err
	}
	lines, err := run("STATUS INBOX (MESSAGES)", "STATUS")
	if err != nil {
		return 0, err
	}
	for _, s := range lines {
		up := strings.ToUpper(s)
		if !strings.HasPrefix(up, "* STATUS ") {
			continue
		}
		i := strings.Index(up, "MESSAGES ")
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+len("MESSAGES "):])
		if len(f) == 0 {
			continue
		}
		n, err := strconv.Atoi(strings.TrimRight(f[0], ")"))
		if err != nil {
			return 0, fmt.Errorf("STATUS: %q", s)
		}
		run("LOGOUT", "LOGOUT")
		return n, nil
	}
	return 0, fmt.Errorf("STATUS: no MESSAGES in %q", lines)
}
