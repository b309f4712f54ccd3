package main

// A small SMTP client made for load: it keeps its connection across messages, resets
// between them, and sends MAIL, RCPT and DATA as one pipelined group (RFC 2920) when
// the server offers PIPELINING. net/smtp sends one command at a time, which would
// measure round trips rather than the server.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// smtpReply is one (possibly multi-line) SMTP reply.
type smtpReply struct {
	code  int
	lines []string
}

func (r smtpReply) String() string {
	return strconv.Itoa(r.code) + " " + strings.Join(r.lines, " / ")
}

// replyError is a reply other than the one expected; the connection is still usable.
type replyError struct {
	cmd   string
	reply smtpReply
}

func (e *replyError) Error() string { return fmt.Sprintf("%s: %s", e.cmd, e.reply) }

// smtpClient is one connection to the server under test.
type smtpClient struct {
	conn       net.Conn
	r          *bufio.Reader
	w          *bufio.Writer
	ext        map[string]string // EHLO keywords, upper case, with their parameters
	pipelining bool
	sent       int // messages sent on this connection, for RSET between them
}

// smtpSetup is how a connection is opened.
type smtpSetup struct {
	addr       string
	starttls   bool
	user, pass string // AUTH PLAIN when user is set
	pipelining bool   // use PIPELINING when the server offers it
}

const ehloName = "mailbench.localhost"

// dialSMTP connects, reads the greeting, says EHLO, and starts TLS and authenticates
// as asked.
func dialSMTP(ctx context.Context, s smtpSetup) (*smtpClient, error) {
	conn, err := dial(ctx, s.addr)
	if err != nil {
		return nil, err
	}
	c := &smtpClient{conn: conn}
	c.setConn(conn)
	if err := c.handshake(s); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *smtpClient) setConn(conn net.Conn) {
	c.conn = conn
	c.r = bufio.NewReaderSize(conn, 4096)
	c.w = bufio.NewWriterSize(conn, 64<<10)
}

func (c *smtpClient) handshake(s smtpSetup) error {
	c.deadline()
	if _, err := c.expect("greeting", 220); err != nil {
		return err
	}
	if err := c.ehlo(); err != nil {
		return err
	}
	if s.starttls {
		if _, ok := c.ext["STARTTLS"]; !ok {
			return errors.New("the server does not offer STARTTLS (try --tls=none)")
		}
		if _, err := c.cmd("STARTTLS", 220); err != nil {
			return err
		}
		tc := tls.Client(c.conn, clientTLS())
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		c.setConn(tc)
		if err := c.ehlo(); err != nil {
			return err
		}
	}
	if s.user != "" {
		mechs, ok := c.ext["AUTH"]
		if !ok || !hasWord(mechs, "PLAIN") {
			return fmt.Errorf("the server offers no AUTH PLAIN here (AUTH %q); submission usually needs --tls=starttls", mechs)
		}
		ir := base64.StdEncoding.EncodeToString([]byte("\x00" + s.user + "\x00" + s.pass))
		if _, err := c.cmd("AUTH PLAIN "+ir, 235); err != nil {
			return fmt.Errorf("authenticate as %s: %w", s.user, err)
		}
	}
	_, c.pipelining = c.ext["PIPELINING"]
	c.pipelining = c.pipelining && s.pipelining
	return nil
}

func (c *smtpClient) ehlo() error {
	rep, err := c.cmd("EHLO "+ehloName, 250)
	if err != nil {
		return err
	}
	c.ext = map[string]string{}
	for _, l := range rep.lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		c.ext[strings.ToUpper(k)] = v
	}
	return nil
}

func hasWord(list, w string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, w) {
			return true
		}
	}
	return false
}

// deadline bounds the next exchange.
func (c *smtpClient) deadline() { c.conn.SetDeadline(time.Now().Add(opTimeout)) }

