package pop3

import (
	"errors"
	"fmt"
)

// Extended response codes (RFC 2449 section 8, RFC 3206). A code goes in brackets
// right after "-ERR", so that a client can tell a wrong password from a locked
// maildrop or an outage.
const (
	codeInUse   = "IN-USE"   // RFC 2449 section 8.1.2: the maildrop is locked
	codeAuth    = "AUTH"     // RFC 3206 section 5: credentials or policy refused the login
	codeSysTemp = "SYS/TEMP" // RFC 3206 section 4: a passing server problem
	codeSysPerm = "SYS/PERM" // RFC 3206 section 4: a lasting problem an administrator must fix
)

// reply is a negative reply: a handler returns it and the session loop writes it as
// "-ERR [code] text". Err, when set, is the cause, which is logged and never shown
// to the client.
type reply struct {
	code   string
	text   string
	hangup bool // close the connection after the reply
	err    error
}

func (r *reply) Error() string {
	if r.err != nil {
		return fmt.Sprintf("%s: %v", r.text, r.err)
	}
	return r.text
}

func (r *reply) Unwrap() error { return r.err }

// line is the reply as sent, without the CRLF.
func (r *reply) line() string {
	if r.code == "" {
		return "-ERR " + r.text
	}
	return "-ERR [" + r.code + "] " + r.text
}

// fail returns a negative reply with the given response code ("" for none).
func fail(code, format string, args ...any) *reply {
	return &reply{code: code, text: fmt.Sprintf(format, args...)}
}

// failErr is fail with the error behind it, for the log.
func failErr(err error, code, format string, args ...any) *reply {
	r := fail(code, format, args...)
	r.err = err
	return r
}

// errQuit ends a session after a reply that has been written already.
var errQuit = errors.New("session ended by QUIT")
