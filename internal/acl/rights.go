package acl

import (
	"fmt"
	"strings"
)

// Rights is a set of RFC 4314 section 2.1 rights.
type Rights uint16

// The rights of RFC 4314 section 2.1.
const (
	Lookup        Rights = 1 << iota // l: the mailbox is visible to LIST, SUBSCRIBE works
	Read                             // r: SELECT, EXAMINE, STATUS, FETCH, SEARCH, COPY from
	Seen                             // s: keep \Seen across sessions
	Write                            // w: set and clear flags other than \Seen and \Deleted
	Insert                           // i: APPEND, COPY and MOVE into the mailbox
	Post                             // p: send mail to the submission address of the mailbox
	CreateMailbox                    // k: CREATE below it, RENAME to below it
	DeleteMailbox                    // x: DELETE it, RENAME it away
	DeleteMessage                    // t: set and clear \Deleted
	Expunge                          // e: EXPUNGE, and CLOSE expunging
	Administer                       // a: SETACL, DELETEACL, GETACL, LISTRIGHTS
)

// All is every right: what the owner of a folder holds, and what a FullAccess grant
// gives on every folder of the mailbox.
const All = Lookup | Read | Seen | Write | Insert | Post | CreateMailbox | DeleteMailbox | DeleteMessage | Expunge | Administer

// letters maps each right to its letter, in the order RFC 4314 section 2.1 lists them.
var letters = []struct {
	r Rights
	c byte
}{
	{Lookup, 'l'}, {Read, 'r'}, {Seen, 's'}, {Write, 'w'}, {Insert, 'i'}, {Post, 'p'},
	{CreateMailbox, 'k'}, {DeleteMailbox, 'x'}, {DeleteMessage, 't'}, {Expunge, 'e'},
	{Administer, 'a'},
}

// The obsolete rights of RFC 2086, which RFC 4314 section 2.1.1 keeps understanding:
// "c" stands for creating and deleting mailboxes, "d" for deleting messages and
// expunging.
const (
	obsoleteCreate = CreateMailbox | DeleteMailbox
	obsoleteDelete = DeleteMessage | Expunge
)

// Letters are the rights a client may name, for the RIGHTS= capability's companions
// and error messages: RFC 4314 section 2.1 and the obsolete "c" and "d".
const Letters = "lrswipkxtecda"

// Has reports whether every right of want is in r.
func (r Rights) Has(want Rights) bool { return r&want == want }

// String writes the rights as letters in the order of RFC 4314 section 2.1
// (lrswipkxtecda), with "c" and "d" added when every right they stand for is present,
// for clients of RFC 2086 (section 2.1.1).
func (r Rights) String() string {
	var b strings.Builder
	for _, l := range letters {
		if l.r == Administer {
			if r.Has(obsoleteCreate) {
				b.WriteByte('c')
			}
			if r.Has(obsoleteDelete) {
				b.WriteByte('d')
			}
		}
		if r.Has(l.r) {
			b.WriteByte(l.c)
		}
	}
	return b.String()
}

// Base writes the rights as letters of RFC 4314 section 2.1 alone, without the
// obsolete "c" and "d": for messages that name what is missing.
func (r Rights) Base() string {
	var b strings.Builder
	for _, l := range letters {
		if r.Has(l.r) {
			b.WriteByte(l.c)
		}
	}
	return b.String()
}

// ParseError is a rights string with a letter that is no right.
type ParseError struct {
	Letter rune
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%q is not a right; the rights are %s (RFC 4314 section 2.1)", e.Letter, Letters)
}

// Parse reads rights letters (RFC 4314 section 2.1) in any order; "c" and "d" stand for
// the rights that replaced them (section 2.1.1). An empty string is no rights.
func Parse(s string) (Rights, error) {
	var r Rights
	for _, ch := range s {
		switch ch {
		case 'c':
			r |= obsoleteCreate
			continue
		case 'd':
			r |= obsoleteDelete
			continue
		}
		found := false
		for _, l := range letters {
			if rune(l.c) == ch {
				r |= l.r
				found = true
				break
			}
		}
		if !found {
			return 0, &ParseError{Letter: ch}
		}
	}
	return r, nil
}
