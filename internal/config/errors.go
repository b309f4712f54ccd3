package config

import (
	"errors"
	"strconv"
	"strings"
)

// Categories of configuration errors; every *Error wraps exactly one, so
// callers can tell them apart with errors.Is.
var (
	ErrSyntax     = errors.New("TOML syntax error")
	ErrUnknownKey = errors.New("unknown key")
	ErrType       = errors.New("wrong type")
	ErrValue      = errors.New("invalid value")
)

// Error is one problem in the configuration, located as precisely as the
// file allows. Load returns one *Error, or several joined with errors.Join.
type Error struct {
	File string // path given to Load; empty when it comes from Validate
	Line int    // 1-based line in File; 0 when the key is not in the file
	Key  string // dotted key such as "imap.tls_listen"; empty for syntax errors
	Msg  string // what is wrong, without the location
	Err  error  // ErrSyntax, ErrUnknownKey, ErrType or ErrValue
}

// Error formats the problem the way compilers do: file:line: key: message.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	switch {
	case e.Err == ErrUnknownKey:
		b.WriteString("unknown key " + strconv.Quote(e.Key))
	case e.Key != "" && e.Err != ErrSyntax:
		b.WriteString(e.Key + ": " + e.Msg)
	default:
		b.WriteString(e.Msg)
	}
	return b.String()
}

// Unwrap returns the error's category.
func (e *Error) Unwrap() error { return e.Err }

// joinErrors returns nil, the single error, or all of them joined, so that
// the common one-mistake case stays a plain *Error.
func joinErrors(errs []*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}
