package main

// A small IMAP client for the imap, imap-idle and imap-fetchall scenarios: tagged
// commands, responses with literals, APPEND with a synchronizing literal, IDLE. It reads
// what the server sends without interpreting more than the scenarios need.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// imapTLS is how the client secures the connection.
type imapTLS string

const (
	imapImplicitTLS imapTLS = "implicit"
	imapStartTLS    imapTLS = "starttls"
	imapNoTLS       imapTLS = "none"
)

func parseIMAPTLS(s string) (imapTLS, error) {
	switch m := imapTLS(s); m {
	case imapImplicitTLS, imapStartTLS, imapNoTLS:
		return m, nil
	}
	return "", fmt.Errorf("--tls=%q: want implicit, starttls or none", s)
}

// imapSetup is what every connection of a scenario needs.
type imapSetup struct {
	addr       string   // the one this connection dials, checked by loopbackAddr
	addrs      []string // every --addr, for scenarios that spread their clients
	tls        imapTLS
	user, pass string
}

// imapConn is one IMAP connection.
type imapConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	tagN int
}

// errIMAPNo is wrapped by a tagged NO or BAD.
var errIMAPNo = errors.New("server refused the command")

// imapResult is what a command brought back besides its tagged OK.
type imapResult struct {
	untagged []string // untagged lines, literals replaced by "{N}"
	bytes    int      // bytes read, literals included
	text     string   // the tagged line after the tag
}

// dialIMAP connects, secures the connection as s.tls says, reads the greeting and, when
// s.user is set, logs in. The connection's deadline is set by each command.
func dialIMAP(ctx context.Context, s imapSetup) (*imapConn, error) {
	conn, err := dial(ctx, s.addr)
	if err != nil {
		return nil, err
	}
	c := &imapConn{conn: conn}
	if err := c.open(ctx, s); err != nil {
		conn.Close()
		return nil, fmt.Errorf("imap %s: %w", s.addr, err)
	}
	return c, nil
}

func (c *imapConn) open(ctx context.Context, s imapSetup) error {
	c.conn.SetDeadline(time.Now().Add(opTimeout))
	if s.tls == imapImplicitTLS {
		if err := c.handshake(ctx); err != nil {
			return err
		}
	}
	c.r, c.w = bufio.NewReaderSize(c.conn, 4096), bufio.NewWriterSize(c.conn, 4096)
	greeting, _, err := c.readResponse()
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(greeting, "* OK") && !strings.HasPrefix(greeting, "* PREAUTH") {
		return fmt.Errorf("greeting: %q", greeting)
	}
	if s.tls == imapStartTLS {
		if _, err := c.command("STARTTLS"); err != nil {
			return err
		}
		if err := c.handshake(ctx); err != nil {
			return err
		}
		c.r, c.w = bufio.NewReaderSize(c.conn, 4096), bufio.NewWriterSize(c.conn, 4096)
	}
	if s.user != "" {
		if _, err := c.commandShown("LOGIN "+imapQuote(s.user)+" "+imapQuote(s.pass), "LOGIN "+s.user+" ****"); err != nil {
			return err
		}
	}
	return nil
}

func (c *imapConn) handshake(ctx context.Context) error {
	tc := tls.Client(c.conn, clientTLS())
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	c.conn = tc
	return nil
}

func (c *imapConn) close() {
	if c.w != nil {
		c.conn.SetDeadline(time.Now().Add(2 * time.Second))
		c.command("LOGOUT")
	}
	c.conn.Close()
}

// maxLiteral bounds a literal the client accepts: the scenarios fetch at most one
// message body at a time.
const maxLiteral = 64 << 20

// readResponse reads one response line with the literals it announces, and returns the
// line with each literal's content replaced by "{N}" and the number of bytes read.
func (c *imapConn) readResponse() (string, int, error) {
	var b strings.Builder
	n := 0
	for range 1 << 20 { // a bound: no real line has a million literals
		line, err := c.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line: keep it whole.
			rest, err2 := c.r.ReadString('\n')
			line, err = append(line[:len(line):len(line)], rest...), err2
		}
		if err != nil {
			return "", n, fmt.Errorf("read: %w", err)
		}
		n += len(line)
		s := strings.TrimRight(string(line), "\r\n")
		size, ok := literalSize(s)
		if !ok {
			b.WriteString(s)
			return b.String(), n, nil
		}
		if size > maxLiteral {
			return "", n, fmt.Errorf("literal of %d bytes: more than %d", size, maxLiteral)
		}
		b.WriteString(s)
		if _, err := c.r.Discard(size); err != nil {
			return "", n, fmt.Errorf("read a literal: %w", err)
		}
		n += size
	}
	return "", n, errors.New("too many literals in one response")
}

