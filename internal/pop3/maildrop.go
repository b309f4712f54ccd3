package pop3

// STAT, LIST, UIDL, DELE, RSET and NOOP: RFC 1939 sections 5 and 7.

import (
	"fmt"
	"strconv"

	"mailroom/internal/store"
)

// maildrop is the Inbox as listed at login. Message n of the session is msgs[n-1]
// until the session ends, whatever other protocols do to the folder meanwhile
// (RFC 1939 section 5).
type maildrop struct {
	folder store.FolderID
	msgs   []dropMessage
}

type dropMessage struct {
	info    store.MessageInfo
	deleted bool // marked by DELE, removed at QUIT
}

// stat counts the messages not marked deleted and their octets.
//
// Octet counts here and in LIST are the stored sizes, CRLF line ends included, and
// not the size after byte-stuffing, which RETR adds. RFC 1939 section 11 allows the
// count a server reports to differ from the octets it sends, and clients use it only
// to show progress and to judge sizes.
func (d *maildrop) stat() (count int, size int64) {
	for _, m := range d.msgs {
		if !m.deleted {
			count++
			size += m.info.Size
		}
	}
	return count, size
}

// message returns the message a command argument names, refusing numbers that are
// not numbers, out of range, or marked deleted (RFC 1939 section 5: such a message
// may not be referred to).
func (d *maildrop) message(arg string) (int, *dropMessage, error) {
	n, ok := parseNumber(arg)
	if !ok {
		return 0, nil, fail("", "invalid message number %.40q", arg)
	}
	if n < 1 || n > len(d.msgs) {
		return 0, nil, fail("", "no such message: %d; the maildrop has %d", n, len(d.msgs))
	}
	m := &d.msgs[n-1]
	if m.deleted {
		return 0, nil, fail("", "message %d is deleted", n)
	}
	return n, m, nil
}

// uniqueID is a message's UIDL id: its store MessageID in decimal, which is never
// reused and so meets RFC 1939 section 7's rule that an id names one message forever.
func uniqueID(m *dropMessage) string {
	return strconv.FormatInt(int64(m.info.ID), 10)
}

// cmdStat answers "+OK count octets" (RFC 1939 section 5, STAT).
func (c *session) cmdStat(cmd command) error {
	if len(cmd.args) != 0 {
		return fail("", "STAT takes no arguments")
	}
	n, size := c.drop.stat()
	return c.writeLine("+OK %d %d", n, size)
}

// cmdList lists one message or all that are not deleted, with their sizes
// (RFC 1939 section 5, LIST).
func (c *session) cmdList(cmd command) error {
	return c.listing(cmd, func(m *dropMessage) string { return strconv.FormatInt(m.info.Size, 10) })
}

// cmdUidl lists unique ids like LIST lists sizes (RFC 1939 section 7, UIDL).
func (c *session) cmdUidl(cmd command) error {
	return c.listing(cmd, uniqueID)
}

// listing is LIST and UIDL: with an argument a one-line reply, without one a
// multi-line reply of every message not marked deleted.
func (c *session) listing(cmd command, value func(*dropMessage) string) error {
	switch len(cmd.args) {
	case 0:
		n, size := c.drop.stat()
		lines := make([]string, 0, n)
		for i := range c.drop.msgs {
			if m := &c.drop.msgs[i]; !m.deleted {
				lines = append(lines, fmt.Sprintf("%d %s", i+1, value(m)))
			}
		}
		return c.writeMulti(fmt.Sprintf("+OK %d messages (%d octets)", n, size), lines)
	case 1:
		n, m, err := c.drop.message(cmd.args[0])
		if err != nil {
			return err
		}
		return c.writeLine("+OK %d %s", n, value(m))
	}
	return fail("", "%s takes at most one argument, a message number", cmd.name)
}

// cmdDele marks a message deleted; it goes at QUIT (RFC 1939 section 5, DELE).
func (c *session) cmdDele(cmd command) error {
	if len(cmd.args) != 1 {
		return fail("", "DELE takes one argument, a message number")
	}
	n, m, err := c.drop.message(cmd.args[0])
	if err != nil {
		return err
	}
	m.deleted = true
	return c.writeLine("+OK message %d deleted", n)
}

// cmdRset unmarks every message marked deleted (RFC 1939 section 5, RSET).
func (c *session) cmdRset(cmd command) error {
	if len(cmd.args) != 0 {
		return fail("", "RSET takes no arguments")
	}
	for i := range c.drop.msgs {
		c.drop.msgs[i].deleted = false
	}
	n, size := c.drop.stat()
	return c.writeLine("+OK maildrop has %d messages (%d octets)", n, size)
}

// cmdNoop does nothing but answer, which keeps an idle session alive (RFC 1939
// section 5, NOOP).
func (c *session) cmdNoop(cmd command) error {
	if len(cmd.args) != 0 {
		return fail("", "NOOP takes no arguments")
	}
	return c.writeLine("+OK")
}
