// Package msgauth authenticates inbound mail with SPF (RFC 7208), DKIM
// (RFC 6376) and DMARC (RFC 7489), reports the outcome as an
// Authentication-Results header field (RFC 8601), and DKIM-signs outbound
// mail; it must never act on a verdict itself (it neither rejects, defers nor
// stores mail) and never trusts Authentication-Results fields it did not write.
//
// The package works on bytes, addresses, an IP and a DNS resolver only: it
// knows nothing of SMTP sessions or of the store. Messages are expected in
// wire form (RFC 5322 with CRLF line endings).
package msgauth
