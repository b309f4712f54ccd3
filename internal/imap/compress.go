package imap

// COMPRESS=DEFLATE: RFC 4978.

import (
	"bytes"
	"compress/flate"
	"io"

	"mailroom/internal/imap/imapwire"
)

// compressLevel trades CPU for bandwidth; IMAP traffic is mostly text that
// compresses well even at the fastest level, and the fastest level keeps the
// per-connection deflater small.
const compressLevel = flate.BestSpeed

// cmdCompress turns on DEFLATE (RFC 1951, raw, without zlib framing) in both
// directions once the tagged OK is out (RFC 4978 section 3).
//
// Output: every burst of responses ends with a sync flush (c.flush), so the client
// can inflate all of it without waiting for more (RFC 4978 section 4).
//
// Input: the inflater (inflate.go) hands over what it has inflated before it could
// wait for more input, so a command the client flushed, with a sync or a partial
// flush, is read whole, and the reader never waits for bytes the client has not sent.
// The tests check this with Python's zlib (sync flush), mbsync (partial flush) and
// compress/flate as clients.
func (c *session) cmdCompress(cmd *imapwire.Command, a *imapwire.Compress) error {
	switch {
	case c.fw != nil:
		return no(codeCompressActive, "compression is already active")
	case a.Mechanism != "DEFLATE":
		return bad("unknown compression mechanism %.20q; this server offers DEFLATE", a.Mechanism)
	}
	c.w.StatusResponse(cmd.Tag, imapwire.OK, nil, "DEFLATE active")
	if err := c.flush(); err != nil {
		return err
	}
	fw, err := flate.NewWriter(deadlineWriter{c}, compressLevel)
	if err != nil {
		return err
	}
	c.fw = fw
	c.w.SetDestination(fw)
	// A client must wait for the OK before compressing, so nothing should be
	// buffered; whatever is goes through the inflater as the start of its stream.
	pending := c.r.Buffered()
	c.r.SetSource(newInflater(io.MultiReader(bytes.NewReader(pending), connReader{c})))
	c.log.Debug("compression active")
	return errAnswered
}

// connReader reads from the session's connection, TLS or not, whatever it is at the
// time of the read.
type connReader struct{ c *session }

func (r connReader) Read(p []byte) (int, error) { return r.c.conn.Read(p) }
