// Package acl keeps the per-folder access control lists of RFC 4314: which rights one
// user holds on one folder of another account, so that a user can share a single
// folder rather than a whole mailbox (the directory's FullAccess grant). It stores and
// parses rights; deciding what a command needs is the protocol's business (IMAP's
// SETACL, GETACL and the checks in internal/imap).
//
// It must never hold rows for a folder's owner, whose rights are always All, nor rows
// with no rights: setting no rights deletes the entry.
package acl
