// Package mime parses an RFC 5322 message once, at delivery, into the summary the
// protocols serve from: the IMAP ENVELOPE, the BODYSTRUCTURE part tree with byte offsets
// into the unchanged raw message, threading ids and plain text for full-text search.
//
// It must never fail, panic or drop a message because of malformed input: a mail server
// has to store whatever it accepted, so every parser here returns its best reading, and
// work and recursion are bounded (MaxDepth, MaxParts) so hostile input cannot exhaust the
// server. It never modifies the raw bytes it is given: offsets index into them.
//
// Specifications followed: RFC 5322 (message syntax), RFC 2045 and RFC 2046 (MIME
// headers, transfer encodings, multipart), RFC 2047 (encoded-words), RFC 2231 (parameter
// continuations and charsets), RFC 2183 (Content-Disposition), RFC 3501 sections 6.4.5
// and 7.4.2 (section numbering, ENVELOPE and BODYSTRUCTURE), RFC 6532 (message/global).
package mime
