package imap

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"mailroom/internal/imap/imapwire"
	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// fetchOptions are the session settings that shape a FETCH response.
type fetchOptions struct {
	UID    bool // UID FETCH: UID is always sent (RFC 9051 section 6.4.9)
	ModSeq bool // CONDSTORE is on or CHANGEDSINCE given: MODSEQ is always sent (RFC 7162 section 3.1.4.1)
	UTF8   bool // the client accepts UTF-8 (IMAP4rev2 or UTF8=ACCEPT, RFC 9051 section 4.3); else ENVELOPE is downgraded
}

// unknownCTEError reports a BINARY fetch of a part whose Content-Transfer-Encoding the
// server cannot decode; the answer is NO [UNKNOWN-CTE] (RFC 3516 section 4.3, RFC 9051
// section 7.1).
type unknownCTEError struct {
	Encoding string
	err      error
}

func (e *unknownCTEError) Error() string {
	return fmt.Sprintf("cannot decode content-transfer-encoding %q: %v", e.Encoding, e.err)
}

func (e *unknownCTEError) Unwrap() error { return e.err }

// fetchNeeds says what the caller must load for these items: the full stored Message
// (ENVELOPE, BODYSTRUCTURE, BODY, sections that need part offsets), the raw bytes (any
// body section, RFC822*, BINARY*), and whether the fetch sets \Seen (BODY[...] without
// PEEK, RFC822, RFC822.TEXT, BINARY[...] without PEEK — RFC 9051 section 6.4.5, RFC
// 3516 section 4.2).
func fetchNeeds(items []imapwire.FetchItem) (needMessage, needRaw, setsSeen bool) {
	for _, it := range items {
		switch it.Att {
		case imapwire.FetchEnvelope, imapwire.FetchBodyStructure, imapwire.FetchBody:
			needMessage = true
		case imapwire.FetchRFC822:
			needRaw, setsSeen = true, true
		case imapwire.FetchRFC822Header:
			needMessage, needRaw = true, true
		case imapwire.FetchRFC822Text:
			needMessage, needRaw, setsSeen = true, true, true
		case imapwire.FetchBodySection, imapwire.FetchBinary, imapwire.FetchBinarySize:
			needRaw = true
			if it.Section != nil && needsOffsets(it.Section) {
				needMessage = true
			}
			if it.Att != imapwire.FetchBinarySize && !it.Peek {
				setsSeen = true
			}
		}
	}
	return needMessage, needRaw, setsSeen
}

// writeFetch writes "* seq FETCH (...)\r\n" for one message (RFC 9051 section 7.5.2):
// the items in the order asked, UID first when o.UID and not asked, MODSEQ last when
// o.ModSeq and not asked (RFC 7162 section 3.1.4.1). raw is nil unless fetchNeeds said
// needRaw. Everything that can fail is worked out before the first byte is written, so
// an error leaves w untouched and the caller can answer NO.
func writeFetch(w *imapwire.Writer, seq uint32, m *store.Message, raw []byte, items []imapwire.FetchItem, o fetchOptions) error {
	var buf [8]fetchValue // most FETCHes ask for a few items: no allocation for them
	values := buf[:0]
	add := func(it imapwire.FetchItem) error {
		name := it.ResponseName()
		if slices.ContainsFunc(values, func(v fetchValue) bool { return v.name == name }) {
			return nil
		}
		v, err := fetchItemValue(m, raw, it)
		if err != nil {
			return fmt.Errorf("fetch %s of uid %d: %w", name, m.UID, err)
		}
		v.name = name
		values = append(values, v)
		return nil
	}
	if o.UID && !hasAtt(items, imapwire.FetchUID) {
		if err := add(imapwire.FetchItem{Att: imapwire.FetchUID}); err != nil {
			return err
		}
	}
	for _, it := range items {
		if err := add(it); err != nil {
			return err
		}
	}
	if o.ModSeq && !hasAtt(items, imapwire.FetchModSeq) {
		if err := add(imapwire.FetchItem{Att: imapwire.FetchModSeq}); err != nil {
			return err
		}
	}

	w.Untagged().Number32(seq).Atom(" FETCH (")
	for i, v := range values {
		if i > 0 {
			w.SP()
		}
		w.Atom(v.name).SP()
		v.write(w, m, o)
	}
	w.Close().CRLF()
	return w.Err()
}

func hasAtt(items []imapwire.FetchItem, att imapwire.FetchAtt) bool {
	for _, it := range items {
		if it.Att == att {
			return true
		}
	}
	return false
}

// fetchValue is one item of a FETCH response, computed before anything is written.
type fetchValue struct {
	name   string
	att    imapwire.FetchAtt
	data   []byte // body section or BINARY content
	binary bool   // data is decoded BINARY content: literal8 if it holds NUL
	size   uint64 // BINARY.SIZE
}

