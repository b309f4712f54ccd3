package imapwire

import (
	"strconv"
	"strings"
)

// FetchAtt names a FETCH data item.
type FetchAtt string

// The FETCH data items (RFC 9051 section 6.4.5, RFC 3501 section 6.4.5, RFC 3516
// section 4.2, RFC 7162 section 3.1.4.1).
const (
	FetchFlags         FetchAtt = "FLAGS"
	FetchInternalDate  FetchAtt = "INTERNALDATE"
	FetchRFC822Size    FetchAtt = "RFC822.SIZE"
	FetchEnvelope      FetchAtt = "ENVELOPE"
	FetchBody          FetchAtt = "BODY" // the non-extensible BODYSTRUCTURE
	FetchBodyStructure FetchAtt = "BODYSTRUCTURE"
	FetchUID           FetchAtt = "UID"
	FetchModSeq        FetchAtt = "MODSEQ"
	FetchRFC822        FetchAtt = "RFC822"
	FetchRFC822Header  FetchAtt = "RFC822.HEADER"
	FetchRFC822Text    FetchAtt = "RFC822.TEXT"
	FetchBodySection   FetchAtt = "BODY[]"   // BODY[section]<partial> and BODY.PEEK
	FetchBinary        FetchAtt = "BINARY[]" // BINARY[part]<partial> and BINARY.PEEK
	FetchBinarySize    FetchAtt = "BINARY.SIZE"
)

// FetchItem is one FETCH data item. Section is set for FetchBodySection, FetchBinary
// and FetchBinarySize (for the binary ones, only Section.Part); Peek for the .PEEK
// forms; Partial for a "<offset.count>" suffix.
type FetchItem struct {
	Att     FetchAtt
	Section *Section
	Peek    bool
	Partial *Partial
}

// Section is a section-spec (RFC 9051 section 6.4.5): Part holds the part numbers
// ("1.2" is [1 2]), Specifier "" (the whole part), "HEADER", "HEADER.FIELDS",
// "HEADER.FIELDS.NOT", "TEXT" or "MIME", and Fields the header field names of the
// HEADER.FIELDS forms, as written.
type Section struct {
	Part      []int
	Specifier string
	Fields    []string
}

// Partial is "<Offset.Count>" (number64 and nz-number64 in RFC 9051 section 9).
type Partial struct {
	Offset, Count uint64
}

