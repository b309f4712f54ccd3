package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"mailroom/internal/store"
)

// state is a session's state (RFC 1939 section 3). UPDATE has no state of its own
// here: it is the QUIT handler's work, after which the session ends.
type state int

const (
	stateAuthorization state = iota
	stateTransaction
)

// session is one client connection.
type session struct {
	srv         *Server
	raw         net.Conn // the TCP connection, for deadlines and closing
	conn        net.Conn // raw, or the TLS connection over it
	implicitTLS bool
	log         *slog.Logger
	r           *bufio.Reader
	w           *bufio.Writer

	tls         bool
	state       state
	user        string // the name given by USER, waiting for PASS
	failures    int    // failed logins
	badCommands int    // unknown, malformed and over-long commands

	account store.AccountID // set once logged in and holding the maildrop lock
	domain  string          // the logged-in user's domain, whose settings QUIT reads
	locked  bool
	drop    *maildrop

	// mu guards closing and orders the deadlines set by the session against the one
	// set by interrupt, so that Shutdown's wake-up cannot be overwritten.
	mu      sync.Mutex
	closing bool
}

// Errors that end a session's read loop.
var (
	errLineTooLong = errors.New("line too long")
	errFlood       = errors.New("client sends an endless line")
	errInterrupted = errors.New("server shutting down")
)

// maxDiscard is how much of an over-long line is skipped looking for its end before
// the client is taken for a flood and dropped.
const maxDiscard = 64 << 10

// deadlineWriter gives every write to the client the idle timeout to complete, so a
// client that stops reading cannot hold a session forever.
type deadlineWriter struct{ c *session }

func (d deadlineWriter) Write(p []byte) (int, error) {
	if err := d.c.raw.SetWriteDeadline(time.Now().Add(d.c.srv.cfg.IdleTimeout)); err != nil {
		return 0, err
	}
	return d.c.conn.Write(p)
}

// serve runs the session until the client quits, times out or misbehaves, or the
// server shuts down.
func (c *session) serve(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	start := time.Now()
	c.log.Info("connection opened")
	reason := "client quit"
	defer func() {
		if c.locked {
			c.srv.locks.release(c.account)
		}
		c.raw.Close()
		c.log.Info("connection closed", "reason", reason, "duration", time.Since(start).Round(time.Millisecond))
	}()

	if c.implicitTLS {
		if err := c.handshake(ctx); err != nil {
			reason = "TLS handshake failed: " + err.Error()
			return
		}
	}
	c.r = bufio.NewReader(c.conn)
	c.w = bufio.NewWriter(deadlineWriter{c})
	if err := c.writeLine("+OK %s POP3 server ready", c.srv.cfg.Hostname); err != nil {
		reason = err.Error()
		return
	}
	reason = c.loop(ctx)
}

// loop reads and runs commands; it returns why the session ended.
func (c *session) loop(ctx context.Context) string {
	for {
		line, err := c.readLine(maxSASLLine)
		var cmd command
		if err == nil {
			if cmd, err = parseCommand(line); err == nil && cmd.name != "AUTH" && len(line)+2 > maxCommandLine {
				err = errLineTooLong
			}
		}
		switch {
		case err == nil:
			err = c.execute(ctx, cmd)
		case errors.Is(err, errLineTooLong):
			err = c.bad(fmt.Sprintf("command line too long; the limit is %d octets", maxCommandLine))
		case errors.Is(err, errEmptyCommand), errors.Is(err, errBadKeyword), errors.Is(err, errControlChar):
			err = c.bad(err.Error())
		case errors.Is(err, errInterrupted):
			c.tell(fail("", "server shutting down"))
			return "server shutting down"
		case isTimeout(err):
			if c.isClosing() {
				c.tell(fail("", "server shutting down"))
				return "server shutting down"
			}
			// RFC 1939 section 3: an autologout timer ends the session without
			// entering the UPDATE state.
			c.tell(fail("", "idle for too long, closing connection"))
			return "idle timeout"
		case errors.Is(err, io.EOF):
			return "client closed the connection"
		default:
			return err.Error()
		}

		var r *reply
		switch {
		case err == nil:
		case errors.As(err, &r):
			if r.err != nil {
				c.log.Warn("command failed", "command", cmd.name, "err", r.err)
			}
			if err := c.writeLine("%s", r.line()); err != nil {
				return err.Error()
			}
			if r.hangup {
				c.flush()
				return r.text
			}
		case errors.Is(err, errQuit):
			c.flush()
			return "client quit"
		default:
			return err.Error()
		}
	}
}

// bad counts a command that is no command at all and returns its reply; too many of
// them end the session.
func (c *session) bad(text string) error {
	c.badCommands++
	r := fail("", "%s", text)
	if c.badCommands >= maxBadCommands {
		r.text += "; too many bad commands, closing connection"
		r.hangup = true
	}
	return r
}