// fetchItemValue computes the value of one item.
func fetchItemValue(m *store.Message, raw []byte, it imapwire.FetchItem) (fetchValue, error) {
	v := fetchValue{att: it.Att}
	switch it.Att {
	case imapwire.FetchRFC822:
		v.data = raw
	case imapwire.FetchRFC822Header:
		v.data = sectionData(m, raw, &imapwire.Section{Specifier: "HEADER"})
	case imapwire.FetchRFC822Text:
		v.data = sectionData(m, raw, &imapwire.Section{Specifier: "TEXT"})
	case imapwire.FetchBodySection:
		v.data = partial(sectionData(m, raw, sectionOrWhole(it.Section)), it.Partial)
	case imapwire.FetchBinary, imapwire.FetchBinarySize:
		data, err := binaryData(m, raw, sectionOrWhole(it.Section).Part)
		if err != nil {
			return v, err
		}
		if it.Att == imapwire.FetchBinarySize {
			v.size = uint64(len(data))
		} else {
			v.data, v.binary = partial(data, it.Partial), true
		}
	}
	return v, nil
}

func sectionOrWhole(s *imapwire.Section) *imapwire.Section {
	if s == nil {
		return &imapwire.Section{}
	}
	return s
}

// write writes the value after its name.
func (v *fetchValue) write(w *imapwire.Writer, m *store.Message, o fetchOptions) {
	switch v.att {
	case imapwire.FetchFlags:
		w.Flags(m.Flags)
	case imapwire.FetchInternalDate:
		w.DateTime(m.InternalDate)
	case imapwire.FetchRFC822Size:
		w.Number(uint64(max(m.Size, 0)))
	case imapwire.FetchUID:
		w.Number32(uint32(m.UID))
	case imapwire.FetchModSeq:
		// RFC 7162 section 3.1.4.1: "MODSEQ" SP "(" mod-sequence-value ")".
		w.Open().Number(uint64(max(m.ModSeq, 0))).Close()
	case imapwire.FetchEnvelope:
		env := &m.Envelope
		if !o.UTF8 {
			env = downgradeEnvelope(env)
		}
		w.Envelope(env)
	case imapwire.FetchBodyStructure:
		w.BodyStructure(&m.Root, true)
	case imapwire.FetchBody:
		w.BodyStructure(&m.Root, false)
	case imapwire.FetchBinarySize:
		w.Number(v.size)
	default:
		switch {
		case len(v.data) == 0:
			w.Atom(`""`)
		case v.binary && bytes.IndexByte(v.data, 0) >= 0:
			// RFC 3516 section 4.2: decoded data holding NUL needs literal8.
			w.Literal8(v.data)
		default:
			w.Literal(v.data)
		}
	}
}

// partial applies "<origin.count>" (RFC 9051 section 6.4.5): the count octets from
// origin, fewer at the end of the data, none when origin is past it.
func partial(data []byte, p *imapwire.Partial) []byte {
	if p == nil {
		return data
	}
	n := uint64(len(data))
	if p.Offset >= n {
		return nil
	}
	end := n
	if p.Count < n-p.Offset {
		end = p.Offset + p.Count
	}
	return data[p.Offset:end]
}

// span returns raw[start:end], clamped so offsets that do not fit raw (a raw that is not
// the bytes the offsets came from) give a shorter or empty slice rather than a panic.
func span(raw []byte, start, end int64) []byte {
	n := int64(len(raw))
	start, end = min(max(start, 0), n), min(max(end, 0), n)
	if start >= end {
		return nil
	}
	return raw[start:end]
}

// sectionData returns the octets of a body section (RFC 9051 section 6.4.5), sliced
// from raw with the offsets stored at delivery. A section that designates nothing gives
// an empty result, not an error.
//
//   - No part number: the whole message, or its HEADER (the blank line included),
//     HEADER.FIELDS, HEADER.FIELDS.NOT or TEXT.
//   - A part number alone: the body of that part, which for a message/rfc822 part is
//     the whole encapsulated message.
//   - part.MIME: the part's own MIME header.
//   - part.HEADER, part.HEADER.FIELDS[.NOT], part.TEXT: only for a message/rfc822 (or
//     message/global) part, the header or text of the encapsulated message.
func sectionData(m *store.Message, raw []byte, s *imapwire.Section) []byte {
	msg := &mime.Message{Envelope: m.Envelope, Root: m.Root}
	if len(s.Part) == 0 {
		switch s.Specifier {
		case "":
			return raw
		case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
			// headerFields stops at the first blank line, where mime.Parse ends the
			// message's header too (it starts at offset 0): no offsets needed.
			return headerFields(raw, s.Fields, s.Specifier == "HEADER.FIELDS.NOT")
		}
		return messageSection(&msg.Root, raw, s)
	}
	p, ok := msg.PartAt(s.Part)
	if !ok {
		return nil
	}
	switch s.Specifier {
	case "":
		return span(raw, p.BodyStart, p.End)
	case "MIME":
		return span(raw, p.HeaderStart, p.BodyStart)
	}
	if p.Message == nil {
		return nil
	}
	return messageSection(&p.Message.Root, raw, s)
}

