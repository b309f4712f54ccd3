// Package activesync is Mailroom's Exchange ActiveSync server, through which iPhone and
// iPad Mail, Android mail apps and Windows Mail provision, sync, push, send, move and
// fetch mail, and sync calendars, contacts, tasks and notes. It must never keep items
// of its own: every item it serves is read from the store and every change a device
// makes is written to the store, so IMAP, POP3, CalDAV/CardDAV and the other protocols
// see it at once.
//
// Its own tables hold only what ActiveSync alone needs: device partnerships, policy
// keys, access rules, wipe requests and per-device sync states (which items a device
// holds, never their content).
//
// The transport follows [MS-ASHTTP]; provisioning and remote wipe [MS-ASPROV]; commands
// [MS-ASCMD]; e-mail items [MS-ASEMAIL] and [MS-ASAIRS]; calendar, contact, task and
// note items [MS-ASCAL], [MS-ASCNTC], [MS-ASTASK] and [MS-ASNOTE], converted to and from
// iCalendar and vCard as internal/pim keeps them. Protocol version 16.1 is the
// baseline; 14.0, 14.1, 16.0 and 12.1 are accepted for older clients. Each command lives in
// its own file, which names the section it follows.
package activesync
