package imapwire

import (
	"slices"
	"strconv"
	"strings"
)

// Star stands for "*" in a SeqRange: the largest number in use in the mailbox (RFC 9051
// section 9, seq-number). It is 0 because message numbers start at 1; the caller
// resolves it.
const Star uint32 = 0

// SeqRange is Start:Stop, either of which may be Star. A single number has Start ==
// Stop. The two ends may come in any order: "5:2" means 2:5 (RFC 9051 section 9).
type SeqRange struct {
	Start, Stop uint32
}

// SeqSet is a sequence-set of message sequence numbers or UIDs (RFC 9051 section 9),
// or, with Saved, "$": the result saved by the last SEARCH ... RETURN (SAVE)
// (RFC 5182 section 2.1).
type SeqSet struct {
	Ranges []SeqRange
	Saved  bool
}

// Bounds returns the range with Star replaced by max and the ends in ascending order.
func (r SeqRange) Bounds(max uint32) (lo, hi uint32) {
	lo, hi = r.Start, r.Stop
	if lo == Star {
		lo = max
	}
	if hi == Star {
		hi = max
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo, hi
}

// Contains reports whether n is in the set, with Star standing for max. It is false for
// a Saved set, which only the caller can resolve.
func (s SeqSet) Contains(n, max uint32) bool {
	for _, r := range s.Ranges {
		if lo, hi := r.Bounds(max); lo <= n && n <= hi {
			return true
		}
	}
	return false
}

// Dynamic reports whether the set uses "*" or "$", whose meaning depends on the
// mailbox state.
func (s SeqSet) Dynamic() bool {
	if s.Saved {
		return true
	}
	for _, r := range s.Ranges {
		if r.Start == Star || r.Stop == Star {
			return true
		}
	}
	return false
}

// String returns the set in IMAP syntax.
func (s SeqSet) String() string {
	if s.Saved {
		return "$"
	}
	var b strings.Builder
	for i, r := range s.Ranges {
		if i > 0 {
			b.WriteByte(',')
		}
		writeSeqNum(&b, r.Start)
		if r.Stop != r.Start {
			b.WriteByte(':')
			writeSeqNum(&b, r.Stop)
		}
	}
	return b.String()
}

func writeSeqNum(b *strings.Builder, n uint32) {
	if n == Star {
		b.WriteByte('*')
		return
	}
	b.WriteString(strconv.FormatUint(uint64(n), 10))
}

// SeqSetOf returns the shortest set holding exactly the numbers nums, which need not be
// sorted or unique: 1,2,3,5 becomes 1:3,5. Zeros are ignored.
func SeqSetOf(nums []uint32) SeqSet {
	sorted := slices.Clone(nums)
	slices.Sort(sorted)
	var s SeqSet
	for _, n := range sorted {
		if n == 0 {
			continue
		}
		if k := len(s.Ranges); k > 0 {
			last := &s.Ranges[k-1]
			if n <= last.Stop {
				continue
			}
			if n == last.Stop+1 {
				last.Stop = n
				continue
			}
		}
		s.Ranges = append(s.Ranges, SeqRange{n, n})
	}
	return s
}

// ParseSeqSet parses a sequence-set, or "$".
func ParseSeqSet(s string) (SeqSet, error) {
	var set SeqSet
	err := parseText(s, func(p *parser) { set = p.seqSet() })
	return set, err
}

// seqSet reads a sequence-set or "$" (RFC 9051 section 9, RFC 5182 section 2.1).
func (p *parser) seqSet() SeqSet {
	if p.consume('$') {
		return SeqSet{Saved: true}
	}
	var s SeqSet
	for {
		r := SeqRange{Start: p.seqNumber()}
		r.Stop = r.Start
		if p.consume(':') {
			r.Stop = p.seqNumber()
		}
		s.Ranges = append(s.Ranges, r)
		if !p.consume(',') {
			return s
		}
	}
}

func (p *parser) seqNumber() uint32 {
	if p.consume('*') {
		return Star
	}
	if !isDigit(p.peek()) {
		p.fail("expected sequence number at %q", p.rest())
	}
	return p.nzNumber32()
}

// parseText runs f on a one-line text and checks that it consumed all of it.
func parseText(s string, f func(p *parser)) (err error) {
	p := &parser{raw: &rawCommand{texts: [][]byte{[]byte(s)}}}
	defer func() {
		if e := recover(); e != nil {
			se, ok := e.(*SyntaxError)
			if !ok {
				panic(e)
			}
			err = se
		}
	}()
	f(p)
	p.expectEnd()
	return nil
}