// needsOffsets reports whether sectionData needs the stored part offsets (m.Root) for
// section s: all but the whole message and the fields of its own header do.
func needsOffsets(s *imapwire.Section) bool {
	if len(s.Part) > 0 {
		return true
	}
	switch s.Specifier {
	case "", "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		return false
	}
	return true
}

// messageSection returns HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT or TEXT of the message
// whose root part is root.
func messageSection(root *mime.Part, raw []byte, s *imapwire.Section) []byte {
	header := span(raw, root.HeaderStart, root.BodyStart)
	switch s.Specifier {
	case "HEADER":
		return header
	case "TEXT":
		return span(raw, root.BodyStart, root.End)
	case "HEADER.FIELDS":
		return headerFields(header, s.Fields, false)
	case "HEADER.FIELDS.NOT":
		return headerFields(header, s.Fields, true)
	}
	return nil
}

// headerFields returns the fields of header named in names (not named, with not), as
// they appear, folding lines included, followed by the blank line (RFC 9051 section
// 6.4.5). Names match case-insensitively. Every line is returned with CRLF, the IMAP line
// end, also from a bare-LF message or a header that ends without a line break; lines
// that are not fields ("From " lines, junk) are never returned.
func headerFields(header []byte, names []string, not bool) []byte {
	var out []byte
	keep := false
	for rest := header; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		content := bytes.TrimRight(line, "\r\n")
		switch {
		case len(content) == 0:
			rest = nil // the blank line ends the header
			continue
		case content[0] == ' ' || content[0] == '\t':
			// A continuation belongs to the field before it.
		default:
			keep = false
			colon := bytes.IndexByte(content, ':')
			if colon <= 0 {
				continue
			}
			name := string(bytes.TrimRight(content[:colon], " \t"))
			keep = containsFold(names, name) != not && validFieldName(name)
		}
		if keep {
			out = append(out, content...)
			out = append(out, '\r', '\n')
		}
	}
	return append(out, '\r', '\n')
}

func containsFold(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// validFieldName reports whether name is an RFC 5322 section 3.6.8 field name.
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// binaryData returns the content of a BINARY section (RFC 3516 section 4.2, RFC 9051
// section 6.4.5): the part's body with its Content-Transfer-Encoding undone. An empty
// section is the whole message as it is; a section that designates nothing is empty.
// An encoding the server does not know gives an *unknownCTEError.
func binaryData(m *store.Message, raw []byte, part []int) ([]byte, error) {
	if len(part) == 0 {
		return raw, nil
	}
	msg := &mime.Message{Envelope: m.Envelope, Root: m.Root}
	p, ok := msg.PartAt(part)
	if !ok {
		return nil, nil
	}
	clamped := *p
	clamped.BodyStart = min(max(p.BodyStart, 0), int64(len(raw)))
	clamped.End = min(max(p.End, clamped.BodyStart), int64(len(raw)))
	data, err := clamped.DecodedBody(raw)
	if errors.Is(err, mime.ErrUnknownEncoding) {
		return nil, &unknownCTEError{Encoding: p.Encoding, err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("decode part %v: %w", part, err)
	}
	return data, nil
}

// downgradeEnvelope prepares an ENVELOPE for a client that has not enabled UTF-8: a
// Subject or display name holding raw UTF-8 (RFC 6532 headers) becomes one RFC 2047
// encoded-word, as RFC 6858 section 3 downgrades header fields, so the client shows the
// text rather than bytes it cannot read. env is returned as it is when it is all ASCII.
func downgradeEnvelope(env *mime.Envelope) *mime.Envelope {
	if isASCIIEnvelope(env) {
		return env
	}
	e := *env
	e.Subject = encodeWord(e.Subject)
	lists := []*[]mime.Address{&e.From, &e.Sender, &e.ReplyTo, &e.To, &e.Cc, &e.Bcc}
	for _, l := range lists {
		out := make([]mime.Address, len(*l))
		for i, a := range *l {
			a.Name = encodeWord(a.Name)
			out[i] = a
		}
		*l = out
	}
	return &e
}

func isASCIIEnvelope(env *mime.Envelope) bool {
	if !isASCII(env.Subject) {
		return false
	}
	for _, l := range [][]mime.Address{env.From, env.Sender, env.ReplyTo, env.To, env.Cc, env.Bcc} {
		for _, a := range l {
			if !isASCII(a.Name) {
				return false
			}
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// encodeWord returns s as "=?utf-8?b?...?=" encoded-words when it holds non-ASCII
// bytes, s itself otherwise. Each word carries at most 45 octets, cut on a rune
// boundary, so it stays within the 75 characters of RFC 2047 section 2; decoders join
// adjacent words (section 6.2).
func encodeWord(s string) string {
	if isASCII(s) {
		return s
	}
	const chunk = 45
	var b strings.Builder
	for s != "" {
		n := min(len(s), chunk)
		for n < len(s) && n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		if n == 0 {
			n = min(len(s), chunk)
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("=?utf-8?b?")
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(s[:n])))
		b.WriteString("?=")
		s = s[n:]
	}
	return b.String()
}
