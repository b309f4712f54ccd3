package imapwire

import (
	"time"
)

// SearchKey is a node of a search program (RFC 9051 section 6.4.4, RFC 3501
// section 6.4.4, RFC 7162 section 3.1.5).
//
// Op is the upper-case key name, plus two of this package's own:
//   - "AND": all of Children match (a parenthesised list, or several keys in a row);
//   - "SEQ": the message sequence numbers in Set (a bare sequence-set or "$").
//
// The other fields are used as the key needs them:
//   - Children: AND (any number), OR (two), NOT (one);
//   - Text: BCC BODY CC FROM SUBJECT TEXT TO, the value of HEADER, the flag of
//     KEYWORD and UNKEYWORD;
//   - Field: the field name of HEADER;
//   - Date: BEFORE ON SINCE SENTBEFORE SENTON SENTSINCE (midnight UTC);
//   - Number: LARGER SMALLER, the mod-sequence of MODSEQ;
//   - Set: UID and SEQ;
//   - EntryName, EntryType: the optional metadata entry of MODSEQ ("/flags/\\seen",
//     "priv", "shared" or "all").
//
// Keys without arguments: ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN
// UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN.
type SearchKey struct {
	Op        string
	Children  []*SearchKey
	Text      string
	Field     string
	Date      time.Time
	Number    uint64
	Set       SeqSet
	EntryName string
	EntryType string
}

// search parses [SP search-return-opts] SP search-program (RFC 9051 section 9,
// RFC 4731 section 3.1): RETURN comes before CHARSET.
func (p *parser) search() *Search {
	a := &Search{}
	p.sp()
	if p.peekKeyword("RETURN") {
		p.keyword()
		p.sp()
		a.ESearch = true
		a.Return = []string{}
		p.list(false, func() {
			switch k := p.keyword(); k {
			case "MIN", "MAX", "ALL", "COUNT", "SAVE":
				a.Return = append(a.Return, k)
			default:
				p.fail("unknown search return option %s", k)
			}
		})
		p.sp()
	}
	if p.peekKeyword("CHARSET") {
		p.keyword()
		p.sp()
		a.Charset = upper(p.astring())
		p.sp()
	}
	a.Key = p.searchKeys()
	return a
}

// sort parses "(" sort-criterion *(SP sort-criterion) ")" SP search-charset
// 1*(SP search-key) (RFC 5256 section 5, RFC 5957 section 5).
func (p *parser) sort() *Sort {
	p.sp()
	a := &Sort{}
	p.list(true, func() {
		c := SortCriterion{Key: p.keyword()}
		if c.Key == "REVERSE" {
			c.Reverse = true
			p.sp()
			c.Key = p.keyword()
		}
		switch c.Key {
		case "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO":
		default:
			p.fail("unknown sort key %s", c.Key)
		}
		a.Criteria = append(a.Criteria, c)
	})
	p.sp()
	a.Charset = upper(p.astring())
	a.Key = p.searchProgram()
	return a
}

// searchProgram parses 1*(SP search-key) after the charset of SORT and THREAD.
func (p *parser) searchProgram() *SearchKey {
	p.sp()
	return p.searchKeys()
}

// peekKeyword reports whether the atom that comes next is kw, without consuming it.
func (p *parser) peekKeyword(kw string) bool {
	if p.atLiteral() {
		return false
	}
	t := p.text()[p.pos:]
	n := 0
	for n < len(t) && isAtomChar(t[n]) {
		n++
	}
	return equalFold(string(t[:n]), kw)
}

// searchKeys parses search-key *(SP search-key) up to the end of the command; several
// keys make an AND.
func (p *parser) searchKeys() *SearchKey {
	keys := []*SearchKey{p.searchKey()}
	for !p.atEnd() {
		p.sp()
		keys = append(keys, p.searchKey())
	}
	if len(keys) == 1 {
		return keys[0]
	}
	return &SearchKey{Op: "AND", Children: keys}
}

// searchKey parses one search-key (RFC 9051 section 9, RFC 3501 section 9 for NEW OLD
// RECENT, RFC 7162 section 7 for MODSEQ, RFC 5182 for "$").
func (p *parser) searchKey() *SearchKey {
	p.enter()
	defer p.leave()
	if p.atLiteral() {
		p.fail("unexpected literal in search key")
	}
	switch c := p.peek(); {
	case c == '(':
		k := &SearchKey{Op: "AND"}
		p.list(true, func() { k.Children = append(k.Children, p.searchKey()) })
		if len(k.Children) == 1 {
			return k.Children[0]
		}
		return k
	case isDigit(c) || c == '*' || c == '$':
		return &SearchKey{Op: "SEQ", Set: p.seqSet()}
	}
	k := &SearchKey{Op: p.keyword()}
	switch k.Op {
	case "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
		"UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
	case "BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO":
		p.sp()
		k.Text = p.astring()
	case "KEYWORD", "UNKEYWORD":
		p.sp()
		k.Text = p.atom()
	case "HEADER":
		p.sp()
		k.Field = p.astring()
		p.sp()
		k.Text = p.astring()
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE":
		p.sp()
		k.Date = p.date()
	case "LARGER", "SMALLER":
		p.sp()
		k.Number = p.number()
	case "UID":
		p.sp()
		k.Set = p.seqSet()
	case "NOT":
		p.sp()
		k.Children = []*SearchKey{p.searchKey()}
	case "OR":
		p.sp()
		a := p.searchKey()
		p.sp()
		k.Children = []*SearchKey{a, p.searchKey()}
	case "MODSEQ":
		p.sp()
		if p.peek() == '"' {
			k.EntryName = p.quoted()
			p.sp()
			switch t := upper(p.atom()); t {
			case "PRIV", "SHARED", "ALL":
				k.EntryType = lower(t)
			default:
				p.fail("unknown MODSEQ entry type %s", t)
			}
			p.sp()
		}
		k.Number = p.number()
	default:
		p.fail("unknown search key %s", k.Op)
	}
	return k
}

// lower returns s with ASCII letters in lower case.
func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
