package imap

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// seqResolver turns sequence sets into UIDs against the selected folder.
type seqResolver interface {
	uidRanges(set imapwire.SeqSet, uid bool) []store.UIDRange // part A resolves * and ranges against the selected folder
	savedUIDs() []store.UID                                   // SEARCHRES "$"; nil when none saved
}

// badCharsetError is a SEARCH, SORT or THREAD charset the server does not support; the
// answer is NO [BADCHARSET (UTF-8 US-ASCII)] (RFC 9051 sections 6.4.4 and 7.1).
type badCharsetError struct{ Charset string }

func (e *badCharsetError) Error() string {
	return fmt.Sprintf("unsupported search charset %q", e.Charset)
}

// searchCriteria translates a search program (RFC 9051 section 6.4.4) into store
// Criteria. charset is the CHARSET argument, "" when none was given; UTF-8 and US-ASCII
// are supported, and since US-ASCII is a subset of UTF-8 the strings are used as they
// are.
//
// Dates: BEFORE, ON and SINCE compare the internal date, SENTBEFORE, SENTON and
// SENTSINCE the Date header, both by day in the server's zone, UTC, as RFC 9051 section
// 6.4.4 asks ("disregarding time and timezone").
//
// Mailroom keeps no \Recent flag (RFC 9051 section 2.3.2 dropped it): no message is
// recent, so RECENT matches nothing and OLD (NOT RECENT, RFC 3501 section 6.4.4)
// matches every message. NEW (RECENT UNSEEN) is taken as UNSEEN: without \Recent the
// unseen messages are the best answer to a client asking for new mail.
func searchCriteria(key *imapwire.SearchKey, r seqResolver, charset string) (*store.Criteria, error) {
	switch {
	case charset == "", strings.EqualFold(charset, "UTF-8"), strings.EqualFold(charset, "US-ASCII"):
	default:
		return nil, &badCharsetError{Charset: charset}
	}
	c := &store.Criteria{}
	if key == nil {
		return c, nil
	}
	if err := addKey(c, key, r); err != nil {
		return nil, err
	}
	return c, nil
}

