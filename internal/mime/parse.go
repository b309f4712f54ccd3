package mime

import (
	"bytes"
	"slices"
	"strings"
)

// Parse reads a whole message and returns its summary. It never fails: malformed input
// yields the best reading (see the package documentation for the limits that bound work).
// The returned offsets index raw, which Parse neither modifies nor retains.
func Parse(raw []byte) *Message {
	p := &parser{raw: raw}
	m := p.message(0, len(raw), 0)
	m.Text, m.TextTail = messageText(m, raw)
	m.Headers = fields(raw, int(m.Root.HeaderStart), int(m.Root.BodyStart))
	return m
}

// parser carries what one Parse call shares across the recursion.
type parser struct {
	raw   []byte
	parts int // Part values created so far, bounded by MaxParts
}

// message parses the message occupying raw[start:end] (the whole input, or the body of a
// message/rfc822 part).
func (p *parser) message(start, end, depth int) *Message {
	root, h := p.entity(start, end, depth, false)
	return &Message{Envelope: envelope(h), Root: root}
}

// entity parses the MIME entity at raw[start:end]: its header, then its body according to
// its type. inDigest selects the RFC 2046 section 5.1.5 default type of a multipart/digest
// body part.
func (p *parser) entity(start, end, depth int, inDigest bool) (Part, header) {
	p.parts++
	h, bodyStart := parseHeader(p.raw, start, end)
	part := Part{
		HeaderStart: int64(start),
		BodyStart:   int64(bodyStart),
		End:         int64(end),
		Lines:       countLines(p.raw[bodyStart:end]),
	}
	contentHeaders(&part, h, inDigest)
	switch {
	case part.Type == "multipart":
		if depth >= MaxDepth || p.parts >= MaxParts || !p.multipart(&part, depth) {
			// RFC 2046 gives no reading of a multipart without a usable boundary (none
			// given, or it never opens a body part), and one past MaxDepth or MaxParts
			// cannot be split: keep its body as one text/plain body, which every client
			// can show, rather than reject the message.
			demoteToText(&part)
		}
	case part.Type == "message" && (part.Subtype == "rfc822" || part.Subtype == "global"):
		// RFC 2046 section 5.2.1 allows only 7bit, 8bit and binary here (RFC 6532 section
		// 3.5 lets message/global be encoded, but then it cannot be sliced, so it stays
		// opaque).
		if isIdentityEncoding(part.Encoding) && depth < MaxDepth && p.parts < MaxParts {
			part.Message = p.message(bodyStart, end, depth+1)
		}
	}
	return part, h
}

