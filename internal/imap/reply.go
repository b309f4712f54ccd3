package imap

import (
	"errors"
	"fmt"

	"mailroom/internal/imap/imapwire"
)

// reply is the tagged status response that ends a command (RFC 9051 section 7.1): a
// handler returns it as its error and the session loop writes it, so that one place
// turns outcomes into NO, BAD and response codes. A handler that returns nil gets
// "OK <command> completed". Err, when set, is the cause, which is logged and never
// shown to the client.
type reply struct {
	cond imapwire.Condition
	code *imapwire.ResponseCode
	text string
	err  error
	// bye closes the connection after the reply, with an untagged BYE first.
	bye bool
	// bad counts towards the limit of bad commands.
	bad bool
}

func (r *reply) Error() string {
	if r.err != nil {
		return fmt.Sprintf("%s %s: %v", r.cond, r.text, r.err)
	}
	return string(r.cond) + " " + r.text
}

func (r *reply) Unwrap() error { return r.err }

// okReply is a tagged OK with a response code, such as [APPENDUID ...].
func okReply(code *imapwire.ResponseCode, format string, args ...any) *reply {
	return &reply{cond: imapwire.OK, code: code, text: fmt.Sprintf(format, args...)}
}

// no is a tagged NO: the command was valid but failed (RFC 9051 section 7.1.2).
func no(code *imapwire.ResponseCode, format string, args ...any) *reply {
	return &reply{cond: imapwire.NO, code: code, text: fmt.Sprintf(format, args...)}
}

// noErr is no with the error behind it, for the log.
func noErr(err error, code *imapwire.ResponseCode, format string, args ...any) *reply {
	r := no(code, format, args...)
	r.err = err
	return r
}

// bad is a tagged BAD: the command is unknown, malformed or not valid in the
// session's state (RFC 9051 section 7.1.3).
func bad(format string, args ...any) *reply {
	return &reply{cond: imapwire.BAD, text: fmt.Sprintf(format, args...), bad: true}
}

// Response codes without arguments (RFC 9051 section 7.1, RFC 5530, RFC 9208).
var (
	codeTryCreate      = imapwire.Code("TRYCREATE")
	codeNonExistent    = imapwire.Code("NONEXISTENT")
	codeAlreadyExists  = imapwire.Code("ALREADYEXISTS")
	codeCannot         = imapwire.Code("CANNOT")
	codeUnavailable    = imapwire.Code("UNAVAILABLE")
	codeServerBug      = imapwire.Code("SERVERBUG")
	codeOverQuota      = imapwire.Code("OVERQUOTA")
	codeTooBig         = imapwire.Code("TOOBIG")
	codeReadOnly       = imapwire.Code("READ-ONLY")
	codeReadWrite      = imapwire.Code("READ-WRITE")
	codeClosed         = imapwire.Code("CLOSED")
	codeAuthFailed     = imapwire.Code("AUTHENTICATIONFAILED")
	codeAuthzFailed    = imapwire.Code("AUTHORIZATIONFAILED")
	codePrivacy        = imapwire.Code("PRIVACYREQUIRED")
	codeHasChildren    = imapwire.Code("HASCHILDREN")
	codeNoPerm         = imapwire.Code("NOPERM")
	codeUseAttr        = imapwire.Code("USEATTR")
	codeExpungeIssued  = imapwire.Code("EXPUNGEISSUED")
	codeCompressActive = imapwire.Code("COMPRESSIONACTIVE")
)

// Errors that end a session.
var (
	errLogout      = errors.New("client logged out")
	errInterrupted = errors.New("server shutting down")
)

// errAnswered tells execute that the handler has written the tagged response itself,
// because what follows it (TLS, compression) changes the stream.
var (
	errAnswered = errors.New("tagged response written")
)
