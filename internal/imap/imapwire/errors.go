package imapwire

import "fmt"

// SyntaxError reports a command that does not follow the formal syntax. The server
// answers it with "Tag BAD Message", or "* BAD Message" when Tag is empty because the
// tag itself could not be read (RFC 9051 section 7.1.5). The connection can continue:
// the whole command has been consumed.
type SyntaxError struct {
	Tag     string
	Command string // upper-case command name, when it could be read
	Message string
}

func (e *SyntaxError) Error() string {
	if e.Command != "" {
		return fmt.Sprintf("imap syntax error in %s: %s", e.Command, e.Message)
	}
	return "imap syntax error: " + e.Message
}

// LimitError reports a command that exceeds a Reader limit. The server answers it with
// a tagged (or, without Tag, untagged) BAD or NO carrying the TOOBIG response code
// (RFC 4469 section 4, RFC 7888 section 4, RFC 7889 section 3).
//
// Recoverable says whether the stream is back at a command boundary so the connection
// can go on: true after a refused synchronising literal (the client waits for a
// continuation that never comes, RFC 9051 section 7.5) or once the rest of the command,
// including any non-synchronising literals, has been read and discarded (RFC 7888
// section 4); false when discarding would have exceeded Options.MaxDiscard or the input
// failed, after which the server must close the connection (with BYE).
type LimitError struct {
	Tag         string
	Command     string // upper-case command name, when it could be read
	What        string // "line", "literal" or "command"
	Limit       int64  // the limit that was exceeded, in bytes
	Recoverable bool
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("imap %s exceeds the limit of %d bytes", e.What, e.Limit)
}
