// Package scheduling invites people to meetings and records their answers: iTIP
// (RFC 5546) REQUEST, REPLY and CANCEL for VEVENTs, carried by mail as iMIP (RFC 6047),
// and the free/busy time of the organisation's users computed from their calendars.
//
// It sits below the protocols and above pim, the store and mailflow: ActiveSync's
// MeetingResponse and ResolveRecipients call it, the SMTP server hands it every message
// it stored in a local mailbox, and CalDAV can call it for the organiser's side of a
// change and for free-busy queries. Outgoing invitations and replies are ordinary mail
// through mailflow (local attendees through the store, everyone else through the
// queue, DKIM-signed like any mail); an attendee of our own also gets the event in their
// calendar directly, as Exchange does.
//
// It never trusts a scheduling message for more than its sender may say: a REQUEST or
// CANCEL counts only when it comes from the event's organiser, a REPLY only from the
// attendee it answers for, updates never go backwards in SEQUENCE, and a message for an
// event another organiser owns is refused. It never stores an object pim refuses, never
// writes outside the calendars of the users concerned, and never delays or fails a
// delivery: incoming messages are processed after they are stored, off the SMTP path.
package scheduling