// cmd sends one command and reads its reply, which must have code want.
func (c *smtpClient) cmd(line string, want int) (smtpReply, error) {
	c.deadline()
	if _, err := c.w.WriteString(line + "\r\n"); err != nil {
		return smtpReply{}, fmt.Errorf("send %s: %w", verb(line), err)
	}
	if err := c.w.Flush(); err != nil {
		return smtpReply{}, fmt.Errorf("send %s: %w", verb(line), err)
	}
	return c.expect(verb(line), want)
}

func verb(line string) string {
	v, _, _ := strings.Cut(line, " ")
	return v
}

// expect reads a reply and checks its code.
func (c *smtpClient) expect(what string, want int) (smtpReply, error) {
	rep, err := c.readReply()
	if err != nil {
		return rep, fmt.Errorf("%s: %w", what, err)
	}
	if rep.code != want {
		return rep, &replyError{cmd: what, reply: rep}
	}
	return rep, nil
}

// readReply reads one reply, all its lines.
func (c *smtpClient) readReply() (smtpReply, error) {
	var rep smtpReply
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return rep, fmt.Errorf("read reply: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 3 {
			return rep, fmt.Errorf("malformed reply %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || (rep.code != 0 && code != rep.code) {
			return rep, fmt.Errorf("malformed reply %q", line)
		}
		rep.code = code
		text := ""
		if len(line) > 4 {
			text = line[4:]
		}
		rep.lines = append(rep.lines, text)
		if len(line) == 3 || line[3] == ' ' {
			return rep, nil
		}
		if line[3] != '-' {
			return rep, fmt.Errorf("malformed reply %q", line)
		}
	}
}

// errAborted is returned when the connection had to be dropped in the middle of a
// transaction: it must not be reused.
var errAborted = errors.New("transaction aborted; connection dropped")

// send delivers one message: RSET if a message went before on this connection, MAIL,
// one RCPT per recipient, DATA (one pipelined group when the server allows), then the
// message. It returns the time from the first byte of the message content until the
// final reply. A *replyError means the server refused something and the connection can
// carry on; any other error means the connection is broken.
func (c *smtpClient) send(from string, to []string, msg []byte) (time.Duration, error) {
	c.deadline()
	var cmds []string
	var wants []int
	if c.sent > 0 {
		cmds, wants = append(cmds, "RSET"), append(wants, 250)
	}
	c.sent++
	cmds, wants = append(cmds, "MAIL FROM:<"+from+">"), append(wants, 250)
	for _, t := range to {
		cmds, wants = append(cmds, "RCPT TO:<"+t+">"), append(wants, 250)
	}
	cmds, wants = append(cmds, "DATA"), append(wants, 354)

	var refused error
	if c.pipelining {
		for _, l := range cmds {
			c.w.WriteString(l + "\r\n")
		}
		if err := c.w.Flush(); err != nil {
			return 0, fmt.Errorf("send MAIL group: %w", err)
		}
		for i, l := range cmds {
			rep, err := c.expect(verb(l), wants[i])
			if err != nil {
				var re *replyError
				if !errors.As(err, &re) {
					return 0, err
				}
				if refused == nil {
					refused = err
				}
				continue
			}
			if refused != nil && rep.code == 354 {
				// DATA was accepted although something before it was refused: the
				// message would go to fewer recipients than asked. Drop it.
				return 0, fmt.Errorf("%w: %w", errAborted, refused)
			}
		}
	} else {
		for i, l := range cmds {
			if _, err := c.cmd(l, wants[i]); err != nil {
				return 0, err
			}
		}
	}
	if refused != nil {
		return 0, refused
	}

	start := time.Now()
	if _, err := c.w.Write(msg); err != nil {
		return 0, fmt.Errorf("send message: %w", err)
	}
	if _, err := c.w.WriteString(".\r\n"); err != nil {
		return 0, fmt.Errorf("send message: %w", err)
	}
	if err := c.w.Flush(); err != nil {
		return 0, fmt.Errorf("send message: %w", err)
	}
	_, err := c.expect("end of DATA", 250)
	return time.Since(start), err
}

// close says QUIT and closes the connection.
func (c *smtpClient) close() {
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	c.w.WriteString("QUIT\r\n")
	if c.w.Flush() == nil {
		c.readReply()
	}
	c.conn.Close()
}
