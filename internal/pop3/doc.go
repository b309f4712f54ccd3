// Package pop3 serves the Inbox of each mailbox over POP3 (RFC 1939) with CAPA
// (RFC 2449), STLS (RFC 2595), SASL AUTH PLAIN and LOGIN (RFC 5034) and extended
// response codes (RFC 3206); it must never accept a password over a connection that
// is not encrypted, and never delete a message unless the client ends its session
// with QUIT.
//
// The maildrop is the account's Inbox, listed once at login: a POP3 session sees
// message numbers that stay put until it ends (RFC 1939 section 5), so mail delivered
// meanwhile appears at the next login. Unique ids (UIDL) are the store's MessageIDs,
// which are never reused, so clients that leave mail on the server download each
// message once.
//
// What QUIT does with the messages DELE marked is the domain's choice
// (directory.Domain.POP3KeepDeleted): by default they move to the mailbox's Deleted
// Items, marked for package retention to purge after the domain's retention period,
// because POP3 clients delete without asking; otherwise they are expunged.
//
// Files follow the command groups: auth.go (USER, PASS, AUTH), stls.go (STLS), capa.go
// (CAPA), maildrop.go (STAT, LIST, UIDL, DELE, RSET, NOOP), retr.go (RETR, TOP),
// quit.go (QUIT and the UPDATE state). command.go parses command lines, reply.go holds
// the negative replies with their response codes, session.go reads commands and writes
// replies, and server.go accepts connections, keeps the maildrop locks and shuts down.
package pop3
