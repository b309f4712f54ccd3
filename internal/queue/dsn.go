package queue

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Actions of a delivery status notification (RFC 3464 section 2.3.3), as kept in
// queue_recipients.dsn_pending.
const (
	actionFailed  = "failed"
	actionDelayed = "delayed"
	actionRelayed = "relayed"
)

// composeDSN writes a delivery status notification (RFC 3464) about the recipients to
// the sender of m: a multipart/report (RFC 6522) of a human-readable part, a
// message/delivery-status part and the returned message or its header.
func (q *Queue) composeDSN(m msgRow, rcpts []*rcptRow, raw []byte, now time.Time) []byte {
	var b bytes.Buffer
	boundary := randomHex(12)
	host := q.cfg.Hostname
	failed, delayed := false, false
	for _, r := range rcpts {
		failed = failed || r.dsnPending == actionFailed
		delayed = delayed || r.dsnPending == actionDelayed
	}
	subject := "Successful Mail Delivery Report"
	switch {
	case failed:
		subject = "Undelivered Mail Returned to Sender"
	case delayed:
		subject = "Delayed Mail (still being retried)"
	}
	crlf := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\r\n")
	}
	crlf("From: Mail Delivery System <MAILER-DAEMON@%s>", host)
	crlf("To: <%s>", m.sender)
	crlf("Subject: %s", subject)
	crlf("Date: %s", now.Format(time.RFC1123Z))
	crlf("Message-ID: <%s@%s>", randomHex(16), host)
	// RFC 3834 section 5: a notification is an automatic response.
	crlf("Auto-Submitted: auto-replied")
	crlf("MIME-Version: 1.0")
	crlf(`Content-Type: multipart/report; report-type=delivery-status; boundary="%s"`, boundary)
	crlf("")
	crlf("This is a MIME-encapsulated delivery status notification.")
	crlf("")

	// The human-readable part (RFC 6522 section 3).
	crlf("--%s", boundary)
	crlf("Content-Type: text/plain; charset=utf-8")
	crlf("Content-Transfer-Encoding: 8bit")
	crlf("")
	crlf("This is the mail system at %s.", host)
	crlf("")
	for _, r := range rcpts {
		switch r.dsnPending {
		case actionFailed:
			crlf("Your message could not be delivered to <%s>:", r.addr)
		case actionDelayed:
			crlf("Your message to <%s> has not been delivered yet; delivery will be tried", r.addr)
			crlf("until %s:", fromMicros(m.created).Add(q.cfg.RetryFor).UTC().Format(time.RFC1123Z))
		case actionRelayed:
			crlf("Your message to <%s> was handed to %s, which sends no further reports:", r.addr, orUnknown(r.remoteMTA))
		}
		crlf("    %s", oneLine(diagnostic(r)))
		crlf("")
	}

	// The machine-readable part (RFC 3464 section 2).
	crlf("--%s", boundary)
	crlf("Content-Type: message/delivery-status")
	crlf("")
	// Per-message fields (RFC 3464 section 2.2).
	if m.envid != "" {
		crlf("Original-Envelope-Id: %s", m.envid)
	}
	crlf("Reporting-MTA: dns; %s", host)
	crlf("Arrival-Date: %s", fromMicros(m.created).Format(time.RFC1123Z))
	for _, r := range rcpts {
		// Per-recipient fields (RFC 3464 section 2.3), each group after a blank line.
		crlf("")
		if r.orcpt != "" {
			crlf("Original-Recipient: %s", r.orcpt)
		}
		crlf("Final-Recipient: rfc822; %s", r.addr)
		crlf("Action: %s", r.dsnPending)
		crlf("Status: %s", dsnStatus(r))
		if r.remoteMTA != "" {
			crlf("Remote-MTA: dns; %s", r.remoteMTA)
		}
		if r.lastCode != 0 {
			crlf("Diagnostic-Code: smtp; %s", oneLine(diagnostic(r)))
		}
		if r.lastAttempt != 0 {
			crlf("Last-Attempt-Date: %s", fromMicros(r.lastAttempt).Format(time.RFC1123Z))
		}
		if r.dsnPending == actionDelayed {
			crlf("Will-Retry-Until: %s", fromMicros(m.created).Add(q.cfg.RetryFor).Format(time.RFC1123Z))
		}
	}
	crlf("")

	// The returned content (RFC 3464 section 2.1 and RFC 3461 section 4.3): the whole
	// message when asked for or when reporting a failure without RET; otherwise only
	// the header, since a success or delay report should not carry the content.
	crlf("--%s", boundary)
	if m.ret == RetFull || (m.ret == "" && failed) {
		crlf("Content-Type: message/rfc822")
		crlf("")
		b.Write(raw)
		if !bytes.HasSuffix(raw, []byte("\n")) {
			b.WriteString("\r\n")
		}
	} else {
		crlf("Content-Type: text/rfc822-headers")
		crlf("")
		b.Write(headerOf(raw))
	}
	crlf("")
	crlf("--%s--", boundary)
	return b.Bytes()
}

// dsnStatus is the Status field: the remote's enhanced code, or one for what we saw.
func dsnStatus(r *rcptRow) string {
	switch {
	case r.dsnPending == actionRelayed:
		return "2.0.0"
	case r.lastStatus != "":
		return r.lastStatus
	case r.dsnPending == actionDelayed:
		return "4.0.0"
	default:
		// RFC 3463 section 3.5: X.4.7, delivery time expired.
		return "4.4.7"
	}
}

// diagnostic is the recipient's last reply or error as "code status text".
func diagnostic(r *rcptRow) string {
	if r.lastCode != 0 {
		return fmt.Sprintf("%d %s %s", r.lastCode, r.lastStatus, r.lastError)
	}
	if r.lastError == "" {
		return "no reason recorded"
	}
	return r.lastError
}

// oneLine folds a multi-line reply into one line of printable text for a header field.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

func orUnknown(s string) string {
	if s == "" {
		return "the next server"
	}
	return s
}

// headerOf returns the header of a message through its terminating blank line.
func headerOf(raw []byte) []byte {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return raw[:i+4]
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return raw[:i+2]
	}
	return append(append([]byte(nil), raw...), "\r\n"...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