// String returns the section as in a request, without brackets: "1.2.HEADER.FIELDS
// (FROM TO)". Field names are written as atoms when they can be, quoted otherwise.
func (s *Section) String() string {
	var b strings.Builder
	for i, n := range s.Part {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(n))
	}
	if s.Specifier != "" {
		if len(s.Part) > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.Specifier)
	}
	if len(s.Fields) > 0 {
		b.WriteString(" (")
		for i, f := range s.Fields {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(astringText(f))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// ResponseName returns the name of the item in a FETCH response (RFC 9051 section 7.5.2):
// BODY.PEEK becomes BODY, a partial keeps only its origin ("BODY[]<0>"), HEADER.FIELDS
// lists the fields as requested.
func (it FetchItem) ResponseName() string {
	switch it.Att {
	case FetchBodySection, FetchBinary, FetchBinarySize:
	default:
		return string(it.Att)
	}
	var b strings.Builder
	switch it.Att {
	case FetchBodySection:
		b.WriteString("BODY[")
	case FetchBinary:
		b.WriteString("BINARY[")
	default:
		b.WriteString("BINARY.SIZE[")
	}
	if it.Section != nil {
		b.WriteString(it.Section.String())
	}
	b.WriteByte(']')
	if it.Partial != nil {
		b.WriteByte('<')
		b.WriteString(strconv.FormatUint(it.Partial.Offset, 10))
		b.WriteByte('>')
	}
	return b.String()
}

// fetch parses sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
// "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers] (RFC 9051 section 9, RFC 7162
// section 7).
func (p *parser) fetch(uid bool) *Fetch {
	p.sp()
	a := &Fetch{Set: p.seqSet()}
	p.sp()
	if p.peek() == '(' {
		p.list(true, func() { a.Items = append(a.Items, p.fetchAtt()) })
	} else {
		switch {
		case p.peekKeyword("ALL"):
			p.keyword()
			a.Items = items(FetchFlags, FetchInternalDate, FetchRFC822Size, FetchEnvelope)
		case p.peekKeyword("FAST"):
			p.keyword()
			a.Items = items(FetchFlags, FetchInternalDate, FetchRFC822Size)
		case p.peekKeyword("FULL"):
			p.keyword()
			a.Items = items(FetchFlags, FetchInternalDate, FetchRFC822Size, FetchEnvelope, FetchBody)
		default:
			a.Items = []FetchItem{p.fetchAtt()}
		}
	}
	if p.atEnd() {
		return a
	}
	p.sp()
	p.list(true, func() {
		switch k := p.keyword(); k {
		case "CHANGEDSINCE":
			p.sp()
			a.ChangedSince = p.number()
			if a.ChangedSince == 0 {
				p.fail("CHANGEDSINCE must not be 0")
			}
		case "VANISHED":
			a.Vanished = true
		default:
			p.fail("unknown fetch modifier %s", k)
		}
	})
	// VANISHED is only valid in UID FETCH with CHANGEDSINCE (RFC 7162 section 3.2.6).
	if a.Vanished && (!uid || a.ChangedSince == 0) {
		p.fail("VANISHED requires UID FETCH and CHANGEDSINCE")
	}
	return a
}

func items(atts ...FetchAtt) []FetchItem {
	its := make([]FetchItem, len(atts))
	for i, a := range atts {
		its[i].Att = a
	}
	return its
}

func isFetchNameChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || isDigit(c) || c == '.'
}

// fetchAtt parses one fetch-att.
func (p *parser) fetchAtt() FetchItem {
	name := upper(p.span(isFetchNameChar))
	var it FetchItem
	switch name {
	case "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE",
		"RFC822.TEXT", "BODYSTRUCTURE", "UID", "MODSEQ":
		it.Att = FetchAtt(name)
		return it
	case "BODY":
		if p.peek() != '[' {
			it.Att = FetchBody
			return it
		}
		it.Att = FetchBodySection
		it.Section = p.section()
	case "BODY.PEEK":
		it.Att, it.Peek = FetchBodySection, true
		it.Section = p.section()
	case "BINARY", "BINARY.PEEK":
		it.Att, it.Peek = FetchBinary, name == "BINARY.PEEK"
		it.Section = p.sectionBinary()
	case "BINARY.SIZE":
		it.Att = FetchBinarySize
		it.Section = p.sectionBinary()
		return it
	case "":
		p.fail("expected fetch item at %q", p.rest())
	default:
		p.fail("unknown fetch item %s", name)
	}
	if p.consume('<') {
		it.Partial = &Partial{Offset: p.number()}
		p.expect('.')
		if it.Partial.Count = p.number(); it.Partial.Count == 0 {
			p.fail("partial count must not be 0")
		}
		p.expect('>')
	}
	return it
}

// section parses "[" [section-spec] "]" (RFC 9051 section 9).
func (p *parser) section() *Section {
	p.expect('[')
	s := &Section{}
	if p.consume(']') {
		return s
	}
	s.Part = p.sectionPart()
	if len(s.Part) > 0 {
		if p.consume(']') {
			return s
		}
		p.expect('.')
	}
	s.Specifier = upper(p.span(isFetchNameChar))
	switch s.Specifier {
	case "HEADER", "TEXT":
	case "MIME":
		if len(s.Part) == 0 {
			p.fail("MIME needs a part number")
		}
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		p.sp()
		p.list(true, func() { s.Fields = append(s.Fields, p.astring()) })
	default:
		p.fail("unknown section %q", s.Specifier)
	}
	p.expect(']')
	return s
}

// sectionPart parses nz-number *("." nz-number) when it comes next, stopping before a
// "." that is not followed by a digit.
func (p *parser) sectionPart() []int {
	var part []int
	t := p.text()
	for isDigit(p.peek()) {
		part = append(part, int(p.nzNumber32()))
		if p.pos+1 < len(t) && t[p.pos] == '.' && isDigit(t[p.pos+1]) {
			p.pos++
		}
	}
	return part
}

// sectionBinary parses "[" [section-part] "]" (RFC 3516 section 6).
func (p *parser) sectionBinary() *Section {
	p.expect('[')
	s := &Section{Part: p.sectionPart()}
	p.expect(']')
	return s
}