// execute runs one command in the current state (RFC 1939 sections 4 to 6, and the
// extensions' sections cited at each handler).
func (c *session) execute(ctx context.Context, cmd command) error {
	switch cmd.name {
	case "CAPA":
		return c.cmdCapa(cmd)
	case "QUIT":
		return c.cmdQuit(ctx, cmd)
	case "NOOP", "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET":
		if c.state != stateTransaction {
			return fail("", "%s is only valid after logging in", cmd.name)
		}
		return c.transaction(ctx, cmd)
	case "USER", "PASS", "AUTH", "STLS":
		if c.state != stateAuthorization {
			return fail("", "%s is only valid before logging in", cmd.name)
		}
		switch cmd.name {
		case "USER":
			return c.cmdUser(cmd)
		case "PASS":
			return c.cmdPass(ctx, cmd)
		case "AUTH":
			return c.cmdAuth(ctx, cmd)
		default:
			return c.cmdStls(ctx, cmd)
		}
	case "APOP":
		return fail("", "APOP is not offered; use USER and PASS or AUTH over TLS")
	}
	return c.bad("unknown command " + cmd.name)
}

// transaction runs the commands of the TRANSACTION state.
func (c *session) transaction(ctx context.Context, cmd command) error {
	switch cmd.name {
	case "NOOP":
		return c.cmdNoop(cmd)
	case "STAT":
		return c.cmdStat(cmd)
	case "LIST":
		return c.cmdList(cmd)
	case "UIDL":
		return c.cmdUidl(cmd)
	case "RETR":
		return c.cmdRetr(ctx, cmd)
	case "TOP":
		return c.cmdTop(ctx, cmd)
	case "DELE":
		return c.cmdDele(cmd)
	default:
		return c.cmdRset(cmd)
	}
}

// readLine flushes what is waiting to be sent, then reads one line of at most limit
// octets with its line end, which it strips (CRLF, or a bare LF from a sloppy client).
// It waits at most the idle timeout.
func (c *session) readLine(limit int) (string, error) {
	if err := c.flush(); err != nil {
		return "", err
	}
	if !c.arm(c.srv.cfg.IdleTimeout) {
		return "", errInterrupted
	}
	var buf []byte
	for {
		chunk, err := c.r.ReadSlice('\n')
		if len(buf)+len(chunk) > limit {
			// Skip to the end of the line, so that the next command parses.
			skipped := len(buf) + len(chunk)
			for errors.Is(err, bufio.ErrBufferFull) {
				chunk, err = c.r.ReadSlice('\n')
				if skipped += len(chunk); skipped > maxDiscard {
					return "", errFlood
				}
			}
			if err != nil {
				return "", err
			}
			return "", errLineTooLong
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			s := strings.TrimSuffix(string(buf), "\n")
			return strings.TrimSuffix(s, "\r"), nil
		case !errors.Is(err, bufio.ErrBufferFull):
			return "", err
		}
	}
}

// arm sets the connection's deadline for reading, or for a TLS handshake, unless the
// server is shutting down.
func (c *session) arm(d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.raw.SetReadDeadline(time.Now().Add(d))
	return true
}

// interrupt wakes a session waiting for a command so that it says goodbye; a session
// running a command finishes it first and then finds closing set.
func (c *session) interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closing = true
	c.raw.SetReadDeadline(time.Now())
}

func (c *session) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// writeLine queues one reply line; readLine sends it before waiting for the client.
func (c *session) writeLine(format string, args ...any) error {
	if _, err := fmt.Fprintf(c.w, format, args...); err != nil {
		return err
	}
	_, err := c.w.WriteString("\r\n")
	return err
}

// writeMulti queues a positive multi-line reply (RFC 1939 section 3): the first line,
// the lines of the list, and the terminating ".". No listed line starts with ".", so
// none needs byte-stuffing.
func (c *session) writeMulti(first string, lines []string) error {
	if err := c.writeLine("%s", first); err != nil {
		return err
	}
	for _, l := range lines {
		if err := c.writeLine("%s", l); err != nil {
			return err
		}
	}
	return c.writeLine(".")
}

func (c *session) flush() error {
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// tell sends a last reply before the connection closes; a failure does not matter.
func (c *session) tell(r *reply) {
	if c.writeLine("%s", r.line()) == nil {
		c.flush()
	}
}

// handshake runs the server side of a TLS handshake on the connection and makes the
// session read and write through it.
func (c *session) handshake(ctx context.Context) error {
	if !c.arm(min(handshakeTimeout, c.srv.cfg.IdleTimeout)) {
		return errInterrupted
	}
	c.raw.SetWriteDeadline(time.Now().Add(min(handshakeTimeout, c.srv.cfg.IdleTimeout)))
	tc := tls.Server(c.raw, c.srv.cfg.TLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.log.Info("TLS handshake failed", "err", err)
		return fmt.Errorf("TLS handshake: %w", err)
	}
	st := tc.ConnectionState()
	c.log.Debug("TLS established", "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	c.conn = tc
	c.tls = true
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
