// Package imap is Mailroom's IMAP server (IMAP4rev2 and IMAP4rev1 together, RFC 9051
// appendix E): a view of the mailbox store over IMAP that must never keep a private
// copy of mail or of mailbox state beyond what one session's client has been told,
// and never accept a password over a connection that is not encrypted.
//
// Every change a client sees comes from the store's per-account change log: the view
// of the selected mailbox (view.go) turns it into EXPUNGE or VANISHED, EXISTS and
// FETCH after every command and during IDLE, MODSEQ and HIGHESTMODSEQ are the log's
// positions (RFC 7162), and IDLE wakes on the store's subscription, so a change by
// any session, protocol or process reaches an idling client within a second.
//
// Mailbox names: the user's folders form the personal namespace "" with the
// delimiter "/"; mailboxes the user holds FullAccess on appear in the other-users
// namespace as "Shared/<address>/<folder>" (mailbox.go), and so do single folders
// other users share through access control lists (RFC 4314, acl.go, kept by
// internal/acl), each command checking the rights it needs. Folders that hold no mail
// (calendars, contacts, tasks, notes) are not shown.
//
// Extensions: STARTTLS and LOGINDISABLED, SASL-IR with PLAIN, ID, ENABLE, IDLE,
// NAMESPACE, UNSELECT, UIDPLUS, MOVE, CONDSTORE, QRESYNC, SPECIAL-USE,
// CREATE-SPECIAL-USE, LIST-EXTENDED, LIST-STATUS, ESEARCH, SEARCHRES, SORT, THREAD,
// BINARY, STATUS=SIZE, QUOTA, APPENDLIMIT, LITERAL+, ACL with RIGHTS=texk and
// COMPRESS=DEFLATE, each cited at its handler.
//
// Memory: a session waiting for its client holds no read or write buffer (they go
// back to the server's pools), and an IDLE session parks: its goroutine ends and
// internal/netpark's one epoll watcher wakes it when the client writes, hangs up or
// times out (park.go); the server's idle hub holds one store subscription per account
// and pushes updates to parked sessions from short-lived goroutines (idle.go).
//
// Files follow the command groups: server.go (Config, Serve, Shutdown), session.go
// (the command loop, states, dispatch), reply.go (tagged responses and codes),
// capability.go (CAPABILITY, ID, ENABLE), auth.go (STARTTLS, LOGIN, AUTHENTICATE),
// compress.go and inflate.go (COMPRESS), mailbox.go (names, NAMESPACE, CREATE,
// DELETE, RENAME, SUBSCRIBE, STATUS), list.go (LIST, LSUB), select.go (SELECT,
// EXAMINE, UNSELECT, CLOSE, QRESYNC, the updates), append.go, copymove.go,
// expunge.go, idle.go, quota.go, acl.go (SETACL, DELETEACL, GETACL, LISTRIGHTS,
// MYRIGHTS and the rights checks), dispatch_msg.go (FETCH, STORE, SEARCH, SORT,
// THREAD). The message data itself is written by fetch.go, search.go, sort.go and
// thread.go; the wire codec is the imapwire sub-package.
package imap
