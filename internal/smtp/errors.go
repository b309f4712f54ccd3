package smtp

import (
	"fmt"

	"github.com/emersion/go-smtp"
)

// reply makes the typed protocol error a session returns; go-smtp writes its code,
// enhanced code (RFC 3463) and text to the client.
func reply(code int, class, subject, detail int, format string, args ...any) *smtp.SMTPError {
	return &smtp.SMTPError{
		Code:         code,
		EnhancedCode: smtp.EnhancedCode{class, subject, detail},
		Message:      fmt.Sprintf(format, args...),
	}
}

// Replies shared by several paths. Each call makes a new value, so no caller can
// change another's.
func errTemporary() *smtp.SMTPError {
	return reply(451, 4, 3, 0, "Temporary local problem, try again later")
}

func errRelayDenied() *smtp.SMTPError { return reply(550, 5, 7, 1, "relaying denied") }

func errAuthRequired() *smtp.SMTPError {
	return reply(530, 5, 7, 0, "Authentication required")
}

func errEncryptionRequired() *smtp.SMTPError {
	// RFC 4954 6: 538 5.7.11 for a mechanism that needs an encrypted connection.
	return reply(538, 5, 7, 11, "Encryption required for requested authentication mechanism")
}

func errBadCredentials() *smtp.SMTPError {
	return reply(535, 5, 7, 8, "Authentication credentials invalid")
}

func errTooManyErrors() *smtp.SMTPError {
	return reply(421, 4, 7, 0, "Too many errors, closing connection")
}

func errShuttingDown() *smtp.SMTPError {
	return reply(421, 4, 3, 2, "Service shutting down, try again later")
}

func errMailboxFull(addr string) *smtp.SMTPError {
	// RFC 3463 3.3: X.2.2 mailbox full, temporary at RCPT since space may be freed.
	return reply(452, 4, 2, 2, "<%s>: mailbox full", addr)
}

func errTooManyConnections() *smtp.SMTPError {
	return reply(421, 4, 7, 0, "Too many connections from your address")
}

func errAuthBackoff() *smtp.SMTPError {
	// RFC 4954 6: 454 4.7.0, a temporary authentication failure.
	return reply(454, 4, 7, 0, "Too many failed authentication attempts, try later")
}

func errRateExceeded() *smtp.SMTPError {
	// RFC 3463 3.8: X.7.1, delivery not authorized; temporary, as it passes.
	return reply(450, 4, 7, 1, "Sending rate exceeded, try again later")
}

func errDMARCReject() *smtp.SMTPError {
	// RFC 7489 6.7 and 10.3: a receiver honouring p=reject refuses the message in the
	// SMTP session rather than bouncing it later.
	return reply(550, 5, 7, 1, "Message rejected per the sender domain's DMARC policy")
}