// dayStart returns midnight UTC of t's date.
func dayStart(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// nothing is criteria that match no message: an empty, non-nil UID list.
func nothing() *store.Criteria { return &store.Criteria{UIDs: []store.UIDRange{}} }

// addKey adds key to c, which all its keys must match (AND).
func addKey(c *store.Criteria, key *imapwire.SearchKey, r seqResolver) error {
	sub := func(k *imapwire.SearchKey) (*store.Criteria, error) {
		s := &store.Criteria{}
		if err := addKey(s, k, r); err != nil {
			return nil, err
		}
		return s, nil
	}
	switch key.Op {
	case "AND":
		for _, k := range key.Children {
			if err := addKey(c, k, r); err != nil {
				return err
			}
		}
	case "ALL", "OLD":
	case "RECENT":
		and(c, nothing())
	case "NEW":
		c.NotFlags = appendFlag(c.NotFlags, store.FlagSeen)
	case "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN":
		c.Flags = appendFlag(c.Flags, systemFlag(key.Op))
	case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
		c.NotFlags = appendFlag(c.NotFlags, systemFlag(key.Op[2:]))
	case "KEYWORD":
		c.Flags = appendFlag(c.Flags, key.Text)
	case "UNKEYWORD":
		c.NotFlags = appendFlag(c.NotFlags, key.Text)
	case "BCC", "CC", "FROM", "SUBJECT", "TO":
		and(c, addressOrSubject(key.Op, key.Text))
	case "HEADER":
		c.Header = append(c.Header, store.HeaderMatch{Name: key.Field, Value: key.Text})
	case "BODY":
		and(c, &store.Criteria{Body: key.Text})
	case "TEXT":
		and(c, &store.Criteria{Text: key.Text})
	case "BEFORE":
		and(c, &store.Criteria{Before: dayStart(key.Date)})
	case "ON":
		d := dayStart(key.Date)
		and(c, &store.Criteria{Since: d, Before: d.AddDate(0, 0, 1)})
	case "SINCE":
		and(c, &store.Criteria{Since: dayStart(key.Date)})
	case "SENTBEFORE":
		and(c, &store.Criteria{SentBefore: dayStart(key.Date)})
	case "SENTON":
		d := dayStart(key.Date)
		and(c, &store.Criteria{SentSince: d, SentBefore: d.AddDate(0, 0, 1)})
	case "SENTSINCE":
		and(c, &store.Criteria{SentSince: dayStart(key.Date)})
	case "LARGER":
		// Larger 0 means no bound; every stored message has at least one octet.
		if key.Number >= math.MaxInt64 {
			and(c, nothing())
		} else {
			and(c, &store.Criteria{Larger: int64(key.Number)})
		}
	case "SMALLER":
		// Smaller 0 means no bound, but no message is smaller than 0 octets.
		if key.Number == 0 {
			and(c, nothing())
		} else {
			and(c, &store.Criteria{Smaller: int64(min(key.Number, math.MaxInt64))})
		}
	case "MODSEQ":
		// RFC 7162 section 3.1.5: a server that keeps no per-flag mod-sequences compares
		// the message's, whatever entry is named.
		if key.Number > math.MaxInt64 {
			and(c, nothing())
		} else {
			and(c, &store.Criteria{ModSeq: store.ModSeq(key.Number)})
		}
	case "UID":
		and(c, &store.Criteria{UIDs: resolveSet(r, key.Set, true)})
	case "SEQ":
		and(c, &store.Criteria{UIDs: resolveSet(r, key.Set, false)})
	case "NOT":
		if len(key.Children) != 1 {
			return fmt.Errorf("search key NOT with %d operands", len(key.Children))
		}
		s, err := sub(key.Children[0])
		if err != nil {
			return err
		}
		c.Not = append(c.Not, s)
	case "OR":
		if len(key.Children) != 2 {
			return fmt.Errorf("search key OR with %d operands", len(key.Children))
		}
		a, err := sub(key.Children[0])
		if err != nil {
			return err
		}
		b, err := sub(key.Children[1])
		if err != nil {
			return err
		}
		c.Or = append(c.Or, [2]*store.Criteria{a, b})
	default:
		return fmt.Errorf("unknown search key %s", key.Op)
	}
	return nil
}

// systemFlag spells the flag of ANSWERED, DELETED, DRAFT, FLAGGED or SEEN.
func systemFlag(op string) string {
	switch op {
	case "ANSWERED":
		return store.FlagAnswered
	case "DELETED":
		return store.FlagDeleted
	case "DRAFT":
		return store.FlagDraft
	case "FLAGGED":
		return store.FlagFlagged
	}
	return store.FlagSeen
}

func appendFlag(flags []string, f string) []string {
	if slices.ContainsFunc(flags, func(g string) bool { return strings.EqualFold(f, g) }) {
		return flags
	}
	return append(flags, f)
}

func addressOrSubject(op, text string) *store.Criteria {
	switch op {
	case "BCC":
		return &store.Criteria{Bcc: text}
	case "CC":
		return &store.Criteria{Cc: text}
	case "FROM":
		return &store.Criteria{From: text}
	case "TO":
		return &store.Criteria{To: text}
	}
	return &store.Criteria{Subject: text}
}

// resolveSet returns the UIDs of a sequence set; "$" is the saved result, which holds
// UIDs whether the command uses sequence numbers or UIDs, and is empty when nothing was
// saved (RFC 5182 section 2.1). The result is never nil: nil would mean "any UID".
func resolveSet(r seqResolver, set imapwire.SeqSet, uid bool) []store.UIDRange {
	var ranges []store.UIDRange
	if set.Saved {
		ranges = uidsToRanges(r.savedUIDs())
	} else {
		ranges = r.uidRanges(set, uid)
	}
	if ranges == nil {
		return []store.UIDRange{}
	}
	return ranges
}

// uidsToRanges turns UIDs into the fewest ranges.
func uidsToRanges(uids []store.UID) []store.UIDRange {
	sorted := slices.Clone(uids)
	slices.Sort(sorted)
	out := []store.UIDRange{}
	for _, u := range sorted {
		if u == 0 {
			continue
		}
		if k := len(out); k > 0 && u <= out[k-1].Last+1 {
			out[k-1].Last = max(out[k-1].Last, u)
			continue
		}
		out = append(out, store.UIDRange{First: u, Last: u})
	}
	return out
}

// and narrows c by s, which sets one kind of condition. Bounds combine into the
// tighter bound and UID sets intersect; a text condition of a kind c already has goes
// into Header (for the header fields) or, for BODY and TEXT, which have no list, into a
// double negation: NOT (NOT s) matches what s matches.
func and(c, s *store.Criteria) {
	if s.UIDs != nil {
		if c.UIDs == nil {
			c.UIDs = s.UIDs
		} else {
			c.UIDs = intersectRanges(c.UIDs, s.UIDs)
		}
	}
	c.Since = later(c.Since, s.Since)
	c.SentSince = later(c.SentSince, s.SentSince)
	c.Before = earlier(c.Before, s.Before)
	c.SentBefore = earlier(c.SentBefore, s.SentBefore)
	c.Larger = max(c.Larger, s.Larger)
	if s.Smaller > 0 && (c.Smaller == 0 || s.Smaller < c.Smaller) {
		c.Smaller = s.Smaller
	}
	c.ModSeq = max(c.ModSeq, s.ModSeq)
	for _, f := range []struct {
		dst  *string
		v    string
		name string
	}{{&c.Subject, s.Subject, "Subject"}, {&c.From, s.From, "From"}, {&c.To, s.To, "To"}, {&c.Cc, s.Cc, "Cc"}, {&c.Bcc, s.Bcc, "Bcc"}} {
		switch {
		case f.v == "":
		case *f.dst == "":
			*f.dst = f.v
		default:
			c.Header = append(c.Header, store.HeaderMatch{Name: f.name, Value: f.v})
		}
	}
	switch {
	case s.Body == "":
	case c.Body == "":
		c.Body = s.Body
	default:
		c.Not = append(c.Not, &store.Criteria{Not: []*store.Criteria{{Body: s.Body}}})
	}
	switch {
	case s.Text == "":
	case c.Text == "":
		c.Text = s.Text
	default:
		c.Not = append(c.Not, &store.Criteria{Not: []*store.Criteria{{Text: s.Text}}})
	}
}

func later(a, b time.Time) time.Time {
	if a.IsZero() || b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// intersectRanges returns the UIDs in both a and b as ranges (Last 0: no upper bound).
func intersectRanges(a, b []store.UIDRange) []store.UIDRange {
	out := []store.UIDRange{}
	for _, x := range a {
		xlo, xhi := rangeBounds(x)
		for _, y := range b {
			ylo, yhi := rangeBounds(y)
			lo, hi := max(xlo, ylo), min(xhi, yhi)
			if lo > hi {
				continue
			}
			r := store.UIDRange{First: lo, Last: hi}
			if hi == math.MaxUint32 && (x.Last == 0 && y.Last == 0) {
				r.Last = 0
			}
			out = append(out, r)
		}
	}
	return out
}

// rangeBounds returns r's ends in order, an open end as the largest UID.
func rangeBounds(r store.UIDRange) (lo, hi store.UID) {
	if r.Last == 0 {
		return r.First, math.MaxUint32
	}
	return min(r.First, r.Last), max(r.First, r.Last)
}
