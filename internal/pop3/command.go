package pop3

import (
	"errors"
	"strings"
)

// Line limits. RFC 2449 section 4 limits a command line to 255 octets with its CRLF.
// A SASL client response carries base64 that can outgrow that (a long password, an
// authorization identity), so continuation lines and AUTH commands get more room.
const (
	maxCommandLine = 255
	maxSASLLine    = 8192
)

// command is one parsed command line (RFC 1939 section 3): a case-insensitive keyword,
// then arguments separated by spaces.
type command struct {
	name string   // the keyword, upper-cased
	args []string // the arguments, split at spaces
	rest string   // everything after the keyword and its space, as sent
}

// Errors of parseCommand.
var (
	errEmptyCommand = errors.New("empty command")
	errBadKeyword   = errors.New("a command keyword is 3 or 4 letters")
	errControlChar  = errors.New("control character in command")
)

// parseCommand parses a command line without its line end. The keyword must be 3 or
// 4 ASCII letters (RFC 1939 section 3, RFC 2449 section 3). Arguments are split at
// runs of spaces, which is lenient to clients that send two; rest keeps the text as
// sent, because PASS takes its whole remainder as the password (RFC 1939 section 7
// lets a server treat spaces in it as part of it).
func parseCommand(line string) (command, error) {
	if line == "" {
		return command{}, errEmptyCommand
	}
	for i := 0; i < len(line); i++ {
		if b := line[i]; b < 0x20 && b != '\t' || b == 0x7f {
			return command{}, errControlChar
		}
	}
	name, rest, _ := strings.Cut(line, " ")
	if len(name) < 3 || len(name) > 4 {
		return command{}, errBadKeyword
	}
	for i := 0; i < len(name); i++ {
		if b := name[i] | 0x20; b < 'a' || b > 'z' {
			return command{}, errBadKeyword
		}
	}
	var args []string
	for a := range strings.SplitSeq(rest, " ") {
		if a != "" {
			args = append(args, a)
		}
	}
	return command{name: strings.ToUpper(name), args: args, rest: rest}, nil
}

// parseNumber reads a decimal number of at most 9 digits, without sign or spaces,
// as RFC 1939 section 3 writes message numbers and line counts. Longer numbers are
// refused rather than risk overflow; no maildrop or message is that large.
func parseNumber(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
