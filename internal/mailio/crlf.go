package mailio

import "bytes"

// CRLF returns raw with every bare LF turned into CRLF, the line ending RFC 5322 and
// every mail protocol use on the wire. Mail files usually store LF only; a store that
// serves IMAP from the stored bytes wants them as the wire carries them. Input that has
// no bare LF is returned as it is.
func CRLF(raw []byte) []byte {
	bare := 0
	for i, c := range raw {
		if c == '\n' && (i == 0 || raw[i-1] != '\r') {
			bare++
		}
	}
	if bare == 0 {
		return raw
	}
	out := bytes.NewBuffer(make([]byte, 0, len(raw)+bare))
	for i, c := range raw {
		if c == '\n' && (i == 0 || raw[i-1] != '\r') {
			out.WriteByte('\r')
		}
		out.WriteByte(c)
	}
	return out.Bytes()
}
