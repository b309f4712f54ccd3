package mailio

import (
	"fmt"
	"strings"
)

// IMAP system flags (RFC 3501 section 2.3.2) in the order Message.Flags
// lists them.
const (
	flagSeen     = `\Seen`
	flagAnswered = `\Answered`
	flagFlagged  = `\Flagged`
	flagDeleted  = `\Deleted`
	flagDraft    = `\Draft`
	flagRecent   = `\Recent`

	// keywordForwarded is the IMAP keyword registered for "passed on"
	// (RFC 5788 registry, $Forwarded), the closest match for Maildir's P.
	keywordForwarded = "$Forwarded"
)

// flagSet is the flags of one message, independent of any format's notation.
type flagSet struct {
	seen, answered, flagged, deleted, draft bool
	keywords                                []string
}

// addKeyword adds a keyword unless an equal one is present; IMAP flags are
// case-insensitive (RFC 3501 section 2.3.2), so the first spelling wins.
func (s *flagSet) addKeyword(k string) {
	for _, have := range s.keywords {
		if strings.EqualFold(have, k) {
			return
		}
	}
	s.keywords = append(s.keywords, k)
}

// add records one flag as read from a file. Readers are lenient: anything
// that is not a system flag is kept as a keyword.
func (s *flagSet) add(f string) {
	switch {
	case strings.EqualFold(f, flagSeen):
		s.seen = true
	case strings.EqualFold(f, flagAnswered):
		s.answered = true
	case strings.EqualFold(f, flagFlagged):
		s.flagged = true
	case strings.EqualFold(f, flagDeleted):
		s.deleted = true
	case strings.EqualFold(f, flagDraft):
		s.draft = true
	case f != "":
		s.addKeyword(f)
	}
}

// list returns the flags in Message.Flags order.
func (s *flagSet) list() []string {
	var out []string
	for _, f := range []struct {
		on   bool
		name string
	}{
		{s.seen, flagSeen}, {s.answered, flagAnswered}, {s.flagged, flagFlagged},
		{s.deleted, flagDeleted}, {s.draft, flagDraft},
	} {
		if f.on {
			out = append(out, f.name)
		}
	}
	return append(out, s.keywords...)
}

// parseFlags validates flags before writing. \Recent is dropped: it belongs
// to one IMAP session and no file format stores it (RFC 3501 section 2.3.2).
// Keywords must be IMAP atoms, so that every format's notation can carry
// them; forbidden lists characters one format additionally cannot store.
func parseFlags(flags []string, forbidden string) (flagSet, error) {
	var s flagSet
	for _, f := range flags {
		if strings.EqualFold(f, flagRecent) {
			continue
		}
		if strings.HasPrefix(f, `\`) {
			if !isSystemFlag(f) {
				return flagSet{}, fmt.Errorf("%w: unknown system flag %q", ErrInvalidFlag, f)
			}
			s.add(f)
			continue
		}
		if !isAtom(f) || strings.ContainsAny(f, forbidden) {
			return flagSet{}, fmt.Errorf("%w: keyword %q is not an IMAP atom this format can store", ErrInvalidFlag, f)
		}
		s.addKeyword(f)
	}
	return s, nil
}

// isAtom reports whether k is a non-empty IMAP atom: ATOM-CHAR is any 7-bit
// CHAR except atom-specials "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]"
// (RFC 3501 section 9).
func isAtom(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// isSystemFlag reports whether f is one of the system flags a file keeps.
func isSystemFlag(f string) bool {
	for _, sys := range [...]string{flagSeen, flagAnswered, flagFlagged, flagDeleted, flagDraft} {
		if strings.EqualFold(f, sys) {
			return true
		}
	}
	return false
}
