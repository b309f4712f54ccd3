package smtp

import (
	"errors"
	"io"
)

// incoming is a message as DATA or BDAT brought it, with room kept in front of it for
// the trace fields deliver adds, so that adding them need not copy the message.
type incoming struct {
	buf []byte // the room, then the message
	off int    // where the message starts in buf
}

// traceRoom is the room readMessage keeps: enough for Received and
// Authentication-Results as Mailroom writes them.
const traceRoom = 2 << 10

// readMessage reads r to its end.
func readMessage(r io.Reader) (*incoming, error) {
	buf := make([]byte, traceRoom, traceRoom+32<<10)
	for {
		if len(buf) == cap(buf) {
			// Doubling: append grows a large slice by a quarter at a time.
			buf = append(make([]byte, 0, 2*cap(buf)), buf...)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return &incoming{buf: buf, off: traceRoom}, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// message returns the message's bytes.
func (in *incoming) message() []byte { return in.buf[in.off:] }

// prepend returns msg with fields in front of it. Where msg is still in's message
// (nothing rewrote it since it was read) and the fields fit the room before it, they
// are written there; otherwise msg is copied.
func (in *incoming) prepend(msg []byte, fields ...string) []byte {
	n := 0
	for _, f := range fields {
		n += len(f)
	}
	if n > in.off || len(msg) == 0 || len(msg) != len(in.buf)-in.off || &msg[0] != &in.buf[in.off] {
		return prepend(msg, fields...)
	}
	in.off -= n
	at := in.off
	for _, f := range fields {
		at += copy(in.buf[at:], f)
	}
	return in.buf[in.off:]
}
