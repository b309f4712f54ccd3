package pop3

// RETR and TOP: RFC 1939 sections 5 and 7.

import (
	"bufio"
	"bytes"
	"context"
	"errors"

	"mailroom/internal/store"
)

// cmdRetr sends a whole message (RFC 1939 section 5, RETR).
func (c *session) cmdRetr(ctx context.Context, cmd command) error {
	if len(cmd.args) != 1 {
		return fail("", "RETR takes one argument, a message number")
	}
	n, m, err := c.drop.message(cmd.args[0])
	if err != nil {
		return err
	}
	raw, err := c.readMessage(ctx, n, m)
	if err != nil {
		return err
	}
	if err := c.writeLine("+OK %d octets", m.info.Size); err != nil {
		return err
	}
	return writeMessage(c.w, raw, -1)
}

// cmdTop sends a message's header and the first lines of its body (RFC 1939
// section 7, TOP).
func (c *session) cmdTop(ctx context.Context, cmd command) error {
	if len(cmd.args) != 2 {
		return fail("", "TOP takes two arguments, a message number and a number of lines")
	}
	n, m, err := c.drop.message(cmd.args[0])
	if err != nil {
		return err
	}
	lines, ok := parseNumber(cmd.args[1])
	if !ok {
		return fail("", "invalid number of lines %.40q", cmd.args[1])
	}
	raw, err := c.readMessage(ctx, n, m)
	if err != nil {
		return err
	}
	if err := c.writeLine("+OK top of message %d follows", n); err != nil {
		return err
	}
	return writeMessage(c.w, raw, lines)
}

// readMessage reads message n's bytes from the store.
func (c *session) readMessage(ctx context.Context, n int, m *dropMessage) ([]byte, error) {
	raw, err := c.srv.cfg.Store.Raw(ctx, m.info.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Removed meanwhile through another protocol; the session keeps its
		// numbering, so the number stays valid but the message is gone.
		return nil, fail("", "message %d has been removed by another client", n)
	case err != nil:
		return nil, failErr(err, codeSysTemp, "cannot read message %d now, try again later", n)
	}
	return raw, nil
}

// writeMessage writes raw as the body of a multi-line reply (RFC 1939 section 3):
// every line ends in CRLF, a line starting with "." gets another one in front
// (byte-stuffing), and "." on a line of its own ends the reply. The store keeps CRLF
// line ends; a bare LF is turned into CRLF all the same, as a message imported from
// elsewhere may have them. With bodyLines >= 0 only the header, the empty line after
// it and that many body lines are sent (TOP); a message without a body is sent whole.
func writeMessage(w *bufio.Writer, raw []byte, bodyLines int) error {
	inBody := false
	sent := 0
	for len(raw) > 0 {
		if inBody && bodyLines >= 0 && sent >= bodyLines {
			break
		}
		var line []byte
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			line, raw = raw, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 && line[0] == '.' {
			w.WriteByte('.')
		}
		w.Write(line)
		if _, err := w.WriteString("\r\n"); err != nil {
			return err
		}
		if inBody {
			sent++
		} else if len(line) == 0 {
			inBody = true
		}
	}
	_, err := w.WriteString(".\r\n")
	return err
}