// literalSize reports whether line ends by announcing a literal, {N} or {N+}, and N.
func literalSize(line string) (int, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	num := strings.TrimSuffix(line[i+1:len(line)-1], "+")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

func (c *imapConn) nextTag() string {
	c.tagN++
	return "b" + strconv.Itoa(c.tagN)
}

// command sends cmd and reads until its tagged response; a NO or BAD is an error.
func (c *imapConn) command(cmd string) (imapResult, error) {
	return c.commandShown(cmd, cmd)
}

// commandShown is command with shown in the place of cmd in errors (passwords).
func (c *imapConn) commandShown(cmd, shown string) (imapResult, error) {
	c.conn.SetDeadline(time.Now().Add(opTimeout))
	tag := c.nextTag()
	if err := c.send(tag + " " + cmd + "\r\n"); err != nil {
		return imapResult{}, fmt.Errorf("%s: %w", shown, err)
	}
	return c.readTagged(tag, shown)
}

func (c *imapConn) send(s string) error {
	if _, err := c.w.WriteString(s); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// readTagged reads responses until the one tagged tag.
func (c *imapConn) readTagged(tag, shown string) (imapResult, error) {
	var res imapResult
	for {
		s, n, err := c.readResponse()
		res.bytes += n
		if err != nil {
			return res, fmt.Errorf("%s: %w", shown, err)
		}
		if rest, ok := strings.CutPrefix(s, tag+" "); ok {
			res.text = rest
			if !strings.HasPrefix(strings.ToUpper(rest), "OK") {
				return res, fmt.Errorf("%s: %w: %s", shown, errIMAPNo, rest)
			}
			return res, nil
		}
		if strings.HasPrefix(s, "* BYE") {
			// The tagged reply may still follow; a BYE without one ends the read.
			res.untagged = append(res.untagged, s)
			continue
		}
		res.untagged = append(res.untagged, s)
	}
}

// appendMessage appends msg to mailbox with a synchronizing literal and returns the
// new message's UID when the server says it (UIDPLUS APPENDUID), else 0.
func (c *imapConn) appendMessage(mailbox, flags string, msg []byte) (uint32, error) {
	c.conn.SetDeadline(time.Now().Add(opTimeout))
	tag := c.nextTag()
	if flags != "" {
		flags = " (" + flags + ")"
	}
	if err := c.send(fmt.Sprintf("%s APPEND %s%s {%d}\r\n", tag, imapQuote(mailbox), flags, len(msg))); err != nil {
		return 0, fmt.Errorf("APPEND: %w", err)
	}
	for {
		s, _, err := c.readResponse()
		if err != nil {
			return 0, fmt.Errorf("APPEND: %w", err)
		}
		if strings.HasPrefix(s, "+") {
			break
		}
		if rest, ok := strings.CutPrefix(s, tag+" "); ok {
			return 0, fmt.Errorf("APPEND: %w: %s", errIMAPNo, rest)
		}
	}
	if _, err := c.w.Write(msg); err != nil {
		return 0, fmt.Errorf("APPEND: write: %w", err)
	}
	if err := c.send("\r\n"); err != nil {
		return 0, fmt.Errorf("APPEND: %w", err)
	}
	res, err := c.readTagged(tag, "APPEND")
	if err != nil {
		return 0, err
	}
	return appendUID(res.text), nil
}

// appendUID finds the UID in "OK [APPENDUID validity uid] ...", or returns 0.
func appendUID(text string) uint32 {
	up := strings.ToUpper(text)
	i := strings.Index(up, "[APPENDUID ")
	if i < 0 {
		return 0
	}
	f := strings.Fields(strings.TrimRight(text[i+len("[APPENDUID "):], "]"))
	if len(f) < 2 {
		return 0
	}
	uid, err := strconv.ParseUint(strings.TrimRight(f[1], "]"), 10, 32)
	if err != nil {
		return 0
	}
	return uint32(uid)
}

// selectInfo is what SELECT or EXAMINE told about the mailbox.
type selectInfo struct {
	exists  int
	uidNext uint32
}

// selectMailbox runs SELECT (or EXAMINE) and reads EXISTS and UIDNEXT.
func (c *imapConn) selectMailbox(verb, mailbox string) (selectInfo, error) {
	res, err := c.command(verb + " " + imapQuote(mailbox))
	if err != nil {
		return selectInfo{}, err
	}
	var info selectInfo
	for _, s := range res.untagged {
		f := strings.Fields(s)
		if len(f) >= 3 && f[0] == "*" && strings.EqualFold(f[2], "EXISTS") {
			info.exists, _ = strconv.Atoi(f[1])
		}
		up := strings.ToUpper(s)
		if i := strings.Index(up, "[UIDNEXT "); i >= 0 {
			rest := strings.Fields(s[i+len("[UIDNEXT "):])
			if len(rest) > 0 {
				n, _ := strconv.ParseUint(strings.TrimRight(rest[0], "]"), 10, 32)
				info.uidNext = uint32(n)
			}
		}
	}
	return info, nil
}

// idleStart sends IDLE and waits for the continuation; it returns the tag to end with.
func (c *imapConn) idleStart() (string, error) {
	c.conn.SetDeadline(time.Now().Add(opTimeout))
	tag := c.nextTag()
	if err := c.send(tag + " IDLE\r\n"); err != nil {
		return "", fmt.Errorf("IDLE: %w", err)
	}
	for {
		s, _, err := c.readResponse()
		if err != nil {
			return "", fmt.Errorf("IDLE: %w", err)
		}
		if strings.HasPrefix(s, "+") {
			return tag, nil
		}
		if rest, ok := strings.CutPrefix(s, tag+" "); ok {
			return "", fmt.Errorf("IDLE: %w: %s", errIMAPNo, rest)
		}
	}
}

// idleDone sends DONE and reads until the IDLE's tagged response.
func (c *imapConn) idleDone(tag string) error {
	c.conn.SetDeadline(time.Now().Add(opTimeout))
	if err := c.send("DONE\r\n"); err != nil {
		return fmt.Errorf("DONE: %w", err)
	}
	_, err := c.readTagged(tag, "IDLE")
	return err
}

// waitExists reads, during IDLE, until an untagged EXISTS arrives or the deadline.
func (c *imapConn) waitExists(deadline time.Time) error {
	c.conn.SetReadDeadline(deadline)
	for {
		s, _, err := c.readResponse()
		if err != nil {
			return fmt.Errorf("wait for EXISTS during IDLE: %w", err)
		}
		f := strings.Fields(s)
		if len(f) >= 3 && f[0] == "*" && strings.EqualFold(f[2], "EXISTS") {
			return nil
		}
	}
}