// countLines counts line feeds, plus a final line without one.
func countLines(b []byte) int64 {
	n := int64(bytes.Count(b, []byte{'\n'}))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

func isIdentityEncoding(enc string) bool {
	return enc == "7bit" || enc == "8bit" || enc == "binary"
}

// demoteToText turns a multipart that cannot be split into text/plain, keeping its
// charset if it named one.
func demoteToText(part *Part) {
	charset := part.Params["charset"]
	if charset == "" {
		charset = "us-ascii"
	}
	part.Type, part.Subtype = "text", "plain"
	part.Params = map[string]string{"charset": charset}
	part.Parts = nil
}

// contentHeaders fills the Content-* fields of part (RFC 2045, RFC 2183, RFC 3282, RFC
// 2557, RFC 1864).
func contentHeaders(part *Part, h header, inDigest bool) {
	ct, hasCT := h["content-type"]
	typ, params := parseParamHeader(ct)
	slash := strings.IndexByte(typ, '/')
	switch {
	case !hasCT && inDigest:
		part.Type, part.Subtype = "message", "rfc822"
	case !hasCT || slash <= 0 || slash == len(typ)-1 || strings.Count(typ, "/") != 1:
		// RFC 2045 section 5.2: no Content-Type, or one that cannot be read, means
		// text/plain; charset=us-ascii. Parameters that could be read are kept.
		part.Type, part.Subtype = "text", "plain"
		if params == nil {
			params = map[string]string{}
		}
		if params["charset"] == "" {
			params["charset"] = "us-ascii"
		}
	default:
		part.Type, part.Subtype = typ[:slash], typ[slash+1:]
	}
	part.Params = params

	part.Encoding = strings.ToLower(strings.Join(strings.Fields(stripComments(h["content-transfer-encoding"])), ""))
	if part.Encoding == "" {
		part.Encoding = "7bit" // RFC 2045 section 6.1
	}
	if d, ok := h["content-disposition"]; ok {
		part.Disposition, part.DispositionParams = parseParamHeader(d)
	}
	part.ID = h["content-id"]
	part.Description = h["content-description"]
	part.Location = h["content-location"]
	part.MD5 = h["content-md5"]
	for _, tag := range strings.Split(stripComments(h["content-language"]), ",") {
		if tag = strings.TrimSpace(tag); tag != "" {
			part.Language = append(part.Language, tag)
		}
	}
}

// multipart splits the body of a multipart into its body parts (RFC 2046 section 5.1.1).
// It reports false when there is no boundary or no delimiter line opens a body part.
// The preamble and epilogue are ignored; a missing close delimiter (truncated message)
// lets the last body part run to the end of the multipart.
func (p *parser) multipart(part *Part, depth int) bool {
	boundary := part.Params["boundary"]
	if boundary == "" {
		return false
	}
	dash := []byte("--" + boundary)
	start, end := int(part.BodyStart), int(part.End)
	d, ok := nextDelimiter(p.raw, start, end, start, dash)
	if !ok || d.close {
		return false
	}
	inDigest := part.Subtype == "digest"
	for !d.close && p.parts < MaxParts {
		childStart := d.next
		next, found := nextDelimiter(p.raw, start, end, childStart, dash)
		childEnd := end
		if found {
			childEnd = max(childStart, next.lineStart-lineBreakBefore(p.raw, next.lineStart))
		}
		child, _ := p.entity(childStart, childEnd, depth+1, inDigest)
		part.Parts = append(part.Parts, child)
		if !found {
			break
		}
		d = next
	}
	return true
}

// delimiter is a boundary delimiter line found in a multipart body.
type delimiter struct {
	lineStart int  // offset of the "--boundary"
	next      int  // offset just past the line break ending the line
	close     bool // "--boundary--"
}

// nextDelimiter finds the first delimiter line at or after from in raw[start:end]. A
// delimiter starts a line (or the body) with "--" boundary, then "--" for the close
// delimiter, then only linear whitespace (transport padding, RFC 2046 section 5.1.1) up to
// the line break. Requiring the line to end there keeps a boundary from matching a longer
// one that merely starts with it, which nested multiparts often use.
func nextDelimiter(raw []byte, start, end, from int, dash []byte) (delimiter, bool) {
	for from < end {
		k := bytes.Index(raw[from:end], dash)
		if k < 0 {
			return delimiter{}, false
		}
		at := from + k
		from = at + 1
		if at != start && raw[at-1] != '\n' {
			continue
		}
		i := at + len(dash)
		d := delimiter{lineStart: at}
		if i+1 < end && raw[i] == '-' && raw[i+1] == '-' {
			d.close = true
			i += 2
		}
		for i < end && (raw[i] == ' ' || raw[i] == '\t') {
			i++
		}
		switch {
		case i == end:
			d.next = end
		case raw[i] == '\n':
			d.next = i + 1
		case raw[i] == '\r' && (i+1 == end || raw[i+1] == '\n'):
			d.next = min(i+2, end)
		default:
			continue
		}
		return d, true
	}
	return delimiter{}, false
}

// lineBreakBefore returns the length of the CRLF or LF ending just before offset at; it
// belongs to the delimiter that follows, not to the body part before it.
func lineBreakBefore(raw []byte, at int) int {
	if at >= 1 && raw[at-1] == '\n' {
		if at >= 2 && raw[at-2] == '\r' {
			return 2
		}
		return 1
	}
	return 0
}

// envelope builds the RFC 3501 section 7.4.2 ENVELOPE from a message header.
func envelope(h header) Envelope {
	e := Envelope{
		Date:       h["date"],
		Subject:    h["subject"],
		From:       parseAddressList(h["from"]),
		Sender:     parseAddressList(h["sender"]),
		ReplyTo:    parseAddressList(h["reply-to"]),
		To:         parseAddressList(h["to"]),
		Cc:         parseAddressList(h["cc"]),
		Bcc:        parseAddressList(h["bcc"]),
		InReplyTo:  h["in-reply-to"],
		MessageID:  h["message-id"],
		References: ParseMessageIDs(h["references"]),
	}
	// RFC 3501 section 7.4.2: an absent or empty Sender or Reply-To takes From's value.
	if len(e.Sender) == 0 {
		e.Sender = slices.Clone(e.From)
	}
	if len(e.ReplyTo) == 0 {
		e.ReplyTo = slices.Clone(e.From)
	}
	return e
}
